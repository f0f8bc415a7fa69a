"""A year's backfill: the UCI Online Retail year through the platform (`shopverse run`, the README's
command) against, in the same run, the plain pandas script a team would write instead
(bench/plain_daily_kpis.py: the same daily KPIs and one Markdown summary a day), with the figures
compared day by day.

Not a test: run `python bench/backfill.py [--reports latest|all|none] [--lake]`; results go to the
`## Year backfill (UCI)` section of bench/RESULTS.md.

Each side runs in its own process; wall time and peak RSS (the child's max RSS) are measured. The
platform runs in a scratch data directory (no MLflow server, no Marquez: the embedded defaults), so
its time includes everything the README command does: ingestion, cleaning, the daily job over the
374 days in one run, the weekly job (segments, three models trained and registered), the reports.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import write_section  # bench/results.py (this folder is on sys.path when run as a script)

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
EXPORT = Path(os.environ.get("SHOPVERSE_SHARED_DATA", PROJECT.parent / "shared" / "data")) / "online_retail.csv.gz"


def _timed(argv: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one command: that child's own max RSS (os.wait4), not the
    largest of every child so far."""
    started = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        raise SystemExit(f"{' '.join(argv)} failed with exit code {child.returncode}; the end of its output:\n{tail}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


KPI_SELECTION = "+key:daily_sales"


def _daily_kpis(warehouse: str):
    """The platform's daily KPIs from ``warehouse`` (a DuckDB file, or a ``ducklake:`` setting), read-only."""
    import pandas as pd

    from shopverse_platform.defs.resources import Warehouse

    with Warehouse(path=warehouse).connect(read_only=True) as con:
        got = con.execute(
            """SELECT sales_date AS day, orders, CAST(round(gross_revenue * 100) AS BIGINT) AS gross_cents,
                      CAST(round(cancelled_revenue * 100) AS BIGINT) AS cancelled_cents,
                      CAST(round(net_revenue * 100) AS BIGINT) AS net_cents, unique_customers, peak_hour_by_orders
               FROM daily_sales ORDER BY 1""").df()
    return got.set_index(pd.DatetimeIndex(got.day)).drop(columns="day")


def _equal_days(plain, got, columns: list[str]) -> int:
    """Days whose every KPI is equal on both sides (missing on both counts as equal)."""
    import pandas as pd

    joined = plain.join(got, rsuffix="_platform", how="outer")
    return sum(
        all((pd.isna(row[c]) and pd.isna(row[f"{c}_platform"])) or row[c] == row[f"{c}_platform"] for c in columns)
        for _, row in joined.iterrows())


def _stages(log: Path) -> list[str]:
    """The stage lines (`daily_job ...: ok in 13.7s (run ...)`) of a `shopverse run`'s output."""
    return [line.strip() for line in log.read_text().splitlines() if ": ok in " in line or ": FAILED in " in line]


def _lake_lines(lake_run, file_s: float, equal_days: int | None, days: int) -> str:
    """The lake's run (``--lake``) against the DuckDB file's, as lines of the section; none without it."""
    if lake_run is None:
        return ""
    lake_s, lake_mb, stages, _ = lake_run
    return (f"\nThe same `shopverse run` on a DuckLake (SQLite catalog, `SHOPVERSE_WAREHOUSE=ducklake:sqlite:...`, from "
            f"nothing as the file's run): **{lake_s:.1f} s, ×{lake_s / file_s:.2f} the DuckDB file's run**, peak RSS "
            f"{lake_mb:,.0f} MB; days equal to the script's: **{equal_days} of {days}**. Its stages: {'; '.join(stages)}.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", choices=["latest", "all", "none"], default="latest",
                        help="the platform's daily reports (default: the last day's, as `shopverse run` does)")
    parser.add_argument("--lake", action="store_true",
                        help="also the same `shopverse run` on a DuckLake (SQLite catalog, the embedded lake), "
                             "compared with the DuckDB file's run of the same invocation")
    args = parser.parse_args()

    import pandas as pd

    scratch = Path(tempfile.mkdtemp(prefix="shopverse-backfill-"))
    try:
        env = {k: v for k, v in os.environ.items()
               if k not in ("SHOPVERSE_WAREHOUSE", "SHOPVERSE_LANDING_DIR", "MLFLOW_TRACKING_URI", "OPENLINEAGE_URL")}
        plain_out = scratch / "plain"
        plain_s, plain_mb = _timed([sys.executable, str(BENCH / "plain_daily_kpis.py"), str(EXPORT), str(plain_out)],
                                   env, scratch / "plain.log")
        data = scratch / "data"
        platform_env = {**env, "SHOPVERSE_DATA_DIR": str(data), "SHOPVERSE_ORDER_EXPORTS": str(EXPORT)}
        run_year = [sys.executable, "-m", "shopverse_platform.cli.main", "run", "--simulate", "never", "--end", "2011-12-09",
                    "--days", "374", "--reports", args.reports]
        platform_s, platform_mb = _timed(run_year, platform_env, scratch / "platform.log")
        stages = _stages(scratch / "platform.log")
        # The same KPIs through the platform and nothing else: daily_sales and what it is built from.
        kpi_data = scratch / "kpi-data"
        kpi_s, kpi_mb = _timed(
            [sys.executable, "-m", "shopverse_platform.cli.main", "backfill", "--start", "2010-12-01", "--end", "2011-12-09",
             "--select", KPI_SELECTION, "--reports", "none"],
            {**env, "SHOPVERSE_DATA_DIR": str(kpi_data), "SHOPVERSE_ORDER_EXPORTS": str(EXPORT)}, scratch / "kpi.log")
        kpi_steps = [line.strip() for line in (scratch / "kpi.log").read_text().splitlines() if re.match(r"\s+\[\d+/\d+\]", line)]

        plain = pd.read_csv(plain_out / "kpis.csv", parse_dates=["day"]).set_index("day")
        lake_run = None
        if args.lake:  # the same command on the embedded lake, from nothing as the file's run was
            lake_data = scratch / "lake-data"
            lake_setting = f"ducklake:sqlite:{lake_data / 'warehouse' / 'lake.sqlite'}"
            lake_s, lake_mb = _timed(
                run_year, {**platform_env, "SHOPVERSE_DATA_DIR": str(lake_data), "SHOPVERSE_WAREHOUSE": lake_setting},
                scratch / "lake.log")
            lake_run = (lake_s, lake_mb, _stages(scratch / "lake.log"), _daily_kpis(lake_setting))
        got = _daily_kpis(str(data / "warehouse" / "shopverse.duckdb"))
        got_kpi = _daily_kpis(str(kpi_data / "warehouse" / "shopverse.duckdb"))
        columns = list(plain.columns)
        equal_days = _equal_days(plain, got, columns)
        equal_days_kpi = _equal_days(plain, got_kpi, columns)
        equal_days_lake = _equal_days(plain, lake_run[3], columns) if lake_run else None
        net = got.net_cents.sum() / 100
        reports = len(list((data / "reports" / "daily").glob("*.html"))) if (data / "reports" / "daily").exists() else 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    load = os.getloadavg()
    ratio = platform_s / plain_s
    body = f"""## Year backfill (UCI)

`python bench/backfill.py --reports {args.reports}` ({platform.node()}, {os.cpu_count()} cores, load
{load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} at the end). The UCI Online Retail year (541,909 lines,
2010-12-01..2011-12-09, 374 days) through `shopverse run --simulate never --end 2011-12-09 --days 374`
in a scratch data directory, against `bench/plain_daily_kpis.py` (pandas: the same daily KPIs, one
Markdown summary a day), each in its own process.

| | wall time | peak RSS | what it produces |
|---|---:|---:|---|
| plain pandas script | {plain_s:.1f} s | {plain_mb:,.0f} MB | 374 KPI rows, 374 Markdown pages |
| the platform | {platform_s:.1f} s ({ratio:.0f}× the script) | {platform_mb:,.0f} MB | every asset (raw → clean → facts → metrics → segments → 3 models in MLflow), {reports} daily HTML report(s), weekly reports, checks, lineage |
| the platform, the same KPIs only (`shopverse backfill --select '{KPI_SELECTION}'`) | {kpi_s:.1f} s ({kpi_s / plain_s:.1f}× the script) | {kpi_mb:,.0f} MB | raw_orders → clean_order_lines (quarantine) → order_lines → orders → daily_sales (+ the empty event layers), their checks, lineage, 374 partitions recorded per asset |

Days whose orders, gross, cancelled and net revenue, customers and peak hour (by orders) are equal
on both sides: **{equal_days} of {len(plain)}** (the KPI-only run: **{equal_days_kpi} of {len(plain)}**); net revenue over the
year £{net:,.2f}.

Stages of the platform's run: {'; '.join(stages)}.
{_lake_lines(lake_run, platform_s, equal_days_lake, len(plain))}
Steps of the KPI-only run (Dagster's step timings): {' · '.join(kpi_steps)}.

Target (issue 14): the platform within 5× the script. Where the rest goes: Dagster records two
events (planned, materialized) per partition per asset of the 374-day run, written in batches
(defs/automation/event_log.py), each serialising its metadata; the weekly job builds 53 weekly
snapshots and reports, and trains and registers three models.
"""
    write_section("Year backfill (UCI)", body)
    print(body)


if __name__ == "__main__":
    main()
