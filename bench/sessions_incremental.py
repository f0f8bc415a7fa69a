"""The `sessions` table built incrementally vs rebuilt from all of clean_events (issue 14).

Not a test: run `python bench/sessions_incremental.py [--days 90] [--users 5000]`; the figures go
to the `## Sessions: incremental vs full` section of bench/RESULTS.md (other sections are left alone).

Setup, cached under bench/output/ (git-ignored): a simulated landing zone of days + 1 days (seed
11, ~1 event per user and day: the default 5,000 users make ~5k events a day, the issue's 1.25 M
rows at 240 days), raw_events and clean_events materialized over it in one Dagster run.

Measured on that warehouse (each case 3 times, the median, in this process, DuckDB's default
threads): the full rebuild as it was (the query alone) and as it is now (sessions + its state
tables) over all days; the change detection alone (each landing day's fingerprint: one GROUP BY
partition_date over the columns sessions reads, compared with the state); the incremental build after the last day lands
(its rows held aside, a full build over the others, then put back); after a day in the middle is
re-cleaned (1% of its events removed); and with nothing changed. After each incremental build the
table is checked equal to the full query (EXCEPT ALL both ways).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from results import RESULTS, write_section  # bench/results.py (this folder is on sys.path when run as a script)

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from shopverse_platform.defs.cleaning.assets import clean_events  # noqa: E402
from shopverse_platform.defs.ingestion.assets import raw_events  # noqa: E402
from shopverse_platform.defs.resources import LandingZone, Warehouse  # noqa: E402
from shopverse_platform.lib.cleaning import dimensions  # noqa: E402
from shopverse_platform.lib.simulator.traffic import simulate  # noqa: E402
from shopverse_platform.lib.warehouse.sql import load_sql, table  # noqa: E402

SECTION = "Sessions: incremental vs full"
START = date(2026, 1, 5)
SEED = 11


def warehouse_of(days: int, users: int) -> Path:
    """The cached warehouse holding clean_events of ``days`` simulated days (built once)."""
    root = BENCH_DIR / "output" / f"sessions_{days}d_{users}u"
    path = root / "warehouse.duckdb"
    if path.exists():
        return path
    shutil.rmtree(root, ignore_errors=True)
    landing = root / "landing"
    landing.mkdir(parents=True)
    simulate(landing, users=users, days=days, start=START, seed=SEED, faults=0.0, progress=False)
    end = START + timedelta(days=days - 1)
    result = dg.materialize(
        [raw_events, clean_events], instance=dg.DagsterInstance.ephemeral(),
        resources={"warehouse": Warehouse(path=str(path)), "landing_zone": LandingZone(path=str(landing))},
        tags={"dagster/asset_partition_range_start": str(START), "dagster/asset_partition_range_end": str(end)})
    assert result.success
    return path


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def assert_equal_to_full(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE _expected AS " + dimensions.sessions_query(table("clean_events")),
                dimensions.FUNNEL_FLAGS)
    for a, b in (("sessions", "_expected"), ("_expected", "sessions")):
        assert con.execute(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})").fetchall() == [(0,)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--users", type=int, default=5000)
    args = parser.parse_args()
    days = args.days + 1
    source = warehouse_of(days, args.users)
    work = source.with_name("bench.duckdb")
    shutil.copyfile(source, work)
    con = duckdb.connect(str(work))
    [(events,)] = con.execute("SELECT count(*) FROM clean_events").fetchall()
    last = START + timedelta(days=days - 1)
    middle = START + timedelta(days=days // 2)
    results: dict[str, list[float]] = {}
    notes: dict[str, str] = {}

    def record(name: str, seconds: float, build=None) -> None:
        results.setdefault(name, []).append(seconds)
        if build is not None:
            notes[name] = build

    for _ in range(3):
        # the build as it was before issue 14: CREATE TABLE AS the whole query, no state
        seconds, _ = timed(lambda: con.execute("CREATE OR REPLACE TABLE bench_sessions_before AS "
                                               + dimensions.sessions_query(table("clean_events")),
                                               dimensions.FUNNEL_FLAGS))
        record(f"full rebuild as before (sessions.sql only, no state), {days} days", seconds)
        seconds, build = timed(lambda: dimensions.build_sessions(con, full=True))
        record(f"full rebuild, {days} days", seconds, build)
        seconds, _ = timed(lambda: (
            con.execute(load_sql(dimensions.__file__, "sessions_sources_now", events=table("clean_events"))),
            con.execute(load_sql(dimensions.__file__, "sessions_changed_days"))))
        record("change detection alone (each day's fingerprint vs the state)", seconds)
        # the last day lands: held aside, the state built without it, then put back
        con.execute("CREATE OR REPLACE TEMP TABLE _last AS SELECT * FROM clean_events WHERE partition_date = $d", {"d": last})
        con.execute("DELETE FROM clean_events WHERE partition_date = $d", {"d": last})
        dimensions.build_sessions(con, full=True)
        con.execute("INSERT INTO clean_events SELECT * FROM _last")
        seconds, build = timed(lambda: dimensions.build_sessions(con))
        record("incremental, next day landed", seconds, build)
        assert_equal_to_full(con)
        # a day in the middle re-cleaned: 1% of its events gone
        con.execute("CREATE OR REPLACE TEMP TABLE _gone AS SELECT * FROM clean_events WHERE partition_date = $d "
                    "AND hash(event_id) % 100 = 0", {"d": middle})
        con.execute("DELETE FROM clean_events WHERE event_id IN (SELECT event_id FROM _gone)")
        seconds, build = timed(lambda: dimensions.build_sessions(con))
        record("incremental, a middle day re-cleaned (1% of its events removed)", seconds, build)
        assert_equal_to_full(con)
        con.execute("INSERT INTO clean_events SELECT * FROM _gone")
        dimensions.build_sessions(con)
        seconds, build = timed(lambda: dimensions.build_sessions(con))
        record("incremental, nothing changed", seconds, build)
    [(sessions,)] = con.execute("SELECT count(*) FROM sessions").fetchall()
    con.execute("DROP TABLE bench_sessions_before")
    con.close()
    work.unlink()

    heading = f"### {days} simulated days, {args.users:,} users"
    lines = [heading, "",
             f"`python bench/sessions_incremental.py --days {args.days} --users {args.users}` "
             f"({platform.machine()}, {os.cpu_count()} cores shared with other work; median of 3): "
             f"{events:,} clean events, {sessions:,} sessions. Each incremental result was checked "
             "equal to the full query (EXCEPT ALL both ways).", "",
             "| build | seconds | mode |", "|---|---:|---|"]
    for name, values in results.items():
        lines.append(f"| {name} | {statistics.median(values):.3f} | {notes.get(name, '')} |")
    block = "\n".join(lines) + "\n"
    print(block)
    write_section(SECTION, section_with(block, heading))


def section_with(block: str, heading: str) -> str:
    """The section's text with this run's ``### `` block replaced (or added): one block per size."""
    text = RESULTS.read_text() if RESULTS.exists() else ""
    header = f"## {SECTION}\n"
    blocks: dict[str, str] = {}
    if header in text:
        current = text.split(header, 1)[1].split("\n## ", 1)[0]
        for part in current.split("\n### ")[1:]:
            blocks["### " + part.split("\n", 1)[0]] = "### " + part.rstrip() + "\n"
    blocks[heading] = block
    intro = ("Issue 14: `sessions` updated from the changed landing partitions instead of rebuilt from all "
             "of clean_events (`bench/sessions_incremental.py`).\n")
    return header + "\n" + intro + "\n" + "\n".join(blocks[k] for k in sorted(blocks, key=_days)) + "\n"


def _days(heading: str) -> int:
    return int(heading.split()[1])


if __name__ == "__main__":
    main()
