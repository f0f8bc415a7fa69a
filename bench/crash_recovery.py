"""Fault injection: `kill -9` of `shopverse run` at random points, N times, then a rerun that must
equal a clean build, table by table (issue: nothing lost, nothing stuck).

    .venv/bin/python bench/crash_recovery.py [--kills 5] [--users 1500] [--days 14] [--seed 3]

1. Simulates one landing zone, then builds it cleanly once in its own data directory (the reference).
2. In a second data directory with a copy of the same landing zone, starts `shopverse run` and kills
   its whole process group with SIGKILL at a random moment within the clean build's duration, N
   times in a row (each next command meets the dead run's leftovers: a STARTED run in the instance,
   half-replaced partitions, the warehouse lock file), then lets one run finish.
3. Compares every table and column of both warehouses (scripts/warehouse_fingerprint.py) and writes
   the outcome to bench/RESULTS.md. Columns that differ by nature between two builds (MLflow run ids
   and model versions, written-at timestamps) are listed apart, not hidden.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
# Columns whose values belong to one build (run ids, registry versions, timestamps of writing).
RUN_SPECIFIC = ("model_version", "run_id", "mlflow_run_id", "scored_at", "created_at", "trained_at", "built_at")


def _env(data: Path, landing: Path) -> dict[str, str]:
    """Each build its own data directory (warehouse, instance, MLflow store), one landing zone for
    both: the warehouse records landing paths, which must be the same for the tables to be."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPVERSE_", "MLFLOW_", "OPENLINEAGE_", "DAGSTER_"))}
    env.update({"SHOPVERSE_DATA_DIR": str(data), "DAGSTER_HOME": str(data / "dagster_home"), "PYTHONUNBUFFERED": "1",
                "SHOPVERSE_LANDING_DIR": str(landing)})
    return env


def _run_command(data: Path, end: date, days: int) -> list[str]:
    return [PYTHON, "-m", "shopverse_platform.cli.main", "run", "--simulate", "never", "--days", str(days), "--end", end.isoformat()]


def _fingerprint(data: Path) -> dict:
    out = subprocess.run([PYTHON, str(ROOT / "scripts" / "warehouse_fingerprint.py"), str(data / "warehouse" / "shopverse.duckdb")],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--users", type=int, default=1500)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="shopverse-crash-"))
    clean, crashed, landing = work / "clean", work / "crashed", work / "landing"
    end = date(2026, 11, 22)
    start = end - timedelta(days=args.days - 1)

    subprocess.run([PYTHON, "-m", "shopverse_platform.cli.main", "simulate", "--users", str(args.users), "--days", str(args.days),
                    "--start", start.isoformat(), "--seed", str(args.seed), "--quiet"],
                   env=_env(clean, landing), cwd=ROOT, check=True, stdout=subprocess.DEVNULL)

    began = time.monotonic()
    reference = subprocess.run(_run_command(clean, end, args.days), env=_env(clean, landing), cwd=ROOT, capture_output=True, text=True)
    clean_seconds = time.monotonic() - began
    if reference.returncode != 0:
        print(reference.stdout[-3000:], reference.stderr[-3000:])
        raise SystemExit("the clean build failed")

    kills = []
    for number in range(args.kills):
        at = rng.uniform(1.0, clean_seconds)
        log = (work / f"kill-{number + 1}.log").open("w")
        process = subprocess.Popen(_run_command(crashed, end, args.days), env=_env(crashed, landing), cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            process.wait(timeout=at)
            kills.append({"kill": number + 1, "at_seconds": round(at, 1), "outcome": f"finished first (exit {process.returncode})"})
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            kills.append({"kill": number + 1, "at_seconds": round(at, 1), "outcome": "killed"})
        log.close()
        print(f"kill {number + 1}: {kills[-1]}", flush=True)

    began = time.monotonic()
    final = subprocess.run(_run_command(crashed, end, args.days), env=_env(crashed, landing), cwd=ROOT, capture_output=True, text=True)
    final_seconds = time.monotonic() - began
    outputs = [(work / f"kill-{n + 1}.log").read_text() for n in range(args.kills)] + [final.stdout]
    recovered = [line for text in outputs for line in text.splitlines() if "is gone" in line]
    import dagster as dg

    with dg.DagsterInstance.from_config(str(crashed / "dagster_home")) as instance:
        statuses = {}
        for run in instance.get_runs():
            statuses[run.status.value] = statuses.get(run.status.value, 0) + 1

    sys.path.insert(0, str(ROOT / "scripts"))
    from warehouse_fingerprint import compare  # noqa: E402

    reference_fingerprint = _fingerprint(clean)
    differences = compare(reference_fingerprint, _fingerprint(crashed)) if final.returncode == 0 else ["the final run failed"]
    natural = [d for d in differences if any(f".{c}:" in d for c in RUN_SPECIFIC)]
    real = [d for d in differences if d not in natural]
    tables = len(reference_fingerprint)

    lines = [
        "## Crash recovery",
        "",
        f"`python bench/crash_recovery.py --kills {args.kills} --users {args.users} --days {args.days} --seed {args.seed}`"
        f" — {date.today()}, {os.cpu_count()} cores.",
        f"A clean build of {args.days} simulated days ({args.users:,} users) took {clean_seconds:.1f} s. Then `shopverse run`"
        f" on a copy of the same landing zone was killed with SIGKILL (whole process group) at random moments"
        f" within that time, {args.kills} times in a row, and run once more to the end ({final_seconds:.1f} s, exit"
        f" {final.returncode}).",
        "",
        "| kill | at (s) | outcome |",
        "|---:|---:|---|",
        *[f"| {k['kill']} | {k['at_seconds']} | {k['outcome']} |" for k in kills],
        "",
        f"- Dead runs found and failed by the next command: {len(recovered)}; runs in the instance afterwards: "
        + ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
        + (" (none left STARTED)." if "STARTED" not in statuses else " — some left STARTED: recovery is incomplete."),
        f"- Tables compared: {tables}; columns differing from the clean build: {len(real)}"
        + ("" if not real else " — " + "; ".join(real[:10])),
        f"- Run-specific columns that differ by nature (MLflow versions and run ids, written-at times): {len(natural)}.",
        "",
    ]
    write_section("Crash recovery", "\n".join(lines))
    print("\n".join(lines))
    if final.returncode != 0:
        print(final.stdout[-4000:], final.stderr[-4000:])
    return 0 if final.returncode == 0 and not real and "STARTED" not in statuses else 1


if __name__ == "__main__":
    sys.exit(main())
