"""`shopverse backfill`: a week of simulated history in two runs (the daily job over the range, the
weekly job over its complete week), reports for every day and the week."""

from __future__ import annotations

import argparse
from datetime import date

import dagster as dg
import duckdb

from shopverse_platform.cli.backfill import complete_weeks
from shopverse_platform.cli.reports import add_report_commands
from shopverse_platform.lib.simulator.traffic import simulate

MONDAY, SUNDAY = date(2026, 11, 9), date(2026, 11, 15)


def test_complete_weeks():
    assert complete_weeks(date(2026, 11, 1), date(2026, 11, 30)) == (date(2026, 11, 2), date(2026, 11, 23))
    assert complete_weeks(MONDAY, SUNDAY) == (MONDAY, MONDAY)
    assert complete_weeks(date(2026, 11, 10), date(2026, 11, 16)) is None  # Tuesday to Monday: no whole week


def test_backfill_command_builds_a_week_in_two_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # anything a library drops in the working directory stays in the test's folder
    landing = tmp_path / "data" / "landing"
    simulate(landing, users=60, days=7, start=MONDAY, seed=3, faults=0.0)
    parser = argparse.ArgumentParser()
    add_report_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["backfill", "--start", MONDAY.isoformat(), "--end", SUNDAY.isoformat()])
    assert args.func(args) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "daily_job 2026-11-09..2026-11-15: ok" in out and "weekly_job 2026-11-09..2026-11-09: ok" in out

    with dg.DagsterInstance.get() as instance:  # the instance in $DAGSTER_HOME: the runs show in the UI
        runs = instance.get_runs()
        assert sorted(r.job_name for r in runs) == ["daily_job", "weekly_job"]
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        assert set(instance.get_materialized_partitions(dg.AssetKey("daily_report"))) == {
            f"2026-11-{d:02d}" for d in range(9, 16)}
        assert instance.get_materialized_partitions(dg.AssetKey("weekly_report")) == {"2026-11-09"}

    con = duckdb.connect(str(tmp_path / "data" / "warehouse" / "shopverse.duckdb"), read_only=True)
    days = con.execute("SELECT count(DISTINCT partition_date) FROM raw_events").fetchone()[0]
    con.close()
    assert days == 7
    reports = tmp_path / "data" / "reports"
    assert len(list((reports / "daily").glob("*.html"))) == 7 and (reports / "weekly" / "2026-11-09.html").exists()
    assert (tmp_path / "dagster_home" / "dagster.yaml").exists()  # the shipped instance settings
