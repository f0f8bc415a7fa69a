"""`shopverse run`: it reads the landing zone the assets read, and a failed run raises the alert
(it used to look for data in data/landing whatever $SHOPVERSE_LANDING_DIR said, and to fail silently
where `shopverse backfill` alerts)."""

from __future__ import annotations

from datetime import date

import duckdb

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
