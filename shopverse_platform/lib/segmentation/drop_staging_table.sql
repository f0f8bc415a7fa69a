-- A staged temp table, once swapped in (IF EXISTS: a loop drops the same name more than once).
DROP TABLE IF EXISTS {{staging}}
