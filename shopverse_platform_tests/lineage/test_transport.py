"""Transport: the NDJSON default, the HTTP buffer when the backend fails, and replay without duplicates."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from openlineage.client.event_v2 import Job, Run, RunEvent, RunState

from shopverse_platform.cli.lineage import add_lineage_commands
from shopverse_platform.lib.lineage.emitter import LineageEmitter, LineageSettings
from shopverse_platform.lib.lineage.transport import LineageBuffer, event_key
from shopverse_platform_tests.conftest import free_port
from shopverse_platform_tests.lineage.support import FakeBackend, read_events


def _event(state: RunState = RunState.START, run_id: str | None = None, minute: int = 0) -> RunEvent:
    return RunEvent(
        eventType=state, eventTime=f"2024-03-05T10:{minute:02d}:00.000000Z",
        run=Run(runId=run_id or str(uuid.uuid4())), job=Job(namespace="shopverse", name="clean_events"),
        producer="urn:test",
    )


def test_without_a_url_events_go_to_the_local_file(tmp_path):
    emitter = LineageEmitter(LineageSettings.resolve(directory=tmp_path))
    first, second = _event(), _event(RunState.COMPLETE)
    assert emitter.emit(first) == "written" and emitter.emit(second) == "written"
    written = read_events(tmp_path / "events.ndjson")
    assert [e["eventType"] for e in written] == ["START", "COMPLETE"]
    assert written[0]["run"]["runId"] == first.run.runId


def test_settings_are_read_from_the_environment_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENLINEAGE_URL", "http://marquez.example:5000")
    monkeypatch.setenv("OPENLINEAGE_NAMESPACE", "shopverse_staging")
    settings = LineageSettings.resolve()
    assert (settings.url, settings.namespace) == ("http://marquez.example:5000", "shopverse_staging")
    assert settings.directory == tmp_path / "data" / "lineage"  # conftest points SHOPVERSE_DATA_DIR at tmp
    monkeypatch.delenv("OPENLINEAGE_URL")
    assert LineageSettings.resolve().url is None
    assert LineageSettings.resolve(url="http://explicit:1").url == "http://explicit:1"


def test_a_stray_openlineage_yml_does_not_redirect_or_double_send(tmp_path, monkeypatch):
    (tmp_path / "openlineage.yml").write_text(f"transport:\n  type: http\n  url: http://127.0.0.1:{free_port()}\n")
    monkeypatch.chdir(tmp_path)
    with FakeBackend() as backend:
        backend.failing = False
        emitter = LineageEmitter(LineageSettings.resolve(url=backend.url, directory=tmp_path / "lineage"))
        assert emitter.emit(_event()) == "sent"
        assert len(backend.received) == 1


def test_backend_down_buffers_then_replay_sends_each_event_once_in_order(tmp_path):
    with FakeBackend() as backend:
        emitter = LineageEmitter(LineageSettings.resolve(url=backend.url, directory=tmp_path, retry_after_seconds=0))
        run_id = str(uuid.uuid4())
        events = [_event(RunState.START, run_id, 0), _event(RunState.COMPLETE, run_id, 1), _event(RunState.START, minute=2)]
        assert [emitter.emit(e) for e in events] == ["buffered"] * 3
        assert backend.received == []
        buffer = LineageBuffer(tmp_path)
        buffer.append(json.loads(json.dumps(buffer.pending()[0])))  # the same event buffered twice
        assert len(read_events(tmp_path / "buffer.ndjson")) == 4

        failed = emitter.replay()  # still down: nothing is lost, nothing marked sent
        assert (failed.sent, failed.remaining) == (0, 3) and failed.error
        backend.failing = False
        done = emitter.replay()
        assert (done.sent, done.already_sent, done.remaining) == (3, 1, 0)
        assert [event_key(e) for e in backend.received] == [event_key(json.loads(json.dumps(_as_dict(e)))) for e in events]
        again = emitter.replay()
        assert (again.sent, again.remaining) == (0, 0)
        assert len(backend.received) == 3  # never twice
        ledger = read_events(tmp_path / "sent.ndjson")
        assert [(r["runId"], r["eventType"]) for r in ledger] == [(e.run.runId, e.eventType.value) for e in events]


def test_new_events_queue_behind_the_backlog_so_marquez_sees_them_in_order(tmp_path):
    with FakeBackend() as backend:
        emitter = LineageEmitter(LineageSettings.resolve(url=backend.url, directory=tmp_path, retry_after_seconds=0))
        run_id = str(uuid.uuid4())
        assert emitter.emit(_event(RunState.START, run_id, 0)) == "buffered"
        backend.failing = False
        assert emitter.emit(_event(RunState.COMPLETE, run_id, 1)) == "sent"  # flushes the START first
        assert [e["eventType"] for e in backend.received] == ["START", "COMPLETE"]
        assert LineageBuffer(tmp_path).pending() == []


def test_an_unreachable_backend_costs_milliseconds_and_backs_off(tmp_path):
    emitter = LineageEmitter(LineageSettings.resolve(
        url=f"http://127.0.0.1:{free_port()}", directory=tmp_path, retry_after_seconds=60,
    ))
    attempts = []
    http_emit = emitter.transport.http.emit
    emitter.transport.http.emit = lambda payload: attempts.append(payload) or http_emit(payload)
    outcomes = [emitter.emit(_event(minute=m)) for m in range(20)]
    assert outcomes == ["buffered"] * 20
    assert len(attempts) == 1  # one connection refused, then the backend is skipped: no 20 timeouts
    assert len(LineageBuffer(tmp_path).pending()) == 20
    assert (tmp_path / "http_down_until").exists()  # later emits skip the backend for a minute


def test_concurrent_writers_never_interleave_lines(tmp_path):
    script = (
        "import sys, uuid\n"
        "from openlineage.client.event_v2 import Job, Run, RunEvent, RunState\n"
        "from shopverse_platform.lib.lineage.emitter import LineageEmitter, LineageSettings\n"
        "e = LineageEmitter(LineageSettings.resolve(directory=sys.argv[1]))\n"
        "for i in range(100):\n"
        "    e.emit(RunEvent(eventType=RunState.START, eventTime='2024-03-05T10:00:00Z', producer='urn:t',\n"
        "        run=Run(runId=str(uuid.uuid4())), job=Job(namespace='shopverse', name='x' * 2000)))\n"
    )
    writers = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)]) for _ in range(2)]
    assert all(w.wait(timeout=60) == 0 for w in writers)
    assert len(read_events(tmp_path / "events.ndjson")) == 200  # every line parses


def test_cli_replay_and_status(tmp_path, capsys):
    import argparse

    parser = argparse.ArgumentParser()
    add_lineage_commands(parser.add_subparsers(dest="command", required=True))
    with FakeBackend() as backend:
        LineageEmitter(LineageSettings.resolve(url=backend.url, directory=tmp_path)).emit(_event())
        args = parser.parse_args(["lineage", "status", "--url", backend.url, "--directory", str(tmp_path)])
        assert args.func(args) == 0
        assert "1 event(s) waiting for replay" in capsys.readouterr().out
        backend.failing = False
        args = parser.parse_args(["lineage", "replay", "--url", backend.url, "--directory", str(tmp_path)])
        assert args.func(args) == 0
        assert "1 sent, 0 already sent" in capsys.readouterr().out
        assert args.func(args) == 0
        assert "0 sent" in capsys.readouterr().out
        assert len(backend.received) == 1
    args = parser.parse_args(["lineage", "replay", "--directory", str(tmp_path)])
    assert args.func(args) == 2  # no backend configured


def _as_dict(event: RunEvent) -> dict:
    from openlineage.client.serde import Serde

    return Serde.to_dict(event)
