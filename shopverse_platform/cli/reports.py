"""`shopverse report` and `shopverse backfill`, added to the `shopverse` command by ``cli/main.py``:

    shopverse report --date 2026-11-20            # where the day's report is (and its insights)
    shopverse report --date 2026-11-20 --weekly   # the report of the week holding that day
    shopverse report --date 2026-11-20 --build    # build it first if it is not there
    shopverse backfill --start 2026-10-01 --end 2026-10-31   # a month of history, one command
"""

from __future__ import annotations

import argparse
import uuid
from datetime import date, timedelta
from pathlib import Path

from shopverse_platform.cli.arguments import (
    REPORT_CHOICES,
    UsageError,
    add_command,
    check_configured_path,
    check_currency_settings,
    check_data_dir_writable,
    check_range,
    iso_date,
    positive_int,
    yesterday,
)
from shopverse_platform.cli.instance import use_embedded_instance
from shopverse_platform.lib import paths
from shopverse_platform.lib.automation.settings import week_start


def _check_backfill(args: argparse.Namespace) -> None:
    from shopverse_platform.cli.backfill import check_step_workers  # Dagster's import, for this command only
    from shopverse_platform.cli.first_day import check_first_day

    check_range(args.start, args.end, "--start", "--end")
    check_first_day(args.start, f"--start {args.start}..--end {args.end}")
    check_data_dir_writable()
    check_configured_path("SHOPVERSE_ORDER_EXPORTS", "the order exports")
    check_currency_settings()
    check_step_workers(args.workers, args.celery)


def _check_report(args: argparse.Namespace) -> None:
    if args.build or args.self_contained:
        check_data_dir_writable()
        day = args.date or yesterday()
        first, last = (week_start(day), week_start(day) + timedelta(days=6)) if args.weekly else (day, day)
        _check_data_for(first, last)


def _check_data_for(first: date, last: date) -> None:
    """Building a report for days the warehouse holds no data for wrote a page of NaN: say so instead."""
    from shopverse_platform.defs.resources import Warehouse

    warehouse = Warehouse()
    held: tuple = (None, None)
    if warehouse.exists():
        with warehouse.connect(read_only=True) as con:
            sources = [t for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = 'main' "
                "AND table_name IN ('raw_events', 'raw_orders')").fetchall()]
            if sources:
                union = " UNION ALL ".join(f"SELECT partition_date FROM {t}" for t in sources)  # names from the list above
                held = con.execute(f"SELECT min(partition_date), max(partition_date) FROM ({union})").fetchone()
                inside = con.execute(
                    f"SELECT count(*) FROM ({union}) WHERE partition_date BETWEEN ? AND ?", [first, last]).fetchone()[0]
                if inside:
                    return
    span = f"it holds {held[0]}..{held[1]}" if held[0] else "it holds no data yet"
    raise UsageError(f"no data for {first}{'' if first == last else '..' + str(last)} in the warehouse ({span}): "
                     f"load those days first (shopverse backfill --start {first} --end {last})")


def add_report_commands(subparsers: argparse._SubParsersAction) -> None:
    report = add_command(subparsers, "report", "print where the daily (or weekly) report of a date is",
                         "Print where the report of a day (or of the Monday-to-Sunday week holding it) is, and its "
                         "insights; --build builds it first if it does not exist.")
    report.add_argument("--date", type=iso_date, default=None, help="the day, YYYY-MM-DD (default: yesterday, UTC)")
    report.add_argument("--weekly", action="store_true", help="the report of the Monday-to-Sunday week holding --date")
    report.add_argument("--build", action="store_true", help="build the report first if it does not exist yet")
    report.add_argument("--self-contained", action="store_true",
                        help="also write <period>.standalone.html: one file with plotly.js inlined, to mail (~4.8 MB)")
    report.set_defaults(func=cmd_report, check=_check_report)

    backfill = add_command(
        subparsers, "backfill", "materialize a range of days (one run) and its complete weeks (one run), in this process",
        "Build every daily asset over [START, END] in one run, then the weekly job over the complete weeks inside "
        "it; the runs are recorded in the local Dagster instance and a failure raises the run-failure alert.")
    backfill.add_argument("--start", type=iso_date, required=True, help="first day, YYYY-MM-DD")
    backfill.add_argument("--end", type=iso_date, required=True, help="last day, inclusive, YYYY-MM-DD")
    backfill.add_argument("--no-weekly", dest="weekly", action="store_false", help="skip the weekly job")
    backfill.add_argument("--select", metavar="SELECTION",
                          help="only these daily assets, in Dagster's asset selection syntax (the UI's), e.g. "
                               "'+key:daily_sales' for daily_sales and everything it is built from; implies --no-weekly")
    backfill.add_argument("--reports", choices=REPORT_CHOICES, default="latest",
                          help="daily reports to write after everything else: the last day's, every day's, or none "
                               "(weekly reports always; any day later with `shopverse report --build`)")
    backfill.add_argument("--workers", type=positive_int, default=1,
                          help="steps of a run executed at once, each in its own process (a DuckLake warehouse: "
                               "`shopverse warehouse migrate`)")
    backfill.add_argument("--celery", action="store_true",
                          help="every step a task for the Celery workers of $SHOPVERSE_CELERY_BROKER "
                               "(`shopverse celery-worker`; a DuckLake warehouse)")
    backfill.add_argument("--drop-missing-inputs", action="store_true",
                          help="rebuild days whose landing files or order exports are gone (deleted, or the path "
                               "set wrong), dropping what came from them (without it, such a run fails and changes nothing)")
    backfill.add_argument("-v", "--verbose", action="store_true", help="show Dagster's DEBUG events too (always in the UI's run page)")
    backfill.set_defaults(func=cmd_backfill, check=_check_backfill)


def _report_paths(kind: str, key: str) -> tuple[Path, Path]:
    from shopverse_platform.lib.reports.render import report_directory

    directory = report_directory(kind)
    return directory / f"{key}.html", directory / f"{key}.md"


def _build_report(kind: str, key: str) -> bool:
    import dagster as dg

    from shopverse_platform.cli.backfill import RUNNER_TAG, runner_tag
    from shopverse_platform.defs.lineage.dagster_internals import execute_in_code_location
    from shopverse_platform.definitions import defs

    use_embedded_instance()
    definitions = defs()
    with dg.DagsterInstance.get() as instance:
        # Recorded under the workspace's code location like `shopverse run`'s runs (cli/backfill.py).
        result = execute_in_code_location(
            definitions.resolve_implicit_global_asset_job_def(), definitions.get_repository_def().name,
            paths.PROJECT_ROOT / "workspace.yaml", instance, run_id=str(uuid.uuid4()), run_config={},
            asset_selection={dg.AssetKey(f"{kind}_report")},
            tags={"dagster/partition": key, "shopverse/trigger": "cli_report", RUNNER_TAG: runner_tag()})
    return result.success


def _write_self_contained(kind: str, key: str, html_path: Path) -> Path:
    from shopverse_platform.defs.reports.assets import build_report
    from shopverse_platform.lib.reports import data as report_data
    from shopverse_platform.lib.reports.render import write_self_contained

    start = date.fromisoformat(key)
    period = report_data.Period.week(start) if kind == "weekly" else report_data.Period.day(start)
    return write_self_contained(build_report(kind, period), html_path.with_name(f"{key}.standalone.html"))


def cmd_report(args: argparse.Namespace) -> int:
    day = args.date or yesterday()
    kind, key = ("weekly", week_start(day).isoformat()) if args.weekly else ("daily", day.isoformat())
    html_path, md_path = _report_paths(kind, key)
    if not html_path.exists() and args.build:
        print(f"building the {kind} report {key} ...")
        if not _build_report(kind, key):
            print("the report run failed; see the run in the Dagster UI")
            return 1
    if not html_path.exists():
        print(f"no {kind} report for {key} yet ({html_path} does not exist)\n"
              f"  build it:  shopverse report --date {day}{' --weekly' if args.weekly else ''} --build\n"
              f"  or the whole day and what it needs:  shopverse backfill --start {key} --end "
              f"{(date.fromisoformat(key) + timedelta(days=6)) if args.weekly else key}")
        return 1
    print(f"{kind} report {key}\n  HTML:      {html_path}\n  open:      {html_path.as_uri()}\n  Markdown:  {md_path}")
    if args.self_contained:
        print(f"  to mail:   {_write_self_contained(kind, key, html_path)}")
    if md_path.exists():
        text = md_path.read_text(encoding="utf-8")
        if "## Insights" in text:
            insights = text.split("## Insights", 1)[1].split("\n## ", 1)[0].split("\nFull report", 1)[0].strip()
            print("\n" + insights)
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    import time

    import dagster as dg

    from shopverse_platform.cli.backfill import RAW_INPUTS, alert_failed_run, backfill
    from shopverse_platform.cli.first_day import claim_first_day

    use_embedded_instance()
    if (moved := claim_first_day(args.start)) is not None:  # before defs() loads: its partitions start there
        print(moved)
    from shopverse_platform.definitions import defs

    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        stages = backfill(defs(), instance, args.start, args.end, weekly=args.weekly and not args.select,
                          reports=args.reports, select=args.select, on_failure=alert_failed_run,
                          log_level="DEBUG" if args.verbose else "INFO", workers=args.workers,
                          celery=args.celery, drop_missing_inputs=RAW_INPUTS if args.drop_missing_inputs else ())
    ok = bool(stages) and all(s.success for s in stages)
    print(f"\n{'backfilled' if ok else 'FAILED'}: {args.start}..{args.end} in {time.perf_counter() - started:.1f}s"
          f"\n  reports:  shopverse report --date {args.end}   (runs in the UI: shopverse ui)")
    return 0 if ok else 1
