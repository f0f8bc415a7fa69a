"""`shopverse run`: it reads the landing zone the assets read, and a failed run raises the alert
(it used to look for data in data/landing whatever $SHOPVERSE_LANDING_DIR said, and to fail silently
where `shopverse backfill` alerts)."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from shopverse_platform.cli.main import main
from shopverse_platform.lib.simulator.traffic import simulate

DAY = date(2026, 11, 9)


def test_run_reads_the_configured_landing_zone_and_alerts_when_a_run_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    landing = tmp_path / "elsewhere" / "landing"
    simulate(landing, users=30, days=1, start=DAY, seed=5, faults=0.0)
    exports = landing / "orders"
    exports.mkdir()
    (exports / "broken.csv").write_text("Order,When,What\n1,2026-11-09,a mug\n")  # not the UCI header
    monkeypatch.setenv("SHOPVERSE_LANDING_DIR", str(landing))

    code = main(["run", "--days", "1", "--end", DAY.isoformat(), "--simulate", "if-empty"])

    out = capsys.readouterr().out
    assert code == 1
    # The configured landing zone held events: nothing was simulated into the default one.
    assert not (tmp_path / "data" / "landing").exists()
    assert "simulated" not in out
    assert "ALERT" in out
    con = duckdb.connect(str(tmp_path / "data" / "warehouse" / "shopverse.duckdb"), read_only=True)
    try:
        alerts = con.execute("SELECT kind, job_name, error FROM alerts").fetchall()
        raw_event_files = con.execute("SELECT count(*) FROM raw_events").fetchone()[0]
    finally:
        con.close()
    assert [(kind, job) for kind, job, _ in alerts] == [("run_failure", "daily_job")]
    assert "InvoiceNo" in alerts[0][2]  # the error names the expected columns
    assert raw_event_files > 0  # the run read the configured landing zone
    # it recorded its first day in the (fresh) data directory: the UI's partitions start there
    assert (tmp_path / "data" / "shop.toml").read_text().splitlines()[-1] == f"first_day = {DAY.isoformat()}"


def test_a_run_whose_process_died_is_failed_by_the_next_command(tmp_path):
    """kill -9 of `shopverse run` left its run STARTED for ever; the next command waited an hour."""
    import subprocess
    import sys

    import dagster as dg

    from shopverse_platform.cli.backfill import RUNNER_TAG, runner_tag, wait_until_idle

    with dg.instance_for_test() as instance:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead_start = open(f"/proc/{dead.pid}/stat").read().rsplit(")", 1)[1].split()[19]
        dead.wait()
        host = runner_tag().split(":")[0]
        orphan = instance.create_run_for_job(
            dg.Definitions(jobs=[dg.JobDefinition(graph_def=dg.GraphDefinition("noop", node_defs=[]))]).resolve_job_def("noop"),
            tags={RUNNER_TAG: f"{host}:{dead.pid}:{dead_start}"},
        )
        mine = instance.create_run_for_job(
            dg.Definitions(jobs=[dg.JobDefinition(graph_def=dg.GraphDefinition("noop", node_defs=[]))]).resolve_job_def("noop"),
            tags={RUNNER_TAG: runner_tag()},
        )
        for run in (orphan, mine):
            instance.handle_new_event(dg.EventLogEntry(
                error_info=None, level="DEBUG", user_message="", run_id=run.run_id, timestamp=0.0,
                dagster_event=dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name="noop"),
            ))
        assert instance.get_run_by_id(orphan.run_id).status == dg.DagsterRunStatus.STARTED
        lines: list[str] = []
        with pytest.raises(TimeoutError) as waited:
            wait_until_idle(instance, timeout=0.5, echo=lines.append, poll=0.1)
        waited_for = str(waited.value)
        assert instance.get_run_by_id(orphan.run_id).status == dg.DagsterRunStatus.FAILURE
        # A live process's run is left alone: it is still the writer, the command waits for it.
        assert instance.get_run_by_id(mine.run_id).status == dg.DagsterRunStatus.STARTED
        assert mine.run_id in waited_for and orphan.run_id not in waited_for
        assert any(f"pid {dead.pid}" in line for line in lines)
