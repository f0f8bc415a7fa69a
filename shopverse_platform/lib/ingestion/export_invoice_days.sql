-- The distinct invoice days of an export's lines (the fragment invoice_day.sql; NULL dropped).
SELECT DISTINCT {{invoice_day}} AS day FROM _order_exports WHERE day IS NOT NULL
