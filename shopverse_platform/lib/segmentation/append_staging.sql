-- More rows into a staging temp table made by staging_table.sql (the next week of a quarter).
INSERT INTO {{staging}} BY NAME {{query}}
