-- The target table created empty with the staging table's columns (outside the replacing transaction).
CREATE TABLE {{target}} AS SELECT * FROM {{staging}} WHERE false
