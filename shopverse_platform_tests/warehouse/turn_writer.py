"""A writer process for the write-turn tests (test_write_turns.py, test_table_turns.py):

    python -m shopverse_platform_tests.warehouse.turn_writer <lake setting> <table> <commits> <start file> <name>

Connects to the lake (a PostgreSQL lake's data path from $SHOPVERSE_WAREHOUSE_DATA_PATH), stages its
rows, says so (the file ``<start file>.<name>``), waits for the start file (writers start together),
then replaces day after day of ``table`` through ``in_transaction`` naming the table (as
``replace_date_range`` does), counting the attempts; prints ``{"commits", "attempts", "failed"}``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from shopverse_platform.lib.warehouse import lake
from shopverse_platform.lib.warehouse.transactions import in_transaction


def main(setting: str, table: str, commits_wanted: int, start: Path, name: str) -> None:
    location = lake.parse_location(setting, os.environ.get("SHOPVERSE_WAREHOUSE_DATA_PATH"))
    con = lake.connect(location, "shopverse", read_only=False, config={"threads": 1})
    con.execute("CREATE TEMP TABLE staging AS SELECT i % 5 AS day, i AS v, md5(i::VARCHAR) AS s FROM range(100000) r(i)")
    start.with_name(f"{start.name}.{name}").touch()
    while not start.exists():
        time.sleep(0.01)
    commits = attempts = 0
    failed = None
    while commits < commits_wanted and failed is None:
        day = commits % 5

        def replace() -> None:
            nonlocal attempts
            attempts += 1
            # the table's name comes from the test (a or b), never from outside
            con.execute(f"DELETE FROM {table} WHERE day = ?", [day])
            con.execute(f"INSERT INTO {table} SELECT * FROM staging WHERE day = ?", [day])

        try:
            in_transaction(con, replace, writes=(table,))
            commits += 1
        except Exception as error:  # noqa: BLE001 - attempts exhausted: what the turns end
            failed = str(error)[:200]
    print(json.dumps({"commits": commits, "attempts": attempts, "failed": failed}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5])
