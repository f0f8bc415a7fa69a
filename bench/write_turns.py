"""Two writers on one lake at once: how many commits each makes, how many of its transactions were
done again, and how long a commit took, with the platform's write turns
(lib/warehouse/write_turns.py) against without them (each transaction retried on contention only,
as before session 25), on a SQLite catalog and on PostgreSQL.

Not a test: `python bench/write_turns.py [--seconds 20] [--rows 200000] [--postgres] [--write]`.
Each run makes a new lake whose tables `a` and `b` hold `--rows` rows over 7 days, then starts two
writer processes for `--seconds`. Each writer replaces one day after another (DELETE the day, INSERT it
again from a temp table: what a daily partition's step does) through the platform's
``transactions.in_transaction``, which retries a transaction that met another's commit. Scenarios:
each writer on its own table (two assets' steps at once), and both on table `a` (two partitions of
one asset). `--postgres` adds the same on a PostgreSQL catalog (scripts/services/postgres.sh, a
cluster of its own in a temp folder, stopped after), with the platform's per-table turns (advisory
locks) and without them (retries only, as before session 27).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(BENCH_DIR))

from results import write_section  # noqa: E402

DAYS = 7


def writer(setting: str, table: str, seconds: float, rows: int, first_day: int) -> None:
    """One writer process: replace day after day of ``table`` for ``seconds``; prints its counts."""
    import duckdb

    from shopverse_platform.lib.warehouse import lake
    from shopverse_platform.lib.warehouse.transactions import in_transaction

    con = lake.connect(lake.parse_location(setting, os.environ.get("SHOPVERSE_WAREHOUSE_DATA_PATH")), "bench", read_only=False, config={"threads": 1})
    con.execute(f"CREATE TEMP TABLE staging AS SELECT i % {DAYS} AS day, i AS v, md5(i::VARCHAR) AS s FROM range(?) r(i)", [rows])
    commits, attempts, gave_up, latencies = 0, 0, 0, []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        day = (first_day + commits) % DAYS

        def replace() -> None:
            nonlocal attempts
            attempts += 1
            con.execute(f"DELETE FROM {table} WHERE day = ?", [day])
            con.execute(f"INSERT INTO {table} SELECT * FROM temp.staging WHERE day = ?", [day])

        started = time.perf_counter()
        try:
            in_transaction(con, replace, writes=(table,))  # as replace_date_range names its table
        except duckdb.Error as error:  # its attempts spent: a step would fail here (and Dagster run it again)
            if not lake.is_contention(error):
                raise
            gave_up += 1
            continue
        latencies.append(time.perf_counter() - started)
        commits += 1
    print(json.dumps({"commits": commits, "redone": attempts - commits - gave_up, "gave_up": gave_up, "latencies": latencies}))


def new_lake(setting: str, rows: int) -> None:
    from shopverse_platform.lib.warehouse import lake

    con = lake.connect(lake.parse_location(setting, os.environ.get("SHOPVERSE_WAREHOUSE_DATA_PATH")), "bench", read_only=False, config={})
    for table in ("a", "b"):
        con.execute(f"CREATE TABLE {table} (day INTEGER, v BIGINT, s VARCHAR)")
        con.execute(f"INSERT INTO {table} SELECT i % {DAYS}, i, md5(i::VARCHAR) FROM range(?) r(i)", [rows])
    con.close()
    lake.release_instances()


def run(setting: str, tables: tuple[str, str], turns: bool, seconds: float, rows: int, env: dict) -> list[dict]:
    new_lake(setting, rows)
    env = {**env, "SHOPVERSE_LAKE_WRITE_TURNS": "1" if turns else "0"}
    writers = [subprocess.Popen([sys.executable, __file__, "--writer", json.dumps([setting, table, seconds, rows, 3 * i])],
                                stdout=subprocess.PIPE, text=True, env=env, cwd=PROJECT)
               for i, table in enumerate(tables)]
    outcomes = []
    for process in writers:
        out, _ = process.communicate()
        if process.returncode:
            raise RuntimeError(f"a writer failed (exit {process.returncode})")
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    return outcomes


def start_postgres(cleanups: list, work: Path) -> tuple[dict, Path, int]:
    """A PostgreSQL cluster of the project's script (its own folder, a free port), stopped and removed
    by the cleanup it appends: its environment, the script, its port."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SHOPVERSE_SERVICES_HOME": str(work / "services"), "SHOPVERSE_PG_PORT": str(port)}
    script = PROJECT / "scripts" / "services" / "postgres.sh"
    subprocess.run(["bash", str(script), "start"], env=env, check=True, capture_output=True)
    cleanups.append(lambda: [subprocess.run(["bash", str(script), action], env=env, capture_output=True) for action in ("stop", "destroy")])
    return env, script, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--write", action="store_true", help="write the section of bench/RESULTS.md")
    parser.add_argument("--writer")
    args = parser.parse_args()
    if args.writer:
        writer(*json.loads(args.writer))
        return
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="write_turns_"))
    cleanups: list = []
    results = []
    try:
        layouts = [("SQLite", True), ("SQLite", False)]
        pg = None
        if args.postgres:
            pg = start_postgres(cleanups, work)
            layouts += [("PostgreSQL", True), ("PostgreSQL", False)]
        for n, (tables, scenario) in enumerate(((("a", "b"), "each writer on its own table"), (("a", "a"), "both on one table, other days"))):
            for catalog, turns in layouts:
                if catalog == "SQLite":
                    setting = f"ducklake:sqlite:{work / f'lake{n}{int(turns)}' / 'catalog.sqlite'}"
                    env = dict(os.environ)
                else:
                    env_pg, script, port = pg
                    database = f"bench_{n}_{int(turns)}"
                    subprocess.run(["bash", str(script), "createdb", database], env=env_pg, check=True, capture_output=True)
                    setting = (f"ducklake:postgres:dbname={database} host=127.0.0.1 port={port} "
                               "user=shopverse password=shopverse")
                    env = {**os.environ, "SHOPVERSE_WAREHOUSE_DATA_PATH": str(work / f"pg{n}{int(turns)}")}
                    os.environ["SHOPVERSE_WAREHOUSE_DATA_PATH"] = env["SHOPVERSE_WAREHOUSE_DATA_PATH"]
                outcomes = run(setting, tables, turns, args.seconds, args.rows, env)
                os.environ.pop("SHOPVERSE_WAREHOUSE_DATA_PATH", None)
                label = f"{catalog}, " + (("write turns" if catalog == "SQLite" else "table turns") if turns else "retry only (before)")
                results.append((scenario, label, outcomes))
                latencies = [t for o in outcomes for t in o["latencies"]]
                print(f"{scenario} | {label} | commits {[o['commits'] for o in outcomes]} | redone {[o['redone'] for o in outcomes]} "
                      f"| gave up {[o['gave_up'] for o in outcomes]} | slowest commit {max(latencies):.2f} s", flush=True)
    finally:
        for cleanup in reversed(cleanups):
            cleanup()
        shutil.rmtree(work, ignore_errors=True)
    lines = ["| writers | catalog | commits (writer 1 / 2) | total | transactions done again (1 / 2) | given up after 12 attempts (1 / 2) | median commit | slowest commit |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for scenario, label, outcomes in results:
        latencies = [t for o in outcomes for t in o["latencies"]]
        lines.append(f"| {scenario} | {label} | {outcomes[0]['commits']:,} / {outcomes[1]['commits']:,} | "
                     f"{sum(o['commits'] for o in outcomes):,} | {outcomes[0]['redone']:,} / {outcomes[1]['redone']:,} | "
                     f"{outcomes[0]['gave_up']:,} / {outcomes[1]['gave_up']:,} | "
                     f"{statistics.median(latencies) * 1000:.0f} ms | {max(latencies):.2f} s |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_section("Two writers on one lake: write turns (bench/write_turns.py)", "\n".join([
            "## Two writers on one lake: write turns (bench/write_turns.py)", "",
            f"`python bench/write_turns.py --seconds {args.seconds:g} --rows {args.rows}"
            + (" --postgres" if args.postgres else "") + f"` — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
            f"{os.cpu_count()} cores, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after. Two writer "
            f"processes for {args.seconds:g} s each replace one day after another of a table of {args.rows:,} rows over {DAYS} "
            "days (DELETE and INSERT in one transaction, through `transactions.in_transaction`). A commit's time includes "
            "its waits: for a turn, or the retries' backoff. A transaction given up after its 12 attempts "
            "(`lake.retry_contention`) is where a step would fail and Dagster run it again; the writer goes on with the next day.",
            "", table, ""]))


if __name__ == "__main__":
    main()
