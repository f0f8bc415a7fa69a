"""dim_products and dim_customers kept up to date from the changed days of the clean tables equal
the tables rebuilt whole, row for row, through the changes a daily run or a rerun makes; and what
they compute from their per-day counts equals mode() and median() over the rows themselves."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest

from shopverse_platform.lib.cleaning import dimensions
from shopverse_platform.lib.warehouse import partition_fingerprints
from shopverse_platform.lib.warehouse.column_docs import column_docs
from shopverse_platform.lib.warehouse.shapes import ITEMS_TYPE
from shopverse_platform_tests.conftest import column_comments

D1, D2, D3 = date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)
EVENTS = f"partition_date DATE, event_id VARCHAR, user_id VARCHAR, event_ts TIMESTAMP, country VARCHAR, items {ITEMS_TYPE}"
LINES = ("partition_date DATE, source_file VARCHAR, line_number BIGINT, stock_code VARCHAR, description VARCHAR, "
         "unit_price DECIMAL(18,3), line_type VARCHAR, is_cancellation BOOLEAN, customer_id VARCHAR, "
         "invoice_ts TIMESTAMP, country VARCHAR")


def _item(product: str, name: str, category: str, price: float) -> dict:
    return {"item_id": product, "item_name": name, "item_category": category, "price": price, "quantity": 1}


def _ts(day: date, minute: int) -> datetime:
    return datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute)


def _events(con, rows):
    con.executemany("INSERT INTO clean_events VALUES (?, ?, ?, ?, ?, ?)", rows)


def _lines(con, rows):
    con.executemany("INSERT INTO clean_order_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


@pytest.fixture
def con(tmp_path):
    con = duckdb.connect()
    con.execute(f"CREATE TABLE clean_events ({EVENTS})")
    con.execute(f"CREATE TABLE clean_order_lines ({LINES})")
    _events(con, [
        (D1, "e1", "u1", _ts(D1, 10), "GB", [_item("p1", "Mug", "kitchen", 4.0), _item("p2", "Lamp", "home", 20.0)]),
        (D1, "e2", "u1", _ts(D1, 20), "GB", [_item("p1", "Mug", "kitchen", 5.0)]),
        (D1, "e3", None, _ts(D1, 30), "FR", [_item("p1", "Mug!", "kitchen", 4.5)]),
        (D2, "e4", "u2", _ts(D2, 5), "DE", [_item("p2", "Lamp", "lighting", 22.0)]),
        (D2, "e5", "u1", _ts(D2, 6), "FR", []),
    ])
    _lines(con, [
        (D1, "x.csv", 1, "S1", "SCARF", Decimal("2.500"), "product", False, "c1", _ts(D1, 40), "United Kingdom"),
        (D1, "x.csv", 2, "POST", "POSTAGE", Decimal("18.000"), "postage", False, "c1", _ts(D1, 40), "United Kingdom"),
        (D2, "x.csv", 3, "S1", "SCARF RED", Decimal("2.550"), "product", False, "c2", _ts(D2, 41), "France"),
        (D2, "x.csv", 4, "S1", "SCARF", Decimal("2.555"), "product", False, "c2", _ts(D2, 42), "France"),
        (D2, "x.csv", 5, "S1", "SCARF", Decimal("-2.500"), "product", True, "c1", _ts(D2, 43), "Spain"),
    ])
    yield con
    con.close()


def _kept(con) -> dict[str, list[tuple]]:
    return {name: con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall() for name in ("dim_products", "dim_customers")}


def _build(con, tmp_path, full: bool = False) -> tuple[str, str]:
    products = dimensions.build_dim_products(con, tmp_path / "no-catalogue.csv", full=full)
    customers = dimensions.build_dim_customers(con, tmp_path / "no-profiles.csv", full=full)
    return products.mode, customers.mode


def _full(tmp_path, con) -> dict[str, list[tuple]]:
    """The same clean tables in a fresh database, both dimensions built whole."""
    fresh = duckdb.connect()
    for name, columns in (("clean_events", EVENTS), ("clean_order_lines", LINES)):
        fresh.execute(f"CREATE TABLE {name} ({columns})")
        rows = con.execute(f"SELECT * FROM {name}").fetchall()
        if rows:
            fresh.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    assert _build(fresh, tmp_path) == (f"full ({_partitions(fresh)} partitions)",) * 2
    kept = _kept(fresh)
    fresh.close()
    return kept


def _partitions(con) -> int:
    return con.execute("SELECT (SELECT count(DISTINCT partition_date) FROM clean_events)"
                       " + (SELECT count(DISTINCT partition_date) FROM clean_order_lines)").fetchone()[0]


def test_dimensions_updated_from_changed_days_equal_a_rebuild(con, tmp_path):
    assert _build(con, tmp_path) == ("full (4 partitions)",) * 2  # no observations yet
    assert _kept(con) == _full(tmp_path, con)

    assert _build(con, tmp_path) == ("incremental (0 changed partitions)",) * 2  # nothing changed

    # a new day of events and of exports
    _events(con, [(D3, "e6", "u3", _ts(D3, 1), "GB", [_item("p3", "Vase", "home", 9.0), _item("p1", "Mug", "kitchen", 4.0)])])
    _lines(con, [(D3, "y.csv", 1, "S1", "SCARF RED", Decimal("2.600"), "product", False, "c1", _ts(D3, 9), "France")])
    assert _build(con, tmp_path) == ("incremental (2 changed partitions)",) * 2
    assert _kept(con) == _full(tmp_path, con)

    # D1 re-cleaned: an event gone, another with a new price; D2's exports rerun without a line
    con.execute("DELETE FROM clean_events WHERE event_id = 'e2'")
    con.execute("UPDATE clean_events SET items = [{'item_id': 'p2', 'item_name': 'Lamp', 'item_category': 'home', "
                "'price': 25.0, 'quantity': 1}] WHERE event_id = 'e1'")
    con.execute("DELETE FROM clean_order_lines WHERE partition_date = ? AND line_number = 3", [D2])
    # what the writers do in the transactions that rewrite those days (new and emptied days need
    # nothing: the table's days are compared with the fingerprinted ones)
    partition_fingerprints.record(con, "clean_events", D1, D2)
    partition_fingerprints.record(con, "clean_order_lines", D2, D3)
    assert _build(con, tmp_path) == ("incremental (2 changed partitions)",) * 2
    assert _kept(con) == _full(tmp_path, con)

    # a day emptied by a rerun: what only it said is gone (u2 and c2 were seen on D2 only)
    con.execute("DELETE FROM clean_events WHERE partition_date = ?", [D2])
    con.execute("DELETE FROM clean_order_lines WHERE partition_date = ?", [D2])
    _build(con, tmp_path)
    assert _kept(con) == _full(tmp_path, con)
    customers = {row[0] for row in _kept(con)["dim_customers"]}
    assert "u2" not in customers and "c2" not in customers and {"u1", "u3", "c1"} <= customers


def test_counts_give_what_mode_and_median_over_the_rows_give(con, tmp_path):
    """Without ties, the dimensions from per-day counts equal mode()/median() over the clean rows,
    computed here directly."""
    _build(con, tmp_path)
    expected_events = dict(((p, (n, c, float(m))) for p, n, c, m in con.execute(
        "SELECT i.item_id, mode(i.item_name), mode(i.item_category), median(i.price) "
        "FROM (SELECT unnest(items) AS i FROM clean_events) GROUP BY 1").fetchall()))
    # p2: Lamp twice, home vs lighting once each is a tie, so only compare what has no tie
    got = {p: (n, c, price) for p, n, c, price, *_ in _kept(con)["dim_products"]}
    assert got["p1"] == expected_events["p1"] == ("Mug", "kitchen", 4.5)  # median of 4.0, 4.5, 5.0
    assert got["p2"][0] == "Lamp" and got["p2"][2] == 21.0  # median of 20.0 and 22.0
    # S1 (sales lines only, the cancellation left out): SCARF twice, median of 2.500, 2.550, 2.555
    expected_s1 = con.execute("SELECT mode(description), CAST(median(unit_price) AS DOUBLE) FROM clean_order_lines "
                              "WHERE stock_code = 'S1' AND NOT is_cancellation").fetchone()
    assert (got["S1"][0], got["S1"][2]) == expected_s1 == ("SCARF", 2.55)
    assert [row[-2:] for row in _kept(con)["dim_products"] if row[0] == "POST"] == [("postage", False)]
    customers = {row[0]: row for row in _kept(con)["dim_customers"]}
    # u1: GB twice, FR once; first and last seen over both days
    assert customers["u1"][2] == "GB" and customers["u1"][5:7] == (_ts(D1, 10), _ts(D2, 6))
    # c1: United Kingdom on two lines, Spain on its cancellation: exports read every line
    assert customers["c1"][2] == "United Kingdom" and customers["c1"][5:] == (_ts(D1, 40), _ts(D2, 43), "order_exports")


def test_an_even_count_interpolates_between_the_two_middle_prices(con, tmp_path):
    _lines(con, [(D3, "z.csv", 1, "S9", "X", Decimal("1.250"), "product", False, None, _ts(D3, 1), "UK"),
                 (D3, "z.csv", 2, "S9", "X", Decimal("1.255"), "product", False, None, _ts(D3, 2), "UK"),
                 (D3, "z.csv", 3, "S9", "X", Decimal("1.255"), "product", False, None, _ts(D3, 3), "UK"),
                 (D3, "z.csv", 4, "S9", "X", Decimal("9.000"), "product", False, None, _ts(D3, 4), "UK")])
    _build(con, tmp_path)
    direct = con.execute("SELECT CAST(median(unit_price) AS DOUBLE) FROM clean_order_lines WHERE stock_code = 'S9'").fetchone()[0]
    got = con.execute("SELECT list_price FROM dim_products WHERE product_id = 'S9'").fetchone()[0]
    assert got == direct == 1.255


def test_observations_with_nothing_changed_write_nothing_on_a_lake(tmp_path):
    """Every step of a run brings the observations it reads up to date first, and the later ones
    find no partition changed: they then write nothing (on a DuckLake, no snapshot), and a change
    after that is still found and applied."""
    from shopverse_platform.lib.warehouse import lake

    con = lake.connect(lake.parse_location(f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}"), "wh", read_only=False, config={})
    try:
        con.execute("CREATE TABLE clean_events (partition_date DATE, event_name VARCHAR)")
        con.execute("INSERT INTO clean_events VALUES (?, 'page_view'), (?, 'page_view'), (?, 'purchase')", [D1, D1, D1])

        def snapshots() -> int:
            return con.execute("SELECT count(*) FROM ducklake_snapshots(current_database())").fetchall()[0][0]

        def observed() -> list[tuple]:
            return con.execute("SELECT partition_date, event_name, events FROM event_name_observations ORDER BY ALL").fetchall()

        assert dimensions.update_event_name_observations(con).mode == "full (1 partitions)"
        before = snapshots()
        assert dimensions.update_event_name_observations(con).mode == "incremental (0 changed partitions)"
        assert snapshots() == before, "an update with nothing changed committed a snapshot"
        assert observed() == [(D1, "page_view", 2), (D1, "purchase", 1)]

        con.execute("INSERT INTO clean_events VALUES (?, 'add_to_cart')", [D2])
        before = snapshots()
        assert dimensions.update_event_name_observations(con).mode == "incremental (1 changed partitions)"
        assert snapshots() == before + 1
        assert observed() == [(D1, "page_view", 2), (D1, "purchase", 1), (D2, "add_to_cart", 1)]
    finally:
        con.close()
        lake.release_instances()


def _documented(tables: tuple[str, ...]) -> dict[tuple[str, str], str]:
    docs = column_docs()
    return {(table, column): text for table in tables for column, text in docs[table].items()}


def test_a_dimension_is_committed_with_its_column_descriptions_on_a_lake(con, tmp_path):
    """A dimension is rebuilt whole on every build: created the first time (with its columns'
    descriptions, in the build's own transaction), its rows replaced after that (the comments kept);
    either way one snapshot on a DuckLake, not a second commit for the comments (in which a reader
    saw the table without them), and the rows a DuckDB database's build makes."""
    from shopverse_platform.lib.warehouse import lake

    lake_con = lake.connect(lake.parse_location(f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}"), "wh", read_only=False,
                            config={})
    try:
        for name, columns in (("clean_events", EVENTS), ("clean_order_lines", LINES)):
            lake_con.execute(f"CREATE TABLE {name} ({columns})")
            rows = con.execute(f"SELECT * FROM {name}").fetchall()
            lake_con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(rows[0]))})", rows)

        def snapshots() -> int:
            return lake_con.execute("SELECT count(*) FROM ducklake_snapshots(current_database())").fetchall()[0][0]

        dims = ("dim_products", "dim_customers")
        for rebuild in (False, True):  # created, then replaced
            for build in (dimensions.build_dim_products, dimensions.build_dim_customers):
                before = snapshots()
                build(lake_con, tmp_path / "absent.csv", full=rebuild)
                assert snapshots() == before + 1
            comments = column_comments(lake_con, dims)
            assert {key: comments.get(key) for key in _documented(dims)} == _documented(dims)
        assert _kept(lake_con) == _full(tmp_path, con)  # the same rows as a DuckDB database's build
    finally:
        lake_con.close()
        lake.release_instances()
