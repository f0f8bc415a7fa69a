"""A hand-written week of shop data for the metric layer, with every figure computed by hand below.

Days (UTC): Mon 2024-03-04 (D1), Tue 03-05 (D2), Wed 03-06 (empty), Thu 03-07 (D4); Fri-Sun empty.
Products: P1 Mug 10.00 (Kitchen), P2 Lamp 30.00 (Home), P3 Vase 20.00 (Home).

Events, one session per block (device, country, user):
  sA  dev-a desktop GB u1   D1 10:00  view P1, add P1x2, checkout, payment, purchase T1 (20.00)
  sB  dev-b mobile  GB  -   D1 11:00  one page view: a bounce
  sC  dev-c mobile  FR  -   D1 14:00  view P2, add P2, add P3, remove P3, checkout, payment,
                                      purchase T2 (30.00) as a guest
  sD  dev-d tablet  DE u2   D1 23:50  view P3, add P3, then after midnight begin_checkout and a page
                                      view: crosses midnight, cart abandoned at checkout (20.00 left)
  sE  dev-e desktop GB u3   D1 16:00  add P2 *before* viewing it: in order it reached view_item only;
                                      cart abandoned (30.00 left)
  sBot dev-bot desktop US   D1 03:00  40 events one second apart (20 page views, 19 P1 views): a bot
  sG  dev-a desktop GB u1   D2 09:00  view P2, add, checkout, payment, purchase T3 (30.00), and the
                                      same purchase re-sent with a new event_id (counts once)
  sR  dev-a desktop GB u1   D4 12:00  refund of T1: 1 x P1 = 10.00, three days after the purchase

Order export (UCI Online Retail layout):
  D1 536365 09:26 17850 United Kingdom: 6 x 2.55 + 6 x 3.39 + POST 18.00 = 53.64 (12 items)
  D1 536366 14:30 guest United Kingdom: 6 x 1.85 = 11.10
  D1 536368 15:00 13047 France: BANK CHARGES 15.00 -- a fee, not a sale, not an order
  D2 C536379 09:41 17850: -2 x 2.55 = -5.10, cancels 536365 the next day
  D2 536380 10:00 13047 France: 3 x 4.25 + manual 2.00 = 14.75 (3 items)
  D4 536390 11:00 guest: -3 x 0.00 stock adjustment -- not an order
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

D1, D2, D3, D4 = date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6), date(2024, 3, 7)
WEEK_END = date(2024, 3, 10)

P1 = {"item_id": "P1", "item_name": "Mug", "item_category": "Kitchen", "price": 10.0}
P2 = {"item_id": "P2", "item_name": "Lamp", "item_category": "Home", "price": 30.0}
P3 = {"item_id": "P3", "item_name": "Vase", "item_category": "Home", "price": 20.0}

DEVICES = {
    "dev-a": ("desktop", "GB"), "dev-b": ("mobile", "GB"), "dev-c": ("mobile", "FR"),
    "dev-d": ("tablet", "DE"), "dev-e": ("desktop", "GB"), "dev-bot": ("desktop", "US"),
}


def _item(product: dict, quantity: int = 1) -> dict:
    return {**product, "quantity": quantity}


def _events() -> list[dict]:
    events: list[dict] = []

    def add(session, device, user, when, name, items=None, **extra):
        device_type, country = DEVICES[device]
        body = {"event_id": f"{session}-{len(events)}", "event_name": name, "event_time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "anonymous_id": device, "session_id": session, "user_id": user, "device": device_type,
                "country": country, "page": extra.pop("page", "/")}
        if items:
            body["items"] = items
            body["value"] = round(sum(i["price"] * i["quantity"] for i in items), 2)
            body["currency"] = "GBP"
        body.update(extra)
        events.append({k: v for k, v in body.items() if v is not None})

    t = lambda day, hh, mm, ss=0: datetime(day.year, day.month, day.day, hh, mm, ss)  # noqa: E731
    add("sA", "dev-a", "u1", t(D1, 10, 0), "session_start")
    add("sA", "dev-a", "u1", t(D1, 10, 1), "page_view")
    add("sA", "dev-a", "u1", t(D1, 10, 2), "view_item", [_item(P1)])
    add("sA", "dev-a", "u1", t(D1, 10, 3), "add_to_cart", [_item(P1, 2)])
    add("sA", "dev-a", "u1", t(D1, 10, 5), "begin_checkout", [_item(P1, 2)])
    add("sA", "dev-a", "u1", t(D1, 10, 6), "add_payment_info", [_item(P1, 2)])
    add("sA", "dev-a", "u1", t(D1, 10, 7), "purchase", [_item(P1, 2)], transaction_id="T1")
    add("sB", "dev-b", None, t(D1, 11, 0), "session_start")
    add("sB", "dev-b", None, t(D1, 11, 0, 30), "page_view")
    add("sC", "dev-c", None, t(D1, 14, 0), "session_start")
    add("sC", "dev-c", None, t(D1, 14, 1), "page_view")
    add("sC", "dev-c", None, t(D1, 14, 2), "view_item", [_item(P2)])
    add("sC", "dev-c", None, t(D1, 14, 3), "add_to_cart", [_item(P2)])
    add("sC", "dev-c", None, t(D1, 14, 4), "add_to_cart", [_item(P3)])
    add("sC", "dev-c", None, t(D1, 14, 5), "remove_from_cart", [_item(P3)])
    add("sC", "dev-c", None, t(D1, 14, 6), "begin_checkout", [_item(P2)])
    add("sC", "dev-c", None, t(D1, 14, 7), "add_payment_info", [_item(P2)])
    add("sC", "dev-c", None, t(D1, 14, 8), "purchase", [_item(P2)], transaction_id="T2")
    add("sD", "dev-d", "u2", t(D1, 23, 50), "session_start")
    add("sD", "dev-d", "u2", t(D1, 23, 51), "page_view")
    add("sD", "dev-d", "u2", t(D1, 23, 55), "view_item", [_item(P3)])
    add("sD", "dev-d", "u2", t(D1, 23, 58), "add_to_cart", [_item(P3)])
    add("sD", "dev-d", "u2", t(D2, 0, 5), "begin_checkout", [_item(P3)])
    add("sD", "dev-d", "u2", t(D2, 0, 10), "page_view", page="/delivery")
    add("sE", "dev-e", "u3", t(D1, 16, 0), "session_start")
    add("sE", "dev-e", "u3", t(D1, 16, 1), "add_to_cart", [_item(P2)])
    add("sE", "dev-e", "u3", t(D1, 16, 2), "view_item", [_item(P2)])
    start = t(D1, 3, 0)
    add("sBot", "dev-bot", None, start, "session_start")
    for k in range(1, 40):
        when = start + timedelta(seconds=k)
        if k % 2:
            add("sBot", "dev-bot", None, when, "page_view", page="/c/home")
        else:
            add("sBot", "dev-bot", None, when, "view_item", [_item(P1)])
    add("sG", "dev-a", "u1", t(D2, 9, 0), "session_start")
    add("sG", "dev-a", "u1", t(D2, 9, 1), "view_item", [_item(P2)])
    add("sG", "dev-a", "u1", t(D2, 9, 2), "add_to_cart", [_item(P2)])
    add("sG", "dev-a", "u1", t(D2, 9, 3), "begin_checkout", [_item(P2)])
    add("sG", "dev-a", "u1", t(D2, 9, 4), "add_payment_info", [_item(P2)])
    add("sG", "dev-a", "u1", t(D2, 9, 5), "purchase", [_item(P2)], transaction_id="T3")
    add("sG", "dev-a", "u1", t(D2, 9, 6), "purchase", [_item(P2)], transaction_id="T3")  # re-sent
    add("sR", "dev-a", "u1", t(D4, 12, 0), "session_start", page="/account/orders/T1")
    add("sR", "dev-a", "u1", t(D4, 12, 0, 5), "page_view", page="/account/orders/T1")
    add("sR", "dev-a", "u1", t(D4, 12, 0, 30), "refund", [_item(P1)], transaction_id="T1", page="/account/orders/T1",
        event_id="refund-T1")
    return events


ORDERS_CSV = '''"InvoiceNo","StockCode","Description","Quantity","InvoiceDate","UnitPrice","CustomerID","Country"
"536365","85123A","WHITE HANGING HEART T-LIGHT HOLDER","6","2024-03-04 09:26:00","2.55","17850","United Kingdom"
"536365","71053","WHITE METAL LANTERN","6","2024-03-04 09:26:00","3.39","17850","United Kingdom"
"536365","POST","POSTAGE","1","2024-03-04 09:26:00","18","17850","United Kingdom"
"536366","22633","HAND WARMER UNION JACK","6","2024-03-04 14:30:00","1.85","","United Kingdom"
"536368","BANK CHARGES","Bank Charges","1","2024-03-04 15:00:00","15","13047","France"
"C536379","85123A","WHITE HANGING HEART T-LIGHT HOLDER","-2","2024-03-05 09:41:00","2.55","17850","United Kingdom"
"536380","22960","JAM MAKING SET WITH JARS","3","2024-03-05 10:00:00","4.25","13047","France"
"536380","M","Manual","1","2024-03-05 10:00:00","2","13047","France"
"536390","22719","","-3","2024-03-07 11:00:00","0","","United Kingdom"
'''

CUSTOMERS_CSV = "user_id,age_group,country,signup_date,acquisition_channel\nu1,25-34,GB,2024-01-02,organic\n"


def write_landing(root: Path) -> None:
    by_day: dict[str, list[str]] = {}
    for event in _events():
        by_day.setdefault(event["event_time"][:10], []).append(json.dumps(event))
    for day, lines in by_day.items():
        folder = root / "events" / day
        folder.mkdir(parents=True)
        (folder / "batch-0001.ndjson").write_text("\n".join(lines) + "\n")
    (root / "orders").mkdir()
    (root / "orders" / "export.csv").write_text(ORDERS_CSV)
    (root / "customers").mkdir()
    (root / "customers" / "customers.csv").write_text(CUSTOMERS_CSV)
