-- A segmentation table's new rows, computed into a temp table first so the swap into the stored
-- table is one short transaction (and a failed query leaves the stored table as it was).
CREATE OR REPLACE TEMP TABLE {{staging}} AS {{query}}
