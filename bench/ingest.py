"""Ingest + clean throughput on ~1M simulated events, against the alternatives a user would pick.

Not a test: run `python bench/ingest.py [--events-users N] [--days D]`; results go to the
`## Ingestion` section of bench/RESULTS.md. Each method runs in its own subprocess so that its peak
memory (max RSS) is its own. Methods, on the same landing files:

- platform:   raw_events + clean_events through Dagster, the real assets on a real DuckDB file:
              every landing file registered with its fingerprint and line counts, every line read,
              typed, UTC, deduplicated across files and days, sessionised, or quarantined verbatim
              with a reason, and the reconciliation and uniqueness checks run. Timed after a
              warm-up run on an empty day, as pandas' import is outside its timing; the warm-up
              (Dagster's first run in a process) is reported beside it.
- platform, into a DuckLake: the same assets on a DuckLake warehouse (SQLite catalog, Parquet
              files beside it), the layout that admits concurrent runs and readers: its cost
              against the DuckDB file (issue 16's target: at most 1.2x).
- duckdb:     a bare DuckDB `read_json` typed read of the NDJSON files: the ceiling (no quarantine,
              no dedup, no sessions), into memory and, as the platform must, into a DuckDB file
- pandas:     `pandas.read_json(lines=True)` per file, concatenated (parse only)
- platform (logs layout) and `json.load` per file: the classic one-file-per-event folders
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from results import (
    write_section,  # bench/results.py (this folder is on sys.path when run as a script)
)

BENCH_DIR = Path(__file__).resolve().parent
PROJECT = BENCH_DIR.parent
OUTPUT = BENCH_DIR / "output"
START = date(2024, 3, 1)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- methods (run in a child process)
def method_platform(landing: str, days: int, layout: str = "file") -> dict:
    """``layout``: the warehouse a DuckDB file (the default), or a DuckLake with its SQLite catalog
    and Parquet files beside it (`SHOPVERSE_WAREHOUSE=ducklake:sqlite:...`, docs/scaling.md)."""
    import dagster as dg

    from shopverse_platform.defs.cleaning.assets import clean_events
    from shopverse_platform.defs.ingestion.assets import raw_events
    from shopverse_platform.defs.resources import LandingZone, Warehouse

    def run(resources: dict, instance: dg.DagsterInstance, first: date, last: date) -> dg.ExecuteInProcessResult:
        result = dg.materialize(
            [raw_events, clean_events], resources=resources, instance=instance,
            tags={"dagster/asset_partition_range_start": first.isoformat(), "dagster/asset_partition_range_end": last.isoformat()},
        )
        assert result.success
        return result

    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Warehouse(path=f"{tmp}/wh.duckdb" if layout == "file" else f"ducklake:sqlite:{tmp}/lake/wh.sqlite")
        resources = {"warehouse": warehouse, "landing_zone": LandingZone(path=landing)}
        instance = dg.DagsterInstance.ephemeral()
        # Dagster's first run in a process loads most of its machinery (about 2 s here); pandas'
        # import is likewise outside its timing. Warm up on an empty day, before the landing data.
        started = time.perf_counter()
        empty_day = date.fromordinal(START.toordinal() - 1)
        run(resources, instance, empty_day, empty_day)
        warm_up = time.perf_counter() - started
        end = date.fromordinal(START.toordinal() + days - 1)
        started = time.perf_counter()
        result = run(resources, instance, START, end)
        seconds = time.perf_counter() - started
        steps = {
            event.step_key: event.event_specific_data.duration_ms / 1000
            for event in result.all_events if event.event_type_value == "STEP_SUCCESS"
        }
        with warehouse.connect(read_only=True) as con:
            raw, clean = con.execute("SELECT (SELECT sum(line_count) FROM raw_events), (SELECT count(*) FROM clean_events)").fetchone()
    return {"rows": int(raw), "clean_rows": clean, "seconds": seconds, "warm_up_seconds": warm_up, "steps": steps}


def _ndjson_files(landing: str) -> list[str]:
    return sorted(str(p) for p in Path(landing, "events").glob("*/*.ndjson*"))


def _duckdb_typed_read(landing: str, database: str) -> dict:
    import duckdb

    from shopverse_platform.lib.cleaning.event_schema import EVENT_STRUCTURE

    files = _ndjson_files(landing)
    con = duckdb.connect(database)
    started = time.perf_counter()
    con.execute(
        "CREATE TABLE events AS SELECT * FROM read_json(?, format = 'newline_delimited', columns = ?, ignore_errors = true)",
        [files, {**{k: (v if isinstance(v, str) else "STRUCT(item_id VARCHAR, item_name VARCHAR, item_category VARCHAR, price DOUBLE, quantity INTEGER)[]") for k, v in EVENT_STRUCTURE.items()},
                 # typed as the reader would type them: the platform reads these as JSON text to judge them
                 "value": "DOUBLE", "price": "DOUBLE", "quantity": "INTEGER"}],
    )
    rows = con.execute("SELECT count(*) FROM events").fetchone()[0]
    con.close()  # a file database checkpoints on close: part of persisting
    return {"rows": rows, "seconds": time.perf_counter() - started}


def method_duckdb(landing: str, days: int) -> dict:
    return _duckdb_typed_read(landing, ":memory:")


def method_duckdb_file(landing: str, days: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        return _duckdb_typed_read(landing, f"{tmp}/events.duckdb")


def method_pandas(landing: str, days: int) -> dict:
    import pandas as pd

    files = _ndjson_files(landing)
    started = time.perf_counter()
    frames = []
    for path in files:
        try:
            frames.append(pd.read_json(path, lines=True))
        except ValueError:
            # one malformed line fails the whole file in pandas: fall back to the good lines
            with open(path) as handle:
                good = []
                for line in handle:
                    try:
                        good.append(json.loads(line))
                    except ValueError:
                        pass
            frames.append(pd.DataFrame(good))
    df = pd.concat(frames, ignore_index=True)
    return {"rows": len(df), "seconds": time.perf_counter() - started}


def method_json_per_file(landing: str, days: int) -> dict:
    import pandas as pd

    files = sorted(Path(landing, "logs").glob("*/*.json"))
    started = time.perf_counter()
    records = []
    for path in files:
        with open(path) as handle:
            try:
                records.append(json.load(handle))
            except ValueError:
                pass
    df = pd.DataFrame(records)
    return {"rows": len(df), "seconds": time.perf_counter() - started}


METHODS = {
    "platform": method_platform,
    "platform_lake": lambda landing, days: method_platform(landing, days, layout="lake"),
    "duckdb": method_duckdb,
    "duckdb_file": method_duckdb_file,
    "pandas": method_pandas,
    "json_per_file": method_json_per_file,
}


def child(method: str, landing: str, days: int) -> None:
    outcome = METHODS[method](landing, days)
    outcome["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(outcome))


# ---------------------------------------------------------------- driver
def ensure_landing(name: str, users: int, days: int, layout: str) -> Path:
    landing = OUTPUT / name
    marker = landing / ".complete"
    if not marker.exists():
        from shopverse_platform.lib.simulator.traffic import simulate

        started = time.perf_counter()
        summary = simulate(landing, users=users, days=days, start=START, seed=11, layout=layout, faults=0.002, progress=True)
        print(f"simulated {summary.events:,} events into {landing} in {time.perf_counter() - started:.1f}s")
        marker.write_text(json.dumps({"users": users, "days": days, "layout": layout}))
    return landing


def run_child(method: str, landing: Path, days: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", method, str(landing), str(days)],
        capture_output=True, text=True, cwd=PROJECT, env={**os.environ, "DAGSTER_HOME": tempfile.mkdtemp()},
    )
    if out.returncode != 0:
        raise RuntimeError(f"{method} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=35_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--logs-days", type=int, default=5, help="days in the one-file-per-event layout")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the two platform layouts, alternated; each reports its median (a shared machine's load moves single runs)")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "LANDING", "DAYS"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return

    ndjson = ensure_landing(f"ndjson_{args.users}_{args.days}", args.users, args.days, "ndjson")
    logs = ensure_landing(f"logs_{args.users}_{args.logs_days}", args.users, args.logs_days, "logs")
    runs = {  # key: (label, method, landing, days)
        "platform": ("ShopVerse raw_events + clean_events (NDJSON)", "platform", ndjson, args.days),
        "platform_lake": ("ShopVerse raw_events + clean_events (NDJSON) into a DuckLake", "platform_lake", ndjson, args.days),
        "ceiling": ("DuckDB read_json, typed columns (ceiling: no quarantine/dedup/sessions)", "duckdb", ndjson, args.days),
        "persisted": ("DuckDB read_json, typed columns, into a DuckDB file (the same, persisted)", "duckdb_file", ndjson, args.days),
        "pandas": ("pandas read_json(lines=True)", "pandas", ndjson, args.days),
        "platform_logs": ("ShopVerse raw_events + clean_events (one file per event)", "platform", logs, args.logs_days),
        "json_per_file": ("json.load per file + DataFrame (one file per event)", "json_per_file", logs, args.logs_days),
    }
    # The file and the lake alternated, so a change in the machine's load falls on both; each the
    # run of median time.
    load_before = os.getloadavg()[0]
    layouts = ("platform", "platform_lake")
    repeated: dict[str, list[dict]] = {key: [] for key in layouts}
    for _ in range(max(1, args.repeat)):
        for key in layouts:
            _, method, landing, days = runs[key]
            repeated[key].append(run_child(method, landing, days))
    rows = {}
    for key, (label, method, landing, days) in runs.items():
        if key in repeated:
            outcome = sorted(repeated[key], key=lambda o: o["seconds"])[len(repeated[key]) // 2]
            outcome["all_seconds"] = [o["seconds"] for o in repeated[key]]
        else:
            outcome = run_child(method, landing, days)
        rate = outcome["rows"] / outcome["seconds"]
        rows[key] = (label, outcome, rate)
        print(f"{label:<75} {outcome['rows']:>10,} rows {outcome['seconds']:7.2f}s {rate:>10,.0f} rows/s peak {outcome['peak_rss_mb']:,.0f} MB")

    load_after = os.getloadavg()[0]
    platform_rate, pandas_rate = rows["platform"][2], rows["pandas"][2]
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    table = "\n".join(
        f"| {label} | {o['rows']:,} | {o['seconds']:.2f} | {rate:,.0f} | {o['peak_rss_mb']:,.0f} |" for label, o, rate in rows.values()
    )
    platform_run, persisted, pandas_run = (rows[key][1] for key in ("platform", "persisted", "pandas"))
    # pandas' time scaled to the platform's row count (pandas drops the malformed lines)
    pandas_seconds_for_rows = pandas_run["seconds"] * platform_run["rows"] / pandas_run["rows"]
    steps = " · ".join(f"{step} {sec:.2f} s" for step, sec in platform_run["steps"].items())
    logs_rate = rows["platform_logs"][2]
    peak = platform_run["peak_rss_mb"]
    lake_run = rows["platform_lake"][1]
    lake_ratio = lake_run["seconds"] / platform_run["seconds"]
    lake_steps = " · ".join(f"{step} {sec:.2f} s" for step, sec in lake_run["steps"].items())

    def verdict(ok: bool) -> str:
        return "✅" if ok else "❌"

    body = f"""## Ingestion

`python bench/ingest.py` — {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores ({cpu}),
{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB RAM, Python {platform.python_version()},
load average {load_before:.1f} before and {load_after:.1f} after (the machine is shared: every figure is slower by it).
Simulated traffic ({args.users:,} users, {args.days} days, seed 11, 0.2% injected faults); each
method in its own process; peak = that process's max RSS (includes the Python interpreter and imports).

| method | rows | seconds | rows/s | peak MB |
|---|---:|---:|---:|---:|
{table}

| target | measured | |
|---|---|---|
| ≥ 300k events/s through raw + clean | {platform_rate:,.0f} events/s | {verdict(platform_rate >= 300_000)} |
| ≥ 5× pandas `read_json(lines=True)` | {platform_rate / pandas_rate:.1f}× | {verdict(platform_rate >= 5 * pandas_rate)} |
| peak memory < 1.5 GB for 1M events | {peak:,.0f} MB | {verdict(peak < 1536)} |
| one-file-per-event layout ≥ 25k events/s | {logs_rate:,.0f} events/s | {verdict(logs_rate >= 25_000)} |
| a DuckLake ≤ 1.2× the DuckDB file's time | {lake_ratio:.2f}× | {verdict(lake_ratio <= 1.2)} |

- Platform run by step (Dagster's own step timings): {steps}; into the DuckLake (SQLite
  catalog, Parquet files beside it): {lake_steps}.
- The two platform rows are the median of {len(platform_run['all_seconds'])} runs each, the file and the lake alternated:
  file {', '.join(f'{s:.2f}' for s in platform_run['all_seconds'])} s; lake {', '.join(f'{s:.2f}' for s in lake_run['all_seconds'])} s.
- Dagster's first run in a fresh process costs {platform_run['warm_up_seconds']:.1f} s more, once: the warm-up, not
  in the table.
- The platform does strictly more than the ceiling rows: it counts every landing line on the bytes,
  keeps rejected lines verbatim with a reason, deduplicates across files and days, sessionises,
  persists to a DuckDB file and runs the reconciliation and uniqueness checks. What is left is
  DuckDB's own work, CPU-bound on both cores. Profiled separately on this machine (2026-11-21) on
  1M lines: parsing and judging the JSON takes about 1.6 s, persisting the 24 clean columns 1.3 s.
- What the targets leave for that extra work: the bare typed read persisted to a DuckDB file takes
  {persisted['seconds']:.2f} s. 300k events/s allows {platform_run['rows'] / 300_000:.2f} s for the whole run, and 5× pandas
  {pandas_seconds_for_rows / 5:.2f} s: {platform_run['rows'] / 300_000 - persisted['seconds']:.2f} s and {pandas_seconds_for_rows / 5 - persisted['seconds']:.2f} s on top of the bare persisted read for
  the line count, judging, quarantine, deduplication, sessions, Dagster and the checks. The
  platform spends {platform_run['seconds'] - persisted['seconds']:.2f} s on top of it.
- One-file-per-event layout against DuckDB's glob reader at ~1.3k files/s (../shared/STACK.md).
"""
    write_section("Ingestion", body)
    print(f"\nwritten to {BENCH_DIR / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
