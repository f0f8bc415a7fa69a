"""DuckLake probe: can a reader query while another process writes, and can two processes write?

Groundwork for the scale-out issue (docs/scaling.md, "Many writers and readers"), written when the
project pinned DuckDB 2.0.0 and ran in an environment of its own; the project now pins DuckDB 1.5.5
with DuckLake's extensions in its lock, so it runs in the project's:

    .venv/bin/python bench/ducklake_probe.py [--rows 200000] [--rewrites 20]

A lake with a SQLite catalog (the embedded-default candidate) and Parquet data in a temp folder.
1. One writer replaces one of five "day partitions" per transaction (DELETE + INSERT, the platform's
   window replacement) while a reader in another process counts rows per day: every read must see
   whole days (never a half-written partition), and its latency is reported.
2. Two writers, each on its own days, at once: commits that fail (catalog contention) are retried
   with backoff, and counted.
"""

from __future__ import annotations

import argparse
import glob
import multiprocessing as mp
import random
import sysconfig
import tempfile
import time
from pathlib import Path

import duckdb


def _extension(name: str) -> str:
    site = sysconfig.get_paths()["purelib"]
    found = glob.glob(f"{site}/duckdb_extension_{name}/extensions/*/{name}.duckdb_extension")
    if not found:
        raise SystemExit(f"duckdb-extension-{name.replace('_', '-')} is not installed here (see this file's docstring)")
    return found[0]


def connect(lake: Path) -> duckdb.DuckDBPyConnection:
    # the extensions load from the pip packages' paths: INSTALL from the network is not available here.
    # LOAD and ATTACH take no bound parameters; the paths are the installed packages' and a temp folder.
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    for name in ("ducklake", "sqlite_scanner"):
        con.execute(f"LOAD '{_extension(name)}'")
    con.execute(f"ATTACH 'ducklake:sqlite:{lake / 'catalog.sqlite'}' AS lake (DATA_PATH '{lake / 'data'}/')")
    return con


def replace_day(con, day: int, rows: int) -> None:
    con.execute("BEGIN")
    con.execute("DELETE FROM lake.events WHERE day = ?", [day])
    con.execute("INSERT INTO lake.events SELECT ? AS day, range AS id FROM range(?)", [day, rows])
    con.execute("COMMIT")


def writer(lake: Path, days: list[int], rewrites: int, rows: int, out) -> None:
    con, retries = connect(lake), 0
    started = time.perf_counter()
    for i in range(rewrites):
        for attempt in range(20):
            try:
                replace_day(con, days[i % len(days)], rows)
                break
            except duckdb.Error:
                retries += 1
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                time.sleep(min(2.0, 0.02 * 2 ** attempt) * random.random())
        else:
            out.put(("writer", days, "gave up", retries))
            return
    out.put(("writer", days, round(time.perf_counter() - started, 2), retries))


def reader(lake: Path, queries: int, rows: int, out) -> None:
    con, latencies, torn = connect(lake), [], 0
    for _ in range(queries):
        started = time.perf_counter()
        counts = con.execute("SELECT day, count(*) FROM lake.events GROUP BY day").fetchall()
        latencies.append(time.perf_counter() - started)
        torn += sum(1 for _, n in counts if n != rows)
    latencies.sort()
    out.put(("reader", queries, round(1000 * latencies[len(latencies) // 2], 1), round(1000 * latencies[-1], 1), torn))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows per day partition (default 200000)")
    parser.add_argument("--rewrites", type=int, default=20, help="partition rewrites per writer (default 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        lake = Path(folder)
        con = connect(lake)
        con.execute("CREATE TABLE lake.events (day INTEGER, id BIGINT)")
        for day in range(5):
            replace_day(con, day, args.rows)
        con.close()
        out = mp.Queue()
        runs = [mp.Process(target=writer, args=(lake, [0, 1, 2, 3, 4], args.rewrites, args.rows, out)),
                mp.Process(target=reader, args=(lake, 5 * args.rewrites, args.rows, out))]
        for p in runs:
            p.start()
        for p in runs:
            p.join()
        print("1. one writer, one reader:", [out.get() for _ in runs])
        runs = [mp.Process(target=writer, args=(lake, [0, 1], args.rewrites, args.rows, out)),
                mp.Process(target=writer, args=(lake, [2, 3], args.rewrites, args.rows, out))]
        for p in runs:
            p.start()
        for p in runs:
            p.join()
        print("2. two writers (seconds, retried commits):", [out.get() for _ in runs])


if __name__ == "__main__":
    main()
