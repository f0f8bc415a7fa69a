"""Measure what the embedded DuckDB warehouse allows between processes (docs/scaling.md).

    .venv/bin/python scripts/stack/duckdb_limits.py [--rows 2000000]

Opens one warehouse file from several processes the way Dagster runs would (each run and each
multiprocess step is its own process) and prints what succeeds, what fails and how long it takes.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path


def _writer(path: str, rows: int, hold: float, ready, done) -> None:
    import duckdb

    con = duckdb.connect(path)
    started = time.perf_counter()
    con.execute(f"CREATE OR REPLACE TABLE facts AS SELECT range AS id, range % 1000 AS k, random() AS v FROM range({rows})")
    done.put(("write", rows, time.perf_counter() - started))
    ready.set()
    time.sleep(hold)  # keep the file open, as a run does for a step
    con.close()


def _attempt(path: str, read_only: bool, out) -> None:
    import duckdb

    started = time.perf_counter()
    try:
        con = duckdb.connect(path, read_only=read_only)
        n = con.execute("SELECT count(*) FROM facts").fetchone()[0]
        con.close()
        out.put(("ok", n, time.perf_counter() - started))
    except Exception as error:  # noqa: BLE001 - reported, that is the measurement
        out.put((type(error).__name__, str(error).splitlines()[0][:120], time.perf_counter() - started))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "warehouse.duckdb")
        ready, out = ctx.Event(), ctx.Queue()
        writer = ctx.Process(target=_writer, args=(path, args.rows, 3.0, ready, out))
        writer.start()
        ready.wait(120)
        kind, rows, seconds = out.get()
        print(f"one writer: CREATE TABLE of {rows:,} rows in {seconds:.2f}s ({rows / seconds:,.0f} rows/s)")
        for label, read_only in (("second writer while the first holds the file", False),
                                 ("reader (read_only) while a writer holds the file", True)):
            probe = ctx.Process(target=_attempt, args=(path, read_only, out))
            probe.start()
            probe.join()
            print(f"{label}: {out.get()}")
        writer.join()
        readers = [ctx.Process(target=_attempt, args=(path, True, out)) for _ in range(4)]
        started = time.perf_counter()
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        results = [out.get()[0] for _ in readers]
        print(f"4 read_only processes, no writer: {results} in {time.perf_counter() - started:.2f}s")


if __name__ == "__main__":
    main()
