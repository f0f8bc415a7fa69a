-- The CDNOW purchase days (registered as _daily) as the platform's orders fact, one document per
-- customer and day, so the feature SQL runs on them unchanged.
CREATE TABLE orders AS
SELECT CAST(date AS DATE) AS order_date, 'order_export' AS source, customer_id || '-' || CAST(date AS VARCHAR) AS document_id,
       customer_id, CAST(cds AS BIGINT) AS units, CAST(1 AS BIGINT) AS products,
       CAST(value AS DECIMAL(18,2)) AS gross_amount, CAST(0 AS DECIMAL(18,2)) AS credited_amount,
       CAST(value AS DECIMAL(18,2)) AS net_amount, true AS is_order, false AS is_credit
FROM _daily
