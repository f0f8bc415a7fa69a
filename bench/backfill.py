"""A year's backfill: the UCI Online Retail year through the platform (`shopverse run`, the README's
command) against, in the same run, the plain pandas script a team would write instead
(bench/plain_daily_kpis.py: the same daily KPIs and one Markdown summary a day), with the figures
compared day by day.

Not a test: run `python bench/backfill.py [--reports latest|all|none]`; results go to the
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
import resource
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
    """(wall seconds, peak RSS in MB of the child and its children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    with log.open("w") as out:
        finished = subprocess.run(argv, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if finished.returncode:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        raise SystemExit(f"{' '.join(argv)} failed with exit code {finished.returncode}; the end of its output:\n{tail}")
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", choices=["latest", "all", "none"], default="latest",
                        help="the platform's daily reports (default: the last day's, as `shopverse run` does)")
    args = parser.parse_args()

    import duckdb
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
        platform_s, platform_mb = _timed(
            [sys.executable, "-m", "shopverse_platform.cli.main", "run", "--simulate", "never", "--end", "2011-12-09",
             "--days", "374", "--reports", args.reports], platform_env, scratch / "platform.log")
        stages = [line.strip() for line in (scratch / "platform.log").read_text().splitlines()
                  if ": ok in " in line or ": FAILED in " in line]

        plain = pd.read_csv(plain_out / "kpis.csv", parse_dates=["day"]).set_index("day")
        con = duckdb.connect(str(data / "warehouse" / "shopverse.duckdb"), read_only=True)
        got = con.execute(
            """SELECT sales_date AS day, orders, CAST(round(gross_revenue * 100) AS BIGINT) AS gross_cents,
                      CAST(round(cancelled_revenue * 100) AS BIGINT) AS cancelled_cents,
                      CAST(round(net_revenue * 100) AS BIGINT) AS net_cents, unique_customers, peak_hour_by_orders
               FROM daily_sales ORDER BY 1""").df()
        con.close()
        got = got.set_index(pd.DatetimeIndex(got.day)).drop(columns="day")
        columns = list(plain.columns)
        joined = plain.join(got, rsuffix="_platform", how="outer")
        equal_days = sum(
            all((pd.isna(row[c]) and pd.isna(row[f"{c}_platform"])) or row[c] == row[f"{c}_platform"] for c in columns)
            for _, row in joined.iterrows())
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

Days whose orders, gross, cancelled and net revenue, customers and peak hour (by orders) are equal
on both sides: **{equal_days} of {len(joined)}**; net revenue over the year £{net:,.2f}.

Stages of the platform's run: {'; '.join(stages)}.

Target (issue 14): the platform within 5× the script. Where the rest goes (issue 14's profile):
Dagster records one materialization per partition per asset of the 374-day run, and the weekly job
trains and registers three models on 53 weeks of snapshots.
"""
    write_section("Year backfill (UCI)", body)
    print(body)


if __name__ == "__main__":
    main()
