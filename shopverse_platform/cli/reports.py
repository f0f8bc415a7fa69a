"""`shopverse report` and `shopverse backfill`, added to the `shopverse` command by ``cli.py``:

    shopverse report --date 2026-11-20            # where the day's report is (and its insights)
    shopverse report --date 2026-11-20 --weekly   # the report of the week holding that day
    shopverse report --date 2026-11-20 --build    # build it first if it is not there
    shopverse backfill --start 2026-10-01 --end 2026-10-31   # a month of history, one command
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from shopverse_platform.cli.instance import use_embedded_instance
from shopverse_platform.lib.automation.settings import week_start


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value}") from error


def _yesterday() -> date:
    return datetime.now(timezone.utc).date() - timedelta(days=1)


def add_report_commands(subparsers: argparse._SubParsersAction) -> None:
    report = subparsers.add_parser("report", help="print where the daily (or weekly) report of a date is")
    report.add_argument("--date", type=_date, default=None, help="the day (default: yesterday, UTC)")
    report.add_argument("--weekly", action="store_true", help="the report of the Monday-to-Sunday week holding --date")
    report.add_argument("--build", action="store_true", help="build the report first if it does not exist yet")
    report.set_defaults(func=cmd_report)

    backfill = subparsers.add_parser(
        "backfill", help="materialize a range of days (one run) and its complete weeks (one run), in this process")
    backfill.add_argument("--start", type=_date, required=True, help="first day (YYYY-MM-DD)")
    backfill.add_argument("--end", type=_date, required=True, help="last day, inclusive (YYYY-MM-DD)")
    backfill.add_argument("--no-weekly", dest="weekly", action="store_false", help="skip the weekly job")
    backfill.set_defaults(func=cmd_backfill)


def _report_paths(kind: str, key: str) -> tuple[Path, Path]:
    from shopverse_platform.lib.reports.render import report_directory

    directory = report_directory(kind)
    return directory / f"{key}.html", directory / f"{key}.md"


def _build_report(kind: str, key: str) -> bool:
    import dagster as dg

    from shopverse_platform.cli.backfill import RUNNER_TAG, runner_tag
    from shopverse_platform.definitions import defs

    use_embedded_instance()
    job = defs().resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.get() as instance:
        result = job.get_subset(asset_selection={dg.AssetKey(f"{kind}_report")}).execute_in_process(
            instance=instance, partition_key=key, raise_on_error=False, tags={"shopverse/trigger": "cli_report", RUNNER_TAG: runner_tag()})
    return result.success


def cmd_report(args: argparse.Namespace) -> int:
    day = args.date or _yesterday()
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
    if md_path.exists():
        text = md_path.read_text(encoding="utf-8")
        if "## Insights" in text:
            insights = text.split("## Insights", 1)[1].split("\n## ", 1)[0].split("\nFull report", 1)[0].strip()
            print("\n" + insights)
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    import time

    import dagster as dg

    from shopverse_platform.cli.backfill import alert_failed_run, backfill
    from shopverse_platform.definitions import defs

    use_embedded_instance()

    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        stages = backfill(defs(), instance, args.start, args.end, weekly=args.weekly, on_failure=alert_failed_run)
    ok = bool(stages) and all(s.success for s in stages)
    print(f"\n{'backfilled' if ok else 'FAILED'}: {args.start}..{args.end} in {time.perf_counter() - started:.1f}s"
          f"\n  reports:  shopverse report --date {args.end}   (runs in the UI: shopverse ui)")
    return 0 if ok else 1
