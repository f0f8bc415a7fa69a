"""Lifetime value on the real CDNOW purchase log: the classic 39-week calibration / 39-week holdout.

Customers of CDNOW made their first purchase in the first quarter of 1997; their purchases up to
1997-09-30 (39 weeks) are the calibration period, 1997-10-01..1998-06-30 (39 weeks) the holdout.
Purchases on the same day are one purchase (one "order"). Every method predicts each customer's
holdout revenue from the calibration period only:

- ``naive``: the customer spends in the holdout what they spent in the calibration period (the
  platform's naive baseline: past spending rate x horizon);
- ``bgnbd_gamma_gamma``: expected holdout purchases (BG/NBD) x expected spend per purchase (Gamma-Gamma);
- ``linear`` / ``random_forest`` / ``hist_gradient_boosting``: the platform's lifetime-value candidates
  on the same RFM features, trained at an earlier cutoff (1997-04-02, 13 weeks in) on the revenue of
  the 26 weeks that follow, their predictions scaled to 39 weeks (x 1.5).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from shopverse_platform.lib.ml import btyd
from shopverse_platform.lib.ml.evaluation import regression_metrics
from shopverse_platform.lib.ml.features import labelled_frame
from shopverse_platform.lib.ml.specs import CLV
from shopverse_platform.lib.warehouse.sql import load_sql

START = date(1997, 1, 1)
CALIBRATION_END = date(1997, 10, 1)  # exclusive: 39 weeks after START
HOLDOUT_END = date(1998, 7, 1)  # exclusive: 39 weeks after CALIBRATION_END
TRAINING_CUTOFF = date(1997, 4, 2)  # 13 weeks in: every customer has made their first purchase
HOLDOUT_WEEKS = 39


@dataclass
class CdnowEvaluation:
    customers: int
    holdout_purchases: int
    holdout_revenue: float
    metrics: dict[str, dict[str, float]]  # method -> regression metrics on holdout revenue
    predicted_purchases: float  # BG/NBD total over the holdout
    bgnbd: btyd.BGNBD
    gamma_gamma: btyd.GammaGamma
    seconds: dict[str, float] = field(default_factory=dict)
    predictions: pd.DataFrame | None = None


def read_cdnow(path: Path) -> pd.DataFrame:
    """The fixed-width log: customer_id, date, number_of_cds, dollar_value (one row per purchase)."""
    frame = pd.read_csv(path, sep=r"\s+", header=None, skiprows=1, names=["customer_id", "date", "cds", "value"],
                        dtype={"customer_id": str, "date": str})
    frame["date"] = pd.to_datetime(frame.date, format="%Y%m%d").dt.date
    return frame


def daily_purchases(log: pd.DataFrame) -> pd.DataFrame:
    return log.groupby(["customer_id", "date"], as_index=False).agg(cds=("cds", "sum"), value=("value", "sum"))


def calibration_summary(daily: pd.DataFrame, end: date = CALIBRATION_END) -> pd.DataFrame:
    """Per customer, in weeks: x (repeat purchase days), t_x (last purchase), T (age at ``end``),
    m_x (mean value of the repeat purchases) and the calibration revenue."""
    cal = daily[daily.date < end].copy()
    cal["date"] = pd.to_datetime(cal.date)
    grouped = cal.groupby("customer_id")
    first, last = grouped.date.min(), grouped.date.max()
    out = pd.DataFrame({"x": grouped.size() - 1, "t_x": (last - first).dt.days / 7,
                        "T": (pd.Timestamp(end) - first).dt.days / 7, "revenue": grouped.value.sum()})
    repeat = cal[cal.date > cal.customer_id.map(first)]
    out["m_x"] = repeat.groupby("customer_id").value.mean().reindex(out.index).fillna(0.0)
    return out


def _orders_connection(daily: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse whose ``orders`` fact holds the CDNOW purchase days, so the
    platform's own feature SQL runs on them unchanged."""
    con = duckdb.connect()
    con.register("_daily", daily)
    con.execute(load_sql(__file__, "cdnow_orders"))
    con.unregister("_daily")
    return con


def evaluate(path: Path, seed: int = 0, candidates: tuple[str, ...] = ("linear", "random_forest", "hist_gradient_boosting")
             ) -> CdnowEvaluation:
    """Run the naive baseline, BG/NBD + Gamma-Gamma and the given supervised candidates on the
    calibration period and score them on the holdout."""
    from threadpoolctl import threadpool_limits

    from shopverse_platform.lib.ml.candidates import make_candidates

    daily = daily_purchases(read_cdnow(path))
    summary = calibration_summary(daily)
    holdout = daily[(daily.date >= CALIBRATION_END) & (daily.date < HOLDOUT_END)].groupby("customer_id").agg(
        purchases=("value", "size"), revenue=("value", "sum"))
    actual = holdout.revenue.reindex(summary.index).fillna(0.0).to_numpy()
    predictions = pd.DataFrame(index=summary.index)
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    bg = btyd.fit_bgnbd(summary.x, summary.t_x, summary["T"])
    gg = btyd.fit_gamma_gamma(summary.x, summary.m_x)
    purchases = bg.expected_purchases(HOLDOUT_WEEKS, summary.x, summary.t_x, summary["T"])
    predictions["bgnbd_gamma_gamma"] = purchases * gg.expected_spend(summary.x, summary.m_x)
    seconds["bgnbd_gamma_gamma"] = time.perf_counter() - started

    con = _orders_connection(daily)
    train_days = (CALIBRATION_END - TRAINING_CUTOFF).days
    holdout_days = (HOLDOUT_END - CALIBRATION_END).days
    train = labelled_frame(con, CLV, TRAINING_CUTOFF, CALIBRATION_END)
    scoring = labelled_frame(con, CLV, CALIBRATION_END, CALIBRATION_END + timedelta(days=train_days), split="validation")
    scoring = scoring.set_index("entity_id").reindex(summary.index)
    features = list(CLV.features)
    with threadpool_limits(limits=1):
        for name, estimator in make_candidates(CLV, seed, horizon_days=holdout_days).items():
            started = time.perf_counter()
            if name == "baseline":
                predictions["naive"] = estimator.fit(train[features]).predict(scoring[features])
                seconds["naive"] = time.perf_counter() - started
                continue
            if name not in candidates:
                continue
            estimator.fit(train[features], train.label.to_numpy())
            predictions[name] = np.maximum(estimator.predict(scoring[features]), 0.0) * holdout_days / train_days
            seconds[name] = time.perf_counter() - started
    con.close()
    metrics = {name: regression_metrics(actual, predictions[name].to_numpy()) for name in predictions.columns}
    predictions["actual"] = actual
    return CdnowEvaluation(
        customers=len(summary), holdout_purchases=int(holdout.purchases.sum()), holdout_revenue=float(actual.sum()),
        metrics=metrics, predicted_purchases=float(purchases.sum()), bgnbd=bg, gamma_gamma=gg, seconds=seconds,
        predictions=predictions,
    )
