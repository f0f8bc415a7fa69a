"""Where the DuckLake's extra time goes, statement by statement: the metric runs of bench/metrics.py on the
DuckDB file and on the lake, every statement timed and counted, per step and per call site.

Not a test: run `python bench/metrics.py --compare-lake --users N --days D` once (it leaves the file and
the lake it measured in bench/output/metrics_N_D_11/lake_comparison/), then
`python bench/lake_statements.py --users N --days D [--step day|whole] [--runs 3]`. Each run copies both
warehouses afresh and runs the step in a process of its own (file and lake alternated), with every
connection the warehouse resource hands out wrapped so that each `execute` (and the fetch after it) is
timed with the code that issued it. Prints the medians of the runs, the statements per step on each
layout, and the call sites where the lake spends the most beyond the file (one run's figures).

`--step daily` measures the whole daily job instead: the day after a history of `--history` days built by
`python bench/daily_growth.py --lake --issue-volume --sizes N` (its DuckDB file and the lake migrated from it,
each copied afresh), and adds the helpers (call sites over every step) where the lake spends the most.

`--read-groups` (steps day and whole) adds the lake with its reads ungrouped (`$SHOPVERSE_LAKE_READ_GROUPS=0`,
lib/warehouse/read_groups.py) and counts, in one untimed run of each lake, the transactions and queries the lake
sent its SQLite catalog; `--write` puts the figures in bench/RESULTS.md.

`--object-store` (steps day and whole) adds a third layout: the same lake with its Parquet in an S3 bucket of
SeaweedFS on loopback (shopverse_platform_tests/seaweedfs.py; built by `scripts/services/install.sh
seaweedfs`), migrated from the same file: what the S3 protocol adds, not a network's round trips.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack
from datetime import date
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT = BENCH_DIR.parent
sys.path.insert(0, str(PROJECT))  # shopverse_platform_tests.seaweedfs, for --object-store
sys.path.insert(0, str(BENCH_DIR))  # the benches this one runs: metrics.py, daily_growth.py


def _call_site() -> str:
    """The platform code that issued a statement: its innermost frame in shopverse_platform, the
    statement log of column lineage (which only passes statements on) left out."""
    return next((f"{f.filename.split('shopverse_platform/')[-1]}:{f.name}" for f in reversed(traceback.extract_stack()[:-2])
                 if "shopverse_platform" in f.filename and "sql_lineage.py" not in f.filename), "?")


class TimedConnection:
    """A connection whose statements are timed (execute plus the fetch of its result) and recorded as
    [step, call site, statement, seconds]."""

    def __init__(self, con, records: list) -> None:
        self._con, self._records = con, records
        self.__wrapped__ = con  # what takes a lake's write turns (lib/warehouse/write_turns.py)
        self._step = next((f.name for f in reversed(traceback.extract_stack())
                           if "/shopverse_platform/defs/" in f.filename and not f.filename.endswith("resources.py")), "?")

    def execute(self, sql, *args, **kwargs):
        site = _call_site()
        started = time.perf_counter()
        try:
            self._con.execute(sql, *args, **kwargs)
        finally:
            self._records.append([self._step, site, " ".join(str(sql).split())[:120], time.perf_counter() - started])
        return self

    def table(self, name: str):
        """A relation bound by name (lib/warehouse/tables.table_exists, table_schema): timed as a statement."""
        site = _call_site()
        started = time.perf_counter()
        try:
            return self._con.table(name)
        finally:
            self._records.append([self._step, site, f"(relation) {name}", time.perf_counter() - started])

    def _fetch(self, name: str, *args):
        started = time.perf_counter()
        result = getattr(self._con, name)(*args)
        self._records[-1][3] += time.perf_counter() - started
        return result

    def fetchone(self):
        return self._fetch("fetchone")

    def fetchall(self):
        return self._fetch("fetchall")

    def df(self):
        return self._fetch("df")

    def fetchdf(self):
        return self._fetch("fetchdf")

    @property
    def description(self):
        return self._con.description

    def __getattr__(self, name: str):
        return getattr(self._con, name)


def child(setting: str, landing: str, days: int, step: str) -> None:
    import metrics as bench  # bench/metrics.py

    records: list = []
    _timed_connections(records)
    bench.warm_up()
    records.clear()
    daily, whole, _ = bench._metric_assets()
    day = bench.last_day(days)
    seconds, steps = (bench._materialize(daily, setting, landing, day, day, "1GB") if step == "day"
                      else bench._materialize(whole, setting, landing, None, None, "1GB"))
    print(json.dumps({"seconds": seconds, "steps": steps, "records": records}))


def _timed_connections(records: list) -> None:
    """Every connection the warehouse resource hands out from now on, in this process, times its statements."""
    from shopverse_platform.defs import resources
    from shopverse_platform.lib.warehouse import lake

    lake_connect, file_connect = lake.connect, resources.connect_with_retry
    show_queries = os.environ.get(SHOW_CATALOG_QUERIES) == "1"

    def timed_lake_connection(*args, **kwargs):
        con = lake_connect(*args, **kwargs)
        if show_queries:  # printed on stderr, counted by run()
            con.execute("SET sqlite_debug_show_queries = true")
        return TimedConnection(con, records)

    lake.connect = timed_lake_connection
    resources.connect_with_retry = lambda *a, **k: TimedConnection(file_connect(*a, **k), records)


def child_daily(history: int, start: str) -> None:
    import daily_growth  # bench/daily_growth.py

    records: list = []
    _timed_connections(records)
    the_day = daily_growth.day(history + 1, date.fromisoformat(start))
    outcome = daily_growth._daily_run(the_day, the_day)
    print(json.dumps({"seconds": outcome["seconds"], "steps": outcome["steps"], "records": records}))


def daily_root(users: int, history: int) -> Path:
    """bench/daily_growth.py's cache holding a history of ``history`` days and its lake."""
    for root in sorted((BENCH_DIR / "output").glob(f"daily_growth_{users}_*")):
        if (root / f"history_{history}_lake" / "complete").exists():
            return root
    sys.exit(f"no {history}-day history migrated to a lake: run python bench/daily_growth.py --lake "
             f"--users {users} --sizes {history} first")


def run_daily(layout: str, root: Path, history: int) -> dict:
    import daily_growth

    with tempfile.TemporaryDirectory(dir=BENCH_DIR / "output") as tmp:
        work = Path(tmp) / "run"
        shutil.copytree(root / (f"history_{history}" + ("_lake" if layout == "lake" else "")), work)
        if layout == "lake":
            daily_growth.relocate_lake(work / "data" / "warehouse" / daily_growth.LAKE_CATALOG)
        os.sync()  # the copy written out before the clock starts (see daily_growth.measure)
        env = {**daily_growth.environment(work, layout == "lake"), "SHOPVERSE_LANDING_DIR": str(root / "landing")}
        out = subprocess.run([sys.executable, __file__, "--child-daily", str(history),
                              daily_growth.cache_start(root).isoformat()], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=PROJECT, env=env)
        if out.returncode:
            raise RuntimeError(out.stderr[-3000:])
        return json.loads(out.stdout.strip().splitlines()[-1])


def object_store_source(stack: ExitStack, file: Path) -> Path:
    """A lake migrated from ``file`` whose Parquet is in a bucket of a SeaweedFS started for the
    bench (stopped when ``stack`` closes), laid out as a lake_comparison folder (its catalog in
    lake/); the AWS variables of this process point at the bucket, and the runs inherit them."""
    from shopverse_platform_tests import seaweedfs

    if not seaweedfs.WEED.exists():
        sys.exit(f"no SeaweedFS at {seaweedfs.WEED}: run scripts/services/install.sh seaweedfs")
    work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    key, secret = "bench", "bench-secret"
    endpoint = stack.enter_context(seaweedfs.s3_server(work, {key: secret}, "bench"))
    os.environ.update({"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": seaweedfs.REGION,
                       "AWS_ENDPOINT_URL": endpoint})
    source = work / "lake_comparison"
    source.mkdir()
    shutil.copy(file, source / "file.duckdb")
    import metrics as bench  # bench/metrics.py: its migration, as `shopverse warehouse migrate` does it

    os.environ["SHOPVERSE_WAREHOUSE_DATA_PATH"] = "s3://bench/lake/"  # a new lake's data path
    try:
        migrated = bench.run_child("migrate", source=str(source / "file.duckdb"),
                                   lake=f"ducklake:sqlite:{source / 'lake' / 'shopverse.sqlite'}")
    finally:
        del os.environ["SHOPVERSE_WAREHOUSE_DATA_PATH"]  # the runs read it from the lake's catalog
    print(f"migrated {migrated['tables']} tables into a lake on SeaweedFS's S3 in {migrated['seconds']:.1f} s")
    return source


UNGROUPED = "lake, reads ungrouped"  # --read-groups: the lake with $SHOPVERSE_LAKE_READ_GROUPS=0
SHOW_CATALOG_QUERIES = "SHOPVERSE_BENCH_SHOW_CATALOG_QUERIES"
# What the sqlite extension prints of each query it sends the catalog (sqlite_debug_show_queries):
# its first line. Dagster's log lines begin with a date.
_CATALOG_QUERY = re.compile(r"^(SELECT|PRAGMA|BEGIN|COMMIT|ROLLBACK|INSERT|UPDATE|DELETE|CREATE|DROP) ")


def run(layout: str, source: Path, landing: Path, days: int, step: str, count_queries: bool = False) -> dict:
    """One run of ``step`` on a fresh copy of ``layout``. ``count_queries``: untimed, the queries the
    lake sent its SQLite catalog counted instead (and how many were BEGIN: its transactions)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "w"
        shutil.copytree(source, work)
        catalog = work / "lake" / "shopverse.sqlite"
        if layout != "file":
            import daily_growth  # bench/daily_growth.py

            daily_growth.relocate_lake(catalog)  # the copy's Parquet written beside the copy, not into the cache
        setting = str(work / "file.duckdb") if layout == "file" else f"ducklake:sqlite:{catalog}"
        out = subprocess.run([sys.executable, __file__, "--child", json.dumps([setting, str(landing), days, step])],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT,
                             env={**os.environ, "DAGSTER_HOME": tmp,
                                  **({"SHOPVERSE_LAKE_READ_GROUPS": "0"} if layout == UNGROUPED else {}),
                                  **({SHOW_CATALOG_QUERIES: "1"} if count_queries else {})})
        if out.returncode:
            raise RuntimeError(out.stderr[-3000:])
        outcome = json.loads(out.stdout.strip().splitlines()[-1])
        if count_queries:
            queries = [line for line in out.stderr.splitlines() if _CATALOG_QUERY.match(line)]
            outcome["catalog_queries"] = len(queries)
            outcome["catalog_transactions"] = sum(line.startswith("BEGIN") for line in queries)
        return outcome


def write_read_groups(results: dict[str, list[dict]], counts: dict[str, dict], users: int, days: int,
                      load: tuple[float, float]) -> None:
    """bench/RESULTS.md's section on read groups: the metric day on the file, the lake, and the lake
    with its reads ungrouped."""
    import results as shared  # bench/results.py

    rows = []
    file_median = statistics.median(r["seconds"] for r in results["file"])
    for layout, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        sql = statistics.median(sum(rec[3] for rec in r["records"]) for r in runs)
        count = counts.get(layout, {})
        rows.append(f"| {layout} | {seconds:.2f} s | ×{seconds / file_median:.2f} | {sql:.2f} s | {len(runs[0]['records'])} | "
                    f"{count.get('catalog_transactions', '–')} | {count.get('catalog_queries', '–')} | "
                    + ", ".join(f"{r['seconds']:.2f}" for r in runs) + " |")
    body = (f"## Read groups: the metric day's statements on a lake (bench/lake_statements.py)\n\n"
            f"`python bench/lake_statements.py --users {users} --days {days} --step day --read-groups --runs "
            f"{len(results['file'])} --write` — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"{os.cpu_count()} cores, load average {load[0]:.1f} before, {load[1]:.1f} after. One incremental day of the "
            "metric layer (order_lines, orders, daily_sales, session_metrics) through Dagster, each run in a process "
            "of its own on a fresh copy; the layouts alternated, their order reversed every other round (the first "
            "run of a round is slower whichever it is). \"SQL\": the statements' own seconds (execute and fetch), "
            "of which the file's includes the first bound parameter's import of pandas (~0.36 s), which the lake "
            "pays in its first connection. Catalog transactions and queries: the SQLite catalog's query log "
            "(`sqlite_debug_show_queries`), one untimed run each.\n\n"
            "| layout | median | vs file | SQL | statements | catalog transactions | catalog queries | runs (s) |\n"
            "|---|---:|---:|---:|---:|---:|---:|---|\n" + "\n".join(rows) + "\n")
    shared.write_section("Read groups: the metric day's statements on a lake (bench/lake_statements.py)", body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int,
                        help="simulated visitors of the cache to use (default 40,000; --step daily: 36,000, the issue's volume)")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--step", choices=("day", "whole", "daily"), default="day",
                        help="day, whole: the metric runs of bench/metrics.py; daily: the daily job after a history")
    parser.add_argument("--history", type=int, default=30, help="--step daily: days of history before the day run")
    parser.add_argument("--object-store", action="store_true",
                        help="day, whole: also the lake with its Parquet in SeaweedFS's S3 on loopback")
    parser.add_argument("--read-groups", action="store_true",
                        help="day, whole: also the lake with its reads ungrouped ($SHOPVERSE_LAKE_READ_GROUPS=0), and "
                             "the catalog's transactions and queries counted on both")
    parser.add_argument("--write", action="store_true", help="--read-groups: write the figures to bench/RESULTS.md")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--child")
    parser.add_argument("--child-daily", nargs=2, metavar=("HISTORY", "FIRST_DAY"))
    args = parser.parse_args()
    if args.child:
        child(*json.loads(args.child))
        return
    if args.child_daily:
        child_daily(int(args.child_daily[0]), args.child_daily[1])
        return
    if args.step == "daily":
        root = daily_root(args.users or 36_000, args.history)
        measure = lambda layout: run_daily(layout, root, args.history)  # noqa: E731
    else:
        args.users = args.users or 40_000
        root = BENCH_DIR / "output" / f"metrics_{args.users}_{args.days}_11"
        source = root / "lake_comparison"
        if not (source / "file.duckdb").exists():
            sys.exit(f"no {source}: run python bench/metrics.py --compare-lake --users {args.users} --days {args.days} first")
        measure = lambda layout: run(layout, source, root / "landing", args.days, args.step)  # noqa: E731
    with ExitStack() as stack:
        results: dict[str, list[dict]] = {"file": [], "lake": []}
        if args.object_store and args.step != "daily":
            s3_source = object_store_source(stack, source / "file.duckdb")
            results["lake on S3"] = []
            plain = measure
            measure = lambda layout: (run("lake", s3_source, root / "landing", args.days, args.step)  # noqa: E731
                                      if layout == "lake on S3" else plain(layout))
        if args.read_groups and args.step != "daily":
            results[UNGROUPED] = []
            plain_measure = measure
            measure = lambda layout: (run(UNGROUPED, source, root / "landing", args.days, args.step)  # noqa: E731
                                      if layout == UNGROUPED else plain_measure(layout))
        load_before = os.getloadavg()[0]
        print(f"load average {load_before:.1f} before")
        for round_ in range(args.runs):
            for layout in (list(results) if round_ % 2 == 0 else list(reversed(results))):
                results[layout].append(measure(layout))
                print(f"{layout}: {results[layout][-1]['seconds']:.2f} s, {results[layout][-1]['steps']}", flush=True)
        load_after = os.getloadavg()[0]
        print(f"load average {load_after:.1f} after")
        counts = {}
        if args.read_groups and args.step != "daily":
            for layout in ("lake", UNGROUPED):
                counts[layout] = run(layout, source, root / "landing", args.days, args.step, count_queries=True)
                print(f"{layout}: {counts[layout]['catalog_transactions']} catalog transactions, "
                      f"{counts[layout]['catalog_queries']} catalog queries")
            if args.write:
                write_read_groups(results, counts, args.users, args.days, (load_before, load_after))
    for layout, runs in results.items():
        steps = {name: statistics.median(r["steps"][name] for r in runs) for name in runs[0]["steps"]}
        sql = statistics.median(sum(rec[3] for rec in r["records"]) for r in runs)
        counts = collections.Counter(rec[0] for rec in runs[0]["records"])
        print(f"{layout}: median {statistics.median(r['seconds'] for r in runs):.2f} s, of which SQL {sql:.2f} s; "
              f"by step {steps}; statements {len(runs[0]['records'])} {dict(counts)}")
    by_site: dict[tuple[str, str], list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])
    for layout, column in (("file", 1), ("lake", 2)):
        for step, site, _, seconds in results[layout][-1]["records"]:
            by_site[(step, site)][column] += seconds
            if layout == "lake":
                by_site[(step, site)][0] += 1
    print("\nwhere the lake spends more than the file (last run), ms:")
    for (step, site), (n, file_s, lake_s) in sorted(by_site.items(), key=lambda kv: kv[1][1] - kv[1][2])[:args.top]:
        print(f"  {1000 * (lake_s - file_s):+7.0f}  {n:3d} statements  file {1000 * file_s:6.0f}  lake {1000 * lake_s:6.0f}  {step}  {site}")
    if args.step == "daily":  # many steps share the helpers: their sum over the run
        by_helper: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])
        for (_, site), (n, file_s, lake_s) in by_site.items():
            by_helper[site][0] += n
            by_helper[site][1] += file_s
            by_helper[site][2] += lake_s
        print("\nthe same by helper, over every step of the run, ms:")
        for site, (n, file_s, lake_s) in sorted(by_helper.items(), key=lambda kv: kv[1][1] - kv[1][2])[:args.top]:
            print(f"  {1000 * (lake_s - file_s):+7.0f}  {n:3d} statements  file {1000 * file_s:6.0f}  lake {1000 * lake_s:6.0f}  {site}")


if __name__ == "__main__":
    main()
