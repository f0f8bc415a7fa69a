-- Customers with an order before $before: first/last order day and the features named in $features
-- (specs.CUSTOMER_FEATURES), as DOUBLE. COLUMNS keeps the relation's column order, so recency_days is
-- moved first here to give the models' order (test_feature_columns checks the order against the spec).
SELECT customer_id AS entity_id, first_order_date AS first_seen_date, last_order_date AS last_seen_date,
       CAST(COLUMNS(lambda c: list_contains($features, c)) AS DOUBLE)
FROM (SELECT recency_days, * EXCLUDE (recency_days) FROM ({{customer_state}}) WHERE orders > 0)
