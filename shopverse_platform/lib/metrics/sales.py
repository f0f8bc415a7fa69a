"""``daily_sales``: one row per UTC day from the order facts, every sales figure computed once.

- ``orders`` counts documents that bill something (``orders.is_order``), never lines.
- ``gross_revenue`` is what the day's orders billed; ``cancelled_revenue`` what the day's
  cancellations and refunds gave back, whatever day the original sale was; ``net_revenue`` is the
  difference. Only sales lines count (products, postage, manual adjustments, discounts, vouchers).
- ``items`` and ``unique_products`` count goods only: postage and adjustments are not products.
- Customers are identified customers; guest orders count for revenue and in ``guest_orders`` /
  ``guest_customers`` (a guest is its device for events; every guest invoice is its own guest).
- New customers place their first order ever (in the warehouse's history) that day.
- ``average_order_value`` is net: the revenue of the day's orders that were not fully cancelled,
  less what cancellations and refunds of the same UTC day gave back on them, ÷ those orders
  (``aov_net_revenue`` ÷ ``aov_orders``, stored so a week or a report divides sums, not averages).
  Credits of a later day stay in that day's ``cancelled_revenue`` and leave this day's figures as
  they were: a day's row does not change when it is rebuilt later. ``gross_average_order_value`` is
  ``gross_revenue`` ÷ ``orders``, labelled as gross.
- Hours are UTC; a peak hour is the one with the most revenue (net of the same day's credits, as the
  average order value; hours of only cancelled orders are no peak) or orders, the earliest on a tie.
"""

from __future__ import annotations

from datetime import date

import duckdb

from shopverse_platform.lib.metrics.sources import replace_window
from shopverse_platform.lib.warehouse.sql import load_sql


def build_daily_sales(con: duckdb.DuckDBPyConnection, start: date, end: date) -> int:
    return replace_window(
        con, "daily_sales", "sales_date", start, end, load_sql(__file__, "daily_sales"), {"start": start, "end": end}
    )
