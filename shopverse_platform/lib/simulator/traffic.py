"""Deterministic shop-traffic simulator: writes a ShopVerse landing zone of GA4-style events.

``simulate`` produces, for one seed, always the same bytes:

* ``events/YYYY-MM-DD/batch-NNNN.ndjson[.gz]`` -- one event per line, folder = UTC date of the
  event (except the injected ``future_timestamp`` faults and next-day re-deliveries, which sit in
  the folder of the day they were delivered).  Re-delivered duplicates always start a new batch
  file after the day's regular batches, like a collector retrying an upload.
* ``logs/YYYYMMDD/<event_id>.json`` -- the same lines, one pretty-printed file each (old layout).
* ``catalogue/products.csv``, ``customers/customers.csv`` and ``ground_truth/anomalies.json``.

Population and sessions are drawn as numpy vectors (rates, funnel depth, start times); only the
expansion of a session into its events is a Python loop.  Independent random streams are used
for the population/sessions, event ids, in-session detail and faults, so that changing ``faults``
changes nothing but the injected lines.

This module generates the traffic: visitors' sessions (when, from where, how deep into the
funnel) and their expansion into events.  The catalogue, the visitors and their devices come from
``simulator_population``; stamping, fault injection and all file writing from
``simulator_landing``.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote_plus

import numpy as np
from tqdm import tqdm

from shopverse_platform.lib.cleaning.event_schema import DEVICES, LEGACY_EVENT_NAMES
from shopverse_platform.lib.simulator.landing import FAULT_KINDS, LandingWriter
from shopverse_platform.lib.simulator.population import (
    COUNTRIES,
    CURRENCY,
    SOURCES,
    SPIKE_SOURCE,
    _PopulationMixin,
    uuid_from_hex,
    uuid_like,
)

__all__ = ["FAULT_KINDS", "LAYOUTS", "SimulationSummary", "simulate"]

SITE = "https://shop.shopverse.example"
DAY_MS = 86_400_000
LAYOUTS = ("ndjson", "logs", "both")
TO_LEGACY = {modern: legacy for legacy, modern in LEGACY_EVENT_NAMES.items()}
# Local hour-of-day profiles: evening peak on weekdays, later and flatter mornings at weekends.
HOURS_WEEKDAY = np.array([2, 1, .6, .4, .4, .6, 1.2, 2.2, 3, 3.4, 3.6, 3.8, 4.4, 4.2, 3.8, 3.8, 4,
                          4.6, 5.6, 6.8, 7.4, 7, 5.4, 3.6])
HOURS_WEEKEND = np.array([2.6, 1.6, 1, .6, .5, .5, .8, 1.4, 2.4, 3.6, 4.6, 5.2, 5.4, 5.2, 5, 4.8,
                          4.8, 5, 5.6, 6.4, 6.8, 6.4, 5, 3.6])
WEEKDAY_FACTOR = np.array([1.0, .98, .97, .98, .92, 1.05, 1.18])  # Monday .. Sunday
DAILY_GROWTH = .008  # mild upward trend: +0.8 % of the first day's traffic per day
SESSION_COLUMNS = ("start", "user", "dev", "src", "login", "kind", "n_pv", "search", "lst", "n_view",
                   "n_lines", "remove", "vcart", "checkout", "payment", "purchase", "large", "sid")


@dataclass(frozen=True)
class SimulationSummary:
    """What one ``simulate`` run wrote.  ``files`` lists every NDJSON batch, the CSVs, the ground
    truth and -- instead of each of possibly millions of files -- the ``logs`` day folders."""

    landing_dir: Path
    start: date
    days: int
    users: int
    seed: int
    events: int  # valid events written (excluding injected faults and duplicates)
    faulty_lines: int  # injected bad lines, by design quarantined later
    duplicate_lines: int  # re-delivered copies of valid events
    orders: int
    revenue: float
    files: list[Path]
    ground_truth_path: Path


def _gap_stream(rng: np.random.Generator, chunk: int = 65_536):
    """Endless human think-times in ms: lognormal seconds (median ~30 s, capped at 20 minutes so
    that sessions without session_id survive the platform's 30-minute sessionisation), drawn
    in numpy chunks because one scalar draw per event would dominate the run time."""
    while True:
        yield from ((1 + np.minimum(rng.lognormal(3.4, 1.0, chunk), 1200).astype(np.int64)) * 1000).tolist()


def simulate(landing_dir: Path, *, users: int, days: int, start: date, seed: int,
             gzip: bool = False, layout: str = "ndjson", faults: float = 0.002,
             batch_size: int = 50_000, progress: bool = False,
             growth: float = DAILY_GROWTH) -> SimulationSummary:
    """Simulate ``days`` days of traffic of ``users`` visitors from ``start`` into ``landing_dir``.

    Same arguments give byte-identical output; the run's own day folders are emptied first.
    ``faults`` is the fraction of extra bad lines (split over the six kinds of ``FAULT_KINDS``).
    ``growth`` is the traffic's daily trend, a fraction of the first day's traffic added per day;
    the customers' churn works against it (with 0 the later days are smaller; 0.004 keeps a day
    after eight months about the size of one after a month: bench/daily_growth.py).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    if users < 1 or days < 1 or batch_size < 1 or not 0 <= faults < 1 or growth < 0:
        raise ValueError("users, days and batch_size must be positive, 0 <= faults < 1 and growth >= 0")
    return _Simulator(Path(landing_dir), users, days, start, seed, gzip, layout, faults,
                      batch_size, growth).run(progress)


class _Simulator(_PopulationMixin):
    """One run: population -> sessions (vectorised) -> events day by day -> files."""

    def __init__(self, root: Path, users: int, days: int, start: date, seed: int, gzip: bool,
                 layout: str, faults: float, batch_size: int, growth: float = DAILY_GROWTH) -> None:
        self.root, self.users, self.days, self.start, self.seed = root, users, days, start, seed
        self.growth = growth
        streams = np.random.SeedSequence(seed).spawn(5)
        self.rng, self.rng_ids, rng_faults = (np.random.default_rng(s) for s in streams[:3])
        self.py = random.Random(int(np.random.default_rng(streams[3]).integers(2**63)))
        self.t0 = int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp()) * 1000
        self.t_end = self.t0 + days * DAY_MS
        self.buckets: dict[int, list] = {}  # UTC day index -> [(t_ms, offset_min, precise, event)]
        self.orders = self.refunds = self.next_order = 0
        self.revenue = 0.0
        self.large_orders: list[dict] = []
        self.landing = LandingWriter(root, start, days, gzip=gzip, layout=layout, faults=faults,
                                     batch_size=batch_size, rng_ids=self.rng_ids, rng_faults=rng_faults)
        self.gaps = _gap_stream(np.random.default_rng(streams[4]))

    # ---------------------------------------------------------------------------- sessions
    def _funnel(self, n: int, propensity: np.ndarray) -> dict[str, np.ndarray]:
        """How deep each of ``n`` sessions goes.  Measured at 1M events: 65 % view an item, 26 % of
        those add to cart (scaled by the visitor's propensity), 74 % of carts are abandoned, so
        ~4 % of sessions convert."""
        rng = self.rng
        view = rng.random(n) < .65
        cart = view & (rng.random(n) < np.minimum(.27 * propensity, .85))
        checkout = cart & (rng.random(n) < .45)
        payment = checkout & (rng.random(n) < .8)
        return {"n_pv": 1 + rng.poisson(1.4, n), "search": rng.random(n) < .35,
                "lst": rng.random(n) < .55, "n_view": np.where(view, 1 + rng.poisson(1.3, n), 0),
                "n_lines": np.where(cart, 1 + (rng.random(n) < .25) + (rng.random(n) < .08), 0),
                "remove": cart & (rng.random(n) < .2), "vcart": cart & (rng.random(n) < .5),
                "checkout": checkout, "payment": payment,
                "purchase": payment & (rng.random(n) < .78)}

    def _make_sessions(self) -> None:
        rng, days = self.rng, self.days
        # local days -1 .. days: a US evening before the window is already inside it in UTC
        local_days = np.arange(-1, days + 1)
        weekday = (local_days + self.start.weekday()) % 7
        day_w = WEEKDAY_FACTOR[weekday] * (1 + self.growth * local_days.clip(0))
        user = np.repeat(np.arange(self.users), rng.poisson(self.rate * day_w.sum()))
        n = len(user)
        pick = rng.choice(len(local_days), n, p=day_w / day_w.sum())
        local_day, weekend = local_days[pick], weekday[pick] >= 5
        hour = np.where(weekend, rng.choice(24, n, p=HOURS_WEEKEND / HOURS_WEEKEND.sum()),
                        rng.choice(24, n, p=HOURS_WEEKDAY / HOURS_WEEKDAY.sum()))
        offset = np.array([c[1] for c in COUNTRIES])[self.country[user]]
        start_ms = (self.t0 + local_day * DAY_MS + hour * 3_600_000 + rng.integers(0, 3600, n) * 1000
                    - offset * 60_000)
        cols = {"start": start_ms, "user": user,
                "dev": 2 * user + ((self.n_devices[user] == 2) & (rng.random(n) < .4)),
                "src": np.where(rng.random(n) < .5, self.channel[user],
                                rng.choice(len(SOURCES), n, p=[s[5] for s in SOURCES])),
                # 1 = logged in from the start, 2 = logs in at checkout, 0 = anonymous/guest
                "login": np.where(self.registered[user] & (local_day >= self.signup_day[user]),
                                  (np.digitize(rng.random(n), [.7, .95]) + 1) % 3, 0),
                "kind": np.zeros(n, np.int64), **self._funnel(n, self.propensity[user])}
        in_window = (start_ms >= self.t0) & (start_ms < self.t_end)
        cols = {k: v[in_window] for k, v in cols.items()}
        # churn: drop every session after the customer's last order before dropping out
        order = np.lexsort((cols["start"], cols["user"]))
        cols = {k: v[order] for k, v in cols.items()}
        bought = cols["purchase"].astype(np.int64)
        before = np.cumsum(bought) - bought
        # each user's first session (none at all: a tiny shop's window can hold no session)
        group_start = np.r_[0, np.flatnonzero(np.diff(cols["user"])) + 1] if len(bought) else np.empty(0, np.int64)
        before -= np.repeat(before[group_start], np.diff(np.r_[group_start, len(bought)]))
        cols = {k: v[before < self.max_orders[cols["user"]]] for k, v in cols.items()}
        cols["large"] = np.zeros(len(cols["start"]), bool)
        self._mark_large_order(cols)
        self.sessions = self._concat(cols, self._spike_sessions(cols["start"]), self._bot_sessions())

    def _mark_large_order(self, cols: dict[str, np.ndarray]) -> None:
        """Turn one logged-in, modern-tracker session into an unusually large order."""
        ok = (cols["login"] == 1) & ~self.dev_legacy[cols["dev"]] & (cols["start"] < self.t_end - 3 * 3_600_000)
        candidates = np.flatnonzero(ok & cols["purchase"]) if (ok & cols["purchase"]).any() else np.flatnonzero(ok)
        if len(candidates) == 0:
            return
        i = candidates[self.rng.integers(len(candidates))]
        cols["large"][i] = True
        for key in ("checkout", "payment", "purchase"):
            cols[key][i] = True
        cols["n_view"][i], cols["n_lines"][i] = 4, 4

    def _spike_sessions(self, starts: np.ndarray) -> dict[str, np.ndarray]:
        """A flash-sale burst: one UTC hour window with ``multiplier`` x normal session starts."""
        rng = self.rng
        day = int(rng.integers(1, self.days - 1)) if self.days >= 3 else 0
        hour, length = int(rng.integers(17, 21)), int(rng.integers(1, 3))
        multiplier = round(float(rng.uniform(3, 6)), 1)
        lo = self.t0 + day * DAY_MS + hour * 3_600_000
        hi = lo + length * 3_600_000
        baseline = int(((starts >= lo) & (starts < hi)).sum())
        n = max(1, round((multiplier - 1) * baseline))
        countries = rng.choice(len(COUNTRIES), n, p=[c[2] for c in COUNTRIES])
        devs = self._add_devices(n, np.where(rng.random(n) < .8, 1, 0), countries)
        self.spike = {"date": (self.start + timedelta(days=day)).isoformat(), "hour_start_utc": hour,
                      "hour_end_utc": hour + length, "multiplier": multiplier,
                      "baseline_sessions": baseline, "extra_sessions": n}
        return {"start": np.sort(rng.integers(lo // 1000, hi // 1000, n)) * 1000,
                "user": np.full(n, -1), "dev": devs, "src": np.full(n, SPIKE_SOURCE),
                "login": np.zeros(n, np.int64), "kind": np.zeros(n, np.int64),
                "large": np.zeros(n, bool), **self._funnel(n, np.full(n, .6))}

    def _bot_sessions(self) -> dict[str, np.ndarray]:
        """A few scrapers: desktop, anonymous, 1-3 sessions of hundreds of sub-second hits."""
        rng = self.rng
        bots = min(5, 2 + self.users // 20_000)
        devs = self._add_devices(bots, np.zeros(bots, np.int64), rng.choice([7, 4, 2], bots))
        dev = np.repeat(devs, rng.integers(1, 4, bots))
        n = len(dev)
        cols = {"start": self.t0 + rng.integers(0, self.days * 86_400 - 900, n) * 1000,
                "user": np.full(n, -1), "dev": dev, "src": np.zeros(n, np.int64),
                "login": np.zeros(n, np.int64), "kind": np.ones(n, np.int64),
                "large": np.zeros(n, bool), **self._funnel(n, np.zeros(n))}
        cols["n_pv"] = rng.integers(150, 600, n)  # a bot session's hit count
        return cols

    def _concat(self, *parts: dict[str, np.ndarray]) -> dict[str, list]:
        cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        order = np.argsort(cols["start"], kind="stable")
        cols = {k: v[order] for k, v in cols.items()}
        n = len(order)
        # ~20 % of sessions arrive without session_id (the platform sessionises them by
        # inactivity); bots always carry one so that the ground truth can name their sessions.
        has_sid = (self.rng.random(n) < .8) | (cols["kind"] == 1)
        ids = uuid_like(self.rng_ids, n)
        cols["sid"] = np.array([s if h else None for s, h in zip(ids, has_sid.tolist())], object)
        bot = cols["kind"] == 1
        self.bots = {"anonymous_ids": sorted({self.dev_anon[d] for d in cols["dev"][bot].tolist()}),
                     "session_ids": cols["sid"][bot].tolist()}
        self.dev_type, self.dev_country = self.dev_type.tolist(), self.dev_country.tolist()
        self.dev_legacy = self.dev_legacy.tolist()
        return {k: v.tolist() for k, v in cols.items()}

    # ------------------------------------------------------------------------------ events
    def _push(self, t: int, offset: int, event: dict, precise: bool = False) -> None:
        """Queue an event for its UTC day; events after the window are never delivered."""
        if t < self.t_end:
            self.buckets.setdefault((t - self.t0) // DAY_MS, []).append((t, offset, precise, event))

    def _base(self, legacy: bool, user_id: str | None, dev: int, sid: str | None, src: int) -> dict:
        """The keys every event of a session shares, in output order (ids/times filled later)."""
        _, utm_source, utm_medium, utm_campaign, _, _ = SOURCES[src]
        base = {"event_id": None, "event_type" if legacy else "event_name": None, "event_time": None,
                "user_id": user_id, "device_id" if legacy else "anonymous_id": self.dev_anon[dev]}
        if sid is not None:
            base["session_id"] = sid
        base.update(device=DEVICES[self.dev_type[dev]], country=COUNTRIES[self.dev_country[dev]][0],
                    page=None, referrer=None, utm_source=utm_source, utm_medium=utm_medium,
                    utm_campaign=utm_campaign)
        return base

    def _event(self, base: dict, legacy: bool, name: str, page: str, referrer: str | None,
               lines: list[tuple[int, int]] = (), **extra: object) -> dict:
        """One event from the session's ``base``; ``lines`` are the (product, quantity) it names.
        The legacy tracker used its own names and flat product fields (its carts hold one line)."""
        event = base.copy()
        if legacy:
            event["event_type"] = TO_LEGACY.get(name, name)
        else:
            event["event_name"] = name
        event["page"], event["referrer"] = page, referrer
        if lines:
            if legacy:
                ((product, quantity),) = lines
                pid, pname, category, price = self.products[product]
                event.update(product_id=pid, product_name=pname, category=category, price=price,
                             quantity=quantity)
                value = price * quantity
            else:
                items = [dict(self.item_of[product], quantity=quantity) for product, quantity in lines]
                event["items"] = items
                value = sum(item["price"] * item["quantity"] for item in items)
            event["value"], event["currency"] = round(value, 2), CURRENCY
        event.update(extra)
        return event

    def _expand(self, start: int, user: int, dev: int, src: int, login: int, kind: int, n_pv: int,
                search: bool, lst: bool, n_view: int, n_lines: int, remove: bool, vcart: bool,
                checkout: bool, payment: bool, purchase: bool, large: bool, sid: str | None) -> None:
        """Walk one session down the funnel, queueing its events with human-like gaps."""
        if kind == 1:
            return self._expand_bot(start, dev, sid, n_pv)
        py, legacy, offset = self.py, self.dev_legacy[dev], COUNTRIES[self.dev_country[dev]][1]
        user_id = self.user_ids[user] if user >= 0 else None
        base = self._base(legacy, user_id if login == 1 else None, dev, sid, src)
        t, ref = start, SOURCES[src][4]

        def step(name: str, page: str, lines=(), gap: int | None = None, **extra) -> dict:
            nonlocal t, ref
            t += gap if gap is not None else next(self.gaps)
            event = self._event(base, legacy, name, page, ref, lines, **extra)
            self._push(t, offset, event)
            ref = SITE + page
            return event

        landing = "/" if py.random() < .6 else py.choice(self.category_pages)
        step("session_start", landing, gap=0)
        ref = SOURCES[src][4]  # the first page_view shares the external referrer
        for k in range(n_pv):
            step("page_view", landing if k == 0 else py.choice(self.site_pages),
                 gap=1000 if k == 0 else None)
        p = py.choices(range(len(self.products)), cum_weights=self.popularity)[0]
        if search:
            term = self.products[p][1].split(" ", 1)[1].lower() if py.random() < .7 else self.products[p][2].lower()
            step("search", "/search?q=" + quote_plus(term), search_term=term)
        if lst:
            step("view_item_list", "/c/" + self.slug[self.products[p][2]])
        viewed = (self.most_expensive if large else
                  [p] + py.choices(range(len(self.products)), cum_weights=self.popularity, k=n_view - 1)
                  if n_view else [])
        for product in viewed:
            step("view_item", f"/p/{self.products[product][0]}", [(product, 1)])
        distinct = list(dict.fromkeys(viewed))[: 1 if legacy else n_lines]
        cart = [(product, py.randint(15, 40) if large else py.choices((1, 2, 3), (85, 10, 5))[0])
                for product in distinct]
        for line in cart:
            step("add_to_cart", f"/p/{self.products[line[0]][0]}", [line])
        if remove and len(cart) >= 2:
            step("remove_from_cart", "/cart", [cart.pop()])
        if vcart and cart:
            step("view_cart", "/cart", cart)
        if not (checkout and cart):
            return
        if login == 2:  # a registered customer signs in to check out: identity stitching material
            base["user_id"] = user_id
        step("begin_checkout", "/checkout", cart)
        if payment and not legacy:  # the old tracker had no add_payment_info
            step("add_payment_info", "/checkout/payment", cart)
        if not (payment and purchase):
            return
        self.next_order += 1
        tid = f"ORD-{10_000_000 + self.next_order}"
        event = step("purchase", "/checkout/confirmation", cart, transaction_id=tid)
        if t < self.t_end:
            self.orders += 1
            self.revenue += event["value"]
            if large:
                self.large_orders.append({"transaction_id": tid, "value": event["value"],
                                          "user_id": base["user_id"]})
        if py.random() < .05:  # some refunds fall after the window: ~4 % are delivered
            self._refund(t, base["user_id"], dev, offset, tid, cart)

    def _refund(self, t_purchase: int, user_id: str | None, dev: int, offset: int, tid: str,
                cart: list[tuple[int, int]]) -> None:
        """A customer returns an order 1-10 days later in a short visit of its own (new tracker)."""
        py = self.py
        sid = uuid_from_hex(f"{py.getrandbits(128):032x}") if py.random() < .8 else None
        base = self._base(False, user_id, dev, sid, 0)
        # 1-10 days later, at about the same time of day (people have routines)
        t = t_purchase + (py.randint(1, 10) * 86_400 + py.randint(-7200, 7200)) * 1000
        lines = [py.choice(cart)] if len(cart) > 1 and py.random() < .3 else cart  # partial refund
        page = f"/account/orders/{tid}"
        self._push(t, offset, self._event(base, False, "session_start", page, None))
        self._push(t + 1000, offset, self._event(base, False, "page_view", page, None))
        refund = self._event(base, False, "refund", page, SITE + page, lines, transaction_id=tid)
        self._push(t + 30_000, offset, refund)
        self.refunds += t + 30_000 < self.t_end

    def _expand_bot(self, start: int, dev: int, sid: str | None, hits: int) -> None:
        """A scraper: page_view/view_item every 0.15-0.9 s, millisecond timestamps."""
        py, offset, n_products = self.py, COUNTRIES[self.dev_country[dev]][1], len(self.products)
        base, t = self._base(False, None, dev, sid, 0), start
        self._push(t, offset, self._event(base, False, "session_start", "/", None), True)
        for _ in range(hits - 1):
            t += py.randint(150, 900)
            if py.random() < .6:
                product = py.randrange(n_products)
                event = self._event(base, False, "view_item", f"/p/{self.products[product][0]}",
                                    SITE + "/", [(product, 1)])
            else:
                event = self._event(base, False, "page_view", py.choice(self.category_pages), SITE + "/")
            self._push(t, offset, event, True)

    def run(self, progress: bool) -> SimulationSummary:
        landing = self.landing
        landing.clear_days()
        self._make_catalogue()
        self._make_population()
        self._make_sessions()
        landing.write_reference_data(self)
        sessions, starts = self.sessions, self.sessions["start"]
        rows = list(zip(*(sessions[k] for k in SESSION_COLUMNS)))
        first = 0
        for d in tqdm(range(self.days), unit="day", desc="simulate", disable=not progress):
            last = bisect.bisect_left(starts, self.t0 + (d + 1) * DAY_MS)
            for row in rows[first:last]:
                self._expand(*row)
            first = last
            landing.write_day(d, self.buckets.pop(d, []))
        truth = landing.write_ground_truth(
            seed=self.seed, users=self.users, spike=self.spike, large_orders=self.large_orders,
            bots=self.bots, sessions=len(self.sessions["start"]), orders=self.orders,
            revenue=self.revenue, refunds=self.refunds)
        counts = landing.fault_counts
        faulty = sum(counts.values()) - counts["duplicate_event"]
        return SimulationSummary(self.root, self.start, self.days, self.users, self.seed, landing.events,
                                 faulty, counts["duplicate_event"], self.orders,
                                 round(self.revenue, 2), landing.files, truth)
