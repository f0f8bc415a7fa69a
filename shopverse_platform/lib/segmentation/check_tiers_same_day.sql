-- Whether value_tiers and customer_metrics describe the same as-of day (else they cannot be compared).
SELECT (SELECT max(as_of_date) FROM value_tiers) = (SELECT max(as_of_date) FROM customer_metrics)
