-- A row per day of a clean table: its row count and an order-independent hash of its rows, kept by
-- the table's writers (partition_fingerprints.py).
CREATE TABLE IF NOT EXISTS partition_fingerprints (
    table_name VARCHAR NOT NULL,
    partition_date DATE NOT NULL,
    "rows" BIGINT NOT NULL,
    fingerprint UBIGINT NOT NULL
)
