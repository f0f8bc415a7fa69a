-- Every row of a staged temp table (or a registered DataFrame), for the swap into the stored table.
SELECT * FROM {{staging}}
