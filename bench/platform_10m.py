"""The whole platform on ~10 M simulated events: `shopverse run` over 60 days, wall time, peak
memory and where the time goes.

Not a test: run `python bench/platform_10m.py [--users N] [--days D]`; results go to the
`## Whole platform at 10 M events` section of bench/RESULTS.md (other sections are left alone).

Setup, cached under bench/output/ (git-ignored): the simulated landing zone (166,000 users over 60
days from 2026-01-05, seed 11: ~10 M events), written once by a child process.

Measured in its own process (so its peak RSS is its own: interpreter and imports included), in a
scratch data directory reading that landing zone: `shopverse run --simulate never`, the README's
command, which runs the daily job over the 60 days in one run, the weekly job over the complete
weeks (segment snapshots, the cluster model, three models trained and registered in MLflow) and
the last day's report. No MLflow server and no Marquez: the embedded defaults. Per step: Dagster's
step timings as the command prints them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from results import write_section  # bench/results.py (this folder is on sys.path when run as a script)

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
OUTPUT = BENCH / "output"
START = date(2026, 1, 5)
SEED = 11
SECTION = "Whole platform at 10 M events"
STEP_LINE = re.compile(r"^\s+\[\d+/\d+\] (\S+) (ok|FAILED|skipped) in (\d+\.\d)s")
STAGE_LINE = re.compile(r"^(daily_job|weekly_job|daily reports) \S+: (ok|FAILED) in (\d+\.\d)s")


def _timed(argv: list[str], env: dict[str, str], log: Path) -> tuple[float, float, int]:
    """(wall seconds, the child's own peak RSS in MB, exit code)."""
    started = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def ensure_landing(users: int, days: int) -> tuple[Path, dict]:
    root = OUTPUT / f"platform_{users}_{days}_{SEED}"
    landing, marker = root / "landing", root / "landing.json"
    if marker.exists():
        return landing, json.loads(marker.read_text())
    if landing.exists():
        shutil.rmtree(landing)
    root.mkdir(parents=True, exist_ok=True)
    code = ("import json, sys, time; from pathlib import Path; from datetime import date\n"
            "from shopverse_platform.lib.simulator.traffic import simulate\n"
            "t = time.perf_counter()\n"
            f"s = simulate(Path({str(landing)!r}), users={users}, days={days}, start=date.fromisoformat({START.isoformat()!r}), "
            f"seed={SEED})\n"
            "print(json.dumps({'events': s.events, 'orders': s.orders, 'seconds': time.perf_counter() - t}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    marker.write_text(json.dumps(summary))
    return landing, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=166_000, help="simulated visitors (~10 M events over 60 days)")
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()

    landing, simulated = ensure_landing(args.users, args.days)
    print(f"landing zone: {simulated['events']:,} events ({simulated['seconds']:.0f} s to simulate, cached)", flush=True)
    last = START + timedelta(days=args.days - 1)
    scratch = Path(tempfile.mkdtemp(prefix="shopverse-10m-", dir=OUTPUT))
    try:
        env = {k: v for k, v in os.environ.items()
               if k not in ("SHOPVERSE_WAREHOUSE", "MLFLOW_TRACKING_URI", "OPENLINEAGE_URL", "DAGSTER_HOME")}
        env.update({"SHOPVERSE_DATA_DIR": str(scratch / "data"), "SHOPVERSE_LANDING_DIR": str(landing)})
        # The simulated shop's label window, as `shopverse run` records it when it simulates itself
        # (60 days hold no 90-day label window for churn and lifetime value).
        subprocess.run([sys.executable, "-c", "from shopverse_platform.cli.main import _record_simulated_window; "
                        "_record_simulated_window()"], cwd=PROJECT, env=env, check=True, capture_output=True)
        load_before = os.getloadavg()
        seconds, peak, code = _timed(
            [sys.executable, "-m", "shopverse_platform.cli.main", "run", "--simulate", "never",
             "--end", last.isoformat(), "--days", str(args.days)], env, scratch / "run.log")
        load_after = os.getloadavg()
        log = (scratch / "run.log").read_text()
        if code:
            raise SystemExit(f"shopverse run failed ({code}); the end of its output:\n" + "\n".join(log.splitlines()[-40:]))
        steps: dict[str, float] = {}
        for line in log.splitlines():
            if match := STEP_LINE.match(line):
                steps[match.group(1)] = steps.get(match.group(1), 0.0) + float(match.group(3))
        stages = [f"{m.group(1)} {m.group(3)} s" for line in log.splitlines() if (m := STAGE_LINE.match(line))]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    top = sorted(steps.items(), key=lambda kv: -kv[1])
    rows = "\n".join(f"| {step} | {secs:.1f} |" for step, secs in top[:25])
    body = f"""## {SECTION}

`python bench/platform_10m.py` ({platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()},
{time.strftime('%Y-%m-%d %H:%M')} UTC; load {load_before[0]:.1f} before, {load_after[0]:.1f} after).
`shopverse run --simulate never --end {last} --days {args.days}` on {simulated['events']:,} simulated events
({args.users:,} users, {args.days} days from {START}, seed {SEED}) in a scratch data directory, embedded defaults
(DuckDB memory_limit {os.environ.get('SHOPVERSE_DUCKDB_MEMORY', 'the platform default, 2GB')}).

| | wall time | peak RSS |
|---|---:|---:|
| the whole platform (daily job over {args.days} days, weekly job, the last day's report) | {seconds / 60:.1f} min ({seconds:.0f} s) | {peak:,.0f} MB |

Stages: {'; '.join(stages)}. Target (issue 14): peak under 3 GB.

Slowest steps (Dagster's step timings, s; a table check is a step of its own):

| step | seconds |
|---|---:|
{rows}
"""
    write_section(SECTION, body)
    print(body)


if __name__ == "__main__":
    main()
