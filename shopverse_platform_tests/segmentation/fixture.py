"""Hand-written data for the segmentation tests, with the expected segments worked out by hand.

Orders (UCI Online Retail layout, one line per invoice). Eleven customers are built so that, as
of 2011-03-31 (the last day with orders), their ranks on recency, frequency and monetary are known:
with 11 distinct values the percent ranks are 0, 0.1, ..., 1.0, so scores are 1,1,2,2,3,3,4,4,5,5,5.

| customer | orders | net revenue | last order | R | F | M | FM | segment             | value tier |
|----------|-------:|------------:|------------|---|---|---|----|---------------------|------------|
| C01      | 8      | 100         | 2011-03-31 | 5 | 5 | 5 | 5  | Champions           | High       |
| C02      | 6      | 90          | 2011-02-14 | 3 | 5 | 5 | 5  | Loyal Customers     | High       |
| C03      | 3      | 40          | 2011-03-08 | 4 | 3 | 2 | 3  | Potential Loyalists | Low        |
| C04      | 1      | 10          | 2011-03-28 | 5 | 1 | 1 | 1  | New Customers       | Low        |
| C05      | 1      | 20          | 2011-03-01 | 4 | 1 | 1 | 1  | Promising           | Low        |
| C06      | 1 (+1 cancellation of 10) | 70 | 2011-02-07 | 3 | 1 | 4 | 3 | Need Attention | Medium |
| C07      | 4      | 80          | 2011-01-24 | 2 | 4 | 4 | 4  | At Risk             | High       |
| C08      | 9      | 110         | 2011-01-10 | 1 | 5 | 5 | 5  | Can't Lose Them     | VIP        |
| C09      | 1      | 50          | 2011-01-17 | 2 | 1 | 3 | 2  | Hibernating         | Medium     |
| C10      | 1      | 60          | 2011-01-03 | 1 | 1 | 3 | 2  | Lost                | Medium     |
| C11      | 5      | 30          | 2011-03-21 | 5 | 4 | 2 | 3  | Potential Loyalists | Low        |

F: five customers with one order share percent rank 0 (F = 1); then 3 orders -> 0.5 (F 3), 4 -> 0.6
(F 4), 5 -> 0.7 (F 4), 6 -> 0.8, 8 -> 0.9, 9 -> 1.0 (F 5). Value tiers: percent rank of revenue
0..1 in steps of 0.1: VIP >= 0.95 (C08), High >= 0.67 (0.7, 0.8, 0.9), Medium >= 0.33 (0.4..0.6).

One week earlier, as of Sunday 2011-03-27, C04 has not bought yet and C01 has 7 orders worth 70,
last on 2010-12-07: C01 is the least recent of 10 (R 1), F = 1 + floor(5 x 8/9) = 5, revenue 70
ties C06 at percent rank 5/9 (M 3, tier Medium): FM = 4, so At Risk. In the week of 2011-03-28
C01 moves At Risk -> Champions and Medium -> High (value +30), C04 enters as (new) -> New Customers.
A guest order (no CustomerID) is in the export and belongs to no customer.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

AS_OF = date(2011, 3, 31)
HEADER = '"InvoiceNo","StockCode","Description","Quantity","InvoiceDate","UnitPrice","CustomerID","Country"'

# customer -> [(day, amount)] of its orders; the last one is the one in the table above
ORDERS: dict[str, list[tuple[str, float]]] = {
    "C01": [(f"2010-12-0{d}", 10.0) for d in range(1, 8)] + [("2011-03-31", 30.0)],
    "C02": [(f"2010-12-0{d}", 10.0) for d in range(1, 6)] + [("2011-02-14", 40.0)],
    "C03": [("2010-12-01", 10.0), ("2010-12-02", 10.0), ("2011-03-08", 20.0)],
    "C04": [("2011-03-28", 10.0)],
    "C05": [("2011-03-01", 20.0)],
    "C06": [("2011-02-07", 80.0)],
    "C07": [("2010-12-01", 20.0), ("2010-12-02", 20.0), ("2010-12-03", 20.0), ("2011-01-24", 20.0)],
    "C08": [(f"2010-12-0{d}", 10.0) for d in range(1, 9)] + [("2011-01-10", 30.0)],
    "C09": [("2011-01-17", 50.0)],
    "C10": [("2011-01-03", 60.0)],
    "C11": [(f"2010-12-0{d}", 5.0) for d in range(1, 5)] + [("2011-03-21", 10.0)],
}
CANCELLATIONS = [("C06", "2011-02-08", 10.0)]  # one unit of C06's order returned the next day
GUEST_ORDER = ("2011-03-15", 500.0)

EXPECTED = {  # customer: (r, f, m, segment, tier)
    "C01": (5, 5, 5, "Champions", "High"),
    "C02": (3, 5, 5, "Loyal Customers", "High"),
    "C03": (4, 3, 2, "Potential Loyalists", "Low"),
    "C04": (5, 1, 1, "New Customers", "Low"),
    "C05": (4, 1, 1, "Promising", "Low"),
    "C06": (3, 1, 4, "Need Attention", "Medium"),
    "C07": (2, 4, 4, "At Risk", "High"),
    "C08": (1, 5, 5, "Can't Lose Them", "VIP"),
    "C09": (2, 1, 3, "Hibernating", "Medium"),
    "C10": (1, 1, 3, "Lost", "Medium"),
    "C11": (5, 4, 2, "Potential Loyalists", "Low"),
}


def _line(invoice: str, quantity: int, day: str, price: float, customer: str) -> str:
    return f'"{invoice}","85123A","WHITE HANGING HEART T-LIGHT HOLDER","{quantity}","{day} 10:00:00","{price:.2f}","{customer}","United Kingdom"'


def orders_csv() -> str:
    lines, number = [HEADER], 540000
    for customer, orders in ORDERS.items():
        for day, amount in orders:
            number += 1
            lines.append(_line(str(number), 1, day, amount, customer))
    for customer, day, amount in CANCELLATIONS:
        number += 1
        lines.append(_line(f"C{number}", -1, day, amount, customer))
    lines.append(_line(str(number + 1), 1, GUEST_ORDER[0], GUEST_ORDER[1], ""))
    return "\n".join(lines) + "\n"


def write_orders(landing: Path) -> None:
    folder = landing / "orders"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "export.csv").write_text(orders_csv())


# ------------------------------------------------------------------------------ intent events
# As of 2024-03-28 with a 28-day lookback (events from 2024-03-01 on). Expected, by hand:
#   u-a (device d-a, and device d-h which logged in as u-a later): purchased        -> converted
#   d-b: cart in one session, came back for a second session                         -> high
#   d-c: cart in a single session                                                    -> medium
#   d-d: viewed an item                                                              -> medium
#   d-e: pages and a search only                                                     -> low
#   d-f: only seen on 2024-02-20, before the lookback                                -> absent
#   d-g: 40 events in one minute (a bot session, even with a cart)                   -> absent
INTENT_AS_OF = date(2024, 3, 28)
ITEM = {"item_id": "P001", "item_name": "Mug", "item_category": "Kitchen", "price": 8.5, "quantity": 1}
EXPECTED_INTENT = {"u-a": "converted", "d-b": "high", "d-c": "medium", "d-d": "medium", "d-e": "low"}


def _event(n: int, name: str, time: str, device: str, session: str, **fields) -> dict:
    body = {"event_id": f"ev{n:04d}", "event_name": name, "event_time": time, "anonymous_id": device, "session_id": session}
    return {**body, **fields}


def intent_events() -> list[dict]:
    events: list[tuple[str, str, str, str, dict]] = [
        ("page_view", "2024-03-10T10:00:00Z", "d-a", "s-a1", {"user_id": "u-a", "page": "/"}),
        ("view_item", "2024-03-10T10:01:00Z", "d-a", "s-a1", {"user_id": "u-a", "items": [ITEM]}),
        ("add_to_cart", "2024-03-10T10:02:00Z", "d-a", "s-a1", {"user_id": "u-a", "items": [ITEM]}),
        ("purchase", "2024-03-10T10:05:00Z", "d-a", "s-a1",
         {"user_id": "u-a", "items": [ITEM], "transaction_id": "T-a", "value": 8.5}),
        ("page_view", "2024-03-20T09:00:00Z", "d-h", "s-h1", {"page": "/"}),
        ("page_view", "2024-03-25T09:00:00Z", "d-h", "s-h2", {"user_id": "u-a", "page": "/account"}),
        ("view_item", "2024-03-05T12:00:00Z", "d-b", "s-b1", {"items": [ITEM]}),
        ("add_to_cart", "2024-03-05T12:01:00Z", "d-b", "s-b1", {"items": [ITEM]}),
        ("page_view", "2024-03-12T18:00:00Z", "d-b", "s-b2", {"page": "/"}),
        ("view_item", "2024-03-15T08:00:00Z", "d-c", "s-c1", {"items": [ITEM]}),
        ("add_to_cart", "2024-03-15T08:02:00Z", "d-c", "s-c1", {"items": [ITEM]}),
        ("page_view", "2024-03-20T08:00:00Z", "d-d", "s-d1", {"page": "/"}),
        ("view_item", "2024-03-20T08:01:00Z", "d-d", "s-d1", {"items": [ITEM]}),
        ("page_view", "2024-03-27T20:00:00Z", "d-e", "s-e1", {"page": "/"}),
        ("search", "2024-03-27T20:01:00Z", "d-e", "s-e1", {"search_term": "lamp"}),
        ("page_view", "2024-03-28T20:00:00Z", "d-e", "s-e2", {"page": "/sale"}),
        ("view_item", "2024-02-20T10:00:00Z", "d-f", "s-f1", {"items": [ITEM]}),
        ("add_to_cart", "2024-02-20T10:01:00Z", "d-f", "s-f1", {"items": [ITEM]}),
    ]
    events += [("page_view", f"2024-03-18T03:00:{s:02d}Z", "d-g", "s-g1", {"page": f"/p{s}"}) for s in range(39)]
    events += [("add_to_cart", "2024-03-18T03:00:45Z", "d-g", "s-g1", {"items": [ITEM]})]
    return [_event(n, name, time, device, session, **fields) for n, (name, time, device, session, fields) in enumerate(events)]


def write_events(landing: Path) -> tuple[str, str]:
    """One NDJSON batch per UTC day; returns the first and last day."""
    import json

    by_day: dict[str, list[str]] = {}
    for event in intent_events():
        by_day.setdefault(event["event_time"][:10], []).append(json.dumps(event))
    for day, lines in by_day.items():
        folder = landing / "events" / day
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "batch-0001.ndjson").write_text("\n".join(lines) + "\n")
    return min(by_day), max(by_day)
