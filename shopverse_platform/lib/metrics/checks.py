"""Checks of the metric layer: each returns (passed, metadata) from figures re-derived from the facts.

They are plain functions so tests can call them on a tampered warehouse and see them fail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import duckdb

from shopverse_platform.lib.metrics.sources import customer_documents, purchase_events, revenue_documents, source
from shopverse_platform.lib.warehouse.sql import SqlText, TableName, load_sql
from shopverse_platform.lib.warehouse.sql import table as warehouse_table
from shopverse_platform.lib.warehouse.tables import rows_failing, unique_key  # noqa: F401  (unique_key re-exported: checks.unique_key)

Outcome = tuple[bool, dict[str, object]]


def _plain(value: object) -> object:
    return float(value) if isinstance(value, Decimal) else value


def _totals_match(con: duckdb.DuckDBPyConnection, params: dict, names: list[str],
                  sides: dict[str, SqlText]) -> Outcome:
    """Two one-row totals queries (``sides``: label -> loaded SQL, columns in the order of ``names``)
    must agree, NULL counting as 0; the metadata holds both sides' values as ``<label>_<name>``."""
    (left_label, left_sql), (right_label, right_sql) = sides.items()
    left = [v or 0 for v in con.execute(left_sql, params).fetchall()[0]]
    right = [v or 0 for v in con.execute(right_sql, params).fetchall()[0]]
    metadata = {f"{left_label}_{n}": _plain(v) for n, v in zip(names, left)}
    return left == right, metadata | {f"{right_label}_{n}": _plain(v) for n, v in zip(names, right)}


def every_day_present(con: duckdb.DuckDBPyConnection, table: str, date_col: str, start: date, end: date,
                      rows_per_day: int | None = 1, period_days: int = 1) -> Outcome:
    """Every period (day, or week with ``period_days=7``) of [start, end) has its rows: exactly
    ``rows_per_day`` when given, else at least one."""
    expected = (end - start).days // period_days
    counts = con.execute(
        load_sql(__file__, "rows_per_period", checked=warehouse_table(table)), {"date_column": date_col, "start": start, "end": end}
    ).fetchall()
    wrong = [str(day) for day, n in counts if rows_per_day is not None and n != rows_per_day]
    passed = len(counts) == expected and not wrong
    return passed, {"expected_periods": expected, "periods_present": len(counts), "periods_with_wrong_row_count": wrong[:20]}


def no_gaps(con: duckdb.DuckDBPyConnection, table: str, date_col: str) -> Outcome:
    """Across the whole table, every day between the first and the last has its row(s): a range
    built piecemeal left no hole (a weekly rollup over a hole would be wrong)."""
    checked = warehouse_table(table)
    first, last, days = con.execute(load_sql(__file__, "period_span", checked=checked), {"date_column": date_col}).fetchone()
    expected = (last - first).days + 1 if first else 0
    missing = []
    if days != expected:
        missing = [str(r[0]) for r in con.execute(
            load_sql(__file__, "missing_days", checked=checked), {"date_column": date_col, "first": first, "last": last}
        ).fetchall()]
    return days == expected, {"first_day": str(first), "last_day": str(last), "days_present": days,
                              "days_expected": expected, "missing_days": missing}


def no_negative_counts(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], where: str = "true",
                       params: dict | None = None) -> Outcome:
    failing = rows_failing(con, table, {c: f"{c} < 0" for c in columns}, where, params)
    return not failing, {"columns": columns, "rows_with_negative_values": failing}


def rates_in_unit_interval(con: duckdb.DuckDBPyConnection, table: str, expressions: list[str], where: str = "true",
                           params: dict | None = None) -> Outcome:
    """Each expression (a rate column, or a list expression over nested rates) is NULL or in [0, 1]."""
    failing = rows_failing(con, table, {e: f"NOT coalesce({e} BETWEEN 0 AND 1, true)" for e in expressions}, where, params)
    return not failing, {"rates": expressions, "rows_out_of_range": failing}


def counts_and_rates(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], expressions: list[str],
                     where: str = "true", params: dict | None = None) -> tuple[Callable[[], Outcome], Callable[[], Outcome]]:
    """:func:`no_negative_counts` of ``columns`` and :func:`rates_in_unit_interval` of ``expressions``
    over the same rows, as two evaluations sharing one scan of ``table``, made when the first of them
    is evaluated; each outcome is the one its own function gives. On a DuckLake every scan of a table
    first reads its file list from the catalog (~10 ms a check on a day's rows, ~1 ms on a DuckDB file)."""
    negative = {column: f"{column} < 0" for column in columns}
    out_of_range = {e: f"NOT coalesce({e} BETWEEN 0 AND 1, true)" for e in expressions}
    conditions = {**{("negative", c): condition for c, condition in negative.items()},
                  **{("rate", e): condition for e, condition in out_of_range.items()}}
    names = {f"{kind}:{name}": (kind, name) for kind, name in conditions}
    scanned: list[dict[tuple[str, str], int]] = []

    def failing(kind: str) -> dict[str, int]:
        if not scanned:
            counts = rows_failing(con, table, {label: conditions[key] for label, key in names.items()}, where, params)
            scanned.append({names[label]: n for label, n in counts.items()})
        return {name: n for (of, name), n in scanned[0].items() if of == kind}

    def counts() -> Outcome:
        found = failing("negative")
        return not found, {"columns": columns, "rows_with_negative_values": found}

    def rates() -> Outcome:
        found = failing("rate")
        return not found, {"rates": expressions, "rows_out_of_range": found}

    return counts, rates


def nested_rates(column: str, field: str) -> str:
    """A rate inside a list of structs, as one value for ``rates_in_unit_interval``: the smallest if
    any is below 0, else the largest (NULL for an empty list)."""
    values = f"[x.{field} FOR x IN {column} IF x.{field} IS NOT NULL]"
    return f"CASE WHEN list_min({values}) < 0 THEN list_min({values}) ELSE list_max({values}) END"


def order_lines_match_clean(con: duckdb.DuckDBPyConnection, start: date, end: date,
                            purchases: TableName | SqlText | None = None) -> Outcome:
    """Export lines in the fact = clean order lines of the window (count and amount); event documents =
    the window's first purchase events per transaction and its refund events. ``purchases``:
    ``sources.purchase_events(con)`` when the caller has it already (the order_lines step, which
    decided it for its build: the same purchase events either way)."""
    fact = load_sql(__file__, "order_lines_source_totals")
    clean = load_sql(__file__, "clean_source_totals", exports=source(con, "clean_order_lines"),
                     events=source(con, "clean_events"),
                     purchases=purchase_events(con) if purchases is None else purchases)
    return _totals_match(con, {"start": start, "end": end}, ["export_lines", "export_amount", "event_orders", "event_refunds"],
                         {"fact": fact, "clean": clean})


def orders_match_lines(con: duckdb.DuckDBPyConnection, start: date, end: date) -> Outcome:
    """Documents and their gross/credited/net sales amounts in ``orders`` = the lines they are built from."""
    return _totals_match(con, {"start": start, "end": end}, ["documents", "gross", "credited", "net"],
                         {"orders": load_sql(__file__, "orders_totals"),
                          "lines": load_sql(__file__, "order_lines_document_totals")})


def daily_sales_reconcile(con: duckdb.DuckDBPyConnection, start: date, end: date) -> Outcome:
    """Sum of the days' gross, cancelled and net revenue = the order fact's sales lines, to the penny."""
    return _totals_match(con, {"start": start, "end": end}, ["gross", "cancelled", "net"],
                         {"daily": load_sql(__file__, "daily_sales_revenue_totals"),
                          "fact": load_sql(__file__, "order_lines_sales_totals")})


def daily_orders_match_fact(con: duckdb.DuckDBPyConnection, start: date, end: date) -> Outcome:
    """Each day's ``orders`` = distinct order documents in the line fact that day."""
    mismatched = con.execute(load_sql(__file__, "daily_orders_mismatches"), {"start": start, "end": end}).fetchall()
    return not mismatched, {"days_mismatched": len(mismatched), "examples": [[str(d), a, b] for d, a, b in mismatched[:10]]}


def funnel_never_rises(con: duckdb.DuckDBPyConnection, start: date, end: date) -> Outcome:
    rising = con.execute(load_sql(__file__, "funnel_rising_steps"), {"start": start, "end": end}).fetchall()
    return not rising, {"rising_steps": len(rising), "examples": [[str(d), f, s] for d, f, s in rising[:10]]}


def carts_add_up(con: duckdb.DuckDBPyConnection, start: date, end: date) -> Outcome:
    wrong = con.execute(load_sql(__file__, "carts_not_adding_up"), {"start": start, "end": end}).fetchone()[0]
    return wrong == 0, {"days_where_created_is_not_converted_plus_abandoned": wrong}


def product_revenue_reconciles(con: duckdb.DuckDBPyConnection, start: date, end: date) -> Outcome:
    """Product revenue summed over products = product lines of the fact (postage and fees excluded)."""
    params = {"start": start, "end": end}
    products = con.execute(load_sql(__file__, "product_performance_revenue_totals"), params).fetchone()
    fact = con.execute(load_sql(__file__, "order_lines_product_totals"), params).fetchone()
    products, fact = [v or Decimal(0) for v in products], [v or Decimal(0) for v in fact]
    return products == fact, {"products_gross": float(products[0]), "fact_product_gross": float(fact[0]),
                              "products_refunds": float(products[1]), "fact_product_credits": float(fact[1])}


def whole_history_revenue(con: duckdb.DuckDBPyConnection, table: str, amount: str, where: str = "true") -> Outcome:
    """A whole-history table's revenue = the order fact's net sales over the documents the table reads
    (customer_metrics: identified customers' orders and credits; else every document that moves money).

    ``where`` is a condition the calling code writes as a literal (``grain = 'hour_of_week'``), never
    a value from outside; that is why it may be spliced as ``SqlText``."""
    got = con.execute(
        load_sql(__file__, "table_amount_total", checked=warehouse_table(table), condition=SqlText(where)), {"amount": amount}
    ).fetchone()[0] or Decimal(0)
    documents = customer_documents() if table == "customer_metrics" else revenue_documents()  # as the table reads
    expected = con.execute(load_sql(__file__, "orders_net_sales", documents=documents)).fetchone()[0] or Decimal(0)
    return got == expected, {f"{table}_{amount}": float(got), "orders_net_amount": float(expected)}


def weekly_matches_daily(con: duckdb.DuckDBPyConnection, start: date, end: date) -> Outcome:
    """A week's net revenue and orders = the sum of its days in daily_sales, and all 7 days are there."""
    params = {"start": start, "end": end}
    weekly = {(w, k): v for w, k, v in con.execute(load_sql(__file__, "weekly_revenue_orders"), params).fetchall()}
    daily = con.execute(load_sql(__file__, "daily_sales_weeks"), params).fetchall()
    bad = []
    for week, days, net, orders in daily:
        got_net, got_orders = weekly.get((week, "net_revenue")), weekly.get((week, "orders"))
        if days != 7 or got_net is None or abs(got_net - float(net)) > 0.005 or got_orders != orders:
            bad.append([str(week), days, got_net, float(net), got_orders, orders])
    passed = not bad and len(daily) == (end - start).days // 7
    return passed, {"weeks_checked": len(daily), "mismatches": bad[:10]}


def revenue_converted(con: duckdb.DuckDBPyConnection, start: date, end: date,
                      max_rate_age_days: int | None = None, exchange_rates: object = None) -> Outcome:
    """Every sales line of the window has a reporting-currency amount, and the whole fact is in one
    reporting currency. A line in a currency without a rate within ``max_rate_age_days`` keeps only
    its original amount: the metadata says how much net revenue that is, per currency, and on which
    days, so a sum that leaves it out is never read as complete."""
    rows = con.execute(load_sql(__file__, "unconverted_revenue"), {"start": start, "end": end}).fetchall()
    reporting = [c for (c,) in con.execute(load_sql(__file__, "reporting_currencies")).fetchall()]
    unconverted = {currency: float(amount or 0) for currency, _, _, amount, _ in rows}
    metadata: dict[str, object] = {
        "reporting_currency": reporting[0] if len(reporting) == 1 else reporting,
        "unconverted_net_by_currency": unconverted,
        "unconverted_lines": sum(int(r[1]) for r in rows),
        "unconverted_documents": sum(int(r[2]) for r in rows),
        "unconverted_days": sorted({str(d) for r in rows for d in r[4]}),
        "max_rate_age_days": max_rate_age_days,
        "exchange_rates": str(exchange_rates) if exchange_rates else "none (SHOPVERSE_EXCHANGE_RATES unset)",
    }
    if rows:
        metadata["what_to_look_at"] = (
            "add rates for " + ", ".join(unconverted) + " on or within max_rate_age_days before those days to the "
            "exchange-rate file (SHOPVERSE_EXCHANGE_RATES), then rebuild order_lines for them; until then their "
            "revenue is left out of every reporting-currency figure")
    if len(reporting) > 1:
        metadata["mixed_reporting_currencies"] = (
            f"order_lines holds days built under {', '.join(reporting)}: set SHOPVERSE_REPORTING_CURRENCY and rebuild them")
    return not rows and len(reporting) <= 1, metadata
