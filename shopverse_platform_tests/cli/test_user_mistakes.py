"""Every user mistake gets one line that says what is wrong and what to do, exit code 2, before any
work starts (it used to be a traceback after ~9 s of work, or a report page of NaN)."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest

from shopverse_platform.cli.main import main
from shopverse_platform.lib.paths import PROJECT_ROOT

MISTAKES = [
    (["run", "--days", "0"], "argument --days: must be 1 or more, got 0"),
    (["run", "--days", "-3"], "argument --days: must be 1 or more, got -3"),
    (["run", "--end", "2026-13-01"], "argument --end: not a date (YYYY-MM-DD): '2026-13-01'"),
    (["simulate", "--users", "0"], "argument --users: must be 1 or more, got 0"),
    (["simulate", "--days", "-5"], "argument --days: must be 1 or more, got -5"),
    (["simulate", "--faults", "2"], "argument --faults: must be at least 0 and below 1 (a share of lines), got 2"),
    (["simulate", "--faults", "-0.1"], "argument --faults: must be at least 0 and below 1"),
    (["backfill", "--start", "2026-11-10", "--end", "2026-11-01"],
     "--end 2026-11-01 is before --start 2026-11-10: the range ends before it starts"),
    (["up", "--dagster-port", "70000"], "argument --dagster-port: must be between 1 and 65535, got 70000"),
    (["ui", "--port", "http"], "argument --port: not a port number: 'http'"),
]


def _run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), MISTAKES, ids=[" ".join(a) for a, _ in MISTAKES])
def test_a_mistake_is_one_line_and_exit_code_2_before_any_work(argv, message, tmp_path, capsys):
    code, err = _run(argv, capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "data").exists()  # nothing simulated, built or started


def test_an_unwritable_data_directory_is_named(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("SHOPVERSE_DATA_DIR", str(blocker / "data"))
    for argv in (["run"], ["simulate"], ["backfill", "--start", "2026-11-01", "--end", "2026-11-02"]):
        code, err = _run(argv, capsys)
        assert code == 2, argv
        assert f"$SHOPVERSE_DATA_DIR {blocker / 'data'} is not writable" in err
        assert "point SHOPVERSE_DATA_DIR at a directory you can write" in err
        assert len(err.strip().splitlines()) == 1


def test_a_misspelt_source_path_is_named_instead_of_a_green_empty_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHOPVERSE_ORDER_EXPORTS", str(tmp_path / "exprots"))
    code, err = _run(["run", "--days", "1", "--simulate", "never"], capsys)
    assert code == 2
    assert f"$SHOPVERSE_ORDER_EXPORTS is {tmp_path / 'exprots'}, which does not exist" in err
    monkeypatch.delenv("SHOPVERSE_ORDER_EXPORTS")
    monkeypatch.setenv("SHOPVERSE_LANDING_DIR", str(tmp_path / "landnig"))
    code, err = _run(["run", "--days", "1", "--simulate", "never"], capsys)
    assert code == 2 and "$SHOPVERSE_LANDING_DIR" in err and "does not exist" in err


def test_a_report_of_a_day_without_data_says_so(tmp_path, capsys):
    warehouse = tmp_path / "data" / "warehouse" / "shopverse.duckdb"
    warehouse.parent.mkdir(parents=True)
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE TABLE raw_events AS SELECT DATE '2026-11-09' + CAST(i AS INTEGER) AS partition_date FROM range(3) t(i)")
    con.close()
    code, err = _run(["report", "--date", "2020-01-01", "--build"], capsys)
    assert code == 2
    assert "no data for 2020-01-01 in the warehouse (it holds 2026-11-09..2026-11-11)" in err
    assert "shopverse backfill --start 2020-01-01 --end 2020-01-01" in err
    assert not (tmp_path / "data" / "reports").exists()
    code, err = _run(["report", "--date", "2020-01-01", "--weekly", "--build"], capsys)
    assert code == 2 and "no data for 2019-12-30..2020-01-05" in err


def test_every_option_of_every_command_has_help_and_its_default():
    """Subcommand pages have a description, and every option a help text with its default."""
    from shopverse_platform.cli.main import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse has no public accessor
    assert set(commands) >= {"simulate", "run", "ui", "up", "down", "lineage", "report", "backfill"}
    for name, command in commands.items():
        assert command.description, name
        for action in command._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings}"
        text = command.format_help()
        if name == "run":
            assert "(default: 60)" in text and "default: yesterday, UTC" in text
        # a flag shows no default: "--no-weekly  skip the weekly job (default: True)" read as skipped
        assert "(default: True)" not in text and "(default: False)" not in text, name


def test_the_installed_command_exits_2_with_one_line():
    """The same through the real entry point, in a fresh process."""
    out = subprocess.run([sys.executable, "-m", "shopverse_platform.cli.main", "run", "--days", "0"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, env={**os.environ}, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip() == "shopverse run: argument --days: must be 1 or more, got 0 (see shopverse run --help)"


@pytest.mark.parametrize("argv", [["sql", "SELECT 1"], ["warehouse", "info"], ["warehouse", "reader-sql"],
                                  ["backfill", "--start", "2026-11-01", "--end", "2026-11-01"]], ids=" ".join)
def test_a_lake_catalog_that_cannot_be_reached_is_one_line_naming_it(argv, tmp_path, monkeypatch, capsys):
    """A PostgreSQL catalog nobody listens for (a wrong port, the server down): libpq's reason and the
    settings to look at, not an IOException's traceback; the password is never shown."""
    from shopverse_platform.lib.warehouse import lake
    from shopverse_platform_tests.conftest import free_port

    monkeypatch.setenv("SHOPVERSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", f"ducklake:postgres:dbname=lake host=127.0.0.1 port={free_port()} "
                                              "user=shop password=hunter2")
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE_DATA_PATH", str(tmp_path / "lake"))
    try:
        code, err = _run(argv, capsys)
    finally:
        lake.release_instances()
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"shopverse {argv[0]}: the lake's catalog cannot be reached: PostgreSQL dbname=lake host=127.0.0.1")
    assert "Connection refused" in err and "$PGPASSWORD" in err and "hunter2" not in err


def test_steps_at_once_need_a_lake_and_celery_a_broker_that_answers(tmp_path, monkeypatch, capsys):
    """`backfill --workers N` on a DuckDB file, `--celery` without a broker or with one nobody listens
    on: one line each, exit 2, before a run starts (they were a traceback, and a broker down a run
    that failed after 22 s of Celery's reconnecting)."""
    from shopverse_platform_tests.conftest import free_port

    monkeypatch.setenv("SHOPVERSE_DATA_DIR", str(tmp_path / "data"))
    days = ["backfill", "--start", "2026-11-01", "--end", "2026-11-01"]
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", str(tmp_path / "shopverse.duckdb"))
    code, err = _run([*days, "--workers", "2"], capsys)
    assert code == 2 and err.startswith("shopverse backfill: --workers needs a DuckLake warehouse") and err.count("\n") == 1
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}")
    monkeypatch.delenv("SHOPVERSE_CELERY_BROKER", raising=False)
    code, err = _run([*days, "--celery"], capsys)
    assert (code, err) == (2, "shopverse backfill: --celery needs SHOPVERSE_CELERY_BROKER, the broker the workers listen to\n")
    monkeypatch.setenv("SHOPVERSE_CELERY_BROKER", f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    code, err = _run([*days, "--celery"], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith("shopverse backfill: the Celery broker redis://:**@127.0.0.1:") and "Connection refused" in err


def test_a_port_another_program_holds_is_named_before_anything_starts(tmp_path, monkeypatch, capsys):
    """`shopverse ui`, `collect` and `up` on a port in use (a web app's dev server on 3000, say): dagster
    dev logged the failed bind and kept its daemon running with no UI, and `up` said it had started."""
    import signal
    import socket

    from shopverse_platform_tests.conftest import free_ports

    monkeypatch.setenv("SHOPVERSE_DATA_DIR", str(tmp_path / "data"))
    taken, mlflow, reports, collector = free_ports(4)
    for name, value in (("SHOPVERSE_MLFLOW_PORT", mlflow), ("SHOPVERSE_REPORTS_PORT", reports),
                        ("SHOPVERSE_COLLECTOR_PORT", collector)):
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with socket.socket() as other:
        other.bind(("127.0.0.1", taken))
        other.listen()
        code, err = _run(["ui", "--port", str(taken)], capsys)
        assert (code, err) == (2, f"shopverse ui: port {taken} on 127.0.0.1 is in use by another program: "
                                  "choose another with --port\n")
        code, err = _run(["collect", "--port", str(taken)], capsys)  # uvicorn logged the bind's error in 3 lines
        assert (code, err) == (2, f"shopverse collect: port {taken} on 127.0.0.1 is in use by another program: "
                                  "choose another with --port or $SHOPVERSE_COLLECTOR_PORT\n")
        handlers = [signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)]
        assert main(["up", "--dagster-port", str(taken), "--no-marquez"]) == 1
        # its signal handlers undone: left ignored, SIGTERM stayed ignored in every process started
        # after (a lake's catalog keeper then outlived its lake process, and the log with it)
        assert [signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)] == handlers
        err = capsys.readouterr().err
        assert err == (f"error: port {taken} for the Dagster UI is in use by another program "
                       "(--dagster-port or $SHOPVERSE_DAGSTER_PORT chooses another)\n")
    assert not (tmp_path / "data" / "stack" / "logs").exists() or not any((tmp_path / "data" / "stack" / "logs").iterdir())
