"""Alerts: what a failed run tells people, and the three places it goes.

1. ``data/alerts/alerts.log``: one line per alert, always written first (it cannot be refused).
2. A webhook, when one is configured: Slack-compatible JSON (``text`` + ``blocks``; Mattermost and
   most chat tools accept the same shape).
3. The ``alerts`` table in the warehouse. DuckDB admits one writing process: when a run holds the
   file, the writer retries for a while, then spools the row to ``alerts.pending.ndjson``; the next
   alert that gets the lock inserts the spooled rows first. Inserts are idempotent (one row per
   alert id), so a replayed alert never shows twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from shopverse_platform.lib.warehouse.sql import load_sql

# The columns of the ``alerts`` table (alerts_ddl.sql), in order: an alert's row and what
# ``read_alerts`` returns.
ALERT_COLUMNS = ("alert_id", "created_at", "kind", "severity", "title", "run_id", "job_name", "assets",
                 "partition_key", "steps", "error", "run_url", "webhook_status")
MAX_ERROR_CHARS = 2000
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class Alert:
    alert_id: str
    created_at: datetime
    kind: str
    severity: str
    run_id: str
    job_name: str
    assets: tuple[str, ...]
    partition_key: str | None
    steps: tuple[str, ...]
    error: str
    run_url: str
    webhook_status: str = field(default="not sent", compare=False)

    @property
    def title(self) -> str:
        what = ", ".join(self.assets) if self.assets else (", ".join(self.steps) or "the run")
        where = f" [{self.partition_key}]" if self.partition_key else ""
        return f"{self.job_name} failed: {what}{where}"

    def log_line(self) -> str:
        error = " ".join(self.error.split())[:500]
        return (f"{self.created_at.isoformat(timespec='seconds')} {self.severity.upper()} {self.kind} "
                f"run={self.run_id} job={self.job_name} assets={','.join(self.assets) or '-'} "
                f"partition={self.partition_key or '-'} error={error!r} url={self.run_url}")

    def slack_payload(self) -> dict:
        """Slack incoming-webhook JSON: a plain ``text`` fallback and a few blocks."""
        fields = [
            {"type": "mrkdwn", "text": f"*Job*\n{self.job_name}"},
            {"type": "mrkdwn", "text": f"*Asset*\n{', '.join(self.assets) or '-'}"},
            {"type": "mrkdwn", "text": f"*Partition*\n{self.partition_key or '-'}"},
            {"type": "mrkdwn", "text": f"*Run*\n<{self.run_url}|{self.run_id[:8]}>"},
        ]
        return {
            "text": f":rotating_light: {self.title}: {self.error.splitlines()[0] if self.error else ''} {self.run_url}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": self.title[:150]}},
                {"type": "section", "fields": fields},
                {"type": "section", "text": {"type": "mrkdwn", "text": f"```{self.error[:2900]}```"}},
                {"type": "actions", "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open the run"}, "url": self.run_url}
                ]},
            ],
        }

    def row(self) -> dict:
        values = asdict(self)
        values["title"] = self.title
        values["assets"] = list(self.assets)
        values["steps"] = list(self.steps)
        values["created_at"] = self.created_at.astimezone(timezone.utc).replace(tzinfo=None).isoformat()
        return {name: values[name] for name in ALERT_COLUMNS}


def partition_of(tags: Mapping[str, str]) -> str | None:
    """The run's partition, or its range (``first..last``) for a single-run backfill."""
    if tags.get("dagster/partition"):
        return tags["dagster/partition"]
    if tags.get(RANGE_START_TAG):
        return f"{tags[RANGE_START_TAG]}..{tags.get(RANGE_END_TAG, '?')}"
    return None


def run_url(ui_url: str, run_id: str) -> str:
    return f"{ui_url.rstrip('/')}/runs/{run_id}"


def error_text(class_name: str | None, message: str | None) -> str:
    message = (message or "").strip()
    text = f"{class_name}: {message}" if class_name and not message.startswith(class_name) else message
    return text[:MAX_ERROR_CHARS]


def _root_error(error) -> tuple[str | None, str | None]:
    """The innermost cause of a Dagster error info: the user's exception, not Dagster's wrapper."""
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    return (error.cls_name, error.message) if error is not None else (None, None)


def run_failure_alert(run, step_failure_events, fallback_message: str | None, ui_url: str,
                      failed_checks: Sequence[str] = ()) -> Alert:
    """The alert of a failed run (a ``DagsterRun`` and its ``STEP_FAILURE`` events): failing assets
    and steps, partition, root error and the link to the run in the UI. ``failed_checks``: the
    findings of the checks that failed it (``check_name: finding``), first in the error: Dagster's
    own error for a blocking check names the check only."""
    steps, errors = [], list(failed_checks)
    for event in step_failure_events:
        steps.append(event.step_key)
        data = event.step_failure_data
        if data is not None and data.error is not None:
            errors.append(error_text(*_root_error(data.error)))
    if not errors:
        errors.append(fallback_message or "run failed")
    by_step = {key.to_python_identifier(): key.to_user_string() for key in (run.asset_selection or [])}
    return Alert(
        alert_id=f"run_failure:{run.run_id}",
        created_at=datetime.now(timezone.utc),
        kind="run_failure",
        severity="error",
        run_id=run.run_id,
        job_name=run.job_name,
        assets=tuple(dict.fromkeys(by_step.get(step, step) for step in steps)),
        partition_key=partition_of(run.tags),
        steps=tuple(steps),
        error="\n".join(dict.fromkeys(errors)),
        run_url=run_url(ui_url, run.run_id),
    )


def sensor_failure_alert(sensor: str, error: BaseException, ui_url: str) -> Alert:
    """The alert of a sensor whose tick raised: nothing it watches starts a run until it is fixed,
    and no run fails to say so."""
    now = datetime.now(timezone.utc)
    return Alert(
        alert_id=f"sensor_failure:{sensor}:{now.isoformat(timespec='seconds')}", created_at=now, kind="sensor_failure",
        severity="error", run_id="", job_name=sensor, assets=(), partition_key=None, steps=("its tick",),
        error=error_text(type(error).__name__, str(error)), run_url=f"{ui_url.rstrip('/')}/overview/automation",
    )


def sensor_failure_is_new(marker: Path, error: BaseException) -> bool:
    """True (and remembered in ``marker``) when this failure differs from the one last alerted: a
    sensor failing every 30 seconds alerts once per distinct error, not once per tick."""
    signature = error_text(type(error).__name__, str(error))
    try:
        if marker.read_text(encoding="utf-8") == signature:
            return False
    except FileNotFoundError:
        pass
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(signature, encoding="utf-8")
    return True


def write_log(alert: Alert, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(alert.log_line() + "\n")


def post_webhook(alert: Alert, url: str | None, timeout: float) -> str:
    """POST the Slack payload; returns what happened (never raises: an alert must not fail twice).

    ``timeout`` is a deadline for the whole exchange, not per socket read: a webhook that answers a
    byte at a time would otherwise hold the failing run (and the one-run queue) for as long as it
    likes. The request runs in a daemon thread; past the deadline it is abandoned and reported."""
    if not url:
        return "no webhook configured"
    import threading

    import requests

    outcome: list[str] = []

    def post() -> None:
        try:
            response = requests.post(url, json=alert.slack_payload(), timeout=timeout)
        except requests.RequestException as error:
            outcome.append(f"failed: {type(error).__name__}: {error}"[:300])
            return
        outcome.append(f"sent: HTTP {response.status_code}" if response.ok
                       else f"failed: HTTP {response.status_code} {response.text[:200]}")

    worker = threading.Thread(target=post, name="alert-webhook", daemon=True)
    worker.start()
    worker.join(timeout)
    return outcome[0] if outcome else f"failed: no complete answer within {timeout:g} s (deadline)"


def _is_lock_error(error: Exception) -> bool:
    return isinstance(error, duckdb.IOException) and "lock" in str(error).lower()


def _insert(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    con.execute(load_sql(__file__, "alerts_ddl"))
    for row in rows:
        con.execute(load_sql(__file__, "insert_alert"), {c: row[c] for c in ALERT_COLUMNS})


def write_table(
    alert: Alert,
    connect: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    spool: Path,
    lock_wait_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Insert the alert (and any spooled ones) into ``alerts``; spool it when the warehouse stays locked."""
    pending = _read_spool(spool)
    rows = [*pending, alert.row()]
    waited, delay = 0.0, 0.5
    while True:
        try:
            with connect() as con:
                _insert(con, rows)
            if pending:
                spool.unlink(missing_ok=True)
            return "written" if not pending else f"written (+{len(pending)} spooled)"
        except Exception as error:  # noqa: BLE001 - decide below whether to retry
            if not _is_lock_error(error):
                raise
            if waited >= lock_wait_seconds:
                _append_spool(spool, alert.row())
                return f"spooled: warehouse locked for {waited:.0f}s"
            sleep(delay)
            waited += delay
            delay = min(delay * 2, 4.0)


def _read_spool(spool: Path) -> list[dict]:
    if not spool.exists():
        return []
    return [json.loads(line) for line in spool.read_text(encoding="utf-8").splitlines() if line.strip()]


def _append_spool(spool: Path, row: dict) -> None:
    spool.parent.mkdir(parents=True, exist_ok=True)
    with spool.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")


def read_alerts(con: duckdb.DuckDBPyConnection) -> Iterator[dict]:
    """Every stored alert, newest first (for reports and tests)."""
    cursor = con.execute(load_sql(__file__, "stored_alerts"))
    for values in cursor.fetchall():
        yield dict(zip(ALERT_COLUMNS, values))
