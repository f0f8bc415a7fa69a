"""What each candidate storage layout costs a statement: the DuckDB file, DuckLake on each catalog,
Parquet partitions behind views, Iceberg. The platform's metric steps issue ~200 small statements
a day, so what a layout adds to every statement decides their time more than its scan speed.

Not a test: run `python bench/metrics.py --compare-lake --users N --days D` once (it leaves the DuckDB
file it measured in bench/output/metrics_N_D_11/lake_comparison/), then
`python bench/storage_layouts.py [--users N --days D] [--repeat 20]`. Its `clean_events` (one row an
event, ~40k a day) and `daily_sales` (one row a day) are copied into each layout, in day order, and
four operations of a metric step are timed on each (medians of --repeat, after 3 warm-ups):

- a count of the small table;
- one day's events counted by name (a day's read of the big table);
- one day of the big table replaced: delete the day, insert it again from a temp table, commit;
- one day replaced in both tables in one transaction (the platform writes a step's clean and
  quarantined rows, or a table and its fingerprints, together). Where a layout has no transaction
  across tables, the two replacements are timed one after the other and marked not atomic.

Layouts: the DuckDB file (one process only); DuckLake catalogued in SQLite (the lake's embedded
shape), in PostgreSQL (production; when a PostgreSQL is installed: scripts/services/install.sh
postgres) and in a DuckDB file (DuckLake's own default: one process only, so the format's cost
apart from the catalog's database); Parquet files, one a day and table, behind views (a day replaced
by writing a new file and renaming it over the old one); Iceberg through pyiceberg's SQL catalog on
SQLite, read by DuckDB's iceberg extension and written by pyiceberg (partitioned by day), when
`pyiceberg[sql-sqlite]`, `duckdb-extension-iceberg` and `duckdb-extension-avro` are importable (not in
the project's lock: `uv pip install --target /tmp/iceberg 'pyiceberg[sql-sqlite]==0.9.1'
duckdb-extension-iceberg==1.5.5 duckdb-extension-avro==1.5.5`, then `--extra-path /tmp/iceberg`).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

BENCH_DIR = Path(__file__).resolve().parent
PROJECT = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(BENCH_DIR))

from concurrency import PostgresCluster  # noqa: E402  (bench/concurrency.py: the project's own PostgreSQL script)
from results import write_section  # noqa: E402

from shopverse_platform.lib.warehouse import lake  # noqa: E402

BIG, SMALL = "clean_events", "daily_sales"
BIG_DAY, SMALL_DAY = "partition_date", "sales_date"
OPERATIONS = ("count of the small table", "a day of the big table read", "a day replaced",
              "a day replaced in two tables")


def timed(action, repeat: int) -> float:
    """Median milliseconds of ``action`` over ``repeat`` calls, after three warm-ups."""
    for _ in range(3):
        action()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


class SqlLayout:
    """A layout that DuckDB writes with SQL transactions: the DuckDB file and every DuckLake. The
    replaced day comes from a temp table, as the platform's steps stage theirs."""

    atomic_across_tables = True

    def __init__(self, name: str, con: duckdb.DuckDBPyConnection, day: date, small_day: date):
        self.name, self.con, self.day, self.small_day = name, con, day, small_day

    def load(self, big: Path, small: Path) -> None:
        self.con.execute(f"CREATE TABLE {BIG} AS SELECT * FROM read_parquet(?) ORDER BY {BIG_DAY}", [str(big)])
        self.con.execute(f"CREATE TABLE {SMALL} AS SELECT * FROM read_parquet(?) ORDER BY {SMALL_DAY}", [str(small)])
        self.con.execute(f"CREATE TEMP TABLE staged_big AS SELECT * FROM {BIG} WHERE {BIG_DAY} = ?", [self.day])
        self.con.execute(f"CREATE TEMP TABLE staged_small AS SELECT * FROM {SMALL} WHERE {SMALL_DAY} = ?", [self.small_day])

    def count_small(self) -> None:
        self.con.execute(f"SELECT count(*) FROM {SMALL}").fetchall()

    def read_day(self) -> None:
        self.con.execute(f"SELECT event_name, count(*) FROM {BIG} WHERE {BIG_DAY} = ? GROUP BY ALL", [self.day]).fetchall()

    def _replace(self, table: str, column: str, staged: str, day: date) -> None:
        self.con.execute(f"DELETE FROM {table} WHERE {column} = ?", [day])
        self.con.execute(f"INSERT INTO {table} SELECT * FROM {staged}")

    def replace_day(self) -> None:
        self.con.execute("BEGIN")
        self._replace(BIG, BIG_DAY, "staged_big", self.day)
        self.con.execute("COMMIT")

    def replace_two(self) -> None:
        self.con.execute("BEGIN")
        self._replace(BIG, BIG_DAY, "staged_big", self.day)
        self._replace(SMALL, SMALL_DAY, "staged_small", self.small_day)
        self.con.execute("COMMIT")

    def rows(self) -> tuple[int, int]:
        return tuple(self.con.execute(f"SELECT (SELECT count(*) FROM {BIG}), (SELECT count(*) FROM {SMALL})").fetchone())

    def close(self) -> None:
        self.con.close()


def duckdb_file(folder: Path, day: date, small_day: date) -> SqlLayout:
    return SqlLayout("DuckDB file", duckdb.connect(str(folder / "warehouse.duckdb")), day, small_day)


def ducklake(name: str, location: lake.LakeLocation, day: date, small_day: date) -> SqlLayout:
    con = duckdb.connect()
    lake.attach(con, location, "lake", read_only=False)
    con.execute("USE lake")
    return SqlLayout(name, con, day, small_day)


def ducklake_duckdb_catalog(folder: Path, day: date, small_day: date) -> SqlLayout:
    con = duckdb.connect()
    con.execute(f"LOAD '{lake.extension_path('ducklake')}'")
    data = folder / "files"
    data.mkdir()
    # ATTACH takes no bound parameters; the paths are this bench's own temp folder
    con.execute(f"ATTACH 'ducklake:{folder / 'catalog.ducklake'}' AS lake (DATA_PATH '{data}/')")
    con.execute("USE lake")
    return SqlLayout("DuckLake, DuckDB-file catalog (one process)", con, day, small_day)


class ParquetViews(SqlLayout):
    """One Parquet file a day and table (hive folders), a view over each table's files, read with
    the same SQL. A day is replaced by writing its new file beside the old one and renaming it over
    it: a reader sees the old or the new file, never half of one; two tables are two renames, not
    one transaction."""

    atomic_across_tables = False

    def __init__(self, folder: Path, day: date, small_day: date):
        super().__init__("Parquet files a day + views", duckdb.connect(str(folder / "views.duckdb")), day, small_day)
        self.folder = folder

    def _files(self, table: str) -> Path:
        return self.folder / table

    def load(self, big: Path, small: Path) -> None:
        for table, column, source in ((BIG, BIG_DAY, big), (SMALL, SMALL_DAY, small)):
            target = self._files(table)
            self.con.execute(f"COPY (SELECT * FROM read_parquet(?)) TO '{target}' (FORMAT parquet, PARTITION_BY ({column}), "
                             "FILENAME_PATTERN 'day_{i}')", [str(source)])
            self.con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{target}/*/*.parquet', "
                             f"hive_partitioning = true, hive_types = {{'{column}': DATE}})")
        self.con.execute(f"CREATE TEMP TABLE staged_big AS SELECT * EXCLUDE ({BIG_DAY}) FROM {BIG} WHERE {BIG_DAY} = ?", [self.day])
        self.con.execute(f"CREATE TEMP TABLE staged_small AS SELECT * EXCLUDE ({SMALL_DAY}) FROM {SMALL} WHERE {SMALL_DAY} = ?",
                         [self.small_day])

    def _replace(self, table: str, column: str, staged: str, day: date) -> None:
        folder = self._files(table) / f"{column}={day.isoformat()}"
        partial = folder / ".day_0.parquet.partial"  # not matched by the views' glob
        self.con.execute(f"COPY {staged} TO '{partial}' (FORMAT parquet)")
        os.replace(partial, folder / "day_0.parquet")  # the name COPY gave it

    def replace_day(self) -> None:
        self._replace(BIG, BIG_DAY, "staged_big", self.day)

    def replace_two(self) -> None:
        self._replace(BIG, BIG_DAY, "staged_big", self.day)
        self._replace(SMALL, SMALL_DAY, "staged_small", self.small_day)


class IcebergTables:
    """Iceberg tables in pyiceberg's SQL catalog on a SQLite file, partitioned by day. A reader asks
    the catalog for the table's current metadata file, then DuckDB's iceberg extension scans it; a
    day is replaced by pyiceberg's overwrite with a filter on the day (one snapshot a table)."""

    name = "Iceberg (pyiceberg SQL catalog on SQLite)"
    atomic_across_tables = False

    def __init__(self, folder: Path, day: date, small_day: date):
        from pyiceberg.catalog.sql import SqlCatalog

        self.day, self.small_day = day, small_day
        (folder / "warehouse").mkdir()
        self.catalog = SqlCatalog("bench", uri=f"sqlite:///{folder / 'catalog.sqlite'}",
                                  warehouse=f"file://{folder / 'warehouse'}")
        self.catalog.create_namespace("shop")
        self.con = duckdb.connect()
        for extension in ("avro", "iceberg"):
            self.con.execute(f"LOAD '{lake.extension_path(extension)}'")
        self.staged: dict[str, object] = {}

    def load(self, big: Path, small: Path) -> None:
        for table, column, source, day in ((BIG, BIG_DAY, big, self.day), (SMALL, SMALL_DAY, small, self.small_day)):
            # decimals as doubles: pyiceberg 0.9.1 rejects the FIXED_LEN_BYTE_ARRAY pyarrow writes decimal(18, 2) as
            described = self.con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(source)]).fetchall()
            columns = ", ".join(f'CAST("{name}" AS DOUBLE) AS "{name}"' if kind.startswith("DECIMAL") else f'"{name}"'
                                for name, kind, *_ in described)
            rows = self.con.execute(f"SELECT {columns} FROM read_parquet(?)", [str(source)]).to_arrow_table()
            created = self.catalog.create_table(f"shop.{table}", schema=rows.schema)
            with created.update_spec() as spec:
                spec.add_identity(column)
            created.append(rows)
            self.staged[table] = self.con.execute(f"SELECT {columns} FROM read_parquet(?) WHERE {column} = ?", [str(source), day]).to_arrow_table()

    def _scan(self, table: str) -> str:
        return self.catalog.load_table(f"shop.{table}").metadata_location

    def count_small(self) -> None:
        self.con.execute("SELECT count(*) FROM iceberg_scan(?)", [self._scan(SMALL)]).fetchall()

    def read_day(self) -> None:
        self.con.execute(f"SELECT event_name, count(*) FROM iceberg_scan(?) WHERE {BIG_DAY} = ? GROUP BY ALL",
                         [self._scan(BIG), self.day]).fetchall()

    def _replace(self, table: str, column: str, day: date) -> None:
        from pyiceberg.expressions import EqualTo

        self.catalog.load_table(f"shop.{table}").overwrite(self.staged[table], overwrite_filter=EqualTo(column, day.isoformat()))

    def replace_day(self) -> None:
        self._replace(BIG, BIG_DAY, self.day)

    def replace_two(self) -> None:
        self._replace(BIG, BIG_DAY, self.day)
        self._replace(SMALL, SMALL_DAY, self.small_day)

    def rows(self) -> tuple[int, int]:
        return tuple(self.con.execute("SELECT (SELECT count(*) FROM iceberg_scan(?)), (SELECT count(*) FROM iceberg_scan(?))",
                                      [self._scan(BIG), self._scan(SMALL)]).fetchone())

    def close(self) -> None:
        self.con.close()


def iceberg_importable() -> bool:
    return all(importlib.util.find_spec(name) for name in
               ("pyiceberg", "sqlalchemy", "pyarrow", "duckdb_extension_iceberg", "duckdb_extension_avro"))


def measure(layout, big: Path, small: Path, expected: tuple[int, int], repeat: int) -> dict:
    started = time.perf_counter()
    layout.load(big, small)
    loaded = time.perf_counter() - started
    figures = {"count of the small table": timed(layout.count_small, repeat),
               "a day of the big table read": timed(layout.read_day, repeat),
               "a day replaced": timed(layout.replace_day, repeat),
               "a day replaced in two tables": timed(layout.replace_two, repeat)}
    rows = layout.rows()
    if rows != expected:  # every replacement put back the rows it took out
        raise SystemExit(f"{layout.name}: {rows} rows after the replacements, expected {expected}")
    layout.close()
    return {"load": loaded, "atomic": layout.atomic_across_tables, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=40_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--extra-path", help="a folder of packages outside the project's lock (Iceberg's), appended to sys.path")
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=True, help="write bench/RESULTS.md")
    args = parser.parse_args()
    if args.extra_path:
        sys.path.append(args.extra_path)
    source = BENCH_DIR / "output" / f"metrics_{args.users}_{args.days}_11" / "lake_comparison" / "file.duckdb"
    if not source.exists():
        raise SystemExit(f"{source} is missing: run `python bench/metrics.py --compare-lake --users {args.users} --days {args.days}` first")

    work = Path(tempfile.mkdtemp(prefix="storage_layouts_"))
    postgres = PostgresCluster(work / "services")
    try:
        big, small = work / f"{BIG}.parquet", work / f"{SMALL}.parquet"
        with duckdb.connect(str(source), read_only=True) as con:
            con.execute(f"COPY (SELECT * FROM {BIG} ORDER BY {BIG_DAY}) TO '{big}' (FORMAT parquet)")
            con.execute(f"COPY (SELECT * FROM {SMALL} ORDER BY {SMALL_DAY}) TO '{small}' (FORMAT parquet)")
            expected = tuple(con.execute(f"SELECT (SELECT count(*) FROM {BIG}), (SELECT count(*) FROM {SMALL})").fetchone())
            # the middle day of each: a read and a replacement of a day neither at an edge of the files
            day = con.execute(f"SELECT quantile_disc({BIG_DAY}, 0.5) FROM {BIG}").fetchone()[0]
            small_day = con.execute(f"SELECT quantile_disc({SMALL_DAY}, 0.5) FROM {SMALL}").fetchone()[0]
            per_day = con.execute(f"SELECT count(*) FROM {BIG} WHERE {BIG_DAY} = ?", [day]).fetchone()[0]

        def folder(name: str) -> Path:
            made = work / name
            made.mkdir()
            return made

        makers = [("file", lambda: duckdb_file(folder("file"), day, small_day)),
                  ("lake_sqlite", lambda: ducklake("DuckLake, SQLite catalog", lake.parse_location(
                      f"ducklake:sqlite:{folder('lake_sqlite') / 'catalog.sqlite'}"), day, small_day))]
        if PostgresCluster.available():
            postgres.start()
            makers.append(("lake_postgres", lambda: ducklake("DuckLake, PostgreSQL catalog", lake.parse_location(
                postgres.lake("storage_layouts"), str(folder("lake_postgres"))), day, small_day)))
        makers += [("lake_duckdb", lambda: ducklake_duckdb_catalog(folder("lake_duckdb"), day, small_day)),
                   ("parquet", lambda: ParquetViews(folder("parquet"), day, small_day))]
        if iceberg_importable():
            makers.append(("iceberg", lambda: IcebergTables(folder("iceberg"), day, small_day)))
        else:
            print("Iceberg: not measured (pyiceberg[sql-sqlite], duckdb-extension-iceberg/-avro not importable; see --extra-path)")

        load = os.getloadavg()[0]
        measured = {}
        for key, make in makers:
            layout = make()
            measured[layout.name] = measure(layout, big, small, expected, args.repeat)
            print(layout.name, {k: round(v, 2) if isinstance(v, float) else v for k, v in measured[layout.name].items()}, flush=True)
        load_after = os.getloadavg()[0]
    finally:
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)

    baseline = measured["DuckDB file"]
    lines = ["| layout | " + " | ".join(OPERATIONS) + " | one transaction across tables |",
             "|---|" + "---:|" * len(OPERATIONS) + "---|"]
    for name, figures in measured.items():
        cells = [f"{figures[op]:.1f} ms" + ("" if name == "DuckDB file" else f" (×{figures[op] / baseline[op]:.1f})")
                 for op in OPERATIONS]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {'yes' if figures['atomic'] else 'no: two commits'} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        write_section("Storage layouts: the cost of a statement (bench/storage_layouts.py)", f"""## Storage layouts: the cost of a statement (bench/storage_layouts.py)

Measured {stamp} on {os.cpu_count()} cores ({platform.machine()}), load {load:.1f} → {load_after:.1f};
DuckDB {duckdb.__version__}. The metrics bench's `{BIG}` ({expected[0]:,} rows, {per_day:,} on the day used)
and `{SMALL}` ({expected[1]} rows) copied into each layout in day order; medians of {args.repeat} after 3
warm-ups. "A day replaced": delete the day and insert it again from a temp table, one commit (Parquet:
a new file renamed over the day's; Iceberg: pyiceberg's overwrite with a filter on the day, the table
partitioned by day). The DuckDB file and DuckLake's DuckDB-file catalog admit one process only.

{table}
""")


if __name__ == "__main__":
    main()
