"""One freshness refresh of the day in progress as the day grows: the collector's next 30-s batch
(~1,000 events) reaching today's tables, appended (the freshness path) against the whole-day rebuild.

Not a test: run `python bench/freshness.py [--sizes 10000,50000,100000,200000] [--batch 1000]`;
results go to the `## Freshness refresh` section of bench/RESULTS.md (other sections are left alone).

For each size N: a scratch landing zone holds N events of one day in collector batch files of
`--batch` events (named as the collector names them, sorting by creation time), synthetic traffic
(devices with and without tracker sessions, carts and purchases, ~1 % re-deliveries across files,
a few malformed lines). The freshness job's assets (raw_events, raw_orders, clean_events,
clean_order_lines, order_lines, orders and the daily metrics: defs/automation/selections.py
FRESHNESS_SCOPE) are built for the day, then one more batch lands and is measured two ways on copies
of the same warehouse, in this process, after a warm-up run:
- incremental: the freshness run as the sensor starts it (raw_events and clean_events append the
  new file, the day's metrics are rebuilt);
- full: the same assets in a run that is not a freshness run (as the daily job runs them), so
  raw_events and clean_events rebuild the whole day (what every minute would cost without the
  incremental path).
Both must end with the same clean_events and quarantine rows for the day (checked).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from results import write_section  # bench/results.py (this folder is on sys.path when run as a script)

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
DAY = date(2026, 3, 2)
SECTION = "Freshness refresh"
SEED = 7


def _batch(rng: random.Random, number: int, size: int, first_event: int) -> list[str]:
    """``size`` lines of one 30-s collector batch (the ``number``-th of the day)."""
    start = datetime(DAY.year, DAY.month, DAY.day) + timedelta(seconds=30 * number)
    lines = []
    for k in range(size):
        event_number = first_event + k
        if rng.random() < 0.002:
            lines.append("{not json")
            continue
        if rng.random() < 0.01 and event_number > 10:  # a re-delivery of an earlier event
            event_number = rng.randrange(max(0, event_number - 5000), event_number)
        device = f"dev-{(event_number * 7919) % 20000}"
        when = start + timedelta(milliseconds=int(30000 * k / size))
        body = {"event_id": f"e{event_number}", "event_time": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "anonymous_id": device, "device": "mobile", "country": "GB", "page": "/p"}
        if event_number % 3:
            body["session_id"] = f"s-{device}-{event_number // 50}"  # a tracker session; else the platform's
        kind = event_number % 20
        item = {"item_id": f"P{event_number % 97}", "item_name": "thing", "item_category": "home",
                "price": 5.0 + event_number % 40, "quantity": 1}
        if kind == 0:
            body.update(event_name="purchase", items=[item], value=item["price"], currency="GBP",
                        transaction_id=f"T{event_number}")
        elif kind < 4:
            body.update(event_name="add_to_cart", items=[item])
        elif kind < 8:
            body.update(event_name="view_item", items=[item])
        else:
            body["event_name"] = "page_view"
        lines.append(json.dumps(body))
    return lines


def _write_batch(folder: Path, rng: random.Random, number: int, size: int) -> None:
    created = datetime(DAY.year, DAY.month, DAY.day) + timedelta(seconds=30 * (number + 1))
    name = f"collector-{created:%Y%m%dT%H%M%S%f}-bench-1-{number + 1}.ndjson"
    (folder / name).write_text("\n".join(_batch(rng, number, size, number * size)) + "\n")


def _assets():
    from shopverse_platform.defs.cleaning.assets import clean_events, clean_order_lines
    from shopverse_platform.defs.ingestion.assets import raw_events, raw_orders
    from shopverse_platform.defs.metrics.facts import order_lines, orders
    from shopverse_platform.defs.metrics.sales import daily_sales
    from shopverse_platform.defs.metrics.session_metrics import session_metrics

    return [raw_events, raw_orders, clean_events, clean_order_lines, order_lines, orders, daily_sales, session_metrics]


def _run(warehouse_path: Path, landing: Path, freshness: bool = True) -> tuple[float, dict[str, float], dict[str, str]]:
    """(wall seconds, step seconds, mode by asset) of one run of the freshness job's assets for DAY,
    tagged as the landing sensor tags a freshness run (``freshness``), else as any other run."""
    import dagster as dg

    from shopverse_platform.defs.asset_helpers import FRESHNESS_TRIGGER, TRIGGER_TAG
    from shopverse_platform.defs.resources import LandingZone, Warehouse

    resources = {"warehouse": Warehouse(path=str(warehouse_path)), "landing_zone": LandingZone(path=str(landing))}
    instance = dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    tags = {TRIGGER_TAG: FRESHNESS_TRIGGER} if freshness else {}
    result = dg.materialize(_assets(), resources=resources, partition_key=DAY.isoformat(), instance=instance, tags=tags,
                            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}})
    wall = time.perf_counter() - started
    assert result.success
    steps = {stat.step_key: stat.end_time - stat.start_time for stat in instance.get_run_step_stats(result.run_id)}
    modes = {e.asset_key.to_user_string(): e.materialization.metadata["mode"].value
             for e in result.get_asset_materialization_events() if "mode" in e.materialization.metadata}
    return wall, steps, modes


def _day_rows(warehouse_path: Path) -> tuple:
    import duckdb

    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        # floats rounded: an average summed in another order differs in its last bits
        return tuple([tuple(round(v, 9) if isinstance(v, float) else v for v in row)
                      for row in con.execute(sql, [DAY]).fetchall()] for sql in (
            "SELECT * FROM clean_events WHERE partition_date = ? ORDER BY event_id",
            "SELECT * FROM quarantine WHERE partition_date = ? ORDER BY ALL",
            "SELECT * FROM daily_traffic WHERE traffic_date = ? ORDER BY ALL"))
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000,100000,200000", help="events already in the day")
    parser.add_argument("--batch", type=int, default=1000, help="events in one collector batch file")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size and mode; the median run is reported")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    sys.path.insert(0, str(PROJECT))

    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="shopverse-freshness-"))
    os.environ["SHOPVERSE_DATA_DIR"] = str(scratch / "data")
    try:
        for size in sizes:
            rng = random.Random(SEED)
            landing = scratch / f"landing-{size}"
            folder = landing / "events" / DAY.isoformat()
            folder.mkdir(parents=True)
            batches = size // args.batch
            for number in range(batches):
                _write_batch(folder, rng, number, args.batch)
            base = scratch / f"day-{size}.duckdb"
            _run(base, landing)  # the day so far (and the process's warm-up)
            _write_batch(folder, rng, batches, args.batch)  # the next 30-s batch lands
            measured = {}
            for mode in ("incremental", "full"):
                tries = []
                for _ in range(args.repeat):  # alternating would not help: each try is on a fresh copy
                    copy = scratch / f"day-{size}-{mode}.duckdb"
                    shutil.copy(base, copy)
                    tries.append(_run(copy, landing, freshness=mode == "incremental"))
                measured[mode] = sorted(tries, key=lambda t: t[0])[len(tries) // 2]  # the median run
                print(f"{size:>7} events, {mode:<11}: {[round(t[0], 2) for t in tries]} s  {measured[mode][2]}", flush=True)
            assert _day_rows(scratch / f"day-{size}-incremental.duckdb") == _day_rows(scratch / f"day-{size}-full.duckdb")
            assert measured["incremental"][2]["clean_events"].startswith("incremental")
            assert measured["full"][2]["clean_events"] == "full"
            rows.append((size, measured))
            for path in scratch.glob(f"day-{size}*"):
                path.unlink()
            shutil.rmtree(landing)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    def step(measure, name):
        return measure[1].get(name, 0.0)

    def metrics(measure):  # every step but ingestion and cleaning: facts and daily metrics
        return sum(v for k, v in measure[1].items() if k not in ("raw_events", "raw_orders", "clean_events", "clean_order_lines"))

    lines = [
        f"## {SECTION}",
        "",
        f"`python bench/freshness.py{''.join(' ' + a for a in sys.argv[1:])}` — {date.today().isoformat()}, {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}. One freshness run (the freshness job's assets, in process, after a "
        f"warm-up) after one more collector batch of {args.batch:,} synthetic events lands in a day already "
        "holding N events; incremental (the freshness path: the new file appended) against the whole-day "
        "rebuild, on copies of the same warehouse. Both end with the same rows for the day (checked). The "
        f"machine is shared (load average {os.getloadavg()[0]:.1f} at the end): figures are indicative.",
        "",
        f"Median of {args.repeat} runs per cell (wall seconds of the run; steps: Dagster's step timings).",
        "",
        "| events in the day | incremental run s | raw_events | clean_events | facts + metrics | full rebuild run s | raw_events | clean_events | facts + metrics | raw + clean: full ÷ incremental |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, measured in rows:
        inc, full = measured["incremental"], measured["full"]
        inc_rc = step(inc, "raw_events") + step(inc, "clean_events")
        full_rc = step(full, "raw_events") + step(full, "clean_events")
        lines.append(f"| {size:,} | {inc[0]:.2f} | {step(inc, 'raw_events'):.2f} | {step(inc, 'clean_events'):.2f} | "
                     f"{metrics(inc):.2f} | {full[0]:.2f} | {step(full, 'raw_events'):.2f} | {step(full, 'clean_events'):.2f} | "
                     f"{metrics(full):.2f} | {full_rc / inc_rc:.1f}× |")
    lines += ["", "- Facts and daily metrics are rebuilt for the day either way (day-sized); the rest of a run is "
              "Dagster's own work (the steps run one after the other in one process) and raw_orders/clean_order_lines "
              "(no order exports here).",
              "- What still grows with the day in the incremental run is the facts and daily metrics, rebuilt "
              "for the whole day at each refresh: the next cost to remove for days of millions of events "
              "(a collector rolling 1,000 events every 30 s lands 2.9M a day)."]
    write_section(SECTION, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
