"""Writing one daily report: the page with plotly.js shared from the reports folder (what the report
assets write now) against the page with plotly.js inlined (what they wrote before, and what
`shopverse report --self-contained` writes to mail).

Not a test: run `python bench/reports.py [--warehouse PATH] [--days D] [--repeat N]`; results go to
the `## Reports` section of bench/RESULTS.md.

Without --warehouse, a simulated history is built first with `shopverse run` in a scratch data
directory (cached under bench/output/reports/). Timed, for the last day, N times each, in this
process: reading the report's data from the warehouse (the same for both), rendering and writing
the shared page (with the folder's index, as `render.write` does), rendering and writing the
inlined page. The sizes of both pages and the shared plotly.js are recorded too.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import write_section  # bench/results.py (this folder is on sys.path when run as a script)

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path.insert(0, str(PROJECT))

from shopverse_platform.lib.reports import data as report_data  # noqa: E402
from shopverse_platform.lib.reports import render  # noqa: E402


def _simulated_warehouse(days: int) -> Path:
    data = BENCH / "output" / "reports" / f"days{days}"
    warehouse = data / "warehouse" / "shopverse.duckdb"
    if not warehouse.exists():
        env = {**os.environ, "SHOPVERSE_DATA_DIR": str(data)}
        for name in ("SHOPVERSE_WAREHOUSE", "SHOPVERSE_LANDING_DIR", "MLFLOW_TRACKING_URI", "OPENLINEAGE_URL"):
            env.pop(name, None)
        subprocess.run([sys.executable, "-m", "shopverse_platform.cli.main", "run", "--days", str(days),
                        "--users", "1500", "--reports", "none"], cwd=PROJECT, env=env, check=True)
    return warehouse


def _timed(repeat: int, action) -> list[float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=None, help="an existing warehouse (default: simulate one)")
    parser.add_argument("--days", type=int, default=14, help="days to simulate when no warehouse is given")
    parser.add_argument("--repeat", type=int, default=20, help="timings per variant")
    args = parser.parse_args()

    import duckdb

    warehouse = args.warehouse or _simulated_warehouse(args.days)
    con = duckdb.connect(str(warehouse), read_only=True)
    (last,) = con.execute("SELECT max(sales_date) FROM daily_sales").fetchone()
    period = report_data.Period.day(last)
    loads = _timed(args.repeat, lambda: report_data.load(con, period))
    report = render.build(report_data.load(con, period))
    con.close()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "reports"
        render.write(report, root / "daily")  # the first page of a folder writes plotly.js once
        shared = _timed(args.repeat, lambda: render.write(report, root / "daily"))
        inlined = _timed(args.repeat, lambda: render.write_self_contained(report, root / "mail.html"))
        page = (root / "daily" / f"{period.key}.html").stat().st_size
        mail = (root / "mail.html").stat().st_size
        plotly_bytes = (root / render.PLOTLY_FILE).stat().st_size

    def median_ms(values: list[float]) -> str:
        return f"{1000 * statistics.median(values):.1f} ms"

    load = os.getloadavg()
    body = f"""## Reports

`python bench/reports.py` ({platform.node()}, {os.cpu_count()} cores, load {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f};
warehouse `{warehouse.name}`, report of {last}, median of {args.repeat} runs each).

| step | median | page size |
|---|---:|---:|
| read the report's data from the warehouse (`report_data.load`) | {median_ms(loads)} | |
| render and write the page, plotly.js shared (+ the folder's index) — **now** | {median_ms(shared)} | {page / 1e3:,.0f} KB |
| render and write the page with plotly.js inlined — before; `--self-contained` | {median_ms(inlined)} | {mail / 1e6:,.1f} MB |

The shared `{render.PLOTLY_FILE}` ({plotly_bytes / 1e6:,.1f} MB) is written once per reports folder.
A year of daily pages: {365 * page / 1e6:,.0f} MB shared against {365 * mail / 1e9:,.2f} GB inlined.
Target (issue 18): writing one daily report under 0.1 s.
"""
    write_section("Reports", body)
    print(body)


if __name__ == "__main__":
    main()
