"""Where events go: Marquez over HTTP, a local NDJSON file, and the buffer in between.

- ``OPENLINEAGE_URL`` set: :class:`BufferedHttpTransport` posts each event with openlineage-python's
  HTTP transport. When the post fails the event is appended to ``buffer.ndjson`` instead, and the run
  carries on. While older events wait in the buffer, new ones queue behind them (Marquez must see
  a run's START before its COMPLETE); the next emit after ``retry_after_seconds``, or
  ``shopverse lineage replay``, sends the backlog first, in order.
- unset: :class:`NdjsonFileTransport` appends every event to ``events.ndjson``.

The buffer is append-only. Every event it sends is recorded in ``sent.ndjson`` by its
(runId, eventType, eventTime), which is what makes a replay idempotent: an event already recorded
is never posted again, however many times replay runs or however often the same line was buffered.
One ``flock`` per lineage directory serialises writers across the step processes of a run.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from openlineage.client.serde import Serde
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpConfig,
    HttpTransport,
    TokenProvider,
)
from openlineage.client.transport.transport import Config, Transport

log = logging.getLogger(__name__)

EVENTS_FILE = "events.ndjson"
BUFFER_FILE = "buffer.ndjson"
SENT_FILE = "sent.ndjson"
DOWN_MARKER = "http_down_until"
LOCK_FILE = ".lock"

EventKey = tuple[str, str, str]


def event_key(event: dict) -> EventKey:
    """The identity of an event: a run has one event of each type at a given time."""
    return (str(event["run"]["runId"]), str(event.get("eventType")), str(event["eventTime"]))


def to_dict(event: Any) -> dict:
    return event if isinstance(event, dict) else Serde.to_dict(event)


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _append_line(path: Path, payload: dict) -> None:
    line = json.dumps(payload, sort_keys=True, separators=(",", ":")) + "\n"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def _read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    events = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            # A torn last line (machine died mid-write) must not block every later replay.
            log.warning("skipping unreadable line %d of %s", number, path)
    return events


@dataclass
class ReplayResult:
    sent: int = 0
    already_sent: int = 0  # buffered lines skipped because the ledger has them (duplicates)
    remaining: int = 0  # still buffered after a failure
    error: str | None = None


class LineageBuffer:
    """``buffer.ndjson`` + the ``sent.ndjson`` ledger in one directory. Callers hold :func:`locked`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.buffer_path = directory / BUFFER_FILE
        self.sent_path = directory / SENT_FILE

    def append(self, event: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        _append_line(self.buffer_path, event)

    def sent_keys(self) -> set[EventKey]:
        return {(e["runId"], e["eventType"], e["eventTime"]) for e in _read_lines(self.sent_path)}

    def pending(self) -> list[dict]:
        """Buffered events not yet sent, oldest first, each once."""
        sent = self.sent_keys()
        seen: set[EventKey] = set()
        pending = []
        for event in _read_lines(self.buffer_path):
            key = event_key(event)
            if key in sent or key in seen:
                continue
            seen.add(key)
            pending.append(event)
        return pending

    def has_pending(self) -> bool:
        return self.buffer_path.exists() and self.buffer_path.stat().st_size > 0 and bool(self.pending())

    def replay(self, send: Callable[[dict], Any]) -> ReplayResult:
        """Send pending events in order; stop at the first failure (order matters to Marquez)."""
        result = ReplayResult()
        buffered = _read_lines(self.buffer_path)
        pending = self.pending()
        result.already_sent = len(buffered) - len(pending)
        for index, event in enumerate(pending):
            try:
                send(event)
            except Exception as error:  # noqa: BLE001 - any transport error leaves the rest buffered
                result.error = f"{type(error).__name__}: {error}"
                result.remaining = len(pending) - index
                return result
            run_id, event_type, event_time = event_key(event)
            _append_line(self.sent_path, {
                "runId": run_id, "eventType": event_type, "eventTime": event_time,
                "job": f"{event['job']['namespace']}/{event['job']['name']}",
                "sentAt": datetime.now(timezone.utc).isoformat(),
            })
            result.sent += 1
        if buffered:
            # Everything is recorded in the ledger now: empty the buffer so it does not grow forever.
            self.buffer_path.write_text("")
        return result


class NdjsonFileTransport(Transport):
    """The embedded default: append every event to ``<lineage dir>/events.ndjson``."""

    kind = "shopverse_ndjson"
    config_class = Config

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / EVENTS_FILE
        self.last_outcome = ""

    def emit(self, event: Any) -> str:
        with locked(self.directory):
            _append_line(self.path, to_dict(event))
        self.last_outcome = "written"
        return self.last_outcome


class BufferedHttpTransport(Transport):
    """HTTP to an OpenLineage backend; the local buffer whenever that fails."""

    kind = "shopverse_buffered_http"
    config_class = HttpConfig

    def __init__(
        self, url: str, directory: Path, *, api_key: str | None = None, timeout: float = 5.0,
        endpoint: str = "api/v1/lineage", retry_after_seconds: float = 60.0,
    ) -> None:
        self.directory = directory
        self.buffer = LineageBuffer(directory)
        self.retry_after_seconds = retry_after_seconds
        self.last_outcome = ""
        self.http = HttpTransport(HttpConfig(
            url=url, endpoint=endpoint, timeout=timeout,
            auth=ApiKeyTokenProvider({"apiKey": api_key}) if api_key else TokenProvider({}),
            # One quick attempt: an unreachable backend must cost a run milliseconds, not retries.
            retry={"total": 0, "connect": 0, "read": 0, "status": 0},
        ))

    def emit(self, event: Any) -> str:
        """'sent' or 'buffered'. Never raises for backend trouble."""
        self.last_outcome = self._emit(to_dict(event))
        return self.last_outcome

    def _emit(self, payload: dict) -> str:
        with locked(self.directory):
            if self._backend_marked_down():
                self.buffer.append(payload)
                return "buffered"
            if self.buffer.has_pending() and self.buffer.replay(self.http.emit).remaining:
                self._mark_down()
                self.buffer.append(payload)
                return "buffered"
            try:
                self.http.emit(payload)
            except Exception as error:  # noqa: BLE001 - lineage must never break a pipeline
                log.warning("OpenLineage backend unreachable (%s); event buffered in %s", error, self.buffer.buffer_path)
                self._mark_down()
                self.buffer.append(payload)
                return "buffered"
            return "sent"

    def replay(self) -> ReplayResult:
        with locked(self.directory):
            result = self.buffer.replay(self.http.emit)
            if result.remaining:
                self._mark_down()
            else:
                (self.directory / DOWN_MARKER).unlink(missing_ok=True)
            return result

    def _backend_marked_down(self) -> bool:
        marker = self.directory / DOWN_MARKER
        try:
            return time.time() < float(marker.read_text())
        except (FileNotFoundError, ValueError):
            return False

    def _mark_down(self) -> None:
        (self.directory / DOWN_MARKER).write_text(str(time.time() + self.retry_after_seconds))
