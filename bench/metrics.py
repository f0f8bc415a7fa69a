"""The metric layer on ~10M simulated events: a full rebuild, one incremental day, peak memory.

Not a test: run `python bench/metrics.py [--users N] [--days D] [--seeds K]`; results go to the
`## Metrics` section of bench/RESULTS.md (other sections are left alone). With `--compare-lake`:
the same runs on the DuckDB file and on a DuckLake migrated from it, in a section of their own per size;
`--postgres` adds a lake catalogued in a PostgreSQL cluster started for the bench (the production layout).

Setup, cached under bench/output/ (git-ignored) and reused by later runs:
- the simulated landing zone (seed 11), written by a child process;
- an "upstream" warehouse with raw/clean events, sessions and dim_customers, built through the
  platform's own ingestion and cleaning assets a few days per run (their memory grows with the run's size).

Measured, each in its own process so that its peak RSS is its own (interpreter and imports included),
on a fresh copy of the upstream warehouse:
- full rebuild: every metric asset over the whole range, through Dagster (daily partitions as one
  single-run backfill, with the whole-history tables), then the complete weeks of weekly_kpis;
- one day: the daily metric assets (order_lines, orders, daily_sales and the four session metrics)
  for the last day (what the daily schedule runs);
- whole-history refresh: customer_metrics, seasonality and anomalies alone (eager after the day).
Then precision and recall of `anomalies` against the simulator's ground truth, on the benchmark's
own simulation and on K small simulations with other seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from results import (
    write_section,  # bench/results.py (this folder is on sys.path when run as a script)
)

BENCH_DIR = Path(__file__).resolve().parent
PROJECT = BENCH_DIR.parent
OUTPUT = BENCH_DIR / "output"
START = date(2026, 1, 5)  # a Monday: weekly partitions start on Mondays
SEED = 11
CHUNK_DAYS = 3
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def last_day(days: int) -> date:
    return START + timedelta(days=days - 1)


# ------------------------------------------------------------------ steps (each in a child process)
def step_simulate(landing: str, users: int, days: int, seed: int) -> dict:
    from shopverse_platform.lib.simulator.traffic import simulate

    started = time.perf_counter()
    summary = simulate(Path(landing), users=users, days=days, start=START, seed=seed, progress=seed == SEED)
    return {"events": summary.events, "orders": summary.orders, "seconds": time.perf_counter() - started,
            "ground_truth": str(summary.ground_truth_path)}


def warm_up() -> float:
    """Dagster's first run in a process costs ~2 s of one-off set-up (measured: 1.75 s for a no-op
    asset, 0.22 s for the second); runs are measured warm, and the set-up is reported apart."""
    import dagster as dg

    @dg.asset
    def _warm_up():  # no annotation: `from __future__ import annotations` hides dg from Dagster
        return dg.MaterializeResult()

    started = time.perf_counter()
    dg.materialize([_warm_up], instance=dg.DagsterInstance.ephemeral())
    return time.perf_counter() - started


def _materialize(assets, warehouse: str, landing: str, first: date | None, last: date | None, memory: str | None):
    import dagster as dg

    from shopverse_platform.defs.resources import LandingZone, Warehouse

    resources = {"warehouse": Warehouse(path=warehouse, memory_limit=memory), "landing_zone": LandingZone(path=landing)}
    tags = {RANGE_START: first.isoformat(), RANGE_END: last.isoformat()} if first else {}
    started = time.perf_counter()
    result = dg.materialize(assets, resources=resources, tags=tags, instance=dg.DagsterInstance.ephemeral())
    seconds = time.perf_counter() - started
    assert result.success
    failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    assert not failed, failed
    steps = {
        e.step_key: round(e.event_specific_data.duration_ms / 1000, 2)
        for e in result.all_events if e.event_type_value == "STEP_SUCCESS"
    }
    return seconds, steps


def step_upstream(warehouse: str, landing: str, days: int, memory: str | None) -> dict:
    from shopverse_platform.defs.cleaning.assets import clean_events, clean_order_lines
    from shopverse_platform.defs.ingestion.assets import raw_events, raw_orders

    started = time.perf_counter()
    first = START
    while first <= last_day(days):
        last = min(first + timedelta(days=CHUNK_DAYS - 1), last_day(days))
        _materialize([raw_events, clean_events, raw_orders, clean_order_lines], warehouse, landing, first, last, memory)
        print(f"upstream {first}..{last} done", file=sys.stderr, flush=True)
        first = last + timedelta(days=1)
    step_upstream_whole(warehouse, landing, days, memory)
    return {"seconds": time.perf_counter() - started}


def step_upstream_whole(warehouse: str, landing: str, days: int, memory: str | None) -> dict:
    """The cleaning layer's whole-history tables the metrics read: sessions and dim_customers."""
    from shopverse_platform.defs.cleaning.assets import dim_customers, sessions

    seconds, steps = _materialize([sessions, dim_customers], warehouse, landing, None, None, memory)
    return {"seconds": seconds, "steps": steps}


def _metric_assets():
    from shopverse_platform.defs.metrics.anomalies import anomalies
    from shopverse_platform.defs.metrics.customers_seasonality import (
        customer_metrics,
        seasonality,
    )
    from shopverse_platform.defs.metrics.facts import order_lines, orders
    from shopverse_platform.defs.metrics.sales import daily_sales
    from shopverse_platform.defs.metrics.session_metrics import session_metrics
    from shopverse_platform.defs.metrics.weekly import weekly_kpis

    daily = [order_lines, orders, daily_sales, session_metrics]
    return daily, [customer_metrics, seasonality, anomalies], weekly_kpis


def complete_weeks(days: int) -> tuple[date, date] | None:
    """First and last Monday of the weeks lying wholly inside the range (START is a Monday)."""
    weeks = days // 7
    return (START, START + timedelta(days=7 * (weeks - 1))) if weeks else None


def step_full(warehouse: str, landing: str, days: int, memory: str | None) -> dict:
    warm = warm_up()
    daily, whole, weekly = _metric_assets()
    seconds, steps = _materialize(daily + whole, warehouse, landing, START, last_day(days), memory)
    weeks = complete_weeks(days)
    if weeks:
        weekly_seconds, weekly_steps = _materialize([weekly], warehouse, landing, *weeks, memory)
        seconds += weekly_seconds
        steps.update(weekly_steps)
    from shopverse_platform.defs.resources import Warehouse

    with Warehouse(path=warehouse).connect(read_only=True) as con:  # a DuckDB file or a lake
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("clean_events", "order_lines", "orders", "daily_sales", "product_performance", "anomalies")}
        # what the rebuild wrote, to compare layouts: each metric table's rows hashed in any order
        fingerprints = {t: str(con.execute(f"SELECT count(*), bit_xor(hash(t)) FROM {t} t").fetchone())
                        for t in ("order_lines", "orders", "daily_sales", "product_performance", "funnel_daily",
                                  "customer_metrics", "weekly_kpis")}
    return {"seconds": seconds, "steps": steps, "rows": counts, "warm_up": warm, "fingerprints": fingerprints}


def step_day(warehouse: str, landing: str, days: int, memory: str | None) -> dict:
    warm = warm_up()
    daily, _, _ = _metric_assets()
    seconds, steps = _materialize(daily, warehouse, landing, last_day(days), last_day(days), memory)
    return {"seconds": seconds, "steps": steps, "warm_up": warm}


def step_whole(warehouse: str, landing: str, days: int, memory: str | None) -> dict:
    warm = warm_up()
    _, whole, _ = _metric_assets()
    seconds, steps = _materialize(whole, warehouse, landing, None, None, memory)
    return {"seconds": seconds, "steps": steps, "warm_up": warm}


def step_evaluate(warehouse: str, truth: str) -> dict:
    import duckdb

    from shopverse_platform.lib.metrics.ground_truth import evaluate

    con = duckdb.connect(warehouse, read_only=True)
    try:
        return evaluate(con, Path(truth))
    finally:
        con.close()


def step_seed(workdir: str, seed: int, users: int, days: int) -> dict:
    """A small simulation end to end (landing → clean → metrics), evaluated against its truth."""
    from shopverse_platform.defs.cleaning.assets import (
        clean_events,
        clean_order_lines,
        dim_customers,
        sessions,
    )
    from shopverse_platform.defs.ingestion.assets import raw_events, raw_orders

    landing, warehouse = f"{workdir}/landing", f"{workdir}/warehouse.duckdb"
    simulated = step_simulate(landing, users, days, seed)
    daily, whole, _ = _metric_assets()
    upstream = [raw_events, clean_events, raw_orders, clean_order_lines, sessions, dim_customers]
    _materialize(upstream + daily + whole, warehouse, landing, START, last_day(days), None)
    return {"seed": seed, "events": simulated["events"], **step_evaluate(warehouse, simulated["ground_truth"])}


def step_migrate(source: str, lake: str, data_path: str | None = None) -> dict:
    """The upstream DuckDB file copied into a new DuckLake (its Parquet in ``data_path``, else beside
    a SQLite catalog), as `shopverse warehouse migrate` does it."""
    from shopverse_platform.defs.resources import Warehouse
    from shopverse_platform.lib.warehouse.migrate import migrate_file_to_lake

    started = time.perf_counter()
    with Warehouse(path=lake, data_path=data_path).connect() as con:
        tables = migrate_file_to_lake(Path(source), con, echo=lambda line: None)
    return {"seconds": time.perf_counter() - started, "tables": len(tables)}


def child(step: str, args: list[str]) -> None:
    kwargs = json.loads(args[0])
    outcome = globals()[f"step_{step}"](**kwargs)
    outcome["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(outcome, default=str))


def run_child(step: str, **kwargs) -> dict:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--child", step, json.dumps(kwargs)],
        stdout=subprocess.PIPE, stderr=None if step in ("simulate", "upstream") else subprocess.PIPE, text=True,
        cwd=PROJECT, env={**os.environ, "DAGSTER_HOME": tempfile.mkdtemp()},
    )
    if out.returncode != 0:
        raise RuntimeError(f"{step} failed:\n{(out.stderr or '')[-4000:]}")
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "process_seconds": time.perf_counter() - started}


# ------------------------------------------------------------------ driver
def ensure_setup(users: int, days: int, memory: str | None) -> tuple[Path, Path, dict]:
    root = OUTPUT / f"metrics_{users}_{days}_{SEED}"
    landing, upstream = root / "landing", root / "upstream.duckdb"
    marker = root / "setup.json"
    if marker.exists():
        setup = json.loads(marker.read_text())
        if "sessions_seconds" not in setup:  # a cache from before the metrics read `sessions`
            whole = run_child("upstream_whole", warehouse=str(upstream), landing=str(landing), days=days, memory=memory)
            setup["sessions_seconds"] = whole["seconds"]
            marker.write_text(json.dumps(setup))
        return landing, upstream, setup
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    simulated = run_child("simulate", landing=str(landing), users=users, days=days, seed=SEED)
    print(f"simulated {simulated['events']:,} events in {simulated['seconds']:.0f}s")
    built = run_child("upstream", warehouse=str(upstream), landing=str(landing), days=days, memory=memory)
    print(f"upstream (raw + clean) built in {built['seconds']:.0f}s")
    setup = {"events": simulated["events"], "orders": simulated["orders"], "ground_truth": simulated["ground_truth"],
             "simulate_seconds": simulated["seconds"], "upstream_seconds": built["seconds"], "sessions_seconds": None}
    marker.write_text(json.dumps(setup))
    return landing, upstream, setup


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=166_000, help="simulated visitors (10M events over 60 days)")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit of the warehouse ('' for DuckDB's default)")
    parser.add_argument("--seeds", type=int, default=8, help="small simulations for precision/recall (0 to skip)")
    parser.add_argument("--child", nargs=2, metavar=("STEP", "KWARGS"))
    parser.add_argument("--runs", type=int, default=1, help="--compare-lake: rounds of the file and the lake, alternated (medians)")
    parser.add_argument("--postgres", action="store_true",
                        help="--compare-lake: also a lake catalogued in PostgreSQL (a cluster started for the bench)")
    parser.add_argument("--compare-lake", action="store_true",
                        help="instead: the same runs on the DuckDB file and on a DuckLake migrated from it "
                             "(section 'Metrics: DuckLake against the DuckDB file, N visitors over D days')")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], [args.child[1]])
        return
    memory = args.memory_limit or None

    landing, upstream, setup = ensure_setup(args.users, args.days, memory)
    if args.compare_lake:
        compare_lake(args, landing, upstream, setup, memory)
        return
    load_before = os.getloadavg()[0]
    work = upstream.with_name("work.duckdb")
    shutil.copy(upstream, work)
    common = {"warehouse": str(work), "landing": str(landing), "days": args.days, "memory": memory}
    full = run_child("full", **common)
    print(f"full rebuild {full['seconds']:.1f}s, peak {full['peak_rss_mb']:,.0f} MB: {full['steps']}")
    day = run_child("day", **common)
    print(f"one day {day['seconds']:.2f}s, peak {day['peak_rss_mb']:,.0f} MB: {day['steps']}")
    whole = run_child("whole", **common)
    print(f"whole-history refresh {whole['seconds']:.2f}s, peak {whole['peak_rss_mb']:,.0f} MB: {whole['steps']}")
    bench_eval = run_child("evaluate", warehouse=str(work), truth=setup["ground_truth"])

    seeds = []
    for seed in range(1, args.seeds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            seeds.append(run_child("seed", workdir=tmp, seed=seed, users=1_500, days=22))
        print(f"seed {seed}: {seeds[-1]['overall']}")

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    steps = " · ".join(f"{k} {v:.1f}s" for k, v in sorted(full["steps"].items(), key=lambda kv: -kv[1]))
    day_steps = " · ".join(f"{k} {v:.2f}s" for k, v in sorted(day["steps"].items(), key=lambda kv: -kv[1]))
    kinds = ["traffic", "orders", "bots", "revenue", "overall"]
    totals = {k: [sum(s[k][f] for s in seeds) for f in ("true_positives", "false_positives", "false_negatives")] for k in kinds}

    def pr_row(label: str, report: dict) -> str:
        return f"| {label} | " + " | ".join(
            f"{report[k]['true_positives']}/{report[k]['false_positives']}/{report[k]['false_negatives']} "
            f"(P {_fmt(report[k]['precision'])}, R {_fmt(report[k]['recall'])})" for k in kinds) + " |"

    def pooled(k: str) -> str:
        tp, fp, fn = totals[k]
        return f"{tp}/{fp}/{fn} (P {_fmt(tp / (tp + fp) if tp + fp else None)}, R {_fmt(tp / (tp + fn) if tp + fn else None)})"

    full_ok = "✅" if full["seconds"] <= 60 else "❌"
    day_ok = "✅" if day["seconds"] <= 5 else "❌"
    mem_ok = "✅" if max(full["peak_rss_mb"], day["peak_rss_mb"], whole["peak_rss_mb"]) <= 2048 else "❌"
    body = f"""## Metrics

`python bench/metrics.py` — {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores ({cpu}),
{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB RAM, Python {platform.python_version()},
DuckDB memory_limit {memory or 'default (80 % of RAM)'}; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after
(other work on the shared machine slows every figure).
Simulated traffic: {args.users:,} users, {args.days} days from {START}, seed {SEED}: **{setup['events']:,} events**,
{full['rows']['clean_events']:,} clean events, {full['rows']['orders']:,} order documents. Setup (cached): simulation
{setup['simulate_seconds']:.0f} s, raw + clean layers {setup['upstream_seconds']:.0f} s. Each measurement in its own process
through Dagster (`dg.materialize`, checks included); peak = that process's max RSS (interpreter and imports included).

| run | seconds | peak MB | target |
|---|---:|---:|---|
| full rebuild of the metric layer ({args.days} daily partitions + whole-history + {args.days // 7} weeks) | {full['seconds']:.1f} | {full['peak_rss_mb']:,.0f} | ≤ 60 s {full_ok} |
| one incremental daily partition (order_lines, orders, daily_sales, session_metrics' 4 tables) | {day['seconds']:.2f} | {day['peak_rss_mb']:,.0f} | ≤ 5 s {day_ok} |
| whole-history refresh after a day (customer_metrics, seasonality, anomalies) | {whole['seconds']:.2f} | {whole['peak_rss_mb']:,.0f} | |
| peak memory, any run | | {max(full['peak_rss_mb'], day['peak_rss_mb'], whole['peak_rss_mb']):,.0f} | ≤ 2048 MB {mem_ok} |

- Seconds are the `dg.materialize` call in a warm process. A fresh process adds Python and Dagster
  start-up: the one-day child process took {day['process_seconds']:.1f} s wall in all (imports, then
  {day['warm_up']:.1f} s for Dagster's first run in the process, then the run), the full rebuild's
  {full['process_seconds']:.1f} s.

- Full rebuild by step: {steps}.
- One day by step: {day_steps}.
- A range run records one materialization per partition and asset: Dagster's share of the full
  rebuild grows with the number of days, not with the events.

Anomalies against the simulator's ground truth, TP/FP/FN (precision, recall); traffic counts UTC
hours of the injected spike, orders the injected very large orders, bots the scripted sessions; the
simulator injects no traffic or revenue drop, so any such row is a false positive:

| simulation | {' | '.join(kinds)} |
|---|{'---|' * len(kinds)}
{pr_row(f"benchmark ({setup['events']:,} events)", bench_eval)}
{chr(10).join(pr_row(f"seed {s['seed']} (1,500 users, 22 days, {s['events']:,} events)", s) for s in seeds)}
{f"| **pooled over the {len(seeds)} seeds** | {' | '.join(pooled(k) for k in kinds)} |" if seeds else ""}
"""
    write_section("Metrics", body)
    print(f"\nwritten to {BENCH_DIR / 'RESULTS.md'}")


POSTGRES_LAKE = "lake on PostgreSQL"  # --postgres: the production layout's catalog


def compare_lake(args, landing: Path, upstream: Path, setup: dict, memory: str | None) -> None:
    """The metric layer's runs on a copy of the upstream DuckDB file and on a DuckLake (SQLite
    catalog, Parquet beside it) migrated from the same upstream, alternated, each in its own process:
    the storage's cost single-process (issue 16's target: at most 1.2x the file). ``--runs N``: N
    rounds, each on a fresh copy and a fresh migration, the layouts' order reversed every other
    round; the section gives each run's median and every run's seconds (one run moves 10-20 % from
    the next on this shared machine). ``--postgres``: a third layout, the lake catalogued in a
    PostgreSQL cluster started for the bench (bench/concurrency.py's), as the production stacks run it."""
    from concurrency import PostgresCluster  # bench/concurrency.py

    load_before = os.getloadavg()[0]
    root = upstream.parent / "lake_comparison"
    steps = ("full", "day", "whole")
    names = ["file", "lake", *([POSTGRES_LAKE] if args.postgres else [])]
    results: dict[str, dict[str, list[dict]]] = {name: {s: [] for s in steps} for name in names}
    same = True
    migrations: dict[str, dict] = {}  # each lake's migration, the last round's
    postgres = PostgresCluster(root.with_name("lake_comparison_postgres")) if args.postgres else None
    if postgres is not None:
        if not postgres.available():
            raise SystemExit("--postgres: no PostgreSQL here (scripts/services/install.sh postgres)")
        postgres.start()
    try:
        for round_number in range(args.runs):
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            file_setting = str(root / "file.duckdb")
            shutil.copy(upstream, file_setting)
            layouts = [("file", file_setting), ("lake", f"ducklake:sqlite:{root / 'lake' / 'shopverse.sqlite'}")]
            if postgres is not None:
                layouts.append((POSTGRES_LAKE, postgres.lake(f"metrics_round_{round_number + 1}")))
            for name, setting in layouts[1:]:
                migrated = migrations[name] = run_child(
                    "migrate", source=str(upstream), lake=setting,
                    data_path=str(root / "lake_pg_data") if name == POSTGRES_LAKE else None)
                print(f"round {round_number + 1}: migrated {migrated['tables']} tables into the {name} "
                      f"in {migrated['seconds']:.1f}s")
            for step in steps:
                for layout, setting in (layouts if round_number % 2 == 0 else layouts[::-1]):
                    run = run_child(step, warehouse=setting, landing=str(landing), days=args.days, memory=memory)
                    results[layout][step].append(run)
                    print(f"{layout} {step}: {run['seconds']:.2f}s, peak {run['peak_rss_mb']:,.0f} MB")
            same = same and all(results["file"]["full"][-1]["fingerprints"] == results[name]["full"][-1]["fingerprints"]
                                for name in names[1:])
    finally:
        if postgres is not None:
            postgres.stop()

    def median(layout: str, step: str, key: str = "seconds") -> float:
        return statistics.median(run[key] for run in results[layout][step])

    labels = {"full": f"full rebuild ({args.days} daily partitions + whole-history + {args.days // 7} weeks)",
              "day": "one incremental daily partition", "whole": "whole-history refresh after a day"}

    def table(lake: str) -> str:
        """The file against ``lake``, run by run."""
        rows = "\n".join(
            f"| {labels[step]} | {median('file', step):.2f} | {median(lake, step):.2f} | "
            f"×{median(lake, step) / median('file', step):.2f} | "
            f"{median('file', step, 'peak_rss_mb'):,.0f} | {median(lake, step, 'peak_rss_mb'):,.0f} | "
            + ", ".join(f"{run['seconds']:.2f}" for run in results["file"][step]) + " | "
            + ", ".join(f"{run['seconds']:.2f}" for run in results[lake][step]) + " |"
            for step in steps)
        return ("| run | file (s) | lake (s) | lake / file | file peak MB | lake peak MB | file runs (s) | lake runs (s) |\n"
                "|---|---:|---:|---:|---:|---:|---|---|\n" + rows)

    def by_step(step: str, lake: str = "lake") -> str:
        def medians(layout: str) -> dict[str, float]:
            names = results[layout][step][0]["steps"]
            return {name: statistics.median(run["steps"].get(name, float("nan")) for run in results[layout][step])
                    for name in names}
        file_steps, lake_steps = medians("file"), medians(lake)
        return " · ".join(f"{name} {file_steps[name]:.2f} → {lake_steps.get(name, float('nan')):.2f} s"
                          for name in sorted(file_steps, key=lambda n: -file_steps[n]))

    on_postgres = "" if postgres is None else f"""
The same rounds on the lake catalogued in PostgreSQL (a cluster of scripts/services/postgres.sh on
loopback, a database a round, the Parquet in a folder beside it), as the production stacks run it:

{table(POSTGRES_LAKE)}

- One day by step, file → lake on PostgreSQL: {by_step('day', POSTGRES_LAKE)}.
"""
    # one section per size: the lake's extra per statement is fixed and its Parquet reads grow with
    # the day, so the ratio depends on the size and each size keeps its own figures
    section = f"Metrics: DuckLake against the DuckDB file, {args.users:,} visitors over {args.days} days"
    body = f"""## {section}

`python bench/metrics.py --compare-lake --users {args.users} --days {args.days} --runs {args.runs}{' --postgres' if postgres else ''}` — {time.strftime('%Y-%m-%d')},
{os.cpu_count()} cores, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; DuckDB memory_limit
{memory or 'default'}. The metric layer on {setup['events']:,} simulated events ({setup['events'] / args.days:,.0f} a day), on a copy of the upstream DuckDB
file and on a DuckLake with a SQLite catalog migrated from it ({migrations['lake']['seconds']:.1f} s, {migrations['lake']['tables']} tables, the last round),
the layouts alternated, each run in its own process through Dagster (`dg.materialize`, warm: the seconds of the call);
{args.runs} round(s), each on a fresh copy and a fresh migration, the order of the layouts reversed every other round:
medians, then every run.

{table("lake")}

The full rebuild wrote the same rows on {'every layout' if postgres else 'both'}, in every round (order_lines, orders, daily_sales,
product_performance, funnel_daily, customer_metrics, weekly_kpis hashed): **{'yes' if same else 'NO'}**.
Target (issue 16): the lake at most 1.2× the file single-process.

- Full rebuild by step, file → lake: {by_step('full')}.
- One day by step, file → lake: {by_step('day')}.
{on_postgres}"""
    write_section(section, body)
    print(body)


if __name__ == "__main__":
    main()
