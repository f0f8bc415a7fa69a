"""`shopverse backfill`: a week of simulated history in three runs (the daily job over the range, the
weekly job over its complete week, then the last day's report), reports for the last day and the week."""

from __future__ import annotations

import argparse
import re
from datetime import date

import dagster as dg
import duckdb
import yaml

from shopverse_platform.cli.backfill import complete_weeks
from shopverse_platform.cli.reports import add_report_commands
from shopverse_platform.lib.paths import PROJECT_ROOT
from shopverse_platform.lib.simulator.traffic import simulate

MONDAY, SUNDAY = date(2026, 11, 9), date(2026, 11, 15)


def test_complete_weeks():
    assert complete_weeks(date(2026, 11, 1), date(2026, 11, 30)) == (date(2026, 11, 2), date(2026, 11, 23))
    assert complete_weeks(MONDAY, SUNDAY) == (MONDAY, MONDAY)
    assert complete_weeks(date(2026, 11, 10), date(2026, 11, 16)) is None  # Tuesday to Monday: no whole week


def test_backfill_command_builds_a_week_then_its_last_report(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # anything a library drops in the working directory stays in the test's folder
    landing = tmp_path / "data" / "landing"
    simulate(landing, users=60, days=7, start=MONDAY, seed=3, faults=0.0)
    parser = argparse.ArgumentParser()
    add_report_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["backfill", "--start", MONDAY.isoformat(), "--end", SUNDAY.isoformat()])
    assert args.func(args) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "daily_job 2026-11-09..2026-11-15: ok" in out and "weekly_job 2026-11-09..2026-11-09: ok" in out
    # progress: a line per finished step of each run, counted against the run's steps
    daily_part = out.split("daily_job 2026-11-09..2026-11-15: running", 1)[1].split("daily_job 2026-11-09..2026-11-15: ok", 1)[0]
    steps = re.findall(r"^  \[(\d+)/(\d+)\] (\S+) (ok|FAILED|skipped) in \d+\.\ds · \d+:\d\d elapsed$", daily_part, re.M)
    assert [int(done) for done, *_ in steps] == list(range(1, len(steps) + 1))
    assert {int(total) for _, total, *_ in steps} == {len(steps)} and all(o == "ok" for *_, o in steps)
    assert {"raw_events", "clean_events", "order_lines", "daily_sales"} <= {name for _, _, name, _ in steps}
    assert "daily_report" not in {name for _, _, name, _ in steps}  # written after the weekly job
    # the daily report comes last, after the weekly job built the segments it shows
    assert out.index("weekly_job 2026-11-09..2026-11-09: ok") < out.index("daily reports 2026-11-15..2026-11-15: ok")

    with dg.DagsterInstance.get() as instance:  # the instance in $DAGSTER_HOME: the runs show in the UI
        runs = sorted(instance.get_runs(), key=lambda r: instance.get_run_record_by_id(r.run_id).create_timestamp)
        assert [r.job_name for r in runs] == ["daily_job", "weekly_job", "daily_job"]
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        # Recorded under the workspace's code location, like a run launched from the UI: the
        # Overview timeline and the run list's code-location filter (the .dagster/repository tag) find them.
        location = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text())["load_from"][0]["python_module"]
        label = f"__repository__@{location['location_name']}"
        for run in runs:
            assert run.remote_job_origin is not None, "a CLI run without a code location: the Overview timeline misses it"
            assert (run.remote_job_origin.location_name, run.remote_job_origin.repository_origin.repository_name,
                    run.remote_job_origin.job_name) == (location["location_name"], "__repository__", run.job_name)
            assert run.job_code_origin.repository_origin.code_pointer.module == location["module_name"]
        in_location = instance.get_runs(filters=dg.RunsFilter(tags={".dagster/repository": label}))
        assert sorted(r.run_id for r in in_location) == sorted(r.run_id for r in runs)
        # --reports latest (the default): one daily report, the last day's; the range's run built none
        assert set(instance.get_materialized_partitions(dg.AssetKey("daily_report"))) == {"2026-11-15"}
        assert instance.get_materialized_partitions(dg.AssetKey("weekly_report")) == {"2026-11-09"}

    con = duckdb.connect(str(tmp_path / "data" / "warehouse" / "shopverse.duckdb"), read_only=True)
    days = con.execute("SELECT count(DISTINCT partition_date) FROM raw_events").fetchone()[0]
    con.close()
    assert days == 7
    reports = tmp_path / "data" / "reports"
    assert [p.name for p in (reports / "daily").glob("*.html")] == ["2026-11-15.html"]
    assert (reports / "weekly" / "2026-11-09.html").exists()
    last = (reports / "daily" / "2026-11-15.md").read_text()
    assert "- Customer segments:" not in last and "## Insights" in last  # nothing listed as missing for segments
    assert (tmp_path / "dagster_home" / "dagster.yaml").exists()  # the shipped instance settings

    # `report --build` of a day the backfill left without a report: its run is in the code location too
    args = parser.parse_args(["report", "--date", "2026-11-13", "--build"])
    assert args.func(args) == 0, capsys.readouterr().out
    assert (reports / "daily" / "2026-11-13.html").exists()
    with dg.DagsterInstance.get() as instance:
        [report_run] = [r for r in instance.get_runs() if r.tags.get("shopverse/trigger") == "cli_report"]
        assert report_run.status == dg.DagsterRunStatus.SUCCESS and report_run.tags["dagster/partition"] == "2026-11-13"
        assert report_run.remote_job_origin.location_name == location["location_name"]
        assert report_run.run_id in {r.run_id for r in instance.get_runs(filters=dg.RunsFilter(tags={".dagster/repository": label}))}
        assert instance.get_materialized_partitions(dg.AssetKey("daily_report")) == {"2026-11-13", "2026-11-15"}
    # the weekly one too (a weekly partition of the same asset job)
    (reports / "weekly" / "2026-11-09.html").unlink()
    args = parser.parse_args(["report", "--date", "2026-11-11", "--weekly", "--build"])
    assert args.func(args) == 0, capsys.readouterr().out
    assert (reports / "weekly" / "2026-11-09.html").exists()
    with dg.DagsterInstance.get() as instance:
        weekly_run = next(r for r in instance.get_runs(limit=1))
        assert (weekly_run.tags["dagster/partition"], weekly_run.status) == ("2026-11-09", dg.DagsterRunStatus.SUCCESS)
        assert weekly_run.remote_job_origin.location_name == location["location_name"]


def test_backfill_select_builds_only_the_selected_assets(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    simulate(tmp_path / "data" / "landing", users=40, days=3, start=MONDAY, seed=5, faults=0.0)
    parser = argparse.ArgumentParser()
    add_report_commands(parser.add_subparsers(dest="command"))
    last = date(2026, 11, 11)
    args = parser.parse_args(["backfill", "--start", MONDAY.isoformat(), "--end", last.isoformat(),
                              "--select", "+key:daily_sales"])
    assert args.func(args) == 0, capsys.readouterr().out
    upstream = {"raw_events", "clean_events", "raw_orders", "clean_order_lines", "order_lines", "orders", "daily_sales"}
    with dg.DagsterInstance.get() as instance:
        assert [r.job_name for r in instance.get_runs()] == ["daily_job"]  # no weekly job, no report run
        built = {key.to_user_string() for key in instance.get_asset_keys()
                 if instance.get_materialized_partitions(key)}
        assert built == upstream
        assert instance.get_materialized_partitions(dg.AssetKey("daily_sales")) == {"2026-11-09", "2026-11-10", "2026-11-11"}
    con = duckdb.connect(str(tmp_path / "data" / "warehouse" / "shopverse.duckdb"), read_only=True)
    tables = {name for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    sales_days, orders = con.execute("SELECT count(*), sum(orders) FROM daily_sales").fetchone()
    # every simulated purchase is an order (no faults injected): counted from the cleaned events
    expected_orders = con.execute(
        "SELECT count(DISTINCT transaction_id) FROM clean_events WHERE event_name = 'purchase'").fetchone()[0]
    con.close()
    assert "sessions" not in tables and "daily_traffic" not in tables
    assert sales_days == 3 and orders == expected_orders


def _reconstruct_daily_job_after(importing: str, recorded: str, home) -> dict:
    """In a fresh interpreter (``DAGSTER_HOME``: ``home``), run ``importing`` (Python statements), then
    reconstruct ``daily_job`` as a step's process or a Celery task does, with the definitions' build
    made to fail: it succeeds only if the import built them. Returns the job's name (``job``) and the
    value of the expression ``recorded`` (``recorded``)."""
    import json
    import os
    import subprocess
    import sys

    probe = (f"import json, os, sys, importlib; {importing}; "
             "import dagster; dagster.load_from_defs_folder = None; "
             "from dagster._core.definitions.reconstruct import ReconstructableRepository; "
             "job = ReconstructableRepository.for_module('shopverse_platform.definitions', 'defs', os.getcwd())"
             ".get_reconstructable_job('daily_job').get_definition(); "
             f"print(json.dumps({{'job': job.name, 'recorded': {recorded}}}))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "DAGSTER_HOME": str(home)})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_step_processes_forkserver_preloads_the_code_location_and_the_instance(tmp_path):
    """`--workers N` forks each step's process from a server that imported the code location (every
    module of defs/) and the classes the instance's dagster.yaml names, once (cli/step_processes.py):
    importing it in a fresh interpreter loads them, and the executor config names it. It builds the
    definitions too: a step's process reconstructs the run's job from them without building them
    again (where each step rebuilt them, ~0.35 s)."""
    from shopverse_platform.cli.backfill import step_execution
    from shopverse_platform.defs.automation.run_workers import STEP_PROCESS_PRELOAD

    home = tmp_path / "instance_of_the_step_processes"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text())
    probed = _reconstruct_daily_job_after(
        f"before = set(sys.modules); importlib.import_module({STEP_PROCESS_PRELOAD!r}); "
        "loaded = sorted(set(sys.modules) - before)", "loaded", home)
    assert probed["job"] == "daily_job"
    loaded = set(probed["recorded"])
    defs_folder = PROJECT_ROOT / "shopverse_platform" / "defs"
    on_disk = {".".join(("shopverse_platform", "defs", *path.relative_to(defs_folder).with_suffix("").parts)).removesuffix(".__init__")
               for path in defs_folder.rglob("*.py")}
    assert len(on_disk) > 30 and on_disk <= loaded, sorted(on_disk - loaded)
    named = yaml.safe_load((home / "dagster.yaml").read_text())
    assert named["run_launcher"]["module"] in loaded and named["event_log_storage"]["module"] in loaded
    assert "dagster._core.storage.runs" in loaded  # the run storage Dagster defaults to when the file names none
    assert step_execution(2, celery=False)["multiprocess"]["start_method"] == {
        "forkserver": {"preload_modules": [STEP_PROCESS_PRELOAD]}}


def test_celery_workers_fork_their_pool_from_a_process_that_built_the_definitions(tmp_path):
    """`shopverse celery-worker` runs Celery on cli/celery_app.py: dagster-celery's app and tasks, with
    the code location imported and its definitions built in the worker's main process, which Celery's
    pool processes are forked from (each pool process imported and built them on its first task:
    4.7-4.8 s before the first step on each worker of the Celery test's backfill, 0.5-0.8 s since).
    A task reconstructing the run's job then finds them built: doing it again would fail here."""
    from shopverse_platform.cli.celery_worker import worker_command

    command = worker_command("w1@test", 1, "INFO")
    app_module = command[command.index("-A") + 1]
    home = tmp_path / "instance"
    home.mkdir()
    probed = _reconstruct_daily_job_after(f"app = importlib.import_module({app_module!r}).app",
                                          "sorted(t for t in app.tasks if not t.startswith('celery.'))", home)
    assert probed["job"] == "daily_job"
    tasks = set(probed["recorded"])
    assert {"execute_plan", "execute_job", "resume_job"} <= tasks, tasks  # dagster-celery's, by name


def test_step_processes_share_the_cores_among_the_workers(tmp_path, monkeypatch):
    """A run whose executor runs N steps at once in processes (``multiprocess``: `--workers N`, or the
    UI's launchpad) gives each step's DuckDB the cores divided among the N (at least one; Dagster's
    default N is a process per core): DuckDB starts a thread per core in every process. Steps in the
    run's own process, Celery's workers (other machines) and threads chosen by
    $SHOPVERSE_DUCKDB_THREADS or the resource's config are left alone; the variable sets every
    connection's threads. (A real run's steps: test_run_workers.py.)"""
    import os
    from types import SimpleNamespace

    from shopverse_platform.defs.resources import THREADS_VARIABLE, Warehouse, steps_at_once

    def threads(warehouse: Warehouse, execution: dict | None) -> int:
        run = SimpleNamespace(run_config={"execution": {"config": execution}} if execution else {})
        warehouse.setup_for_execution(SimpleNamespace(run=run, log=None))
        with warehouse.connect() as con:
            return con.execute("SELECT current_setting('threads')").fetchone()[0]

    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert [steps_at_once({"execution": {"config": {"multiprocess": {"max_concurrent": n}}}}) for n in (2, 3, 0)] == [2, 3, 8]
    assert steps_at_once({"execution": {"config": {"multiprocess": {}}}}) == 8
    assert steps_at_once({"execution": {"config": {"in_process": {}}}}) is None
    assert steps_at_once({"execution": {"config": {"celery": {"broker": "redis://x"}}}}) is None
    assert steps_at_once({}) is None and steps_at_once(None) is None
    file = str(tmp_path / "w.duckdb")
    assert threads(Warehouse(path=file), {"multiprocess": {"max_concurrent": 2}}) == 4
    assert threads(Warehouse(path=file), {"multiprocess": {"max_concurrent": 3}}) == 2
    assert threads(Warehouse(path=file), {"multiprocess": {"max_concurrent": 16}}) == 1
    assert threads(Warehouse(path=file), {"multiprocess": {}}) == 1  # a process per core: one thread each
    # DuckDB's own default (a thread per core it sees) where nothing is divided
    default = threads(Warehouse(path=file), None)
    assert threads(Warehouse(path=file), {"in_process": {}}) == default
    assert threads(Warehouse(path=file, threads=3), {"multiprocess": {"max_concurrent": 2}}) == 3  # the run config's choice
    monkeypatch.setenv(THREADS_VARIABLE, "3")
    assert threads(Warehouse(path=file), {"multiprocess": {"max_concurrent": 2}}) == 3
    with Warehouse(path=file).connect() as con:
        assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 3
