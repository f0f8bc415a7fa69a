-- A split's temp table, once the training set is written.
-- temp.main: the temp table by its full name. Unqualified, DROP looks in the warehouse first, and on
-- a DuckLake that lookup starts a lake transaction (its snapshot read from the catalog: ~2.4 ms).
DROP TABLE temp.main.{{split_table}}
