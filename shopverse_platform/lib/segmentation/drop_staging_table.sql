-- A staged temp table, once swapped in (IF EXISTS: a loop drops the same name more than once).
-- temp.main: the temp table by its full name. Unqualified, DROP looks in the warehouse first, and on
-- a DuckLake that lookup starts a lake transaction (its snapshot read from the catalog: ~2.4 ms).
DROP TABLE IF EXISTS temp.main.{{staging}}
