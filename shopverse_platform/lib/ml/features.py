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
    checked_source,
    customer_state_sql,
    last_order_date,
    orders_relation,
)
from shopverse_platform.lib.segmentation.tables import build_table
from shopverse_platform.lib.segmentation.visitors import visitor_state_sql
from shopverse_platform.lib.warehouse.shapes import relation
from shopverse_platform.lib.warehouse.sql import SqlText, TableName, load_sql, table

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


def _events(con: duckdb.DuckDBPyConnection) -> TableName | SqlText:
    """``clean_events``, or the empty relation of its shape (fixed text of lib/warehouse/shapes.py)."""
    found = relation(con, "clean_events")
    return table("clean_events") if found == "clean_events" else SqlText(found)


def last_day(con: duckdb.DuckDBPyConnection, spec: ModelSpec, order_source: str | None = None) -> date | None:
    if spec.entity == "customer":
        return last_order_date(con, order_source)
    return con.execute(load_sql(__file__, "last_event_date", events=_events(con))).fetchone()[0]


def features_sql(con: duckdb.DuckDBPyConnection, spec: ModelSpec, order_source: str | None = None,
                 lookback_days: int = 28) -> SqlText:
    """entity_id, first/last seen date and the spec's features (DOUBLE) as of the day before ``$before``.

    Parameters: ``$before`` and ``$features`` (see :func:`features_params`); the order source and the
    lookback are bound into connection variables now (see ``lib/segmentation/customers.py``)."""
    if spec.entity == "customer":
        return load_sql(__file__, "customer_features", customer_state=customer_state_sql(con, order_source))
    return load_sql(__file__, "visitor_features", visitor_state=visitor_state_sql(con, lookback_days))


def features_params(spec: ModelSpec, before: date) -> dict[str, object]:
    return {"before": before, "features": list(spec.features)}


def labels_sql(con: duckdb.DuckDBPyConnection, spec: ModelSpec) -> SqlText:
    """entity_id and what happened in [``$before``, ``$label_end``) for the entities it concerns
    (customers: also ``$order_source``, see :func:`split_params`)."""
    if spec.entity == "customer":
        return load_sql(__file__, "customer_labels", orders=orders_relation(con))
    return load_sql(__file__, "visitor_labels", events=_events(con))


def _label_expression(spec: ModelSpec) -> SqlText:
    if spec.name == "churn":
        return load_sql(__file__, "label_churned")
    if spec.kind == "classifier":
        return load_sql(__file__, "label_bought")
    return load_sql(__file__, "label_revenue")


def split_sql(con: duckdb.DuckDBPyConnection, spec: ModelSpec, order_source: str | None, lookback_days: int) -> SqlText:
    """One split of the training set; parameters from :func:`split_params`."""
    return load_sql(__file__, "training_split", label=_label_expression(spec),
                    features=features_sql(con, spec, order_source, lookback_days), labels=labels_sql(con, spec))


def split_params(spec: ModelSpec, split: str, before: date, label_end: date, order_source: str | None) -> dict[str, object]:
    params = {**features_params(spec, before), "split": split, "label_end": label_end}
    if spec.entity == "customer":
        params["order_source"] = checked_source(order_source)
    return params


def build_training_set(con: duckdb.DuckDBPyConnection, spec: ModelSpec, cutoffs: Cutoffs,
                       order_source: str | None = None, lookback_days: int = 28) -> int:
    """Write ``spec.training_set``: both splits, one row per entity each, ordered for stable digests."""
    for split in SPLITS:
        before, label_end = cutoffs.of(split)
        con.execute(load_sql(__file__, "split_table", split_table=table(f"_split_{split}"),
                             query=split_sql(con, spec, order_source, lookback_days)),
                    split_params(spec, split, before, label_end, order_source))
    rows = build_table(con, spec.training_set, load_sql(__file__, "training_set"), {})
    for split in SPLITS:
        con.execute(load_sql(__file__, "drop_split_table", split_table=table(f"_split_{split}")))
    return rows


def scoring_frame(con: duckdb.DuckDBPyConnection, spec: ModelSpec, before: date, order_source: str | None = None,
                  lookback_days: int = 28) -> pd.DataFrame:
    """The features of every entity as of the day before ``before``, for batch scoring."""
    return con.execute(load_sql(__file__, "rows_by_entity", query=features_sql(con, spec, order_source, lookback_days)),
                       features_params(spec, before)).df()


def load_training_set(con: duckdb.DuckDBPyConnection, spec: ModelSpec) -> pd.DataFrame:
    return con.execute(load_sql(__file__, "training_set_rows", training_set=table(spec.training_set))).df()


def labelled_frame(con: duckdb.DuckDBPyConnection, spec: ModelSpec, before: date, label_end: date, split: str = "train",
                   order_source: str | None = None, lookback_days: int = 28) -> pd.DataFrame:
    """One split computed on the fly (features before ``before``, label in [before, label_end))."""
    return con.execute(load_sql(__file__, "rows_by_entity", query=split_sql(con, spec, order_source, lookback_days)),
                       split_params(spec, split, before, label_end, order_source)).df()
