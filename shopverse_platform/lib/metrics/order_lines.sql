-- One row per line of a sales document from both sources (see facts.py for the rules). Amounts in the
-- line's own currency are original_*; unit_price, line_amount and the gross/credited/net amounts are in
-- $reporting_currency (currencies.py), NULL when no rate converts them.
WITH window_documents AS MATERIALIZED (  -- the window's purchase and refund events: clean_events read once
    SELECT *, coalesce(transaction_id, event_id) AS txn FROM {{events}}
    WHERE event_name IN ('purchase', 'refund') AND event_date >= $start AND event_date < $end
),
purchases AS (SELECT * FROM window_documents WHERE event_name = 'purchase'),
earliest AS (  -- the earliest purchase event of each of the window's transactions, wherever it landed,
    -- from every purchase (purchase_events.sql: narrow, and a small table when current) ranked for
    -- the window's transactions only
    SELECT event_id FROM {{all_purchases}}
    WHERE event_date < $end
      AND coalesce(transaction_id, event_id) IN (SELECT txn FROM purchases)
    QUALIFY row_number() OVER (PARTITION BY coalesce(transaction_id, event_id) ORDER BY event_ts, event_id) = 1
),
first_purchases AS (SELECT p.* FROM purchases p SEMI JOIN earliest USING (event_id)),
documents AS (
    SELECT event_id, event_ts, event_date, user_id, anonymous_id, session_id, device, country, items, currency,
           'order' AS document_type, txn AS document_id, txn AS order_id
    FROM first_purchases
    UNION ALL
    SELECT event_id, event_ts, event_date, user_id, anonymous_id, session_id, device, country, items, currency,
           'refund', event_id, transaction_id
    FROM window_documents WHERE event_name = 'refund'
),
lines AS (
    SELECT *, unnest(items) AS item, generate_subscripts(items, 1) AS line_no FROM documents
),
event_lines AS (
    SELECT event_date AS order_date, event_ts AS order_ts, 'events' AS source, document_id, document_type, order_id,
           CAST(line_no AS INTEGER) AS line_no, user_id AS customer_id, user_id IS NULL AS is_guest,
           anonymous_id, session_id, device, country,
           item.item_id AS product_id, item.item_name AS product_name, item.item_category AS category,
           'product' AS line_type, true AS is_product, true AS is_sales,
           CAST(CASE WHEN document_type = 'order' THEN 1 ELSE -1 END * coalesce(item.quantity, 1) AS INTEGER) AS quantity,
           -- the clean layer defaults a missing currency (insert_clean_events.sql); the same here for
           -- tables written before it did
           coalesce(currency, $default_currency) AS currency, CAST(item.price AS DECIMAL(18,3)) AS original_unit_price,
           CAST(round(CASE WHEN document_type = 'order' THEN 1 ELSE -1 END * item.price * coalesce(item.quantity, 1), 2)
                AS DECIMAL(18,2)) AS original_amount,
           event_id AS source_record
    FROM lines
),
export_lines AS (
    SELECT invoice_date AS order_date, invoice_ts AS order_ts, 'order_export' AS source, invoice_no AS document_id,
           CASE WHEN is_cancellation THEN 'cancellation' ELSE 'order' END AS document_type,
           CASE WHEN is_cancellation THEN original_invoice_no ELSE invoice_no END AS order_id,
           CAST(row_number() OVER (PARTITION BY invoice_no ORDER BY source_file, line_number) AS INTEGER) AS line_no,
           customer_id, is_guest, NULL::VARCHAR AS anonymous_id, NULL::VARCHAR AS session_id, NULL::VARCHAR AS device,
           country, stock_code AS product_id, description AS product_name, NULL::VARCHAR AS category,
           line_type, line_type = 'product' AS is_product,
           line_type IN (SELECT unnest($sales_line_types)) AS is_sales,
           quantity, CAST($export_currency AS VARCHAR) AS currency, unit_price AS original_unit_price,
           CAST(line_amount AS DECIMAL(18,2)) AS original_amount,
           source_file || ':' || line_number AS source_record
    FROM {{exports}}
    WHERE invoice_date >= $start AND invoice_date < $end
),
unioned AS ((SELECT * FROM event_lines) UNION ALL BY NAME (SELECT * FROM export_lines)),
daily_rates AS (  -- each rate on the days it applies: from its own day until the next rate of its
    -- currency, and for at most $max_rate_age_days days after it (read_rates admits one rate per
    -- currency and day, so a day has at most one). Joined on the day by hash: an ASOF join sorted
    -- every line of the window (0.45 s of 0.85 at the UCI year's 537k lines), rates or not.
    SELECT currency, CAST(unnest(generate_series(rate_date, least(next_rate_date - 1, rate_date + $max_rate_age_days),
                                                 INTERVAL 1 DAY)) AS DATE) AS order_date,
           rate_date, rate
    FROM (SELECT *, lead(rate_date, 1, DATE '9999-12-31') OVER (PARTITION BY currency ORDER BY rate_date) AS next_rate_date
          FROM {{rates}})
),
rated AS (  -- the latest rate on or before the day, used only within $max_rate_age_days days
    SELECT u.*, $reporting_currency AS reporting_currency,
           CASE WHEN u.currency = $reporting_currency THEN NULL ELSE r.rate_date END AS rate_date,
           CAST(CASE WHEN u.currency = $reporting_currency THEN 1 ELSE r.rate END AS DECIMAL(18,10)) AS exchange_rate
    FROM unioned u LEFT JOIN daily_rates r ON u.currency = r.currency AND u.order_date = r.order_date
),
converted AS (  -- reporting-currency amounts, rounded per line; NULL without a rate
    SELECT *, CAST(original_unit_price * exchange_rate AS DECIMAL(18,3)) AS unit_price,
           CAST(round(original_amount * exchange_rate, 2) AS DECIMAL(18,2)) AS line_amount
    FROM rated
),
amounts AS (
    SELECT *,
           CAST(CASE WHEN document_type = 'order' THEN line_amount ELSE 0 END AS DECIMAL(18,2)) AS gross_amount,
           CAST(CASE WHEN document_type = 'order' THEN 0 ELSE -line_amount END AS DECIMAL(18,2)) AS credited_amount,
           line_amount AS net_amount
    FROM converted
),
billing AS (  -- the order bills something: invoices of zero-priced stock movements are not orders;
    -- judged in its own currency, so an order without an exchange rate still counts as an order.
    -- Grouped and joined back: a window over the wide lines cost 0.55 s at the UCI year, this 0.05.
    SELECT source, document_id, sum(CASE WHEN is_sales THEN original_amount ELSE 0 END) > 0 AS bills
    FROM unioned WHERE document_type = 'order' GROUP BY source, document_id
)
SELECT a.*, a.document_type = 'order' AND coalesce(b.bills, false) AS in_order
FROM amounts a LEFT JOIN billing b USING (source, document_id)
