"""Does a DuckLake's cost per statement grow with a year of daily runs, and does its maintenance
bring it back? (defs/automation/maintenance.py schedules it weekly.)

Not a test: `python bench/lake_maintenance.py [--tables 12] [--days 365]`. A lake with a SQLite
catalog in a temp folder holds `--tables` tables of 30 days (2,000 rows a day, 8 columns). Then each
simulated day, every table is written as a daily run writes it: yesterday's rows replaced (a late
day) and today's inserted, one commit a table. At 0, 30, 120 and `--days` days, the medians of 30
of a small table's count and of a day's read of another table; then `shopverse warehouse maintain`'s
maintenance (`lib/warehouse/lake.py::maintain`, keeping nothing) and the same two statements again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))

from results import write_section  # noqa: E402

from shopverse_platform.lib.warehouse import lake  # noqa: E402

FIRST = date(2026, 1, 1)
ROWS_A_DAY = 2_000
COLUMNS = "range AS a, range * 1.5 AS b, 'x' || range AS c, range % 7 AS e, range % 11 AS f, range % 13 AS g, range % 17 AS h"


def statement_costs(con: duckdb.DuckDBPyConnection, read_day: date) -> tuple[float, float]:
    """Median milliseconds of a count of t0 and of one day's read of t1 (30 each)."""
    def median_ms(sql: str, params: list) -> float:
        samples = []
        for _ in range(30):
            started = time.perf_counter()
            con.execute(sql, params).fetchall()
            samples.append(time.perf_counter() - started)
        return statistics.median(samples) * 1000

    return (median_ms("SELECT count(*) FROM t0", []),
            median_ms("SELECT count(*), sum(a) FROM t1 WHERE d = ?", [read_day]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tables", type=int, default=12)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=True, help="write bench/RESULTS.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lake_maintenance_"))
    rows = []
    load = os.getloadavg()[0]
    try:
        con = duckdb.connect()
        lake.attach(con, lake.parse_location(f"ducklake:sqlite:{work / 'catalog.sqlite'}"), "wh", read_only=False)
        con.execute("USE wh")
        for table in range(args.tables):
            con.execute(f"CREATE TABLE t{table} AS SELECT ?::DATE + (range // {ROWS_A_DAY})::INT AS d, {COLUMNS} "
                        f"FROM range(30 * {ROWS_A_DAY})", [FIRST])
        read_day = FIRST + timedelta(days=14)

        def measure(label: str, days: int) -> None:
            count_ms, day_ms = statement_costs(con, read_day)
            footprint = lake.footprint(con)
            rows.append((label, days, footprint.snapshots, footprint.data_files, count_ms, day_ms))
            print(rows[-1], flush=True)

        measure("written", 0)
        started = time.perf_counter()
        for day in range(1, args.days + 1):
            today = FIRST + timedelta(days=29 + day)
            for table in range(args.tables):
                con.execute("BEGIN")
                con.execute(f"DELETE FROM t{table} WHERE d = ?", [today - timedelta(days=1)])
                for written in (today - timedelta(days=1), today):
                    con.execute(f"INSERT INTO t{table} SELECT ?::DATE AS d, {COLUMNS} FROM range({ROWS_A_DAY})", [written])
                con.execute("COMMIT")
            if day in (30, 120, args.days):
                measure("written", day)
        writing = time.perf_counter() - started
        started = time.perf_counter()
        lake.maintain(con, "0 days")
        maintained = time.perf_counter() - started
        measure("maintained", args.days)
        con.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = ["| after | days of daily runs | snapshots | data files | a small table's count | a day's read |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {label} | {days} | {snapshots:,} | {files:,} | {count_ms:.1f} ms | {day_ms:.1f} ms |"
              for label, days, snapshots, files, count_ms, day_ms in rows]
    table = "\n".join(lines)
    print(table, f"\nthe daily writes {writing:.0f} s, the maintenance {maintained:.1f} s")
    if args.write:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        write_section("DuckLake maintenance against a year of daily runs (bench/lake_maintenance.py)",
                      f"""## DuckLake maintenance against a year of daily runs (bench/lake_maintenance.py)

Measured {stamp} on {os.cpu_count()} cores, load {load:.1f} at the start; DuckDB {duckdb.__version__}, a SQLite
catalog. {args.tables} tables of 30 days × {ROWS_A_DAY:,} rows; each simulated day replaces yesterday and adds today
in every table, one commit a table, as the daily run does. Medians of 30 statements. The maintenance
(`shopverse warehouse maintain`, and the weekly `lake_maintenance_job`), keeping no old snapshot,
took {maintained:.1f} s.

{table}
""")


if __name__ == "__main__":
    main()
