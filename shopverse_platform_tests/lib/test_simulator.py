"""The traffic simulator: determinism, layout, schema, behaviour and an exact fault ground truth.

The fault counts are re-derived here independently of the simulator, by judging every line the
way the cleaning layer does, so a fault that accidentally carries two defects shows up as a
mismatch.
"""

from __future__ import annotations

import gzip
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from shopverse_platform.lib.cleaning.event_schema import (
    DEVICES,
    EVENT_STRUCTURE,
    EVENT_TYPES,
    ITEM_EVENTS,
    LEGACY_EVENT_NAMES,
    MONETARY_EVENTS,
)
from shopverse_platform.lib.simulator.traffic import (
    FAULT_KINDS,
    SimulationSummary,
    simulate,
)

START = date(2024, 2, 27)  # the window crosses the leap day
DAYS = 6
RUN = {"users": 3000, "days": DAYS, "start": START, "seed": 11, "faults": 0.03, "batch_size": 900}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationSummary]:
    root = tmp_path_factory.mktemp("landing")
    return root, simulate(root, **RUN)


@pytest.fixture(scope="module")
def judged(run) -> list[tuple[date, str, bytes, str | None, dict | None]]:
    """Every NDJSON line in delivery order as (folder day, file, line, fault kind or None, event)."""
    root, _ = run
    return judge(ndjson_lines(root))


@pytest.fixture(scope="module")
def truth(run) -> dict:
    return orjson.loads(run[1].ground_truth_path.read_bytes())


def ndjson_lines(root: Path) -> list[tuple[date, str, bytes]]:
    out = []
    for folder in sorted((root / "events").iterdir()):
        for path in sorted(folder.iterdir()):
            data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
            assert data.endswith(b"\n")
            out += [(date.fromisoformat(folder.name), path.name, line) for line in data[:-1].split(b"\n")]
    return out


def event_name(event: dict) -> str | None:
    name = event.get("event_name") or event.get("event_type")
    return LEGACY_EVENT_NAMES.get(name, name)


def utc(event: dict) -> datetime:
    stamp = datetime.fromisoformat(event["event_time"])
    assert stamp.tzinfo is not None, event["event_time"]
    return stamp.astimezone(timezone.utc)


def fault_of(line: bytes, seen: set[str]) -> tuple[str | None, dict | None]:
    """The defect of one line, judged like the cleaning layer (first rule broken wins)."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "malformed_json", None
    if not isinstance(event, dict):
        return "malformed_json", None
    if not event.get("event_id"):
        return "schema_violation", event
    if event_name(event) not in EVENT_TYPES:
        return "unknown_event_type", event
    if utc(event) >= datetime.combine(START + timedelta(days=DAYS + 1), datetime.min.time(), timezone.utc):
        return "future_timestamp", event
    prices = [i["price"] for i in event.get("items", [])] + ([event["price"]] if "price" in event else [])
    if event_name(event) in MONETARY_EVENTS and any(p < 0 for p in prices):
        return "invalid_price", event
    if event["event_id"] in seen:
        return "duplicate_event", event
    seen.add(event["event_id"])
    return None, event


def judge(lines):
    seen: set[str] = set()
    return [(day, name, line, *fault_of(line, seen)) for day, name, line in lines]


def valid_events(judged) -> list[dict]:
    return [event for *_, kind, event in judged if kind is None]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------------- tests
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    args = {**RUN, "users": 250, "days": 3}
    first = simulate(tmp_path / "a", **args)
    simulate(tmp_path / "b", **args)
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    simulate(tmp_path / "c", **{**args, "seed": 12})
    assert tree(tmp_path / "a")["events/2024-02-27/batch-0001.ndjson"] != tree(tmp_path / "c")[
        "events/2024-02-27/batch-0001.ndjson"]
    # re-running overwrites: stale files in the run's day folders disappear, bytes stay the same
    stale = tmp_path / "a" / "events" / "2024-02-28" / "batch-0099.ndjson"
    stale.write_text("old\n")
    again = simulate(tmp_path / "a", **args)
    assert not stale.exists()
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert again == first


def test_faults_change_nothing_but_the_injected_lines(tmp_path: Path, judged) -> None:
    simulate(tmp_path, **{**RUN, "faults": 0.0})
    clean = judge(ndjson_lines(tmp_path))
    assert all(kind is None for *_, kind, _ in clean)
    assert [line for _, _, line, kind, _ in judged if kind is None] == [line for _, _, line, *_ in clean]


def test_ground_truth_fault_counts_match_the_files(run, judged, truth) -> None:
    _, summary = run
    counted = Counter(kind for *_, kind, _ in judged if kind)
    assert truth["faults"] == {kind: counted[kind] for kind in FAULT_KINDS}
    assert all(counted[kind] > 0 for kind in FAULT_KINDS)
    assert summary.duplicate_lines == counted["duplicate_event"]
    assert summary.faulty_lines == sum(counted.values()) - counted["duplicate_event"]
    assert summary.events == sum(kind is None for *_, kind, _ in judged) == truth["totals"]["events"]
    assert 0.02 < sum(counted.values()) / len(judged) < 0.04  # faults=0.03


def test_duplicates_are_exact_copies_in_a_later_file_or_the_next_day(judged) -> None:
    first_seen = {}
    for day, name, line, kind, event in judged:
        if kind is None:
            first_seen[event["event_id"]] = (day, name, line)
    next_day = 0
    for day, name, line, kind, event in judged:
        if kind == "duplicate_event":
            original_day, original_file, original_line = first_seen[event["event_id"]]
            assert line == original_line and (day, name) != (original_day, original_file)
            assert day - original_day in (timedelta(0), timedelta(days=1))
            next_day += day != original_day
    assert next_day > 0


def test_every_valid_line_follows_the_event_schema(judged) -> None:
    legacy = 0
    for event in valid_events(judged):
        assert set(event) <= set(EVENT_STRUCTURE), event
        assert ("event_name" in event) != ("event_type" in event)
        assert ("anonymous_id" in event) != ("device_id" in event)
        if "event_type" in event:
            legacy += 1
            assert event["event_type"] in LEGACY_EVENT_NAMES or event["event_type"] in EVENT_TYPES
        else:
            assert event["event_name"] in EVENT_TYPES
        name = event_name(event)
        assert event["device"] in DEVICES and len(event["country"]) == 2
        assert {"user_id", "page", "referrer", "utm_source", "utm_medium", "utm_campaign"} <= set(event)
        if name in ITEM_EVENTS:
            assert event.get("items") or event.get("product_id"), event
            assert event["currency"] == "GBP" and event["value"] > 0
        for item in event.get("items", []):
            assert set(item) == {"item_id", "item_name", "item_category", "price", "quantity"}
            assert item["price"] > 0 and item["quantity"] >= 1
        assert ("transaction_id" in event) == (name in MONETARY_EVENTS)
        assert ("search_term" in event) == (name == "search")
    assert 0.01 < legacy / len(valid_events(judged)) < 0.08


def test_folders_are_utc_dates_of_the_event_times(judged) -> None:
    for day, _, _, kind, event in judged:
        if kind is None:
            assert utc(event).date() == day
    assert {day for day, *_ in judged} == {START + timedelta(days=d) for d in range(DAYS)}


def test_sessions_walk_the_funnel_and_some_cross_midnight(judged) -> None:
    sessions = defaultdict(list)
    for event in valid_events(judged):
        if "session_id" in event:
            sessions[event["session_id"]].append(event)
    reached = Counter()
    crossing = 0
    for events in sessions.values():
        names = {event_name(e) for e in events}
        reached.update(names)
        times = [utc(e) for e in events]
        assert times == sorted(times)
        crossing += times[0].date() != times[-1].date()
    assert reached["purchase"] <= reached["begin_checkout"] <= reached["add_to_cart"] <= reached["view_item"]
    assert 0.55 < reached["view_item"] / reached["session_start"] < 0.75
    assert 0.01 < reached["purchase"] / reached["session_start"] < 0.07
    assert crossing > 0


def test_refunds_follow_an_earlier_purchase(judged) -> None:
    purchases = {e["transaction_id"]: e for e in valid_events(judged) if event_name(e) == "purchase"}
    refunds = [e for e in valid_events(judged) if event_name(e) == "refund"]
    assert refunds
    for refund in refunds:
        purchase = purchases[refund["transaction_id"]]
        assert timedelta(hours=20) < utc(refund) - utc(purchase) < timedelta(days=11)
        bought = {(i["item_id"], i["quantity"]) for i in purchase.get("items", [])} or {
            (purchase["product_id"], purchase["quantity"])}
        assert {(i["item_id"], i["quantity"]) for i in refund["items"]} <= bought


def test_ground_truth_names_the_injected_anomalies(judged, truth) -> None:
    events = valid_events(judged)
    spike = truth["traffic_spike"]
    flash_sale = [e for e in events if event_name(e) == "session_start" and e["utm_campaign"] == "flash_sale"]
    assert len(flash_sale) == spike["extra_sessions"] > 0
    lo = datetime.fromisoformat(spike["date"]).replace(hour=spike["hour_start_utc"], tzinfo=timezone.utc)
    assert all(lo <= utc(e) < lo + timedelta(hours=spike["hour_end_utc"] - spike["hour_start_utc"])
               for e in flash_sale)
    [large] = truth["large_orders"]
    purchases = [e for e in events if event_name(e) == "purchase"]
    [order] = [e for e in purchases if e["transaction_id"] == large["transaction_id"]]
    assert order["value"] == large["value"] and order["user_id"] == large["user_id"] is not None
    assert large["value"] > 20 * sorted(e["value"] for e in purchases)[len(purchases) // 2]
    per_session = Counter(e.get("session_id") for e in events)
    assert truth["bots"]["session_ids"] and all(per_session[s] >= 150 for s in truth["bots"]["session_ids"])
    bot_devices = {e["anonymous_id"] for e in events if e.get("session_id") in truth["bots"]["session_ids"]}
    assert bot_devices == set(truth["bots"]["anonymous_ids"])


def test_summary_and_reference_data(run, judged) -> None:
    root, summary = run
    purchases = [e for e in valid_events(judged) if event_name(e) == "purchase"]
    assert summary.orders == len(purchases)
    assert summary.revenue == pytest.approx(sum(e["value"] for e in purchases), abs=0.01)
    products = (root / "catalogue" / "products.csv").read_text().splitlines()
    assert products[0] == "product_id,product_name,category,price" and len(products) > 30
    assert len({row.split(",")[2] for row in products[1:]}) >= 5
    customers = (root / "customers" / "customers.csv").read_text().splitlines()
    assert customers[0] == "user_id,age_group,country,signup_date,acquisition_channel"
    known = {row.split(",")[0] for row in customers[1:]}
    assert {e["user_id"] for e in valid_events(judged) if e["user_id"]} <= known
    assert summary.ground_truth_path in summary.files and all(p.exists() for p in summary.files)


def test_logs_layout_holds_the_same_lines_one_pretty_file_each(tmp_path: Path) -> None:
    simulate(tmp_path, layout="both", **{**RUN, "users": 500, "days": 3})
    judged = judge(ndjson_lines(tmp_path))
    assert {kind for *_, kind, _ in judged} == {None, *FAULT_KINDS}
    for day in sorted({day for day, *_ in judged}):
        files = sorted((tmp_path / "logs" / day.strftime("%Y%m%d")).iterdir())
        lines = [(line, kind) for d, _, line, kind, _ in judged if d == day]
        assert len(files) == len(lines)
        bodies = [path.read_bytes() for path in files]
        parsed = Counter()
        for body in bodies:
            try:
                parsed[orjson.dumps(orjson.loads(body))] += 1
                assert body.count(b"\n") > 5  # pretty-printed: a multi-line document
            except orjson.JSONDecodeError:
                parsed["malformed"] += 1
        expected = Counter("malformed" if kind == "malformed_json" else line for line, kind in lines)
        assert parsed == expected


def test_gzip_batches_read_back_to_the_same_lines(tmp_path: Path, run) -> None:
    root, _ = run
    summary = simulate(tmp_path, gzip=True, **RUN)
    assert [p for p in summary.files if "events" in p.parts] == sorted((tmp_path / "events").glob("*/*.ndjson.gz"))
    assert [(day, line) for day, _, line in ndjson_lines(tmp_path)] == [(day, line) for day, _, line in ndjson_lines(root)]


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        simulate(tmp_path, **{**RUN, "faults": 1.5})
    with pytest.raises(ValueError, match="layout"):
        simulate(tmp_path, layout="parquet", **RUN)


def test_growth_sets_the_traffic_trend(tmp_path: Path) -> None:
    """``growth`` scales each day's expected traffic by 1 + growth × day: with the customers' churn
    (fewer active visitors as the window goes on) it decides whether late days are bigger or
    smaller than early ones; a benchmark comparing histories picks the one that keeps them equal."""
    def late_over_early(growth: float) -> float:
        root = tmp_path / f"g{growth}"
        simulate(root, users=1500, days=56, start=date(2026, 1, 5), seed=3, faults=0.0, growth=growth)
        per_day = {folder.name: sum(path.read_bytes().count(b"\n") for path in folder.iterdir())
                   for folder in (root / "events").iterdir()}
        days = sorted(per_day)[:56]  # a US evening of the last day lands in the next UTC folder
        early, late = days[7:28], days[-21:]  # whole weeks; the first week is still filling up
        return sum(per_day[d] for d in late) / sum(per_day[d] for d in early)

    # same seed, same visitors: the trend moves the ratio, by at most (1 + .02 × 45) / (1 + .02 × 17)
    # ≈ 1.42 (the weeks' middle days 45 and 17); less, as more visits mean more purchases and so
    # more churn (1.24 measured here); without the trend it stays near 1 (0.98 here)
    assert 1.15 < late_over_early(0.02) / late_over_early(0.0) < 1.45
    with pytest.raises(ValueError, match="growth"):
        simulate(tmp_path / "bad", users=10, days=1, start=START, seed=1, growth=-0.1)


def test_a_tiny_shop_whose_window_holds_no_visitor_session_still_simulates(tmp_path: Path) -> None:
    """20 visitors over one day (seed 11): none of their sessions falls in the window, which made
    the churn step index an empty array (IndexError); the day still gets the sessions added after it (bots, a spike)."""
    summary = simulate(tmp_path, users=20, days=1, start=date(2026, 11, 9), seed=11)
    lines = [orjson.loads(line) for path in sorted((tmp_path / "events").rglob("*.ndjson"))
             for line in path.read_bytes().splitlines() if line.strip()]
    assert summary.events > 0 and len(lines) >= summary.events  # (re-deliveries of the default faults come on top)
