-- A query's rows computed into a connection-local staging table, before they replace the target's.
CREATE OR REPLACE TEMP TABLE {{staging}} AS {{query}}
