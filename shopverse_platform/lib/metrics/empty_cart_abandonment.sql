-- cart_abandonment's columns weekly_kpis reads, empty: its KPIs are NULL until the table is built.
SELECT NULL::DATE AS cart_date, 0 AS carts_created, 0 AS carts_abandoned WHERE false
