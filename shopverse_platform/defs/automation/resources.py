"""Alerting, and how runs execute: one process per run, steps one after another by default.

A DuckDB-file warehouse admits one writing process. The run queue (``dagster.yaml``) keeps runs
apart; inside a run the executor keeps steps one after another by default: with Dagster's default
multiprocess executor two independent steps (``raw_events`` and ``raw_orders``) would open the file
from two processes at once and wait for each other. A DuckLake warehouse admits several writers: a
run may then execute its independent steps in processes of their own (``multiprocess``, e.g.
``shopverse backfill --workers 2``; run_workers.py).
The executor also tags each run with its run worker's PID (run_workers.py), so that the daemon
fails the run if that process dies.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from shopverse_platform.defs.automation.run_workers import steps_executor
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib import paths
from shopverse_platform.lib.automation import alerts

DEFAULT_UI_URL = "http://127.0.0.1:3000"


class Alerting(dg.ConfigurableResource):
    """Where alerts go: a log file, the `alerts` table and, when configured, a chat webhook."""

    webhook_url: str | None = Field(
        default=None,
        description="Slack-compatible incoming webhook. Unset: $SHOPVERSE_ALERT_WEBHOOK_URL; unset too: no webhook.",
    )
    ui_url: str | None = Field(
        default=None, description=f"Base URL of the Dagster UI for run links. Unset: $SHOPVERSE_UI_URL, else {DEFAULT_UI_URL}."
    )
    log_path: str | None = Field(default=None, description="Alert log. Unset: <data>/alerts/alerts.log.")
    timeout_seconds: float = Field(default=5.0, description="Deadline for the whole webhook exchange, in seconds.")
    lock_wait_seconds: float = Field(
        default=15.0, description="How long to wait for the warehouse lock before spooling the alert row."
    )

    def resolved_webhook_url(self) -> str | None:
        return self.webhook_url or os.environ.get("SHOPVERSE_ALERT_WEBHOOK_URL") or None

    def resolved_ui_url(self) -> str:
        return self.ui_url or os.environ.get("SHOPVERSE_UI_URL") or DEFAULT_UI_URL

    def resolved_log_path(self) -> Path:
        return Path(self.log_path).resolve() if self.log_path else paths.data_dir() / "alerts" / "alerts.log"

    def run_url(self, run_id: str) -> str:
        return alerts.run_url(self.resolved_ui_url(), run_id)

    def dispatch(self, alert: alerts.Alert, warehouse: Warehouse) -> tuple[alerts.Alert, str]:
        """Log, post, store. Returns the alert with what the webhook answered, and where the row went."""
        log_path = self.resolved_log_path()
        alerts.write_log(alert, log_path)
        alert = dataclasses.replace(
            alert, webhook_status=alerts.post_webhook(alert, self.resolved_webhook_url(), self.timeout_seconds)
        )
        # Each attempt fails at once when a run holds the warehouse: write_table does its own
        # bounded waiting, then spools the row (an alert never waits for a whole run).
        stored = alerts.write_table(alert, functools.partial(warehouse.connect, wait_seconds=0),
                                    log_path.with_name("alerts.pending.ndjson"), self.lock_wait_seconds)
        return alert, stored


@dg.definitions
def automation_resources() -> dg.Definitions:
    return dg.Definitions(resources={"alerting": Alerting()}, executor=steps_executor)
