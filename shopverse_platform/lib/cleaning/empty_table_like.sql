-- A clean table created empty with the shape of the query that fills it (outside the filling
-- transaction: see lib/warehouse/tables.py replace_date_range).
CREATE TABLE {{target}} AS {{rows}} LIMIT 0
