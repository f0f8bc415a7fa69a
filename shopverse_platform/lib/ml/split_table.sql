-- One split of a training set, computed into a temp table before both are written together.
CREATE OR REPLACE TEMP TABLE {{split_table}} AS {{query}}
