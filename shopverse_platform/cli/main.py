"""The `shopverse` command: simulate traffic, run the platform, open the UI.

    shopverse simulate --users 4000 --days 30 --start 2026-10-22 --seed 7
    shopverse run                      # simulate two months (if the landing zone is empty) and build everything
    shopverse ui                       # the Dagster UI on the same data (dagster dev)
    shopverse up / down                # Dagster UI + daemon, MLflow UI, Marquez when configured
    shopverse backfill / report        # a range of days as one command; where a report is
    shopverse lineage replay           # send buffered lineage events to Marquez
    shopverse sql "SELECT ..."         # query the warehouse, read-only (a prompt without a query)
    shopverse collect                  # the HTTP event collector on http://127.0.0.1:8070 (into the landing zone)
    shopverse warehouse migrate        # the DuckDB-file warehouse into a DuckLake (concurrent runs and readers)
    shopverse celery-worker            # a worker executing steps of runs put on $SHOPVERSE_CELERY_BROKER
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from shopverse_platform.cli.arguments import (
    REPORT_CHOICES,
    CommandLine,
    OverviewFormatter,
    add_command,
    check_configured_path,
    check_currency_settings,
    check_data_dir_writable,
    check_port_free,
    fraction,
    iso_date,
    port,
    positive_int,
    run_checked,
    yesterday,
)
from shopverse_platform.cli.instance import use_embedded_instance
from shopverse_platform.lib import paths

DEFAULT_USERS = 4_000
# Two months: enough history for every model of the simulated shop with its label window below
# (18 days in which customers place their first orders, the training cutoff, 21 days of labels, the
# validation cutoff, 21 more), and `make demo` within 3 minutes. A month with 90-day windows left
# churn and lifetime value without a training split ("training set has an empty split or a single
# class"); 7 months would keep 90 days but took 11 minutes (the daily job costs about a second a day).
DEFAULT_DAYS = 60
DEFAULT_SEED = 7
# The simulated shop's customers come back within weeks or not at all: churn = "no order within 21
# days", lifetime value = "net revenue over the next 21 days". `run` records it in the data
# directory's shop.toml when it simulates (the training sets read it, lib/shop.py); real order
# exports keep the 90-day window of the UCI Online Retail setting, which needs 6 months and more.
SIMULATED_CUSTOMER_WINDOW_DAYS = 21


def cmd_simulate(args: argparse.Namespace) -> int:
    from shopverse_platform.defs.resources import LandingZone
    from shopverse_platform.lib.simulator.traffic import simulate

    landing = Path(args.landing_dir) if args.landing_dir else LandingZone().root()
    started = time.perf_counter()
    summary = simulate(
        landing, users=args.users, days=args.days, start=args.start, seed=args.seed, gzip=args.gzip,
        layout=args.layout, faults=args.faults, progress=not args.quiet and sys.stderr.isatty(),  # no carriage-return frames in logs
    )
    seconds = time.perf_counter() - started
    print(
        f"simulated {summary.events:,} events ({summary.orders:,} orders, revenue {summary.revenue:,.2f}) "
        f"for {args.users:,} users over {args.days} days from {args.start} in {seconds:.1f}s "
        f"({summary.events / max(seconds, 1e-9):,.0f} events/s)\n"
        f"  landing zone: {landing}\n  injected faults: {summary.faulty_lines:,} bad lines, "
        f"{summary.duplicate_lines:,} re-deliveries\n  ground truth: {summary.ground_truth_path}"
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from shopverse_platform.defs.resources import LandingZone, Warehouse

    home = use_embedded_instance()
    # The same resolution as the assets' resources ($SHOPVERSE_LANDING_DIR, $SHOPVERSE_WAREHOUSE),
    # so "is the landing zone empty?" and the summary look where the run reads and writes.
    landing = LandingZone().root()
    warehouse = Warehouse()
    first_day, last_day = _run_range(args)
    simulating = args.simulate == "always" or (args.simulate == "if-empty" and not any((landing / "events").glob("*/*")))
    if simulating:
        sim = argparse.Namespace(
            landing_dir=str(landing), users=args.users, days=args.days, start=first_day, seed=args.seed,
            gzip=False, layout="ndjson", faults=0.002, quiet=False,
        )
        cmd_simulate(sim)
        _record_simulated_window()

    import dagster as dg

    from shopverse_platform.cli.backfill import alert_failed_run, backfill
    from shopverse_platform.cli.first_day import claim_first_day

    if (moved := claim_first_day(first_day)) is not None:  # before defs() loads: its partitions start there
        print(moved)
    from shopverse_platform.definitions import defs

    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        # The same path as `shopverse backfill`: the daily job over the range in one run, then the
        # weekly job (rollups, segment snapshots, models, weekly report) over its complete weeks.
        # A simulation starts its days' landing folders afresh: files of an earlier simulation it
        # did not write again (a smaller one: fewer batches a day) are gone on purpose.
        stages = backfill(defs(), instance, first_day, last_day, reports=args.reports, on_failure=alert_failed_run,
                          log_level="DEBUG" if args.verbose else "INFO",
                          drop_missing_inputs=("raw_events",) if simulating else ())
    seconds = time.perf_counter() - started
    ok = bool(stages) and all(s.success for s in stages)
    print(f"\n{'built' if ok else 'FAILED'}: {first_day}..{last_day} in {seconds:.1f}s")
    for stage in stages:
        print(f"  {stage.job_name} [{stage.first}..{stage.last}]: {'ok' if stage.success else 'FAILED'}  run {stage.run_id}")
    _print_tables(warehouse)
    print(
        f"\nwhere to look:\n  warehouse:   {warehouse.describe()}  (shopverse sql 'SELECT ...', or shopverse sql for a prompt; "
        "a notebook or BI tool: shopverse warehouse reader-sql)\n"
        f"  landing:     {landing}\n  reports:     {paths.data_dir() / 'reports'}  (shopverse report --date YYYY-MM-DD)\n"
        f"  quarantine:  table quarantine (every rejected line, with its reason: shopverse sql 'SELECT * FROM quarantine')\n"
        f"  UIs:         shopverse up  → Dagster http://127.0.0.1:3000, "
        f"MLflow http://127.0.0.1:5050/#/experiments?workflowType=machine_learning, reports http://127.0.0.1:8090 "
        f"(runs are in {home})"
    )
    return 0 if ok else 1


def _record_simulated_window() -> None:
    from shopverse_platform.lib.shop import customer_window_days, shop_file, update_shop

    if customer_window_days() is None:  # a window the user set stays
        update_shop(customer_window_days=SIMULATED_CUSTOMER_WINDOW_DAYS)
    print(f"  churn and lifetime value: {customer_window_days()}-day label window of the simulated shop "
          f"(customer_window_days in {shop_file()})")


def _print_tables(warehouse) -> None:
    if not warehouse.exists():
        return
    with warehouse.connect(read_only=True) as con:
        tables = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' ORDER BY table_name"
        ).fetchall()
        print("\ntables:")
        for (name,) in tables:
            rows = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # a name DuckDB listed
            print(f"  {name:<28} {rows:>12,} rows")


def cmd_ui(args: argparse.Namespace) -> int:
    use_embedded_instance()
    # The dagster beside this interpreter, as `shopverse up` starts it: run as .venv/bin/shopverse
    # (or from make) without the environment activated, a bare "dagster" is not on the PATH.
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "dev", "-w", str(paths.PROJECT_ROOT / "workspace.yaml"), "-h", args.host, "-p", str(args.port)]
    print(f"Dagster UI on http://{args.host}:{args.port}  (DAGSTER_HOME={os.environ['DAGSTER_HOME']})", flush=True)
    # A shell starting a command in the background (`shopverse ui &`, nohup) ignores SIGINT in it,
    # and dagster dev maps SIGTERM onto SIGINT's handler: ignored too, it kept running a minute after
    # SIGTERM (measured). Default SIGINT across the exec, so Python installs its handler again.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.chdir(paths.PROJECT_ROOT)
    # This process becomes `dagster dev` (same PID): a SIGTERM or Ctrl-C sent to `shopverse ui`
    # reaches dagster dev, which stops its webserver, daemon and code server. Run as a child, the
    # wrapper died on SIGTERM and left the three of them running, orphaned.
    os.execv(command[0], command)


def _check_simulate(args: argparse.Namespace) -> None:
    check_data_dir_writable()


def _check_ui(args: argparse.Namespace) -> None:
    """The data directory takes files, and the port is free: with another program on it, dagster
    dev logged the failed bind and went on, its daemon running and its UI nowhere."""
    check_data_dir_writable()
    check_port_free(args.host, args.port, "--port")


def _run_range(args: argparse.Namespace) -> tuple[date, date]:
    last_day = args.end or yesterday()
    return last_day - timedelta(days=args.days - 1), last_day


def _check_run(args: argparse.Namespace) -> None:
    from shopverse_platform.cli.first_day import check_first_day

    check_data_dir_writable()
    first, last = _run_range(args)
    check_first_day(first, f"--days {args.days} up to {last}")
    check_configured_path("SHOPVERSE_ORDER_EXPORTS", "the order exports")
    check_currency_settings()
    if args.simulate == "never":
        check_configured_path("SHOPVERSE_LANDING_DIR", "the landing zone")


def build_parser() -> argparse.ArgumentParser:
    parser = CommandLine(prog="shopverse", description=__doc__, formatter_class=OverviewFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = add_command(sub, "simulate", "write simulated shop traffic to the landing zone",
                      "Write a deterministic simulated shop's traffic (NDJSON batches per day, optionally the classic "
                      "one-file-per-event logs), its catalogue, customers and the ground truth of injected anomalies.")
    sim.add_argument("--users", type=positive_int, default=DEFAULT_USERS, help="visitors in the population")
    sim.add_argument("--days", type=positive_int, default=DEFAULT_DAYS, help="days of traffic")
    sim.add_argument("--start", type=iso_date, default=None, help="first day, YYYY-MM-DD (default: DAYS days up to yesterday, UTC)")
    sim.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed: the same seed writes the same files")
    sim.add_argument("--gzip", action="store_true", help="write .ndjson.gz batches")
    sim.add_argument("--layout", choices=["ndjson", "logs", "both"], default="ndjson",
                     help="'logs' writes the classic logs/YYYYMMDD/<event>.json one-file-per-event folders")
    sim.add_argument("--faults", type=fraction, default=0.002, help="share of deliberately bad lines, in [0, 1)")
    sim.add_argument("--landing-dir", default=None, help="where to write (default: $SHOPVERSE_LANDING_DIR, else data/landing)")
    sim.add_argument("--quiet", action="store_true", help="no progress bar (there is none when stderr is not a terminal)")
    sim.set_defaults(func=cmd_simulate, check=_check_simulate)

    run = add_command(sub, "run", "simulate two months if needed, then materialize the whole asset graph",
                      "Build every asset for the last DAYS days up to END: the daily job over the range in one run, "
                      "then the weekly job over its complete weeks, recorded in the local Dagster instance.")
    run.add_argument("--days", type=positive_int, default=DEFAULT_DAYS, help="days to build, ending at --end")
    run.add_argument("--end", type=iso_date, default=None, help="last day, YYYY-MM-DD (default: yesterday, UTC)")
    run.add_argument("--users", type=positive_int, default=DEFAULT_USERS, help="visitors, when it simulates")
    run.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed, when it simulates")
    run.add_argument("--simulate", choices=["if-empty", "always", "never"], default="if-empty",
                     help="simulate traffic first: when the landing zone has no events, always, or never")
    run.add_argument("--reports", choices=REPORT_CHOICES, default="latest",
                     help="daily reports to write after everything else: the last day's, every day's, or none "
                          "(weekly reports always; any day later with `shopverse report --build`)")
    run.add_argument("-v", "--verbose", action="store_true", help="show Dagster's DEBUG events too (always in the UI's run page)")
    run.set_defaults(func=cmd_run, check=_check_run)

    ui = add_command(sub, "ui", "start the Dagster UI and daemon on the local instance (dagster dev)")
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on")
    ui.add_argument("--port", type=port, default=3000, help="port to listen on")
    ui.set_defaults(func=cmd_ui, check=_check_ui)

    from shopverse_platform.cli.stack_commands import add_stack_commands

    add_stack_commands(sub)

    from shopverse_platform.cli.lineage import add_lineage_commands

    add_lineage_commands(sub)

    from shopverse_platform.cli.reports import add_report_commands

    add_report_commands(sub)

    from shopverse_platform.cli.sql import add_sql_commands

    add_sql_commands(sub)

    from shopverse_platform.cli.collect import add_collect_command

    add_collect_command(sub)

    from shopverse_platform.cli.warehouse import add_warehouse_commands

    add_warehouse_commands(sub)

    from shopverse_platform.cli.celery_worker import add_celery_worker_command

    add_celery_worker_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "start", "unset") is None:
        args.start = yesterday() - timedelta(days=args.days - 1)
    return run_checked(args.func, args)


def entry() -> None:
    """The ``shopverse`` command: ``main``, then exit with its code."""
    try:
        try:
            code = main()
        finally:
            sys.stdout.flush()  # the output's last bytes written here, where a closed reader is caught
    except BrokenPipeError:
        # The reader went away (`shopverse sql ... | head`): the rest of the output has nobody to
        # read it. Exit as a command stopped by SIGPIPE does, without a traceback, stdout pointed
        # at /dev/null so that the interpreter's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 128 + signal.SIGPIPE
    # The command is done: the interpreter's teardown would now walk every object of Dagster's
    # module graph through the cyclic collector, 0.44 s per command (measured after the UCI
    # year's backfill: 0.49 s, 0.05 frozen). Frozen objects are still freed by reference counting,
    # and atexit handlers and thread joins still run; only collecting cycles is skipped, moot at
    # exit. Not in ``main``: the tests call it in a process that goes on.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
