"""The collector's parts without a server: the landing writer (rolls, recovery, hidden open files),
the Measurement Protocol mapping, settings, the rate limiter and the metrics."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from shopverse_platform.lib.automation import landing_scan
from shopverse_platform.lib.cleaning.event_validation import validate_event
from shopverse_platform.lib.ingestion import landing
from shopverse_platform.lib.ingestion.collector import mp
from shopverse_platform.lib.ingestion.collector.app import RateLimiter
from shopverse_platform.lib.ingestion.collector.settings import CollectorSettings, SettingsError
from shopverse_platform.lib.ingestion.collector.spool import Spool

DAY = date(2026, 12, 4)
NOON = datetime(2026, 12, 4, 12, tzinfo=timezone.utc).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _line(i: int) -> bytes:
    return json.dumps({"event_id": f"e{i}", "n": i}).encode() + b"\n"


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _run(coro):
    return asyncio.run(coro)


def test_spool_rolls_by_size_into_sorted_visible_files(tmp_path: Path) -> None:
    clock = Clock(NOON)
    spool = Spool(tmp_path / "events", roll_seconds=3600, roll_bytes=100, clock=clock)

    async def go():
        await spool.start()
        for i in range(10):  # each line is about 25 bytes: a roll every 4 lines
            await spool.append(DAY, _line(i), 1)
        await spool.close()

    _run(go())
    files = _visible(tmp_path / "events" / DAY.isoformat())
    assert len(files) >= 3
    assert all(p.name.startswith("collector-") and p.name.endswith(".ndjson") for p in files)
    lines = [json.loads(line)["n"] for p in files for line in p.read_text().splitlines()]
    assert lines == list(range(10))  # name order is write order
    assert all(p.stat().st_size > 0 for p in files)
    assert not [p for p in (tmp_path / "events" / DAY.isoformat()).iterdir() if p.name.startswith(".")]


def test_spool_rolls_by_time_and_at_the_day_change(tmp_path: Path) -> None:
    clock = Clock(NOON)
    spool = Spool(tmp_path / "events", roll_seconds=30, roll_bytes=1 << 30, clock=clock)
    folder = tmp_path / "events" / DAY.isoformat()

    async def go():
        await spool.start()
        await spool.append(DAY, _line(1), 1)
        assert _visible(folder) == [] and spool.open_files == 1
        clock.now += 31
        spool._wake.set()  # the writer's timer, without waiting for it
        for _ in range(100):
            await asyncio.sleep(0.01)
            if _visible(folder):
                break
        assert len(_visible(folder)) == 1 and spool.open_files == 0
        # a line of the day that is about to end; then midnight passes: the file is published
        clock.now = datetime(2026, 12, 4, 23, 59, 59, tzinfo=timezone.utc).timestamp()
        await spool.append(DAY, _line(2), 1)
        clock.now += 2
        spool._wake.set()
        for _ in range(100):
            await asyncio.sleep(0.01)
            if len(_visible(folder)) == 2:
                break
        assert len(_visible(folder)) == 2 and spool.open_files == 0
        await spool.close()

    _run(go())
    assert [json.loads(p.read_text())["n"] for p in _visible(folder)] == [1, 2]


def test_spool_recovers_a_crashed_writers_file_cut_after_its_last_line(tmp_path: Path) -> None:
    folder = tmp_path / "events" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / ".collector-otherhost-999999-1.ndjson.open").write_bytes(_line(1) + _line(2) + b'{"event_id": "e3", "n"')
    (folder / ".collector-otherhost-999999-2.ndjson.open").write_bytes(b'{"partial')  # no complete line
    spool = Spool(tmp_path / "events", clock=Clock(NOON))
    rolled = spool.recover()
    assert len(rolled) == 1
    assert [p.name for p in folder.iterdir()] == [rolled[0].name]
    assert rolled[0].name.startswith("collector-") and "-otherhost-999999-1.ndjson" in rolled[0].name
    assert rolled[0].read_bytes() == _line(1) + _line(2)


def test_open_files_are_invisible_to_the_raw_layer_and_the_landing_sensor(tmp_path: Path) -> None:
    root = tmp_path / "landing"
    spool = Spool(root / "events", roll_seconds=3600, clock=Clock(NOON))
    folder = root / "events" / DAY.isoformat()

    async def go():
        await spool.start()
        await spool.append(DAY, _line(1), 1)
        (open_file,) = folder.iterdir()
        assert open_file.name.startswith(".collector-") and open_file.name.endswith(".open")
        assert landing.event_files(root / "events", root / "logs", DAY, date(2026, 12, 5)) == []
        seen = landing_scan.scan(root, None, time.time() + 60, 0)
        assert DAY not in seen.days and DAY not in seen.unsettled_days
        await spool.close()

    _run(go())
    (published,) = landing.event_files(root / "events", root / "logs", DAY, date(2026, 12, 5))
    assert published.rejected_reason is None and Path(published.path).name.startswith("collector-")
    seen = landing_scan.scan(root, None, time.time() + 60, 0)
    assert DAY in seen.days and seen.days[DAY].count == 1


GA4_PAYLOAD = {
    "client_id": "123.456",
    "user_id": "u-9",
    "timestamp_micros": 1764849600000000,  # 2025-12-04T12:00:00Z
    "user_properties": {"tier": {"value": "gold"}},
    "events": [
        {"name": "view_search_results", "params": {"search_term": "mug", "session_id": 77, "page_location": "https://x/s?q=mug"}},
        {"name": "purchase", "params": {"currency": "EUR", "value": 25.5, "transaction_id": "T-1",
                                        "items": [{"item_id": "P1", "item_name": "Mug", "item_category": "Kitchen",
                                                   "price": 12.75, "quantity": 2, "coupon": "X"}]}},
    ],
}


def test_measurement_protocol_payload_maps_onto_our_events_with_stable_ids() -> None:
    received = datetime(2025, 12, 4, 12, 5, tzinfo=timezone.utc)
    search, purchase = mp.to_events(GA4_PAYLOAD, received)
    assert search["event_name"] == "search" and search["search_term"] == "mug" and search["session_id"] == "77"
    assert search["page"] == "https://x/s?q=mug" and search["anonymous_id"] == "123.456" and search["user_id"] == "u-9"
    assert search["event_time"] == "2025-12-04T12:00:00.000000Z"
    assert purchase["items"] == [{"item_id": "P1", "item_name": "Mug", "item_category": "Kitchen", "price": 12.75, "quantity": 2}]
    assert (purchase["currency"], purchase["value"], purchase["transaction_id"]) == ("EUR", 25.5, "T-1")
    # a retry of the same payload gets the same ids; another event or client another
    again = mp.to_events(json.loads(json.dumps(GA4_PAYLOAD)), datetime.now(timezone.utc))
    assert [e["event_id"] for e in again] == [search["event_id"], purchase["event_id"]]
    assert search["event_id"] != purchase["event_id"]
    other = mp.to_events({**GA4_PAYLOAD, "client_id": "999"}, received)
    assert other[0]["event_id"] != search["event_id"]
    assert validate_event(search, received.date(), received) is None
    assert validate_event(purchase, received.date(), received) is None
    # no client id: our schema's anonymous_id is missing, and the validator says so
    (anonymous,) = mp.to_events({"events": [{"name": "page_view"}]}, received)
    assert validate_event(anonymous, received.date(), received)[0] == "schema_violation"
    with pytest.raises(mp.NotAPayload):
        mp.to_events({"client_id": "1", "events": []}, received)


def test_settings_from_environment_and_bad_values() -> None:
    s = CollectorSettings.from_env({"SHOPVERSE_COLLECTOR_WRITE_KEYS": "a, b,", "SHOPVERSE_COLLECTOR_RATE_LIMIT": "2.5",
                                    "SHOPVERSE_LANDING_DIR": "/x"}, port=9000)
    assert s.write_keys == frozenset({"a", "b"}) and s.rate_limit == 2.5 and s.port == 9000
    assert s.events_dir == Path("/x/events") and s.max_body_bytes == 1024 * 1024 and s.max_events_per_batch == 500
    for name, value in [("SHOPVERSE_COLLECTOR_PORT", "70000"), ("SHOPVERSE_COLLECTOR_MAX_BODY_BYTES", "lots"),
                        ("SHOPVERSE_COLLECTOR_ROLL_SECONDS", "0"), ("SHOPVERSE_COLLECTOR_WRITE_KEYS", " , ")]:
        with pytest.raises(SettingsError, match=name):
            CollectorSettings.from_env({name: value})


def test_rate_limiter_lets_a_second_of_events_through_then_asks_to_wait() -> None:
    clock = Clock(0.0)
    limiter = RateLimiter(10, clock=clock)
    assert limiter.retry_after("k", 10) is None
    assert limiter.retry_after("k", 1) == 1
    assert limiter.retry_after("other", 5) is None  # per key
    clock.now = 1.0
    assert limiter.retry_after("k", 25) is None  # a full bucket lets a big batch through, in debt
    clock.now = 2.0
    assert limiter.retry_after("k", 1) == 1  # 15 in debt, refilled 10: -5, so 0.6 s more, rounded up


def test_collect_command_refuses_a_bad_setting_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from shopverse_platform.cli.main import main

    monkeypatch.setenv("SHOPVERSE_COLLECTOR_MAX_EVENTS_PER_BATCH", "many")
    assert main(["collect"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "shopverse collect: SHOPVERSE_COLLECTOR_MAX_EVENTS_PER_BATCH must be a whole number, got 'many'"


def test_collect_help_shows_the_defaults_and_the_variables(capsys) -> None:
    from shopverse_platform.cli.main import main

    with pytest.raises(SystemExit):
        main(["collect", "--help"])
    text = capsys.readouterr().out
    text = " ".join(text.split())  # argparse wraps lines
    assert "else 8070" in text and "SHOPVERSE_COLLECTOR_WRITE_KEYS" in text and "--access-log" in text


def test_shopverse_up_starts_the_collector_beside_the_other_services(monkeypatch: pytest.MonkeyPatch) -> None:
    from shopverse_platform.cli.stack import up_stack

    monkeypatch.setenv("SHOPVERSE_COLLECTOR_PORT", "18123")
    stack = up_stack(marquez=False)
    (collector,) = [s for s in stack.services if s.name == "collector"]
    assert collector.argv[-5:] == ["collect", "--host", "127.0.0.1", "--port", "18123"]
    assert collector.url == "http://127.0.0.1:18123/v1/events"
    assert stack.urls()["Demo shop"] == "http://127.0.0.1:18123/shop/"


def test_app_in_process_stores_events_as_sent_and_counts_them(tmp_path: Path) -> None:
    """The app without a server (httpx's ASGI transport): lines as sent plus received_at, numbers
    beyond 64 bits kept, what cannot be stored as sent rejected, metrics moving."""
    import httpx

    from shopverse_platform.lib.cleaning.event_validation import validate_event
    from shopverse_platform.lib.ingestion.collector.app import create_app

    settings = CollectorSettings.from_env({"SHOPVERSE_LANDING_DIR": str(tmp_path / "landing")})
    spool = Spool(settings.events_dir)
    app = create_app(settings, validate_event, spool)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = f'"event_name":"page_view","event_time":"{now}","anonymous_id":"a"'.encode()
    body = b"\n".join([
        b'{"event_id":"big",' + head + b',"n":123456789012345678901234567890,"x":{"y":[1,2.50]}}',
        b'{"event_id":"huge",' + head + b',"n":1e400}',
        b'{"event_id":"latin",' + head + b',"page":"caf\xe9"}',
        b'{"event_id": ',
    ])

    async def go():
        await spool.start()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            response = await client.post("/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"})
            metrics = (await client.get("/metrics")).text
        await spool.close()
        return response, metrics

    response, metrics = asyncio.run(go())
    assert response.status_code == 422
    assert response.json()["accepted"] == 1
    assert [(r["index"], r["reason"]) for r in response.json()["rejected"]] == [
        (1, "malformed_json"), (2, "invalid_encoding"), (3, "malformed_json")]
    (published,) = [p for p in settings.events_dir.glob("*/*")]
    line = published.read_bytes()
    assert line.startswith(b'{"event_id":"big",' + head + b',"n":123456789012345678901234567890,"x":{"y":[1,2.5]},"received_at":"')
    assert "shopverse_collector_events_received_total 4.0" in metrics
    assert "shopverse_collector_events_accepted_total 1.0" in metrics
    assert 'shopverse_collector_events_rejected_total{reason="malformed_json"} 2.0' in metrics
    assert 'shopverse_collector_events_rejected_total{reason="invalid_encoding"} 1.0' in metrics


def test_import_route_maps_another_tools_records_with_the_landing_adapters(tmp_path: Path) -> None:
    """POST /v1/import/<format>: the records go through the same adapter as landing/imports/ files;
    mapped ones are judged and stored as our events, unmappable ones rejected with the adapter's
    reason; an unknown format is a 404 naming the formats."""
    import httpx

    from shopverse_platform.lib.cleaning.event_validation import validate_event
    from shopverse_platform.lib.ingestion.collector.app import create_app

    settings = CollectorSettings.from_env({"SHOPVERSE_LANDING_DIR": str(tmp_path / "landing")})
    spool = Spool(settings.events_dir)
    app = create_app(settings, validate_event, spool)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")  # shape (b) sends no offset: UTC by default
    legacy = "\n".join([
        f'{{"event_type":"page_view","user_id":"u1","timestamp":"{now}","data":{{"page":"/"}}}}',
        f'{{"event_type":"user_signup","user_id":"u2","timestamp":"{now}","data":{{"page":"/signup"}}}}',
        f'{{"event_type":"product_view","user_id":"u1","timestamp":"{now}","data":{{"product_id":"p9"}}}}',
    ])
    clicks = ("event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n"
              f"{now.replace('T', ' ')} UTC,cart,44600062,21,electronics.smartphone,shiseido,35.79,541312140,s-1\n")

    async def go():
        await spool.start()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            answers = [await client.post("/v1/import/legacy_data", content=legacy),
                       await client.post("/v1/import/csv_clickstream", content=clicks),
                       await client.post("/v1/import/segment", content=legacy)]
        await spool.close()
        return answers

    legacy_answer, csv_answer, unknown = asyncio.run(go())
    assert legacy_answer.status_code == 422 and legacy_answer.json()["accepted"] == 2
    assert [(r["index"], r["reason"]) for r in legacy_answer.json()["rejected"]] == [(1, "unmappable_event")]
    assert csv_answer.status_code == 200 and csv_answer.json() == {"accepted": 1, "rejected": []}
    assert unknown.status_code == 404 and "ga4_bigquery" in unknown.json()["detail"]
    stored = [json.loads(line) for path in sorted(settings.events_dir.glob("*/*")) for line in path.read_text().splitlines()]
    assert sorted((e["event_name"], e["source"], e["anonymous_id"]) for e in stored) == [
        ("add_to_cart", "import:csv_clickstream", "541312140"), ("page_view", "import:legacy_data", "user:u1"),
        ("view_item", "import:legacy_data", "user:u1")]
    assert all(e["event_id"].startswith(e["source"].removeprefix("import:")) for e in stored)
