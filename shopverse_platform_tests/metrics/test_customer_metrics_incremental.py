"""customer_metrics kept up to date from the days whose documents changed equals the table rebuilt
whole, row for row, through the changes a daily run or a rerun makes to `orders`."""

from __future__ import annotations

import shutil
from datetime import timedelta

import duckdb

from shopverse_platform.lib.metrics.history import build_customer_metrics
from shopverse_platform_tests.metrics.conftest import built  # noqa: F401 - the metrics week's warehouse


def _table(con) -> list[tuple]:
    return con.execute("SELECT * FROM customer_metrics ORDER BY customer_id").fetchall()


def _rebuilt(con, tmp_path) -> list[tuple]:
    """The same orders in a fresh copy of the warehouse, customer_metrics built whole."""
    copy = tmp_path / "rebuilt.duckdb"
    copy.unlink(missing_ok=True)
    con.execute("CHECKPOINT")
    shutil.copy(con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0],
                copy)
    fresh = duckdb.connect(str(copy))
    for name in ("customer_totals", "customer_sources", "customer_order_days"):
        fresh.execute(f"DROP TABLE IF EXISTS {name}")
    assert build_customer_metrics(fresh).mode == "full"
    rows = _table(fresh)
    fresh.close()
    return rows


def test_customer_metrics_updated_from_changed_days_equal_a_rebuild(built, tmp_path):  # noqa: F811
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(built.warehouse.path, path)
    con = duckdb.connect(str(path))
    for name in ("customer_totals", "customer_sources", "customer_order_days"):
        con.execute(f"DROP TABLE IF EXISTS {name}")  # as a warehouse from before the state tables
    assert build_customer_metrics(con).mode == "full"
    before = _table(con)
    assert before == _rebuilt(con, tmp_path) and len(before) == 3

    assert build_customer_metrics(con).mode == "incremental (0 changed days, 0 customers recomputed)"
    assert _table(con) == before

    days = [d for (d,) in con.execute("SELECT DISTINCT order_date FROM orders ORDER BY 1").fetchall()]
    # a new day: the last day's documents again a week later, under new ids
    con.execute("INSERT INTO orders SELECT * REPLACE (order_date + 7 AS order_date, order_ts + INTERVAL 7 DAY AS order_ts, "
                "document_id || '-next' AS document_id) FROM orders WHERE order_date = ?", [days[-1]])
    mode = build_customer_metrics(con).mode
    assert mode.startswith("incremental (1 changed days,")
    assert _table(con) == _rebuilt(con, tmp_path) != before  # recency, orders and revenue moved

    # a day rerun with a document's amount changed, and another day emptied by a rerun
    con.execute("UPDATE orders SET net_amount = net_amount + 1, gross_amount = gross_amount + 1 "
                "WHERE document_id = (SELECT min(document_id) FROM orders WHERE order_date = ? AND is_order "
                "AND customer_id IS NOT NULL)", [days[1]])
    con.execute("DELETE FROM orders WHERE order_date = ?", [days[0]])
    assert build_customer_metrics(con).mode.startswith("incremental (2 changed days,")
    assert _table(con) == _rebuilt(con, tmp_path)

    # a customer seen on one day only, then that day rerun without them: they go
    new_day = days[-1] + timedelta(days=14)
    con.execute("INSERT INTO orders SELECT * REPLACE ($day AS order_date, CAST($day AS TIMESTAMP) + INTERVAL 10 HOUR AS order_ts, "
                "'only-once' AS customer_id, document_id || '-once' AS document_id) FROM orders "
                "WHERE is_order AND customer_id IS NOT NULL ORDER BY document_id LIMIT 1", {"day": new_day})
    build_customer_metrics(con)
    assert "only-once" in {row[0] for row in _table(con)} and _table(con) == _rebuilt(con, tmp_path)
    con.execute("DELETE FROM orders WHERE order_date = ?", [new_day])
    assert build_customer_metrics(con).mode.startswith("incremental (1 changed days,")
    assert "only-once" not in {row[0] for row in _table(con)}
    assert _table(con) == _rebuilt(con, tmp_path)
    con.close()
