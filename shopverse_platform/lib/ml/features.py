"""Point-in-time training sets: features strictly from before a cutoff, labels from a fixed window
after it.

For a cutoff C and a window of W days:
- features use only facts dated before C (``order_date < C``, ``event_date < C``), through the
  same as-of code as the segments (``lib.segmentation.customers`` / ``visitors``);
- the population is the customers with an order before C (churn, lifetime value) or the visitors
  seen in the lookback before C (propensity): whoever is first seen at or after C, inside the
  label window, is not in it;
- the label looks at [C, C + W) only.

Two cutoffs make the two splits: training at C_t, validation at C_v >= C_t + W, so no training label
peeks into the validation period. By default C_v = last day + 1 - W (the latest cutoff whose label
window is fully observed) and C_t = C_v - W.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from shopverse_platform.lib.ml.specs import ModelSpec
from shopverse_platform.lib.segmentation.customers import (
    customer_state_sql,
    last_order_date,
    orders_relation,
    source_filter,
)
from shopverse_platform.lib.segmentation.tables import build_table
from shopverse_platform.lib.segmentation.visitors import visitor_state_sql
from shopverse_platform.lib.warehouse.shapes import relation

SPLITS = ("train", "validation")


@dataclass(frozen=True)
class Cutoffs:
    training: date
    validation: date
    window_days: int

    @property
    def training_end(self) -> date:
        return self.training + timedelta(days=self.window_days)

    @property
    def validation_end(self) -> date:
        return self.validation + timedelta(days=self.window_days)

    def of(self, split: str) -> tuple[date, date]:
        return (self.training, self.training_end) if split == "train" else (self.validation, self.validation_end)


def resolve_cutoffs(last_day: date | None, window_days: int, training: date | None = None,
                    validation: date | None = None) -> Cutoffs | None:
    """The configured cutoffs, or the defaults derived from the last day of data (None without data)."""
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    if validation is None:
        if last_day is None:
            return None
        validation = last_day + timedelta(days=1 - window_days)
    if training is None:
        training = validation - timedelta(days=window_days)
    if training + timedelta(days=window_days) > validation:
        raise ValueError(f"the validation cutoff {validation} must come at least {window_days} days after the "
                         f"training cutoff {training}, or training labels would overlap the validation period")
    return Cutoffs(training, validation, window_days)


def last_day(con: duckdb.DuckDBPyConnection, spec: ModelSpec, order_source: str | None = None) -> date | None:
    if spec.entity == "customer":
        return last_order_date(con, order_source)
    return con.execute(f"SELECT max(event_date) FROM {relation(con, 'clean_events')}").fetchone()[0]


def features_sql(con: duckdb.DuckDBPyConnection, spec: ModelSpec, order_source: str | None = None,
                 lookback_days: int = 28) -> str:
    """entity_id, first/last seen date and the spec's features (DOUBLE) as of the day before ``$before``."""
    features = ", ".join(f"CAST({f} AS DOUBLE) AS {f}" for f in spec.features)
    if spec.entity == "customer":
        return f"""SELECT customer_id AS entity_id, first_order_date AS first_seen_date, last_order_date AS last_seen_date,
                          {features}
                   FROM ({customer_state_sql(con, order_source)}) WHERE orders > 0"""
    return f"""SELECT visitor_id AS entity_id, first_seen_date, last_seen_date, {features}
               FROM ({visitor_state_sql(con, lookback_days)})"""


def labels_sql(con: duckdb.DuckDBPyConnection, spec: ModelSpec, order_source: str | None = None) -> str:
    """entity_id and what happened in [``$before``, ``$label_end``) for the entities it concerns."""
    if spec.entity == "customer":
        return f"""SELECT customer_id AS entity_id, count(*) FILTER (WHERE is_order) AS future_orders,
                          greatest(coalesce(sum(CAST(net_amount AS DOUBLE)), 0), 0) AS future_revenue
                   FROM {orders_relation(con)}
                   WHERE customer_id IS NOT NULL AND (is_order OR is_credit) AND {source_filter(order_source)}
                     AND order_date >= $before AND order_date < $label_end
                   GROUP BY customer_id"""
    events = relation(con, "clean_events")
    # A purchase counts for every visitor of the population it can be traced to with what was known
    # at the cutoff: its user, the user its device was mapped to before the cutoff, or the device
    # itself when it was still anonymous then (a device that logs in only after the cutoff and
    # buys is the same person as the anonymous visitor of the features).
    return f"""WITH devices AS (
                   SELECT anonymous_id, arg_max(user_id, event_ts) AS device_user FROM {events}
                   WHERE event_date < $before AND user_id IS NOT NULL AND anonymous_id IS NOT NULL GROUP BY anonymous_id
               ),
               bought AS (
                   SELECT e.user_id, d.device_user, e.anonymous_id, e.value
                   FROM {events} e LEFT JOIN devices d USING (anonymous_id)
                   WHERE e.event_name = 'purchase' AND e.event_date >= $before AND e.event_date < $label_end
               ),
               credited AS (
                   SELECT user_id AS entity_id, value FROM bought WHERE user_id IS NOT NULL
                   UNION ALL
                   SELECT device_user, value FROM bought WHERE device_user IS NOT NULL AND device_user IS DISTINCT FROM user_id
                   UNION ALL
                   SELECT anonymous_id, value FROM bought WHERE device_user IS NULL AND anonymous_id IS NOT NULL
               )
               SELECT entity_id, count(*) AS future_orders, coalesce(sum(value), 0) AS future_revenue
               FROM credited GROUP BY entity_id"""


def _label_expression(spec: ModelSpec) -> str:
    if spec.name == "churn":
        return "CASE WHEN coalesce(l.future_orders, 0) = 0 THEN 1.0 ELSE 0.0 END"
    if spec.kind == "classifier":
        return "CASE WHEN coalesce(l.future_orders, 0) > 0 THEN 1.0 ELSE 0.0 END"
    return "coalesce(l.future_revenue, 0.0)"


def split_sql(con: duckdb.DuckDBPyConnection, spec: ModelSpec, split: str, order_source: str | None,
              lookback_days: int) -> str:
    columns = ", ".join(f"f.{c}" for c in spec.features)
    return f"""
    SELECT '{split}' AS split, CAST($before AS DATE) AS cutoff_date, CAST($label_end AS DATE) AS label_end_date,
           f.entity_id, f.first_seen_date, f.last_seen_date, {columns}, {_label_expression(spec)} AS label
    FROM ({features_sql(con, spec, order_source, lookback_days)}) f
    LEFT JOIN ({labels_sql(con, spec, order_source)}) l USING (entity_id)
    """


def build_training_set(con: duckdb.DuckDBPyConnection, spec: ModelSpec, cutoffs: Cutoffs,
                       order_source: str | None = None, lookback_days: int = 28) -> int:
    """Write ``spec.training_set``: both splits, one row per entity each, ordered for stable digests."""
    for split in SPLITS:
        before, label_end = cutoffs.of(split)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _split_{split} AS {split_sql(con, spec, split, order_source, lookback_days)}",
                    {"before": before, "label_end": label_end})
    rows = build_table(con, spec.training_set,
                       "SELECT * FROM (SELECT * FROM _split_train UNION ALL BY NAME SELECT * FROM _split_validation) "
                       "ORDER BY split DESC, entity_id", {})
    for split in SPLITS:
        con.execute(f"DROP TABLE _split_{split}")
    return rows


def scoring_frame(con: duckdb.DuckDBPyConnection, spec: ModelSpec, before: date, order_source: str | None = None,
                  lookback_days: int = 28) -> pd.DataFrame:
    """The features of every entity as of the day before ``before``, for batch scoring."""
    return con.execute(f"SELECT * FROM ({features_sql(con, spec, order_source, lookback_days)}) ORDER BY entity_id",
                       {"before": before}).df()


def load_training_set(con: duckdb.DuckDBPyConnection, spec: ModelSpec) -> pd.DataFrame:
    return con.execute(f"SELECT * FROM {spec.training_set} ORDER BY split DESC, entity_id").df()


def labelled_frame(con: duckdb.DuckDBPyConnection, spec: ModelSpec, before: date, label_end: date, split: str = "train",
                   order_source: str | None = None, lookback_days: int = 28) -> pd.DataFrame:
    """One split computed on the fly (features before ``before``, label in [before, label_end))."""
    return con.execute(f"SELECT * FROM ({split_sql(con, spec, split, order_source, lookback_days)}) ORDER BY entity_id",
                       {"before": before, "label_end": label_end}).df()
