"""Metrics rebuilt from scratch equal metrics built day by day; every check fails when a number is wrong."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import dagster as dg
import duckdb
import pytest

from shopverse_platform.defs.metrics.facts import DOCUMENT_UNIQUE, orders, orders_checks
from shopverse_platform.defs.metrics.sales import daily_sales
from shopverse_platform.defs.metrics.weekly import weekly_kpis
from shopverse_platform.defs.asset_helpers import FRESHNESS_TRIGGER, TRIGGER_TAG
from shopverse_platform.defs.cleaning.assets import clean_events, clean_order_lines
from shopverse_platform.defs.lineage.sql_lineage import StatementLog
from shopverse_platform.defs.ingestion.assets import raw_events, raw_orders
from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform.lib.cleaning import events as event_cleaning
from shopverse_platform.lib.metrics import checks
from shopverse_platform_tests.conftest import materialize_range
from shopverse_platform_tests.metrics import fixture as fx
from shopverse_platform_tests.metrics.conftest import (
    DAILY_METRICS,
    METRIC_TABLES,
    WHOLE_HISTORY_METRICS,
)


def _normalise(value):
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_normalise(v) for v in value)
    return value


def _snapshot(warehouse: Warehouse) -> dict[str, list]:
    with warehouse.connect(read_only=True) as con:
        return {t: _normalise(con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()) for t in METRIC_TABLES}


def test_metrics_rebuilt_from_scratch_equal_metrics_built_day_by_day(built, tmp_path):
    """``built`` made every metric in one range run (a rebuild from scratch); here a copy of its
    warehouse loses every metric table and gets them back one daily partition after the other."""
    from_scratch = _snapshot(built.warehouse)
    warehouse = Warehouse(path=str(tmp_path / "incremental.duckdb"))
    shutil.copy(built.warehouse.resolved_path(), warehouse.resolved_path())
    resources = {**built.resources, "warehouse": warehouse}
    with warehouse.connect() as con:
        for table in METRIC_TABLES:
            con.execute(f"DROP TABLE {table}")
    day = fx.D1
    while day <= fx.WEEK_END:  # the daily schedule: one partition after the other
        assert materialize_range(DAILY_METRICS, resources, str(day), str(day)).success
        day += timedelta(days=1)
    assert dg.materialize(WHOLE_HISTORY_METRICS, resources=resources, instance=dg.DagsterInstance.ephemeral()).success
    assert materialize_range([weekly_kpis], resources, str(fx.D1), str(fx.D1)).success
    incremental = _snapshot(warehouse)

    assert from_scratch.keys() == incremental.keys()
    for table in METRIC_TABLES:
        assert incremental[table] == from_scratch[table], table
    assert len(from_scratch["daily_sales"]) == 7 and len(from_scratch["funnel_daily"]) == 63


WINDOW = (fx.D1, fx.WEEK_END + timedelta(days=1))
RATES = ["bounce_rate"]
CASES = {
    "net revenue off by a penny": (
        "UPDATE daily_sales SET net_revenue = net_revenue + 0.01 WHERE sales_date = '2024-03-05'",
        lambda con: checks.daily_sales_reconcile(con, *WINDOW)),
    "orders counted from lines": (
        "UPDATE daily_sales SET orders = orders + 1 WHERE sales_date = '2024-03-04'",
        lambda con: checks.daily_orders_match_fact(con, *WINDOW)),
    "a missing day": (
        "DELETE FROM daily_sales WHERE sales_date = '2024-03-06'",
        lambda con: checks.every_day_present(con, "daily_sales", "sales_date", *WINDOW)),
    "a hole in the table": (
        "DELETE FROM daily_sales WHERE sales_date = '2024-03-06'",
        lambda con: checks.no_gaps(con, "daily_sales", "sales_date")),
    "a funnel step rising": (
        "UPDATE funnel_daily SET sessions = 99 WHERE funnel_date = '2024-03-04' AND funnel = 'purchase' AND step = 'purchase'",
        lambda con: checks.funnel_never_rises(con, *WINDOW)),
    "a rate above 1": (
        "UPDATE daily_traffic SET bounce_rate = 1.2 WHERE traffic_date = '2024-03-04'",
        lambda con: checks.rates_in_unit_interval(con, "daily_traffic", RATES)),
    "a nested rate above 1": (
        "UPDATE cart_abandonment SET by_device = [{'key': 'x', 'carts': 1, 'abandoned': 2, 'abandonment_rate': 2.0, "
        "'abandoned_value': 0}] WHERE cart_date = '2024-03-04'",
        lambda con: checks.rates_in_unit_interval(
            con, "cart_abandonment", [checks.nested_rates("by_device", "abandonment_rate")])),
    "a negative count": (
        "UPDATE daily_traffic SET sessions = -1 WHERE traffic_date = '2024-03-06'",
        lambda con: checks.no_negative_counts(con, "daily_traffic", ["sessions"])),
    "carts not adding up": (
        "UPDATE cart_abandonment SET carts_abandoned = carts_abandoned + 1 WHERE cart_date = '2024-03-04'",
        lambda con: checks.carts_add_up(con, *WINDOW)),
    "product revenue lost": (
        "DELETE FROM product_performance WHERE product_id = 'P2'",
        lambda con: checks.product_revenue_reconciles(con, *WINDOW)),
    "a document counted twice": (
        "INSERT INTO orders SELECT * FROM orders WHERE document_id = 'T1'",
        lambda con: checks.unique_key(con, "orders", "source, document_id")),
    "a fact line lost": (
        "DELETE FROM order_lines WHERE document_id = '536380' AND line_no = 2",
        lambda con: checks.order_lines_match_clean(con, *WINDOW)),
    "a customer's revenue off": (
        "UPDATE customer_metrics SET net_revenue = net_revenue - 1 WHERE customer_id = 'u1'",
        lambda con: checks.whole_history_revenue(con, "customer_metrics", "net_revenue")),
    "a week not matching its days": (
        "UPDATE weekly_kpis SET value = value + 1 WHERE kpi = 'orders'",
        lambda con: checks.weekly_matches_daily(con, fx.D1, fx.D1 + timedelta(days=7))),
}


def test_the_clean_tables_writers_fingerprinted_every_day_they_wrote(built):
    """The week's run cleaned events and order lines day by day: partition_fingerprints holds each
    day of both tables with its row count and the hash of its rows, computed here from the rows."""
    with built.warehouse.connect(read_only=True) as con:
        for name in ("clean_events", "clean_order_lines"):
            recorded = con.execute("SELECT partition_date, \"rows\", fingerprint FROM partition_fingerprints "
                                   "WHERE table_name = ? ORDER BY 1", [name]).fetchall()
            from_rows = con.execute(f"SELECT partition_date, count(*), bit_xor(hash(t)) FROM {name} t "
                                    "GROUP BY 1 ORDER BY 1").fetchall()
            assert recorded and recorded == from_rows, name


@pytest.mark.parametrize("case", list(CASES))
def test_checks_pass_on_the_week_and_fail_on_a_wrong_number(built, tmp_path, case):
    tamper, check = CASES[case]
    copy = tmp_path / "copy.duckdb"
    shutil.copy(built.warehouse.resolved_path(), copy)
    con = duckdb.connect(str(copy))
    try:
        assert check(con)[0], "passes on the correct tables"
        con.execute(tamper)
        passed, metadata = check(con)
    finally:
        con.close()
    assert not passed, metadata


@pytest.mark.parametrize("tamper", [
    None,
    "UPDATE daily_traffic SET sessions = -1 WHERE traffic_date = '2024-03-06'",
    "UPDATE daily_traffic SET bounce_rate = 1.2 WHERE traffic_date = '2024-03-04'",
    "UPDATE daily_traffic SET sessions = -1, visitors = -2, bounce_rate = -0.5 WHERE traffic_date = '2024-03-05'",
])
def test_counts_and_rates_give_each_check_its_own_outcome_from_one_scan(built, tmp_path, tamper):
    """session_metrics evaluates no_negative_counts and rates_in_unit_interval of a table with one
    query (a scan less per table on a DuckLake): each outcome is the one its own function gives."""
    copy = tmp_path / "copy.duckdb"
    shutil.copy(built.warehouse.resolved_path(), copy)
    con = duckdb.connect(str(copy))
    try:
        if tamper:
            con.execute(tamper)
        where, params = "traffic_date >= $start AND traffic_date < $end", {"start": WINDOW[0], "end": WINDOW[1]}
        counts_columns = ["visitors", "sessions", "events"]
        log = StatementLog(con)
        counts, rates = checks.counts_and_rates(log, "daily_traffic", counts_columns, RATES, where, params)
        assert rates() == checks.rates_in_unit_interval(con, "daily_traffic", RATES, where, params)
        assert counts() == checks.no_negative_counts(con, "daily_traffic", counts_columns, where, params)
        assert len(log.take()) == 1, "one scan for both checks"
        if tamper:
            assert not (counts()[0] and rates()[0])
        else:
            assert counts()[0] and rates()[0]
    finally:
        con.close()


def test_the_source_check_counts_an_event_order_on_its_first_delivery_only(built, tmp_path):
    # T3 (bought on D2) delivered again on D3: order_lines keeps it on D2 only, and the check's clean
    # side must too ("none earlier", read from every purchase before the window)
    copy = tmp_path / "copy.duckdb"
    shutil.copy(built.warehouse.resolved_path(), copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("INSERT INTO clean_events SELECT * REPLACE ('T3-again' AS event_id, event_ts + INTERVAL 1 DAY AS event_ts, "
                    "event_date + 1 AS event_date, partition_date + 1 AS partition_date) "
                    "FROM clean_events WHERE transaction_id = 'T3' AND event_name = 'purchase' LIMIT 1")
        window = (fx.D3, fx.D4)
        passed, metadata = checks.order_lines_match_clean(con, *window)
        purchases_that_day = con.execute(
            "SELECT count(DISTINCT transaction_id) FROM clean_events WHERE event_name = 'purchase' AND event_date = ?",
            [fx.D3]).fetchone()[0]
    assert passed, metadata
    assert metadata["clean_event_orders"] == metadata["fact_event_orders"] == purchases_that_day - 1


def test_a_blocking_check_fails_the_run_on_a_wrong_fact(built, tmp_path):
    copy = tmp_path / "copy.duckdb"
    shutil.copy(built.warehouse.resolved_path(), copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("UPDATE order_lines SET gross_amount = gross_amount + 1, net_amount = net_amount + 1 WHERE document_id = 'T1'")
    resources = {**built.resources, "warehouse": Warehouse(path=str(copy))}
    result = materialize_range([daily_sales], resources, str(fx.D1), str(fx.D1), raise_on_error=False)
    assert not result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert [e.check_name for e in failed] == ["daily_sales_reconciles_with_orders"]
    assert failed[0].metadata["fact_gross"].value - failed[0].metadata["daily_gross"].value == pytest.approx(1.0)


def test_a_stored_table_check_runs_on_its_own_and_fails_on_a_duplicated_row(built, tmp_path):
    """orders_document_unique looks at the stored table only: it runs without rebuilding orders
    (as "Execute checks" in the UI does), and fails once a document is stored twice."""
    copy = tmp_path / "copy.duckdb"
    shutil.copy(built.warehouse.resolved_path(), copy)
    resources = {**built.resources, "warehouse": Warehouse(path=str(copy))}

    def run_check_only() -> dg.ExecuteInProcessResult:
        return dg.materialize([orders, orders_checks], selection=dg.AssetSelection.checks(DOCUMENT_UNIQUE.key),
                              resources=resources, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)

    clean = run_check_only()
    assert clean.success and clean.get_asset_materialization_events() == []
    assert [(e.check_name, e.passed) for e in clean.get_asset_check_evaluations()] == [("orders_document_unique", True)]

    with duckdb.connect(str(copy)) as con:
        rows = con.execute("SELECT count(*) FROM orders").fetchone()[0]
        con.execute("INSERT INTO orders SELECT * FROM orders WHERE document_id = 'T1'")
    broken = run_check_only()
    assert broken.get_asset_materialization_events() == []  # the table was not rebuilt: the duplicate is still there
    (evaluation,) = broken.get_asset_check_evaluations()
    assert evaluation.check_name == "orders_document_unique" and not evaluation.passed
    assert evaluation.metadata["repeated_keys"].value == 1
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    with duckdb.connect(str(copy), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM orders").fetchone()[0] == rows + 1


# ------------------------------------------------------------- a day built by appended files
DAY, PREVIOUS = date(2024, 3, 5), date(2024, 3, 4)


def _event(event_id, device, when, name="page_view", session=None, items=None, **extra):
    body = {"event_id": event_id, "event_name": name, "event_time": when, "anonymous_id": device,
            "device": "mobile", "country": "GB", "page": "/"}
    if session:
        body["session_id"] = session
    if items:
        body.update(items=items, value=20.0, currency="GBP")
    return json.dumps({**body, **extra})


MUG = {"item_id": "P1", "item_name": "Mug", "item_category": "Kitchen", "price": 10.0, "quantity": 2}
# The collector's batches of DAY, in the order they land (names sort by creation time). Platform
# sessions (no session_id) of dev-b are split by a gap in batch 1 and bridged by batch 2's event;
# dev-a continues a session of the day before; re-deliveries within a file, across files and of
# the day before; rejected lines; a file that is not events and a truncated gzip.
BATCHES = [
    ("collector-20240305T001500000000-h-1-1.ndjson", [
        _event("a1", "dev-a", "2024-03-05T00:10:00Z"),
        _event("b1", "dev-b", "2024-03-05T10:00:00Z"),
        _event("b3", "dev-b", "2024-03-05T10:45:00Z"),
        _event("p1", "dev-c", "2024-03-05T11:00:00Z", "purchase", "sC", [MUG], transaction_id="T1"),
        "{not json",
        _event("prev-1", "dev-d", "2024-03-04T22:00:00Z", session="sD"),  # already clean the day before
    ]),
    ("collector-20240305T003000000000-h-1-2.ndjson", [
        _event("b2", "dev-b", "2024-03-05T10:20:00Z"),  # bridges b1 and b3: one session now
        _event("a1", "dev-a", "2024-03-05T00:10:00Z"),  # re-delivered from batch 1
        _event("p2", "dev-c", "2024-03-05T12:00:00Z", "purchase", "sC2", [{**MUG, "price": "12,50"}]),
        _event("b0", "dev-b", "2024-03-05T09:50:00Z"),  # a new first event of b's session
    ]),
    ("collector-20240305T004500000000-h-1-3.txt", None),  # not an event file
    ("collector-20240305T010000000000-h-1-4.ndjson.gz", b"\x1f\x8b\x08\x00truncated"),
    ("collector-20240305T011500000000-h-1-5.ndjson", [
        _event("p3", "dev-e", "2024-03-05T13:00:00Z", "purchase", "sE", [MUG], transaction_id="T3"),
        _event("p3", "dev-e", "2024-03-05T13:00:00Z", "purchase", "sE", [MUG], transaction_id="T3"),
        _event("e2", "dev-e", "2024-03-05T13:01:00Z", "view_item", "sE", [MUG]),
    ]),
]


def _land(folder, name, content) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if content is None:
        (folder / name).write_text("a note\n")
    elif isinstance(content, bytes):
        (folder / name).write_bytes(content)
    else:
        (folder / name).write_text("\n".join(content) + "\n")


def _day_assets():
    """The freshness job's assets: those of the daily job's ingestion, cleaning and daily metrics,
    checked against its selection (defs/automation/selections.py FRESHNESS_SCOPE, from the graph)."""
    from shopverse_platform.defs.automation.selections import FRESHNESS_SCOPE
    from shopverse_platform.definitions import defs

    keys = FRESHNESS_SCOPE.resolve(defs().resolve_asset_graph())
    assets = [raw_events, raw_orders, clean_events, clean_order_lines, *DAILY_METRICS]
    assert {k for a in assets if isinstance(a, dg.AssetsDefinition) for k in a.keys} == keys
    return assets, keys


def _day_tables(warehouse: Warehouse, tables: list[str]) -> dict[str, list]:
    with warehouse.connect(read_only=True) as con:
        found = {}
        for name in tables:
            column = [c for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND data_type = 'DATE' "
                "ORDER BY column_index", [name]).fetchall()][0]
            found[name] = _normalise(con.execute(
                f"SELECT * FROM {name} WHERE {column} = ? ORDER BY ALL", [DAY]).fetchall())
        found["reconciliation"] = event_cleaning.reconcile(con, "events", DAY, DAY + timedelta(days=1))
        found["sessions of dev-b"] = con.execute(
            "SELECT count(DISTINCT session_id) FROM clean_events WHERE anonymous_id = 'dev-b'").fetchone()[0]
        if tables:  # the fingerprint the writers recorded, and one taken from the day's rows now
            found["fingerprint recorded"] = con.execute(
                "SELECT \"rows\", fingerprint FROM partition_fingerprints "
                "WHERE table_name = 'clean_events' AND partition_date = ?", [DAY]).fetchall()
            found["fingerprint of the rows"] = con.execute(
                "SELECT count(*), bit_xor(hash(t)) FROM clean_events t WHERE partition_date = ?", [DAY]).fetchall()
    return found


def test_a_day_built_by_appending_files_equals_the_day_built_at_once(tmp_path):
    """The freshness path re-runs today after each collector batch: raw_events and clean_events
    append only the new files (metadata ``mode``), the day's metrics are rebuilt. After N such runs
    the day's rows (raw registry, clean events with their sessions, quarantine, reconciliation,
    daily metrics) equal those of one full run over all the files."""
    assets, keys = _day_assets()
    assert {"raw_events", "clean_events", "daily_sales", "daily_traffic"} <= {k.to_user_string() for k in keys}
    assert not {"daily_report", "sessions", "weekly_kpis"} & {k.to_user_string() for k in keys}
    landing = tmp_path / "landing"
    events = landing / "events" / DAY.isoformat()
    _land(landing / "events" / PREVIOUS.isoformat(), "batch-0001.ndjson", [
        _event("prev-0", "dev-a", "2024-03-04T23:50:00Z"),
        _event("prev-1", "dev-d", "2024-03-04T22:00:00Z", session="sD"),
    ])

    def build(name: str, day: date, freshness: bool = True):
        warehouse = Warehouse(path=str(tmp_path / f"{name}.duckdb"))
        resources = {"warehouse": warehouse, "landing_zone": LandingZone(path=str(landing))}
        tags = {TRIGGER_TAG: FRESHNESS_TRIGGER} if freshness else {}  # as the landing sensor tags them
        result = dg.materialize(assets, resources=resources, partition_key=day.isoformat(), tags=tags,
                                instance=dg.DagsterInstance.ephemeral())
        assert result.success
        modes = {}
        for event in result.get_asset_materialization_events():
            metadata = event.materialization.metadata
            if "mode" in metadata:
                modes[event.asset_key.to_user_string()] = metadata["mode"].value
        return warehouse, modes

    build("appended", PREVIOUS)
    sessions_split = None
    for number, (name, content) in enumerate(BATCHES):
        _land(events, name, content)
        warehouse, modes = build("appended", DAY)
        expected = "full" if number == 0 else "incremental (1 new files)"
        assert modes == {"raw_events": expected, "clean_events": expected}, name
        if number == 0:
            sessions_split = _day_tables(warehouse, [])["sessions of dev-b"]
    appended = _day_tables(warehouse, TABLES_OF_A_DAY)

    build("at_once", PREVIOUS, freshness=False)
    at_once_warehouse, modes = build("at_once", DAY, freshness=False)
    assert modes == {"raw_events": "full", "clean_events": "full"}
    at_once = _day_tables(at_once_warehouse, TABLES_OF_A_DAY)

    assert sessions_split == 2 and at_once["sessions of dev-b"] == 1  # the bridge really merged two sessions
    # both writers (appending files, cleaning the day whole) recorded the day as its rows are
    assert appended["fingerprint recorded"] == appended["fingerprint of the rows"] == at_once["fingerprint recorded"]
    assert appended.keys() == at_once.keys()
    for name in at_once:
        assert appended[name] == at_once[name], name
    reasons = {row[4] for row in at_once["quarantine"]}
    assert {"duplicate_event", "malformed_json", "invalid_price", "not_an_event_file", "unreadable_file"} <= reasons
    assert at_once["reconciliation"]["duplicates"] == 3 and len(at_once["daily_sales"]) == 1

    # a new file sorting before the cleaned ones, a changed file: the day is rebuilt whole
    _land(events, "batch-0001.ndjson", [_event("x1", "dev-x", "2024-03-05T08:00:00Z")])
    assert build("appended", DAY)[1] == {"raw_events": "full", "clean_events": "full"}
    _land(events, "collector-20240305T020000000000-h-1-6.ndjson", [_event("x2", "dev-x", "2024-03-05T08:01:00Z")])
    assert build("appended", DAY)[1] == {"raw_events": "incremental (1 new files)", "clean_events": "incremental (1 new files)"}
    _land(events, "collector-20240305T021500000000-h-1-7.ndjson", [_event("x3", "dev-x", "2024-03-05T08:02:00Z")])
    # any run but a freshness run (the daily job at the day's end, a backfill) rebuilds the day whole
    assert build("appended", DAY, freshness=False)[1] == {"raw_events": "full", "clean_events": "full"}
    _land(events, BATCHES[0][0], BATCHES[0][1][:2])  # re-delivered shorter
    assert build("appended", DAY)[1] == {"raw_events": "full", "clean_events": "full"}


TABLES_OF_A_DAY = ["raw_events", "clean_events", "quarantine", "cleaned_landing_files", "order_lines", "orders",
                   "daily_sales", "daily_traffic", "funnel_daily", "cart_abandonment", "product_performance"]
