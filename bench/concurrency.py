"""The warehouse's storage layouts side by side (issue 16): a DuckDB file against a DuckLake.

Not a test: run `python bench/concurrency.py [--users N] [--days D]`; results go to the
`## Concurrency and storage layout` section of bench/RESULTS.md. One simulated landing zone
(cached under bench/output/), the daily job over all its days (`shopverse backfill --select '*'
--reports none`), each case a `shopverse` process of its own on an empty warehouse:

1. file:            the DuckDB file, steps one after another (the platform before DuckLake);
2. lake:            a DuckLake (SQLite catalog, Parquet beside it: the embedded layout), the same;
3. lake, a reader beside it: the same, with the reader below;
4. lake, 2 workers: the same lake layout, `--workers 2` (steps in processes of their own, two at once);
5. lake on PostgreSQL, alone, with a reader, and with 2 workers: the production layout, the catalog in a PostgreSQL cluster
   started for the benchmark by scripts/services/postgres.sh (a free port, a temporary folder,
   stopped and deleted after), where two commits at once do not queue on one SQLite file
   (skipped when no PostgreSQL is installed: scripts/services/install.sh postgres).
6. lake on PostgreSQL, 2 Celery workers: the same production layout, `--celery`: every step a task on
   a Redis broker (Debian's redis-server on a free port) executed by two `shopverse celery-worker`
   processes, started for the case and stopped after it (skipped without redis-server:
   scripts/services/install.sh redis). Their memory is added to the case's summed peak.

What it reports: wall time and peak RSS of each (the command's own, os.wait4; and the largest sum
of RSS over the command and all its descendants, sampled every 0.1 s, as under --workers the step
processes are forked from Dagster's forkserver; pages they share are counted in each), the ingestion (raw_events + clean_events) and metric steps' time from the run's
own step lines, and, in the file's case and the "reader beside it" cases, a reader in another
process asking every 0.2 s how many events each day holds, as a notebook would: on the file through
DuckDB's own read-only connect (what a notebook does), on the lake through one connection held open
for the whole run. A lake's reader is answered, and its queries share the two cores with the run:
the layouts' costs are the cases without one (the file's reader fails at once and costs nothing).
Every case's tables are compared row for row with the file's: a layout that is faster but
different is not reported as a result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

from results import write_section  # bench/results.py (this folder is on sys.path when run as a script)

BENCH_DIR = Path(__file__).resolve().parent
PROJECT = BENCH_DIR.parent
OUTPUT = BENCH_DIR / "output"
SHOPVERSE = [sys.executable, "-m", "shopverse_platform.cli.main"]
INGESTION = ("raw_events", "clean_events")
METRICS = ("daily_sales", "session_metrics", "funnel_daily", "daily_traffic", "product_performance",
           "cart_abandonment", "customer_metrics", "anomalies", "orders", "order_lines")

READER = textwrap.dedent("""
    import json, os, sys, time
    import duckdb
    setting, stop, layout = sys.argv[1], sys.argv[2], sys.argv[3]
    latencies, failures, first_error, not_yet = [], 0, None, 0
    query = "SELECT partition_date, count(*) FROM clean_events GROUP BY ALL"
    def ask(con):
        started = time.perf_counter()
        con.execute(query).fetchall()
        latencies.append(time.perf_counter() - started)
    def missing(error):  # asked before the run created the table: not a failure of the layout
        return "does not exist" in str(error)
    def count(error):
        global failures, first_error, not_yet
        if missing(error):
            not_yet += 1
        else:
            failures += 1
            first_error = first_error or str(error).splitlines()[0][:160]
    if layout == "file":
        while not os.path.exists(stop) and not os.path.exists(setting):
            time.sleep(0.05)
        # a notebook's read-only connection, opened for each question and closed after it
        while not os.path.exists(stop):
            try:
                con = duckdb.connect(setting, read_only=True)
                try:
                    ask(con)
                finally:
                    con.close()
            except duckdb.Error as error:
                count(error)
            time.sleep(0.2)
    else:
        from shopverse_platform.defs.resources import Warehouse
        warehouse = Warehouse(path=setting)
        while not os.path.exists(stop) and not warehouse.exists():
            time.sleep(0.2)
        with warehouse.connect(read_only=True) as con:  # held for the whole run
            while not os.path.exists(stop):
                try:
                    ask(con)
                except duckdb.Error as error:
                    count(error)
                time.sleep(0.2)
    print(json.dumps({"answered": len(latencies), "failed": failures, "first_error": first_error, "not_yet": not_yet,
                      "latencies": latencies}))
""")


def ensure_landing(users: int, days: int, seed: int, start: date) -> Path:
    root = OUTPUT / f"concurrency_{users}_{days}_{seed}" / "landing"
    if not (root.parent / "simulated.ok").exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        subprocess.run(SHOPVERSE + ["simulate", "--users", str(users), "--days", str(days), "--start", start.isoformat(),
                                    "--seed", str(seed), "--landing-dir", str(root), "--quiet"], cwd=PROJECT, check=True)
        (root.parent / "simulated.ok").write_text("ok\n")
    return root


def run_case(name: str, setting: str, landing: Path, first: date, last: date, workers: int, reader_layout: str | None,
             work: Path, data_path: str | None = None, celery: bool = False) -> dict:
    case_dir = work / name
    shutil.rmtree(case_dir, ignore_errors=True)
    (case_dir / "dagster_home").mkdir(parents=True)
    env = {**os.environ, "SHOPVERSE_WAREHOUSE": setting, "SHOPVERSE_LANDING_DIR": str(landing),
           "SHOPVERSE_DATA_DIR": str(case_dir / "data"), "DAGSTER_HOME": str(case_dir / "dagster_home"),
           "PYTHONPATH": str(PROJECT)}
    env.pop("SHOPVERSE_WAREHOUSE_DATA_PATH", None)
    if data_path:
        env["SHOPVERSE_WAREHOUSE_DATA_PATH"] = data_path
    stop = case_dir / "stop"
    reader = None
    if reader_layout:
        reader = subprocess.Popen([sys.executable, "-c", READER, setting, str(stop), reader_layout], cwd=PROJECT,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    argv = SHOPVERSE + ["backfill", "--start", first.isoformat(), "--end", last.isoformat(), "--select", "*",
                        "--reports", "none", *(["--celery"] if celery else ["--workers", str(workers)])]
    log = case_dir / "backfill.log"
    with ExitStack() as services:
        step_workers: list[int] = []
        if celery:  # Redis and the workers (shopverse_platform_tests/celery_broker.py), stopped when the case ends
            from shopverse_platform_tests import celery_broker

            broker, _, processes = services.enter_context(celery_broker.redis_and_workers(
                case_dir, tuple(f"w{number}@bench" for number in range(1, workers + 1)), env, cwd=PROJECT))
            env["SHOPVERSE_CELERY_BROKER"] = broker
            step_workers = [process.pid for process in processes.values()]
        started = time.perf_counter()
        with log.open("w") as out:
            child = subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT)
            tree_peak = TreeMemory(child.pid, *step_workers)
            tree_peak.start()
            _, status, usage = os.wait4(child.pid, 0)
            tree_peak.done.set()
            tree_peak.join()
        seconds = time.perf_counter() - started
    stop.touch()
    retried = log.read_text().count(" up for retry after ")  # steps run again after meeting another commit
    outcome = {"case": name, "seconds": round(seconds, 1), "retried": retried, "peak_rss_mb": round(usage.ru_maxrss / 1024),
               "tree_peak_mb": round(tree_peak.peak / 2**20),
               "exit": os.waitstatus_to_exitcode(status), "steps": step_seconds(log.read_text())}
    if outcome["exit"]:
        raise SystemExit(f"{name} failed; the end of {log}:\n" + "\n".join(log.read_text().splitlines()[-30:]))
    if reader is not None:
        stdout, stderr = reader.communicate(timeout=120)
        if reader.returncode:
            raise SystemExit(f"the reader beside {name} failed:\n{stderr[-3000:]}")
        seen = json.loads(stdout.strip().splitlines()[-1])
        lat = sorted(seen.pop("latencies"))
        seen.update({"p50_ms": round(1000 * statistics.median(lat), 1) if lat else None,
                     "p95_ms": round(1000 * lat[int(0.95 * (len(lat) - 1))], 1) if lat else None,
                     "max_ms": round(1000 * lat[-1], 1) if lat else None})
        outcome["reader"] = seen
    return outcome


class PostgresCluster:
    """A PostgreSQL cluster of the project's own script (scripts/services/postgres.sh) on a free
    port, its state under ``home``, for the lakes catalogued in PostgreSQL; stopped and deleted by
    ``stop``."""

    def __init__(self, home: Path):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.env = {**os.environ, "SHOPVERSE_SERVICES_HOME": str(home), "SHOPVERSE_PG_PORT": str(self.port)}
        self.started = False

    @staticmethod
    def available() -> bool:
        return bool(list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))) or shutil.which("pg_ctl") is not None

    def _script(self, *args: str) -> None:
        subprocess.run(["bash", str(PROJECT / "scripts" / "services" / "postgres.sh"), *args], env=self.env,
                       check=True, capture_output=True, text=True, timeout=300)

    def start(self) -> None:
        for leftover in ("stop", "destroy"):  # a cluster an interrupted run left: its lakes are not empty
            try:
                self._script(leftover)
            except subprocess.CalledProcessError:
                pass
        self._script("start")
        self.started = True

    def lake(self, database: str) -> str:
        """A new database for one lake's catalog, and the lake's setting."""
        self._script("createdb", database)
        return f"ducklake:postgres:dbname={database} host=127.0.0.1 port={self.port} user=shopverse password=shopverse"

    def stop(self) -> None:
        if self.started:
            self._script("stop")
            self._script("destroy")
            self.started = False


class TreeMemory(threading.Thread):
    """The largest sum of resident memory of a process and all its descendants, sampled every
    0.1 s: under --workers the steps run in processes forked from Dagster's forkserver, which
    os.wait4's figure for the command does not include."""

    def __init__(self, pid: int, *others: int):
        super().__init__(daemon=True)
        self.pids, self.peak, self.done = (pid, *others), 0, threading.Event()  # others: Celery workers, say

    def run(self) -> None:
        import psutil

        try:
            roots = [psutil.Process(pid) for pid in self.pids]
        except psutil.Error:
            return
        while not self.done.is_set():
            total = 0
            for root in roots:
                try:
                    for process in [root, *root.children(recursive=True)]:
                        try:
                            total += process.memory_info().rss
                        except psutil.Error:
                            pass
                except psutil.Error:
                    if root is roots[0]:
                        return
            self.peak = max(self.peak, total)
            self.done.wait(0.1)


def step_seconds(log: str) -> dict[str, float]:
    import re

    found = {}
    for step, took in re.findall(r"\] (\S+) ok in ([\d.]+)s", log):
        found[step] = found.get(step, 0.0) + float(took)
    return found


def table_digest(setting: str) -> dict[str, str]:
    """Per table, a digest of its rows (volatile columns left out), computed inside DuckDB."""
    sys.path.insert(0, str(PROJECT))
    from shopverse_platform.defs.resources import Warehouse

    digests = {}
    volatile = ("_at", "run_id", "mlflow", "model_version", "file", "path")
    with Warehouse(path=setting).connect(read_only=True) as con:
        for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall():
            columns = [c for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() AND table_name = ? "
                "ORDER BY column_index", [name]).fetchall() if not any(v in c for v in volatile)]
            row = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
            digests[name] = con.execute(
                f'SELECT count(*), coalesce(sum(hash({row})), 0) FROM "{name}"').fetchall()[0]  # names DuckDB listed
    return {name: str(value) for name, value in digests.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=12_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    first = date(2026, 9, 1)
    last = first + timedelta(days=args.days - 1)
    landing = ensure_landing(args.users, args.days, args.seed, first)
    work = OUTPUT / "concurrency_runs"
    load_before = os.getloadavg()[0]
    file_setting = str(work / "file" / "data" / "warehouse" / "shopverse.duckdb")
    def sqlite_lake(folder: str) -> str:
        return f"ducklake:sqlite:{work / folder / 'data' / 'warehouse' / 'shopverse.sqlite'}"

    # The layouts' costs are timed without a reader: a lake's reader answers every 0.2 s and takes
    # its share of the two cores (the file's fails at once), so the reader gets runs of its own.
    cases = [  # (name, folder, setting, workers, reader, data path, celery)
        ("file", "file", file_setting, 1, "file", None, False),
        ("lake", "lake", sqlite_lake("lake"), 1, None, None, False),
        ("lake, a reader beside it", "lake_read", sqlite_lake("lake_read"), 1, "lake", None, False),
        ("lake, 2 workers", "lake2", sqlite_lake("lake2"), 2, None, None, False),
    ]
    postgres = PostgresCluster(work / "services")
    if postgres.available():
        postgres.start()
        variants = [("lake on PostgreSQL", "lakepg1", 1, None, False),
                    ("lake on PostgreSQL, a reader beside it", "lakepg_read", 1, "lake", False),
                    ("lake on PostgreSQL, 2 workers", "lakepg2", 2, None, False)]
        from shopverse_platform_tests import celery_broker

        if celery_broker.redis_available():
            variants.append(("lake on PostgreSQL, 2 Celery workers", "lakepg_celery", 2, None, True))
        for name, folder, workers, reader, celery in variants:
            cases.append((name, folder, postgres.lake(folder), workers, reader, str(work / folder / "data" / "lake"), celery))
    results, digests = [], {}
    try:
        for name, folder, setting, workers, reader, data_path, celery in cases:
            outcome = run_case(folder, setting, landing, first, last, workers, reader, work, data_path, celery)
            outcome["case"] = name
            digests[name] = table_digest(setting)
            print(json.dumps({k: v for k, v in outcome.items() if k != "steps"}), flush=True)
            results.append(outcome)
    finally:
        postgres.stop()
    load_after = os.getloadavg()[0]
    events = int(digests["file"]["clean_events"].strip("()").split(",")[0])
    same = {name: digests[name] == digests["file"] for name in digests}
    different = {name: sorted(t for t in digests["file"] if digests[name].get(t) != digests["file"][t]) for name in digests}

    def part(outcome: dict, steps: tuple[str, ...]) -> float:
        return round(sum(outcome["steps"].get(s, 0.0) for s in steps), 1)

    base = results[0]
    lines = [
        "## Concurrency and storage layout (bench/concurrency.py)", "",
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, load "
        f"{load_before:.1f} before and {load_after:.1f} after; {args.days} simulated days, {events:,} clean events; "
        "the daily job over every day in one run (`shopverse backfill --select '*' --reports none`), each case on "
        "an empty warehouse in a process of its own.", "",
        "| case | wall | vs file | peak RSS | peak RSS summed over its processes | ingestion steps | metric steps | steps retried | tables equal to the file's |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for outcome in results:
        name = outcome["case"]
        lines.append(
            f"| {name} | {outcome['seconds']:.1f} s | ×{outcome['seconds'] / base['seconds']:.2f} | "
            f"{outcome['peak_rss_mb']:,} MB | {outcome['tree_peak_mb']:,} MB | {part(outcome, INGESTION)} s | {part(outcome, METRICS)} s | {outcome['retried']} | "
            f"{'yes' if same[name] else 'NO: ' + ', '.join(different[name])} |")
    lines += ["", "A reader in another process asking every 0.2 s how many events each day holds, while the run writes:", "",
              "| while | reader | answered | failed | p50 | p95 | max | first error |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for outcome in results:
        if "reader" not in outcome:
            continue
        seen = outcome["reader"]
        how = "DuckDB read-only connect per question" if outcome["case"] == "file" else "one connection held open"
        lines.append(f"| {outcome['case']} | {how} | {seen['answered']} | {seen['failed']} | "
                     f"{seen['p50_ms'] if seen['p50_ms'] is not None else '-'} ms | "
                     f"{seen['p95_ms'] if seen['p95_ms'] is not None else '-'} ms | "
                     f"{seen['max_ms'] if seen['max_ms'] is not None else '-'} ms | {seen['first_error'] or ''} |")
    lines += ["", "Steps, seconds (summed over a step's retries):", "",
              "| step | " + " | ".join(o["case"] for o in results) + " |", "|---|" + "---:|" * len(results)]
    for step in sorted(base["steps"], key=lambda s: -base["steps"][s])[:14]:
        lines.append(f"| {step} | " + " | ".join(f"{o['steps'].get(step, 0.0):.1f}" for o in results) + " |")
    body = "\n".join(lines) + "\n"
    write_section("Concurrency and storage layout (bench/concurrency.py)", body)
    print(body)


if __name__ == "__main__":
    main()
