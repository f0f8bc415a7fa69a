"""Alerts on a real failing asset: the run-failure sensor (evaluated with Dagster's public run-status
context) writes the log line and the `alerts` row and posts Slack-compatible JSON to a webhook; a
locked warehouse spools the row instead of losing it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from shopverse_platform.defs.automation.resources import Alerting
from shopverse_platform.lib.automation import alerts

DAY = "2026-11-18"


@pytest.fixture
def webhook():
    """A local HTTP endpoint standing in for Slack; collects what it receives."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/shopverse", received
    server.shutdown()


def _failing_raw_orders_run(definitions, landing_dir: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """raw_orders fails on an order export without the Online Retail header."""
    orders = landing_dir / "orders"
    orders.mkdir(parents=True)
    (orders / "broken.csv").write_text("invoice,sku,when\n1,A,2026-11-18\n")
    job = definitions.resolve_implicit_global_asset_job_def().get_subset(asset_selection={dg.AssetKey("raw_orders")})
    return job.execute_in_process(instance=instance, partition_key=DAY, raise_on_error=False)


def test_failing_asset_raises_an_alert_everywhere(definitions, tmp_path, webhook, warehouse):
    url, received = webhook
    landing_dir = tmp_path / "data" / "landing"
    with dg.instance_for_test() as instance:
        result = _failing_raw_orders_run(definitions, landing_dir, instance)
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        alerting = Alerting(webhook_url=url, ui_url="http://dagster.example:3000/")
        sensor = definitions.resolve_sensor_def("run_failure_alert_sensor")
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert_sensor", dagster_event=failure, dagster_instance=instance,
            dagster_run=result.dagster_run, resources={"alerting": alerting, "warehouse": warehouse},
        ).for_run_failure()
        sensor(context)

    run_id = result.run_id
    run_url = f"http://dagster.example:3000/runs/{run_id}"
    # 1. the log
    (line,) = (tmp_path / "data" / "alerts" / "alerts.log").read_text().splitlines()
    assert f"run={run_id}" in line and "assets=raw_orders" in line and f"partition={DAY}" in line
    assert "ValueError" in line and "missing columns" in line and run_url in line
    # 2. the table
    con = duckdb.connect(str(warehouse.resolved_path()), read_only=True)
    (row,) = list(alerts.read_alerts(con))
    con.close()
    assert row["alert_id"] == f"run_failure:{run_id}" and row["assets"] == ["raw_orders"]
    assert row["partition_key"] == DAY and row["run_url"] == run_url and row["steps"] == ["raw_orders"]
    assert row["error"].startswith("ValueError: ") and "Expected header: InvoiceNo" in row["error"]
    assert row["webhook_status"] == "sent: HTTP 200"
    assert row["title"] == f"__ASSET_JOB failed: raw_orders [{DAY}]"
    # 3. the webhook: Slack-compatible JSON with the asset, partition, error and a link to the run
    (payload,) = received
    assert set(payload) == {"text", "blocks"}
    assert "raw_orders" in payload["text"] and run_url in payload["text"]
    fields = " ".join(f["text"] for f in payload["blocks"][1]["fields"])
    assert "*Asset*\nraw_orders" in fields and f"*Partition*\n{DAY}" in fields and f"<{run_url}|" in fields
    assert "missing columns" in payload["blocks"][2]["text"]["text"]
    assert payload["blocks"][3]["elements"][0]["url"] == run_url


def test_alert_without_webhook_and_range_partition(tmp_path):
    alert = alerts.Alert(
        alert_id="run_failure:r1", created_at=datetime.now(timezone.utc), kind="run_failure",
        severity="error", run_id="r1", job_name="daily_job", assets=(), partition_key=alerts.partition_of(
            {"dagster/asset_partition_range_start": "2026-11-01", "dagster/asset_partition_range_end": "2026-11-30"}),
        steps=("daily_sales",), error="boom", run_url="http://x/runs/r1")
    assert alert.partition_key == "2026-11-01..2026-11-30"
    assert alert.title == "daily_job failed: daily_sales [2026-11-01..2026-11-30]"
    assert alerts.post_webhook(alert, None, 1.0) == "no webhook configured"
    assert alerts.post_webhook(alert, "http://127.0.0.1:9/nothing-listens", 1.0).startswith("failed: ")


def test_a_webhook_that_trickles_its_answer_is_cut_at_the_deadline(tmp_path):
    """A webhook answering one byte at a time kept a failing run for a minute and was recorded as
    "sent: HTTP 200": the timeout applied to each read. It is a deadline for the whole exchange."""
    import socket
    import threading
    import time

    server = socket.create_server(("127.0.0.1", 0))
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    served = threading.Event()

    def trickle() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            for byte in answer:  # 0.25 s a byte: about 11 s in all, each read well under the timeout
                connection.sendall(bytes([byte]))
                time.sleep(0.25)
        served.set()

    threading.Thread(target=trickle, daemon=True).start()
    alert = alerts.Alert(
        alert_id="run_failure:r2", created_at=datetime.now(timezone.utc), kind="run_failure", severity="error",
        run_id="r2", job_name="daily_job", assets=(), partition_key=None, steps=(), error="boom", run_url="http://x/runs/r2")
    status = alerts.post_webhook(alert, f"http://127.0.0.1:{server.getsockname()[1]}/hook", 1.0)
    assert status == "failed: no complete answer within 1 s (deadline)"
    assert not served.is_set()  # the answer was still trickling when the alert gave up
    server.close()


def test_locked_warehouse_spools_the_row_and_the_next_alert_flushes_it(tmp_path):
    """Another process holding the DuckDB file (a run) blocks writers: the alert waits, then spools."""
    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys, time; c = duckdb.connect({str(path)!r}); print('locked', flush=True); "
                               "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(duckdb.IOException, match="lock"):  # what a second writer would hit
            duckdb.connect(str(path))

        def connect():
            return _connect(path)

        make = lambda n: alerts.Alert(f"run_failure:r{n}", datetime.now(timezone.utc), "run_failure",
                                      "error", f"r{n}", "daily_job", ("daily_sales",), DAY, ("daily_sales",), "boom", "u")
        spool = tmp_path / "alerts.pending.ndjson"
        waits: list[float] = []
        assert alerts.write_table(make(1), connect, spool, lock_wait_seconds=2, sleep=waits.append).startswith("spooled")
        assert sum(waits) >= 2 and spool.exists()
    finally:
        holder.communicate("")  # let it go
    assert alerts.write_table(make(2), connect, spool, lock_wait_seconds=2) == "written (+1 spooled)"
    assert not spool.exists()
    con = duckdb.connect(str(path), read_only=True)
    assert sorted(r["run_id"] for r in alerts.read_alerts(con)) == ["r1", "r2"]
    con.close()


def _connect(path: Path):
    from contextlib import contextmanager

    @contextmanager
    def opened():
        con = duckdb.connect(str(path))
        try:
            yield con
        finally:
            con.close()

    return opened()
