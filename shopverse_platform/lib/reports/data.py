"""Everything a report shows, read from the warehouse for one period and the period before it.

Each section is loaded on its own and degrades on its own: a table that has not been built yet (the
segments before the first weekly run, models before the first training) leaves that section
``missing`` with the reason, and the rest of the report is still produced. Amounts are DOUBLE and
every frame is small (days, hours, steps, top products), so the report code works on pandas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import pandas as pd

from shopverse_platform.lib.warehouse.tables import table_exists

TOP_PRODUCTS = 10


@dataclass(frozen=True)
class Period:
    kind: str  # "daily" | "weekly"
    start: date  # first day
    end: date  # day after the last day

    @classmethod
    def day(cls, day: date) -> Period:
        return cls("daily", day, day + timedelta(days=1))

    @classmethod
    def week(cls, monday: date) -> Period:
        if monday.weekday() != 0:
            raise ValueError(f"a weekly report starts on a Monday, not {monday:%A} {monday}")
        return cls("weekly", monday, monday + timedelta(days=7))

    @property
    def key(self) -> str:
        return self.start.isoformat()

    @property
    def previous(self) -> Period:
        length = self.end - self.start
        return Period(self.kind, self.start - length, self.start)

    @property
    def noun(self) -> str:
        return "day" if self.kind == "daily" else "week"

    @property
    def label(self) -> str:
        if self.kind == "daily":
            return f"{self.start:%A} {self.start.day} {self.start:%B %Y}"
        last = self.end - timedelta(days=1)
        iso_year, iso_week, _ = self.start.isocalendar()
        return f"Week {iso_week} {iso_year} ({self.start.day} {self.start:%b} – {last.day} {last:%b %Y})"


@dataclass
class ReportData:
    period: Period
    totals: dict[str, float | None] = field(default_factory=dict)
    previous_totals: dict[str, float | None] = field(default_factory=dict)
    trend: pd.DataFrame | None = None  # bucket (date), net_revenue, orders
    hourly: pd.DataFrame | None = None  # weekday (0 = Monday), hour, sessions
    funnel: pd.DataFrame | None = None  # step_number, step, sessions (closed funnel), open_sessions
    products: pd.DataFrame | None = None  # product_name, net_revenue, units, purchases, sessions_added, abandoned_carts, abandonment_rate
    carts: pd.DataFrame | None = None  # one row: carts_created, carts_abandoned, abandoned_value
    carts_by_device: pd.DataFrame | None = None  # device, carts, abandoned, abandonment_rate
    anomalies: pd.DataFrame | None = None
    segments: pd.DataFrame | None = None  # segmentation, segment, customers
    movements: pd.DataFrame | None = None  # segmentation, from_segment, to_segment, customers
    segments_week: date | None = None
    models: pd.DataFrame | None = None  # model, version, alias, metric, value, is_champion, registered
    missing: dict[str, str] = field(default_factory=dict)  # section -> why it is not available


def _df(con: duckdb.DuckDBPyConnection, sql: str, params: dict | list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or {}).df()


def _need(con: duckdb.DuckDBPyConnection, data: ReportData, section: str, *tables: str) -> bool:
    absent = [t for t in tables if not table_exists(con, t)]
    if absent:
        data.missing[section] = f"not available yet: {', '.join(absent)} has not been built"
        return False
    return True


TOTALS_SQL = """
SELECT
  (SELECT sum(net_revenue)::DOUBLE FROM daily_sales WHERE sales_date >= $start AND sales_date < $end) AS net_revenue,
  (SELECT sum(orders)::DOUBLE FROM daily_sales WHERE sales_date >= $start AND sales_date < $end) AS orders,
  (SELECT sum(aov_net_revenue)::DOUBLE / nullif(sum(aov_orders), 0) FROM daily_sales
     WHERE sales_date >= $start AND sales_date < $end) AS average_order_value,
  (SELECT sum(gross_revenue)::DOUBLE / nullif(sum(orders), 0) FROM daily_sales
     WHERE sales_date >= $start AND sales_date < $end) AS gross_average_order_value,
  (SELECT sum(new_customers)::DOUBLE FROM daily_sales WHERE sales_date >= $start AND sales_date < $end) AS new_customers
"""


def _totals(con: duckdb.DuckDBPyConnection, period: Period) -> dict[str, float | None]:
    params = {"start": period.start, "end": period.end}
    totals: dict[str, float | None] = {}
    if table_exists(con, "daily_sales"):
        totals.update(_df(con, TOTALS_SQL, params).iloc[0].to_dict())
    if table_exists(con, "daily_traffic"):
        row = con.execute(
            "SELECT sum(sessions)::DOUBLE, sum(bounced_sessions)::DOUBLE / nullif(sum(sessions), 0) FROM daily_traffic "
            "WHERE traffic_date >= $start AND traffic_date < $end", params).fetchone()
        totals.update({"sessions": row[0], "bounce_rate": row[1]})
    if table_exists(con, "funnel_daily"):
        row = con.execute(
            # sessions with a purchase (open funnel) ÷ sessions, the one conversion rate of the platform
            "SELECT sum(open_sessions) FILTER (WHERE step = 'purchase')::DOUBLE "
            "/ nullif(sum(sessions) FILTER (WHERE step = 'session_start'), 0) "
            "FROM funnel_daily WHERE funnel = 'purchase' AND funnel_date >= $start AND funnel_date < $end", params).fetchone()
        totals["conversion_rate"] = row[0]
    if table_exists(con, "cart_abandonment"):
        row = con.execute(
            "SELECT sum(carts_abandoned)::DOUBLE / nullif(sum(carts_created), 0) FROM cart_abandonment "
            "WHERE cart_date >= $start AND cart_date < $end", params).fetchone()
        totals["cart_abandonment_rate"] = row[0]
    return {k: (None if pd.isna(v) else float(v)) for k, v in totals.items()}


def _trend(con: duckdb.DuckDBPyConnection, period: Period) -> pd.DataFrame:
    if period.kind == "daily":
        return _df(con, """
            SELECT sales_date AS bucket, net_revenue::DOUBLE AS net_revenue, orders::DOUBLE AS orders
            FROM daily_sales WHERE sales_date >= $lo AND sales_date < $end ORDER BY 1""",
                   {"lo": period.end - timedelta(days=28), "end": period.end})
    return _df(con, """
        SELECT CAST(date_trunc('week', sales_date) AS DATE) AS bucket, sum(net_revenue)::DOUBLE AS net_revenue,
               sum(orders)::DOUBLE AS orders
        FROM daily_sales WHERE sales_date >= $lo AND sales_date < $end GROUP BY 1 ORDER BY 1""",
               {"lo": period.end - timedelta(weeks=12), "end": period.end})


def _hourly(con: duckdb.DuckDBPyConnection, period: Period) -> pd.DataFrame:
    return _df(con, """
        SELECT CAST(isodow(traffic_date) - 1 AS INTEGER) AS weekday, h.hour AS hour,
               sum(h.sessions_started)::DOUBLE AS sessions
        FROM (SELECT traffic_date, unnest(activity_by_hour) AS h FROM daily_traffic
              WHERE traffic_date >= $start AND traffic_date < $end)
        GROUP BY ALL ORDER BY weekday, hour""", {"start": period.start, "end": period.end})


def _funnel(con: duckdb.DuckDBPyConnection, period: Period) -> pd.DataFrame:
    return _df(con, """
        SELECT step_number, step, sum(sessions)::DOUBLE AS sessions, sum(open_sessions)::DOUBLE AS open_sessions
        FROM funnel_daily
        WHERE funnel = 'purchase' AND funnel_date >= $start AND funnel_date < $end
        GROUP BY ALL ORDER BY step_number""", {"start": period.start, "end": period.end})


def _products(con: duckdb.DuckDBPyConnection, period: Period) -> pd.DataFrame:
    # Abandoned carts per product = sessions that added it without buying it; summed over days.
    return _df(con, """
        SELECT coalesce(max(product_name), product_id) AS product_name, product_id,
               sum(net_revenue)::DOUBLE AS net_revenue, sum(units)::DOUBLE AS units,
               sum(purchases)::DOUBLE AS purchases, sum(sessions_added)::DOUBLE AS sessions_added,
               round(sum(coalesce(abandonment_rate, 0) * sessions_added))::DOUBLE AS abandoned_carts
        FROM product_performance WHERE product_date >= $start AND product_date < $end
        GROUP BY product_id""", {"start": period.start, "end": period.end}).assign(
        abandonment_rate=lambda f: (f.abandoned_carts / f.sessions_added).where(f.sessions_added > 0))


def _carts(con: duckdb.DuckDBPyConnection, period: Period) -> tuple[pd.DataFrame, pd.DataFrame]:
    params = {"start": period.start, "end": period.end}
    totals = _df(con, """
        SELECT sum(carts_created)::DOUBLE AS carts_created, sum(carts_abandoned)::DOUBLE AS carts_abandoned,
               sum(abandoned_value)::DOUBLE AS abandoned_value
        FROM cart_abandonment WHERE cart_date >= $start AND cart_date < $end""", params)
    by_device = _df(con, """
        SELECT d.key AS device, sum(d.carts)::DOUBLE AS carts, sum(d.abandoned)::DOUBLE AS abandoned
        FROM (SELECT unnest(by_device) AS d FROM cart_abandonment WHERE cart_date >= $start AND cart_date < $end)
        GROUP BY ALL ORDER BY carts DESC""", params)
    by_device["abandonment_rate"] = by_device.abandoned / by_device.carts.where(by_device.carts > 0)
    return totals, by_device


def _anomalies(con: duckdb.DuckDBPyConnection, period: Period) -> pd.DataFrame:
    return _df(con, """
        SELECT anomaly_type, anomaly_date, anomaly_ts, entity_type, entity_id, observed, expected, score, threshold,
               severity, method
        FROM anomalies WHERE anomaly_date >= $start AND anomaly_date < $end
        ORDER BY abs(score) DESC""", {"start": period.start, "end": period.end})


def _segments(con: duckdb.DuckDBPyConnection, data: ReportData) -> None:
    """Segment sizes of the latest weekly snapshot that ends in the period, and its movements."""
    period = data.period
    if not _need(con, data, "segments", "segment_snapshots"):
        return
    week = con.execute("SELECT max(week_start) FROM segment_snapshots WHERE week_start + 6 < $end",
                       {"end": period.end}).fetchone()[0]
    if week is None:
        data.missing["segments"] = "no weekly segment snapshot has ended by this period yet"
        return
    data.segments_week = week
    data.segments = _df(con, """
        SELECT segmentation, segment, count(*)::DOUBLE AS customers FROM segment_snapshots
        WHERE week_start = $week GROUP BY ALL ORDER BY segmentation, customers DESC""", {"week": week})
    if table_exists(con, "segment_movements"):
        data.movements = _df(con, """
            SELECT segmentation, from_segment, to_segment, sum(entities)::DOUBLE AS customers
            FROM segment_movements WHERE week_start = $week AND moved
            GROUP BY ALL ORDER BY customers DESC""", {"week": week})
    else:
        data.missing["movements"] = "not available yet: segment_movements has not been built"


ModelSource = Callable[[], tuple[pd.DataFrame | None, str | None]]


def load(con: duckdb.DuckDBPyConnection, period: Period, models: ModelSource | None = None) -> ReportData:
    """All sections of the report of ``period``; ``models`` reads the model registry (see models.py)."""
    data = ReportData(period)
    data.totals = _totals(con, period)
    data.previous_totals = _totals(con, period.previous)
    if not table_exists(con, "daily_sales"):
        data.missing["kpis"] = "not available yet: daily_sales has not been built"
    if _need(con, data, "trend", "daily_sales"):
        data.trend = _trend(con, period)
    if _need(con, data, "traffic", "daily_traffic"):
        data.hourly = _hourly(con, period)
    if _need(con, data, "funnel", "funnel_daily"):
        data.funnel = _funnel(con, period)
    if _need(con, data, "products", "product_performance"):
        data.products = _products(con, period)
    if _need(con, data, "carts", "cart_abandonment"):
        data.carts, data.carts_by_device = _carts(con, period)
    if _need(con, data, "anomalies", "anomalies"):
        data.anomalies = _anomalies(con, period)
    _segments(con, data)
    if models is None:
        data.missing["models"] = "not available yet: no model registry configured"
    else:
        data.models, reason = models()
        if reason:
            data.missing["models"] = reason
    return data
