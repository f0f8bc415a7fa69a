"""One more daily run on warehouses holding 30, 120 and 240 days of the same traffic: does its cost
grow with the history?

Not a test: run `python bench/daily_growth.py [--users N] [--sizes 30,120,240] [--issue-volume] [--growth G]`;
results go to the `## Daily run against history` section of bench/RESULTS.md (other sections are
left alone). `--label` names the code measured (e.g. "before", "after"): each label keeps its own
table in the section, so a before/after pair is written by two runs.

Setup, cached under bench/output/ (git-ignored) and reused by later runs:
- one simulated landing zone of max(sizes) + 1 days (seed 11); `--users` sets the daily volume
  (about one event per user and day: the default 3,500 users make ~3.3k events a day, so the whole
  bench runs in minutes here; `--issue-volume` is the issue's ~34k events a day, 36,000 users);
  `--growth` is the traffic's daily trend, by default BALANCED_GROWTH: the simulated customers
  churn (fewer active visitors as the months go on), and this trend offsets it, so the day measured
  after 240 days holds about as many events as the day after 30 and only the history differs (the
  table shows both days' events). The simulator's own trend (0.008) made that day ×1.25 the day
  after 30;
- the history: the daily job (`daily_job`, what `shopverse run` and `shopverse backfill` run via
  `cli.backfill.run_range`) over the first days in chunks of `--chunk` days, one warehouse and
  one Dagster instance, copied aside once it holds each size. The weekly job is not run: no asset
  of the daily job reads a weekly table.

Measured, each in its own process so that its peak RSS is its own (interpreter and imports
included), on a fresh copy of the warehouse and instance holding N days: the daily job for day
N + 1 (the next day's landing files), one run, exactly as the daily schedule or `shopverse backfill
--start D --end D` runs it. Reported: the run's wall time, each step's time (Dagster's step
timings), peak RSS of the process, and the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

from shopverse_platform.lib.simulator.traffic import DAILY_GROWTH  # the simulator's own trend
from results import (
    write_section,  # bench/results.py (this folder is on sys.path when run as a script)
)

BENCH_DIR = Path(__file__).resolve().parent
PROJECT = BENCH_DIR.parent
OUTPUT = BENCH_DIR / "output"
START = date(2026, 1, 5)  # a Monday
SEED = 11
SECTION = "Daily run against history"
# the daily trend that offsets the simulated churn over 240 days: at 36,000 users the days after 30,
# 120 and 240 days held 33,184 / 34,632 / 35,365 events with 0.0048 (×1.07), 32,643 / 32,848 /
# 32,445 with 0.004 (×0.99)
BALANCED_GROWTH = 0.004


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def day(n: int, start: date = START) -> date:
    """The n-th day of a simulation starting on ``start``, 1-based."""
    return start + timedelta(days=n - 1)


def cache_root(users: int, days: int, growth: float, start: date = START) -> Path:
    """The cache of a landing zone of ``days`` days and its histories. The simulator's own trend keeps
    the name it had before the balanced one was the default, the default start the name it had
    before ``--start``."""
    return OUTPUT / (f"daily_growth_{users}_{days}" + ("" if growth == DAILY_GROWTH else f"_g{growth}")
                     + ("" if start == START else f"_from{start.isoformat()}"))


def cache_start(root: Path) -> date:
    """The first simulated day of a cache made by :func:`cache_root`."""
    _, found, first = root.name.partition("_from")
    return date.fromisoformat(first) if found else START


def environment(root: Path, lake: bool = False) -> dict[str, str]:
    """Everything the platform writes (warehouse, reports, lineage buffer, MLflow, runs) under ``root``;
    ``lake``: the warehouse is the DuckLake `shopverse warehouse migrate` made of the DuckDB file."""
    warehouse = root / "data" / "warehouse"
    return {
        **os.environ,
        "SHOPVERSE_DATA_DIR": str(root / "data"),
        "SHOPVERSE_WAREHOUSE": f"ducklake:sqlite:{warehouse / LAKE_CATALOG}" if lake else str(warehouse / "shopverse.duckdb"),
        "DAGSTER_HOME": str(root / "dagster_home"),
    }


LAKE_CATALOG = "lake.sqlite"  # its Parquet files in lake.files/ beside it


def ensure_lake_histories(root: Path, sizes: list[int]) -> None:
    """Each history's warehouse migrated into a DuckLake with a SQLite catalog (`shopverse warehouse
    migrate`, as a user moves an existing warehouse), beside a copy of its Dagster instance."""
    for size in sizes:
        target = root / f"history_{size}_lake"
        if (target / "complete").exists():
            continue
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(root / f"history_{size}", target)
        env = environment(target)
        setting = environment(target, lake=True)["SHOPVERSE_WAREHOUSE"]
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "shopverse_platform.cli.main", "warehouse", "migrate", "--to", setting],
                       cwd=PROJECT, env=env, check=True, capture_output=True, text=True)
        (target / "data" / "warehouse" / "shopverse.duckdb").unlink()
        print(f"history of {size} days migrated to a DuckLake in {time.perf_counter() - started:.0f}s", flush=True)
        (target / "complete").write_text(str(size))


def relocate_lake(catalog: Path) -> None:
    """Point a copied lake's SQLite catalog at the copy's own data folder, ``<catalog without
    .sqlite>.files/`` (a catalog records the absolute data path it was created with; its files' paths
    are relative to it). A data path on object storage is left as it is."""
    import sqlite3

    with sqlite3.connect(catalog) as connection:
        connection.execute("UPDATE ducklake_metadata SET value = ? WHERE key = 'data_path' AND value NOT LIKE '%://%'",
                           [str(catalog).removesuffix(".sqlite") + ".files/"])


# ------------------------------------------------------------------ steps (each in a child process)
def step_simulate(landing: str, users: int, days: int, growth: float, start: str) -> dict:
    from shopverse_platform.lib.simulator.traffic import simulate

    started = time.perf_counter()
    summary = simulate(Path(landing), users=users, days=days, start=date.fromisoformat(start), seed=SEED, growth=growth)
    return {"events": summary.events, "seconds": time.perf_counter() - started}


def _rss_mb() -> float:
    """The process's resident memory now (VmRSS), in MB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


class RssSampler(threading.Thread):
    """VmRSS every 20 ms, so each step's peak can be read off its start and end times."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.02):
            self.samples.append((time.time(), _rss_mb()))

    def peak_between(self, start: float, end: float) -> float:
        return max((rss for at, rss in self.samples if start <= at <= end), default=0.0)


def _daily_run(first: date, last: date) -> dict:
    """The daily job over [first, last] in one run, through the CLI's own path; each step's time
    (Dagster's) and the process's peak RSS while it ran."""
    import dagster as dg

    from shopverse_platform.cli.backfill import run_range
    from shopverse_platform.cli.instance import use_embedded_instance
    from shopverse_platform.definitions import defs

    use_embedded_instance()
    definitions = defs()
    sampler = RssSampler()
    sampler.start()
    with dg.DagsterInstance.get() as instance:
        started = time.perf_counter()
        stage, result = run_range(definitions, instance, "daily_job", first, last, "bench")
        seconds = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
        started_at: dict[str, float] = {}
        step_rss: dict[str, float] = {}
        for entry in instance.all_logs(result.run_id, of_type={dg.DagsterEventType.STEP_START,
                                                               dg.DagsterEventType.STEP_SUCCESS}):
            key = entry.dagster_event.step_key
            if entry.dagster_event.event_type == dg.DagsterEventType.STEP_START:
                started_at[key] = entry.timestamp
            else:
                step_rss[key] = round(sampler.peak_between(started_at.get(key, entry.timestamp), entry.timestamp), 1)
    if not stage.success:
        failures = [e.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        raise RuntimeError(f"daily_job {first}..{last} failed: {failures}")
    steps = {
        e.step_key: round(e.event_specific_data.duration_ms / 1000, 3)
        for e in result.all_events if e.event_type_value == "STEP_SUCCESS"
    }
    return {"seconds": seconds, "steps": steps, "step_rss": step_rss}


def step_history(first: str, last: str) -> dict:
    return _daily_run(date.fromisoformat(first), date.fromisoformat(last))


def step_next_day(next_day: str) -> dict:
    from shopverse_platform.defs.resources import Warehouse

    with Warehouse().connect(read_only=True) as con:  # the DuckDB file or the lake
        history_events = con.execute("SELECT count(*) FROM clean_events").fetchone()[0]
    rss_before = peak_rss_mb()  # interpreter, imports and the definitions' modules
    outcome = _daily_run(date.fromisoformat(next_day), date.fromisoformat(next_day))
    # the day's own volume: the simulated shop grows, so the day after 240 days holds more events
    # than the day after 30 (its own cost is more, whatever the history)
    with Warehouse().connect(read_only=True) as con:
        day_events = con.execute("SELECT count(*) FROM clean_events WHERE partition_date = ?",
                                 [date.fromisoformat(next_day)]).fetchone()[0]
    return {**outcome, "history_events": history_events, "day_events": day_events, "rss_before_run_mb": rss_before}


STEPS = {"simulate": step_simulate, "history": step_history, "next_day": step_next_day}


def child(step: str, args: list[str]) -> None:
    fn = STEPS[step]
    outcome = fn(*([args[0], int(args[1]), int(args[2]), float(args[3]), args[4]] if step == "simulate" else args))
    outcome["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(outcome))


# ------------------------------------------------------------------ driver
def run_child(step: str, args: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", step, *args], capture_output=True, text=True,
                         cwd=PROJECT, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{step} {args} failed:\n{out.stderr[-6000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_landing(root: Path, users: int, days: int, growth: float) -> Path:
    landing = root / "landing"
    marker = root / "landing.complete"
    if not marker.exists():
        outcome = run_child("simulate", [str(landing), str(users), str(days), str(growth), cache_start(root).isoformat()],
                            environment(root))
        print(f"simulated {outcome['events']:,} events, {days} days, in {outcome['seconds']:.0f}s", flush=True)
        marker.write_text(json.dumps(outcome))
    return landing


def ensure_histories(root: Path, landing: Path, sizes: list[int], chunk: int) -> None:
    """One growing warehouse; a copy of it (and of its Dagster instance) at each size."""
    build = root / "build"
    env = {**environment(build), "SHOPVERSE_LANDING_DIR": str(landing)}
    done = json.loads((build / "done.json").read_text()) if (build / "done.json").exists() else 0
    for size in sorted(sizes):
        target = root / f"history_{size}"
        if (target / "complete").exists():
            continue
        while done < size:
            last = min(done + chunk, size)
            started = time.perf_counter()
            first, end = day(done + 1, cache_start(root)), day(last, cache_start(root))
            run_child("history", [first.isoformat(), end.isoformat()], env)
            print(f"history {first}..{end} built in {time.perf_counter() - started:.0f}s", flush=True)
            done = last
            (build / "done.json").write_text(json.dumps(done))
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(build, target)
        (target / "complete").write_text(str(size))


def measure(root: Path, landing: Path, size: int, lake: bool = False) -> dict:
    with tempfile.TemporaryDirectory(dir=OUTPUT) as tmp:
        work = Path(tmp) / "run"
        shutil.copytree(root / (f"history_{size}" + ("_lake" if lake else "")), work)
        if lake:
            relocate_lake(work / "data" / "warehouse" / LAKE_CATALOG)
        # the copy's dirty pages written out before the clock starts: left to the kernel, their
        # writeback (0.1 GB at 30 days, 0.9 GB at 240) overlapped the run's first steps and was
        # counted as theirs (raw_events 0.29 s at 30 days, 0.62-0.89 s at 240, on a small file registry)
        os.sync()
        env = {**environment(work, lake), "SHOPVERSE_LANDING_DIR": str(landing)}
        load_before = os.getloadavg()
        started = time.perf_counter()
        outcome = run_child("next_day", [day(size + 1, cache_start(root)).isoformat()], env)
        outcome["process_seconds"] = time.perf_counter() - started
        outcome["load"] = (load_before[0], os.getloadavg()[0])
    return outcome


def memory_limit() -> str:
    """The memory_limit the run's warehouse connections get (the platform's default when unset)."""
    from shopverse_platform.defs import resources

    default = getattr(resources, "DEFAULT_MEMORY_LIMIT", None)  # none before 2026-12
    return (os.environ.get("SHOPVERSE_DUCKDB_MEMORY")
            or (f"the platform default, {default}" if default else "none (DuckDB's 80 % of RAM)"))


def _full_windows(results: dict[int, dict]) -> str:
    """The last two sizes against each other: both past the longest lookback (the behaviour
    features' 90 days), where the windowed steps read as much at either size, so what differs is
    the history alone. At 30 days those windows hold 30 days."""
    sizes = [s for s in sorted(results) if s >= 90]
    if len(sizes) < 2:
        return ""
    a, b = results[sizes[0]], results[sizes[-1]]
    return (f" Both past the 90-day lookback ({sizes[-1]} against {sizes[0]} days): run time"
            f" ×{b['seconds'] / a['seconds']:.2f}, peak RSS ×{b['peak_rss_mb'] / a['peak_rss_mb']:.2f}.")


def _table(results: dict[int, dict]) -> str:
    sizes = sorted(results)
    rows = "\n".join(
        f"| {s} days | {r['history_events']:,} | {r.get('day_events', 0):,} | {r['seconds']:.1f} | {r['process_seconds']:.1f} "
        f"| {r['peak_rss_mb']:,.0f} "
        f"| {r['load'][0]:.1f} / {r['load'][1]:.1f} |" for s, r in ((s, results[s]) for s in sizes))
    first, last = results[sizes[0]], results[sizes[-1]]
    steps = sorted(set().union(*(r["steps"] for r in results.values())),
                   key=lambda step: -max(r["steps"].get(step, 0) for r in results.values()))
    step_rows = "\n".join(f"| {step} | " + " | ".join(f"{results[s]['steps'].get(step, 0):.2f}" for s in sizes) + " |"
                          + " | ".join(f"{results[s].get('step_rss', {}).get(step, 0):,.0f}" for s in sizes) + " |"
                          for step in steps)
    day_ratio = last.get("day_events", 0) / first["day_events"] if first.get("day_events") else float("nan")
    return f"""| history | events in history | events of the day run | daily run (s) | process (s) | peak RSS MB | load 1-min before / after |
|---|---:|---:|---:|---:|---:|---:|
{rows}

{sizes[-1]} days against {sizes[0]}: run time ×{last['seconds'] / first['seconds']:.2f}, peak RSS ×{last['peak_rss_mb'] / first['peak_rss_mb']:.2f}
(target ≤ 1.2× for 240 against 30 days); the day run itself holds ×{day_ratio:.2f} the events.{_full_windows(results)} Python, imports and the definitions before the run: {first['rss_before_run_mb']:,.0f} MB.

Per step: seconds (Dagster's step timings; the table checks are steps of their own), slowest first,
and the process's peak RSS while the step ran (MB, VmRSS sampled every 20 ms):

| step | {' | '.join(f'{s} days (s)' for s in sizes)} | {' | '.join(f'{s} days (MB)' for s in sizes)} |
|---|{'---:|' * (2 * len(sizes))}
{step_rows}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=3_500, help="simulated users: about the events per day")
    parser.add_argument("--issue-volume", action="store_true", help="36,000 users: the issue's ~34k events a day")
    parser.add_argument("--growth", type=float, default=BALANCED_GROWTH,
                        help="the traffic's daily trend (default: the one offsetting the simulated churn; "
                             f"the simulator's own: {DAILY_GROWTH})")
    parser.add_argument("--sizes", default="30,120,240", help="days of history, comma-separated")
    parser.add_argument("--start", type=date.fromisoformat, default=START,
                        help=f"the first simulated day (default {START}): an earlier one makes room for a longer history, "
                             "every day measured having to be before today")
    parser.add_argument("--chunk", type=int, default=30, help="days per run while building the history")
    parser.add_argument("--label", default="current code", help="the table's heading in the section")
    parser.add_argument("--lake", action="store_true",
                        help="measure on each history migrated into a DuckLake (SQLite catalog) instead of the DuckDB file")
    parser.add_argument("--child", nargs="+", metavar="ARG")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1:])
        return

    users = 36_000 if args.issue_volume else args.users
    sizes = sorted(int(s) for s in args.sizes.split(","))
    # The day measured must be a past one: the clean step rejects events stamped after the run's
    # clock, and a history reaching into the future fails there, after every chunk before it was built.
    latest = (date.today() - args.start).days  # the last whole day before today, as a size + 1
    if max(sizes) + 1 > latest:
        sys.exit(f"--sizes {max(sizes)}: the day measured, {day(max(sizes) + 1, args.start)}, is not before today "
                 f"({date.today()}); the simulation starts on {args.start}, so the largest size that fits is {latest - 1} "
                 "days (--start: an earlier first day)")
    root = cache_root(users, max(sizes) + 1, args.growth, args.start)
    root.mkdir(parents=True, exist_ok=True)
    landing = ensure_landing(root, users, max(sizes) + 1, args.growth)
    ensure_histories(root, landing, sizes, args.chunk)
    if args.lake:
        ensure_lake_histories(root, sizes)
    results = {}
    for size in sizes:
        results[size] = measure(root, landing, size, args.lake)
        r = results[size]
        print(f"{size} days ({r['history_events']:,} events): run {r['seconds']:.1f}s, peak {r['peak_rss_mb']:,.0f} MB, "
              f"load {r['load'][0]:.1f}->{r['load'][1]:.1f}; " + ", ".join(f"{k} {v:.2f}" for k, v in
                                                                    sorted(r["steps"].items(), key=lambda kv: -kv[1])[:6]),
              flush=True)

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    header = f"""## {SECTION}

`python bench/daily_growth.py` — {os.cpu_count()} cores ({cpu}),
{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB RAM, Python {platform.python_version()}.
The daily job for the next day (one run through `cli.backfill.run_range`, as the schedule and
`shopverse backfill` run it) on a copy of a warehouse and Dagster instance holding N days of the
same simulated traffic (seed 11). Daily run = the run's wall time in a warm process; process =
the child process's wall time (Python start, imports, definitions, the run); peak = that process's
max RSS. The machine is shared: the load average is that of the whole machine (2 cores), and every
figure here is slower by it.
"""
    trend = f"daily trend {args.growth:g}" + (" (offsets the churn)" if args.growth == BALANCED_GROWTH else "")
    body = (f"{users:,} users (~{next(iter(results.values()))['history_events'] / sizes[0]:,.0f} events a day, {trend}, "
            f"from {args.start}), "
            f"{time.strftime('%Y-%m-%d %H:%M')} UTC, DuckDB memory_limit: {memory_limit()}.\n\n" + _table(results))
    previous = {}
    if (BENCH_DIR / "RESULTS.md").exists():
        text = (BENCH_DIR / "RESULTS.md").read_text()
        if f"## {SECTION}" in text:
            section = text.split(f"## {SECTION}", 1)[1].split("\n## ", 1)[0]
            for block in section.split("\n#### ")[1:]:
                name, _, rest = block.partition("\n")
                previous[name.strip()] = rest.rstrip()
    previous[args.label] = body.rstrip()
    write_section(SECTION, header + "".join(f"\n#### {name}\n{text}\n" for name, text in previous.items()))
    print(f"\nwritten to {BENCH_DIR / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
