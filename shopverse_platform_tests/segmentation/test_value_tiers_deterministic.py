"""``value_tiers`` is the same in every run: money summed exactly, customers with equal revenue tied.

The orders give every customer the same few amounts (0.10, 0.20, 0.70, 1.10, 3.30) in a different
order, in four groups with different totals. Summed as DOUBLE, the totals of one group differ in
their last bits with the order of the additions (and with the thread count), so equal customers
used to land on different percentiles; the expectation here is computed independently with Decimal.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb

from shopverse_platform.lib.segmentation.customers import as_of_params
from shopverse_platform.lib.segmentation.rfm import VALUE_TIERS, value_tiers_sql
from shopverse_platform.lib.segmentation.tables import build_table

CUSTOMERS, DOCUMENTS = 1500, 200
AMOUNTS = [Decimal("0.10"), Decimal("0.20"), Decimal("0.70"), Decimal("1.10"), Decimal("3.30")]
AS_OF = date(2026, 3, 31)


def _orders(con: duckdb.DuckDBPyConnection) -> None:
    # Document i belongs to customer i % CUSTOMERS (its k-th, k = i // CUSTOMERS) and carries amount
    # (2 * customer + k) % 5: every 5 consecutive documents of a customer hold each amount once.
    # Customers with customer % 4 = m keep their first DOCUMENTS - 5 * m documents.
    con.execute(
        """CREATE TABLE orders AS
           SELECT DATE '2026-01-01' + CAST(i % 60 AS INTEGER) AS order_date, 'events' AS source, 'd' || i AS document_id,
                  'c' || lpad(CAST(c AS VARCHAR), 4, '0') AS customer_id, CAST(1 AS BIGINT) AS units, CAST(1 AS BIGINT) AS products,
                  amount AS gross_amount, CAST(0 AS DECIMAL(18,2)) AS credited_amount, amount AS net_amount,
                  true AS is_order, false AS is_credit
           FROM (SELECT i, i % $n AS c, i // $n AS k,
                        CAST($amounts[1 + CAST((2 * (i % $n) + i // $n) % 5 AS INTEGER)] AS DECIMAL(18,2)) AS amount
                 FROM range($n * $docs) t(i))
           WHERE k < $docs - 5 * (c % 4)""",
        {"n": CUSTOMERS, "docs": DOCUMENTS, "amounts": [str(a) for a in AMOUNTS]},
    )


def _expected() -> list[tuple]:
    revenue = {f"c{c:04d}": sum(AMOUNTS) * ((DOCUMENTS - 5 * (c % 4)) // 5) for c in range(CUSTOMERS)}
    ordered = sorted(revenue.values())
    rows = []
    for customer, total in revenue.items():
        percentile = sum(1 for r in ordered if r < total) / (CUSTOMERS - 1)
        rank, tier = next((i + 1, name) for i, (name, threshold) in enumerate(VALUE_TIERS) if percentile >= threshold)
        rows.append((customer, tier, rank, percentile, total))
    return sorted(rows, key=lambda r: (r[4], r[0]))


def _build(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    build_table(con, "value_tiers", value_tiers_sql(con), as_of_params(AS_OF))
    return con.execute("SELECT * FROM value_tiers").fetchall()


def test_value_tiers_are_identical_with_one_thread_and_many_and_tie_equal_revenue():
    con = duckdb.connect()
    _orders(con)
    con.execute("SET threads = 1")
    single = _build(con)
    con.execute("RESET threads")
    default = _build(con)
    assert default == single  # same rows, same values, same stored order

    got = [(r[0], r[2], r[3], r[4], r[5]) for r in single]  # customer, tier, rank, percentile, revenue
    assert got == _expected()
    assert {r[1] for r in single} == {AS_OF}
    # four revenue groups of equal customers: each group shares one percentile and one tier
    by_revenue: dict[Decimal, set] = {}
    for _, _, tier, _, percentile, revenue, *_ in single:
        by_revenue.setdefault(revenue, set()).add((tier, percentile))
    assert len(by_revenue) == 4 and all(len(v) == 1 for v in by_revenue.values())
