-- A split's temp table, once the training set is written.
DROP TABLE {{split_table}}
