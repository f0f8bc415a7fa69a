"""The browser tracker (static/tracker.js) and the demo shop (static/shop/), against a real
`shopverse collect` process: Playwright drives Debian's Chromium through the shop, and the test
reads what the collector published to the landing zone.

- a whole visit (department, two products, basket changes, checkout, purchase) lands as exactly the
  expected events, one anonymous and one session id, the purchase value computed here from the
  catalogue, the browser's offset in every event_time; and every event cleans (0 quarantined);
- the collector stopped mid-session: the events wait in localStorage across a page load and are
  delivered once it is back, each exactly once;
- the events still queued when the page is left or closed arrive by sendBeacon.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from shopverse_platform.lib.ingestion.collector.app import STATIC_DIR
from shopverse_platform_tests.conftest import free_port, stop_process_group
from shopverse_platform_tests.ingestion.test_collector import Collector

SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
TRACKER = STATIC_DIR / "tracker.js"
CATALOGUE = json.loads((STATIC_DIR / "shop" / "catalogue.json").read_text())
PRODUCTS = {p["id"]: p for p in CATALOGUE["products"]}
CATEGORY_NAMES = {c["slug"]: c["name"] for c in CATALOGUE["categories"]}
KEY = "demo-shop"  # the write key the shop's pages carry (data-key)
TIMEZONE, OFFSET = "Asia/Kolkata", "+05:30"  # no DST, and minutes in the offset: a fixed, telling suffix


def test_tracker_is_small_and_documents_its_tag() -> None:
    source = TRACKER.read_bytes()
    assert len(source) < 10 * 1024, f"tracker.js is {len(source)} bytes"
    head = source[: source.index(b"*/")].decode()
    assert '<script src="/tracker.js" data-endpoint="/v1/events"' in head
    shop_pages = sorted((STATIC_DIR / "shop").glob("*.html"))
    assert len(shop_pages) == 6
    for page in shop_pages:  # every page of the shop is wired with the tracker and the shop's key
        assert f'<script src="/tracker.js" data-endpoint="/v1/events" data-key="{KEY}"' in page.read_text(), page.name
    assert len(PRODUCTS) == 30 and len(CATEGORY_NAMES) == 6


# --- the browser tests -------------------------------------------------------------------------

@pytest.fixture
def collector(tmp_path: Path):
    server = Collector(tmp_path / "data", {"SHOPVERSE_COLLECTOR_WRITE_KEYS": KEY,
                                           "SHOPVERSE_COLLECTOR_ROLL_SECONDS": "0.5"}).start()
    yield server
    server.stop()


def new_page(browser, settings: dict | None = None):
    """A fresh browser profile (its own localStorage) in the shop's visitor's time zone;
    `settings` become window.shopverseSettings, read by shopverse.init."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id=TIMEZONE)
    if settings:
        context.add_init_script(f"window.shopverseSettings = {json.dumps(settings)};")
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    return page


def ready(page) -> None:
    """Wait until the shop rendered the page (and called the tracker)."""
    page.wait_for_selector("body[data-ready]")


def landed_events(server: Collector) -> list[dict]:
    """Every event published so far, in publication order (files sort by publication time)."""
    published, _ = server.landed()
    return [json.loads(line) for path in published for line in path.read_bytes().splitlines()]


def wait_for_events(server: Collector, count: int, deadline_seconds: float = 60) -> list[dict]:
    """Poll the landing zone until `count` events are published (a wait, not a timing assertion)."""
    end = time.monotonic() + deadline_seconds
    while True:
        events = landed_events(server)
        if len(events) >= count or time.monotonic() > end:
            return events
        time.sleep(0.2)


def in_time_order(events: list[dict]) -> list[dict]:
    """Beacons of successive pages may land in any order: sort by event_time (stable, so the
    session_start sharing its page_view's time stays first)."""
    return sorted(events, key=lambda e: datetime.fromisoformat(e["event_time"]))


def lines(event: dict) -> list[tuple[str, int | None]]:
    return [(i["item_id"], i.get("quantity")) for i in event.get("items", [])]


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.services
def test_a_visit_lands_exactly_and_cleans(browser, collector: Collector, warehouse, tmp_path: Path) -> None:
    a, b = "SV-002", "SV-004"  # Oak Chopping Board, Copper Kettle (Kitchen)
    page = new_page(browser)
    page.goto(f"{collector.url}/shop/")
    ready(page)
    page.click(".department >> text=Kitchen")
    ready(page)
    page.click(f"[data-product={a}]")
    ready(page)
    page.click("#add")
    page.click(".crumbs >> text=Kitchen")
    ready(page)
    page.click(f"[data-product={b}]")
    ready(page)
    page.fill("#qty", "2")
    page.click("#add")
    page.click("#basket-link")
    ready(page)
    page.click(f"tr[data-line={a}] .remove")
    page.fill(f"tr[data-line={b}] .qty", "3")
    page.press(f"tr[data-line={b}] .qty", "Tab")  # the change event
    page.wait_for_function("document.getElementById('cart-count').textContent === '3'")
    shot(page, "demo_shop_basket")
    page.click("#checkout")
    ready(page)
    page.click("#place-order")
    page.wait_for_selector("#order-id")
    order_id = page.inner_text("#order-id")
    assert re.fullmatch(r"SV[0-9A-Z]+", order_id)
    assert page.errors == []
    page.goto("about:blank")  # the thank-you page's page_view leaves by beacon

    expected = [
        ("session_start", "/shop/", []), ("page_view", "/shop/", []),
        ("view_item_list", "/shop/", [(p["id"], None) for p in featured()]),
        ("page_view", "/shop/category.html?c=kitchen", []), ("view_item_list", "/shop/category.html?c=kitchen", kitchen()),
        ("page_view", f"/shop/product.html?id={a}", []), ("view_item", f"/shop/product.html?id={a}", [(a, None)]),
        ("add_to_cart", f"/shop/product.html?id={a}", [(a, 1)]),
        ("page_view", "/shop/category.html?c=kitchen", []), ("view_item_list", "/shop/category.html?c=kitchen", kitchen()),
        ("page_view", f"/shop/product.html?id={b}", []), ("view_item", f"/shop/product.html?id={b}", [(b, None)]),
        ("add_to_cart", f"/shop/product.html?id={b}", [(b, 2)]),
        ("page_view", "/shop/cart.html", []), ("view_cart", "/shop/cart.html", [(a, 1), (b, 2)]),
        ("remove_from_cart", "/shop/cart.html", [(a, 1)]), ("add_to_cart", "/shop/cart.html", [(b, 1)]),
        ("page_view", "/shop/checkout.html", []), ("begin_checkout", "/shop/checkout.html", [(b, 3)]),
        ("purchase", "/shop/checkout.html", [(b, 3)]),
        ("page_view", f"/shop/thanks.html?order={order_id}", []),
    ]
    wait_for_events(collector, len(expected))
    page.context.close()
    collector.stop()  # publishes whatever is still open: nothing more may have come
    events = landed_events(collector)
    assert [(e["event_name"], e["page"], lines(e)) for e in in_time_order(events)] == expected

    # every item carries the catalogue's name, category and price
    for event in events:
        for item in event.get("items", []):
            product = PRODUCTS[item["item_id"]]
            assert (item["item_name"], item["item_category"], Decimal(str(item["price"]))) == (
                product["name"], CATEGORY_NAMES[product["category"]], Decimal(str(product["price"])))
    for event in events:  # every money event is worth its lines at catalogue prices
        if event["event_name"] in ("view_item", "add_to_cart", "remove_from_cart", "view_cart", "begin_checkout", "purchase"):
            worth = sum(Decimal(str(PRODUCTS[i]["price"])) * (q or 1) for i, q in lines(event))
            assert (Decimal(str(event["value"])), event["currency"]) == (worth, "GBP"), event
    (purchase,) = [e for e in events if e["event_name"] == "purchase"]
    (checkout,) = [e for e in events if e["event_name"] == "begin_checkout"]
    total = Decimal(str(PRODUCTS[b]["price"])) * 3
    assert Decimal(str(purchase["value"])) == total == Decimal(str(checkout["value"]))
    assert (purchase["transaction_id"], purchase["currency"]) == (order_id, "GBP")

    assert len({e["anonymous_id"] for e in events}) == 1
    assert len({e["session_id"] for e in events}) == 1
    assert len({e["event_id"] for e in events}) == len(events)
    assert all(e["event_time"].endswith(OFFSET) for e in events), {e["event_time"] for e in events}
    assert all(e["user_id"] is None and e["device"] == "desktop" for e in events)

    # what the collector stored, cleaned by the platform: nothing quarantined
    cleaned = clean(collector, warehouse)
    assert cleaned == {"clean": len(expected), "quarantined": 0}


def featured() -> list[dict]:
    return [next(p for p in CATALOGUE["products"] if p["category"] == c["slug"]) for c in CATALOGUE["categories"]]


def kitchen() -> list[tuple[str, None]]:
    return [(p["id"], None) for p in CATALOGUE["products"] if p["category"] == "kitchen"]


def clean(server: Collector, warehouse) -> dict[str, int]:
    """raw_events + clean_events over the landing days the collector wrote, in a temp warehouse."""
    from shopverse_platform.defs.cleaning.assets import clean_events, clean_events_checks
    from shopverse_platform.defs.ingestion.assets import raw_events
    from shopverse_platform.defs.resources import LandingZone
    from shopverse_platform_tests.conftest import materialize_range

    days = sorted(p.name for p in (server.data_dir / "landing" / "events").iterdir())
    resources = {"warehouse": warehouse, "landing_zone": LandingZone(path=str(server.data_dir / "landing"))}
    result = materialize_range([raw_events, clean_events, clean_events_checks], resources, days[0], days[-1])
    assert result.success
    with warehouse.connect(read_only=True) as con:
        return {"clean": con.execute("SELECT count(*) FROM clean_events").fetchone()[0],
                "quarantined": con.execute("SELECT count(*) FROM quarantine").fetchone()[0]}


@pytest.fixture
def shop_server():
    """The shop from its own origin (a plain static server), so that it stays up while the
    collector is down; the tracker then posts across origins (the collector's CORS)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(STATIC_DIR), str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/shop/catalogue.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        stop_process_group(process)


@pytest.mark.services
def test_events_wait_while_the_collector_is_down_and_arrive_once(browser, collector: Collector, shop_server: str) -> None:
    a = "SV-007"  # any product
    page = new_page(browser, {"endpoint": f"{collector.url}/v1/events", "flushInterval": 200, "retryBaseMs": 200, "retryMaxMs": 1000})
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url) if "/v1/events" in request.url else None)
    page.goto(f"{shop_server}/shop/product.html?id={a}")
    ready(page)
    wait_for_events(collector, 3)  # session_start, page_view, view_item: delivered while up

    collector.stop()
    page.click("#add")
    until(page, lambda: len(failed) >= 1)  # the batch holding add_to_cart failed: it waits in localStorage
    page.click("#basket-link")  # leaving while failing: no beacon, the queue stays for the next page
    ready(page)
    page.click(f"tr[data-line={a}] .remove")
    until(page, lambda: len(failed) >= 3)  # the next page retried the queue, with its own events, and failed again
    queued = page.evaluate("JSON.parse(localStorage.getItem('shopverse_queue')).map(e => e.event_name)")
    assert queued == ["add_to_cart", "page_view", "view_cart", "remove_from_cart"]

    back = Collector(collector.data_dir, collector.env)
    back.port, back.url = collector.port, collector.url
    back.start()
    try:
        wait_for_events(back, 7)
        until(page, lambda: page.evaluate("localStorage.getItem('shopverse_queue')") == "[]")
        page.context.close()
        back.stop()
        events = landed_events(back)
    finally:
        back.stop()
    ids = Counter(e["event_id"] for e in events)
    assert ids.most_common(1)[0][1] == 1, "an event landed twice"
    assert [(e["event_name"], lines(e)) for e in in_time_order(events)] == [
        ("session_start", []), ("page_view", []), ("view_item", [(a, None)]),
        ("add_to_cart", [(a, 1)]), ("page_view", []), ("view_cart", [(a, 1)]), ("remove_from_cart", [(a, 1)])]
    assert len({e["session_id"] for e in events}) == 1


@pytest.mark.services
def test_queued_events_leave_by_beacon_when_the_page_goes(browser, collector: Collector) -> None:
    # no timer flush: only a beacon can deliver
    settings = {"flushInterval": 3_600_000, "batchSize": 1000}
    fetches: list[str] = []

    def visit(product: str):
        page = new_page(browser, settings)
        page.on("request", lambda r: fetches.append(r.url) if "/v1/events" in r.url else None)
        page.goto(f"{collector.url}/shop/product.html?id={product}")
        ready(page)
        page.click("#add")
        return page

    left = visit("SV-011")
    left.goto("about:blank")  # navigated away: pagehide
    closed = visit("SV-012")
    closed.close(run_before_unload=True)  # tab closed
    wait_for_events(collector, 8)
    left.context.close()
    closed.context.close()
    collector.stop()
    events = landed_events(collector)
    by_visitor: dict[str, list] = {}
    for event in in_time_order(events):
        by_visitor.setdefault(event["anonymous_id"], []).append((event["event_name"], lines(event)))
    assert sorted(by_visitor.values()) == sorted(
        [[("session_start", []), ("page_view", []), ("view_item", [(p, None)]), ("add_to_cart", [(p, 1)])]
         for p in ("SV-011", "SV-012")])
    assert fetches == [], "the tracker sent by fetch"  # Playwright does not list beacons: these came by beacon


def until(page, condition, deadline_seconds: float = 60) -> None:
    """Wait for `condition`, letting Playwright deliver the page's events meanwhile."""
    end = time.monotonic() + deadline_seconds
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not met")
        page.wait_for_timeout(100)


@pytest.mark.services
def test_a_rejected_batch_is_not_retried(browser, collector: Collector) -> None:
    """422 (the valid events were stored) and 403 (a wrong key) are final: one request each, the
    queue emptied, the invalid event never stored."""
    settings = {"flushInterval": 3_600_000, "batchSize": 1000, "retryBaseMs": 100, "retryMaxMs": 200}
    statuses: list[int] = []

    def visit(extra: dict):
        page = new_page(browser, {**settings, **extra})
        page.on("response", lambda r: statuses.append(r.status) if "/v1/events" in r.url else None)
        page.goto(f"{collector.url}/shop/product.html?id=SV-021")
        ready(page)
        page.click("#add")
        page.evaluate("shopverse.track('teleport', {})")  # not an event type: rejected as unknown_event_type
        page.evaluate("shopverse.flush()")
        until(page, lambda: page.evaluate("localStorage.getItem('shopverse_queue')") == "[]")
        page.wait_for_timeout(1500)  # several retry periods: a retry would show up as a second request
        page.context.close()

    visit({})
    visit({"key": "not-the-key"})
    assert statuses == [422, 403]
    collector.stop()
    assert [(e["event_name"], lines(e)) for e in in_time_order(landed_events(collector))] == [
        ("session_start", []), ("page_view", []), ("view_item", [("SV-021", None)]), ("add_to_cart", [("SV-021", 1)])]


@pytest.mark.services
def test_rate_limited_batches_are_retried_until_they_land_once(browser, tmp_path: Path) -> None:
    """429 with Retry-After: the tracker waits and retries; every event lands exactly once."""
    server = Collector(tmp_path / "data", {"SHOPVERSE_COLLECTOR_WRITE_KEYS": KEY, "SHOPVERSE_COLLECTOR_ROLL_SECONDS": "0.5",
                                           "SHOPVERSE_COLLECTOR_RATE_LIMIT": "4"}).start()
    try:
        page = new_page(browser, {"flushInterval": 50, "maxBatch": 3, "batchSize": 3, "retryBaseMs": 100, "retryMaxMs": 500})
        statuses: list[int] = []
        page.on("response", lambda r: statuses.append(r.status) if "/v1/events" in r.url else None)
        page.goto(f"{server.url}/shop/product.html?id=SV-025")
        ready(page)
        for _ in range(12):  # 15 events in about a second against 4 per second: some batches get 429
            page.click("#add")
        until(page, lambda: page.evaluate("localStorage.getItem('shopverse_queue')") == "[]")
        page.context.close()
        server.stop()
        events = landed_events(server)
    finally:
        server.stop()
    assert 429 in statuses and statuses[-1] == 200
    assert Counter(e["event_id"] for e in events).most_common(1)[0][1] == 1
    assert [(e["event_name"], lines(e)) for e in in_time_order(events)] == [
        ("session_start", []), ("page_view", []), ("view_item", [("SV-025", None)])] + [("add_to_cart", [("SV-025", 1)])] * 12


@pytest.mark.services
def test_a_new_session_starts_after_thirty_idle_minutes(browser, collector: Collector) -> None:
    """The browser's clock (Playwright's fake one) jumps: 29 idle minutes keep the session, 31 start
    a new one with its session_start; the anonymous id stays. The clock starts two hours back so
    that the jumps stay in the past (the collector rejects events from the future)."""
    page = new_page(browser, {"flushInterval": 200})
    page.clock.install(time=datetime.now(timezone.utc) - timedelta(hours=2))
    page.goto(f"{collector.url}/shop/product.html?id=SV-016")
    ready(page)
    page.clock.fast_forward("29:00")
    page.click("#add")
    page.clock.fast_forward("31:00")
    page.click("#add")
    page.clock.fast_forward("00:01")  # the flush timer
    wait_for_events(collector, 6)
    page.context.close()
    collector.stop()
    events = in_time_order(landed_events(collector))
    sessions = list(dict.fromkeys(e["session_id"] for e in events))
    assert [(e["event_name"], sessions.index(e["session_id"])) for e in events] == [
        ("session_start", 0), ("page_view", 0), ("view_item", 0), ("add_to_cart", 0), ("session_start", 1), ("add_to_cart", 1)]
    assert len({e["anonymous_id"] for e in events}) == 1


@pytest.mark.services
def test_without_local_storage_the_anonymous_id_lives_in_a_cookie(browser, collector: Collector) -> None:
    """localStorage denied (privacy settings): the ids fall back to a first-party cookie, so a
    reload keeps the visitor; the events still leave by beacon."""
    page = new_page(browser)
    page.context.add_init_script(
        "Object.defineProperty(window, 'localStorage', {get() { throw new DOMException('denied', 'SecurityError'); }});")

    def visit() -> None:
        page.goto(f"{collector.url}/health")  # any page of the collector's origin
        page.add_script_tag(url="/tracker.js")
        page.evaluate(f"shopverse.init({{endpoint: '/v1/events', key: '{KEY}'}}); shopverse.pageView()")

    visit()
    visit()  # a reload: the first visit's events leave by beacon
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    page.goto("about:blank")
    wait_for_events(collector, 3)
    page.context.close()
    collector.stop()
    events = in_time_order(landed_events(collector))
    assert [e["event_name"] for e in events] == ["session_start", "page_view", "page_view"]
    assert {e["anonymous_id"] for e in events} == {cookies["shopverse_aid"]}
    assert len({e["session_id"] for e in events}) == 1


@pytest.mark.services
def test_while_backing_off_new_events_do_not_trigger_sends(browser, shop_server: str) -> None:
    """batchSize reached during a backoff does not send early: an outage is not hammered."""
    dead = f"http://127.0.0.1:{free_port()}/v1/events"  # nothing listens there
    page = new_page(browser, {"endpoint": dead, "batchSize": 1, "retryBaseMs": 120_000, "retryMaxMs": 120_000})
    attempts: list[str] = []
    page.on("request", lambda r: attempts.append(r.url) if r.url == f"{dead}?key={KEY}" else None)
    page.goto(f"{shop_server}/shop/product.html?id=SV-030")
    ready(page)
    until(page, lambda: page.evaluate("JSON.parse(localStorage.getItem('shopverse_queue')).length") == 3 and len(attempts) == 1)
    for _ in range(5):
        page.click("#add")
    page.wait_for_timeout(1000)  # time for any early send to show (the backoff is a minute or more)
    assert len(attempts) == 1
    assert page.evaluate("JSON.parse(localStorage.getItem('shopverse_queue')).length") == 8
    page.context.close()
