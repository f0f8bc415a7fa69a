"""The candidates every model compares on the same split: a naive baseline, a linear model, a
random forest and histogram gradient boosting. Sizes are chosen to train all candidates of all
three models on 100k customers in well under two minutes on two cores (bench/ml.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from shopverse_platform.lib.ml.specs import CANDIDATES, ModelSpec

__all__ = ["CANDIDATES", "BinnedRateClassifier", "NaiveRateRegressor", "make_candidates", "describe", "signed_log"]


def signed_log(x):
    """``sign(x) * log1p(|x|)``: tames long tails, keeps zero and negative values (refunds)."""
    return np.sign(x) * np.log1p(np.abs(x))


class BinnedRateClassifier(ClassifierMixin, BaseEstimator):
    """Naive baseline: the training label rate of the row's decile of one feature (e.g. recency).

    What an analyst would do with a spreadsheet: "of customers who last bought this long ago, how
    many came back?". Rates are smoothed towards the overall rate with ``prior_weight`` rows.
    """

    def __init__(self, feature: str = "recency_days", bins: int = 10, prior_weight: float = 5.0):
        self.feature = feature
        self.bins = bins
        self.prior_weight = prior_weight

    def _column(self, X) -> np.ndarray:
        return np.asarray(X[self.feature] if isinstance(X, pd.DataFrame) else X[:, self.feature_index_], dtype=float)

    def fit(self, X, y):
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        y = np.asarray(y, dtype=float)
        x = self._column(X)
        self.classes_ = np.array([0.0, 1.0])
        self.edges_ = np.unique(np.quantile(x, np.linspace(0, 1, self.bins + 1)[1:-1]))
        bins = np.searchsorted(self.edges_, x, side="right")
        prior = y.mean()
        counts = np.bincount(bins, minlength=len(self.edges_) + 1)
        positives = np.bincount(bins, weights=y, minlength=len(self.edges_) + 1)
        self.rates_ = (positives + self.prior_weight * prior) / (counts + self.prior_weight)
        return self

    def predict_proba(self, X) -> np.ndarray:
        p = self.rates_[np.searchsorted(self.edges_, self._column(X), side="right")]
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(float)


class NaiveRateRegressor(RegressorMixin, BaseEstimator):
    """Naive baseline for revenue: the customer keeps spending at their past daily rate.

    Prediction = net revenue so far / max(days since first order + 1, horizon) x horizon, never
    below 0: a customer seen for less than a horizon is assumed to have spent it all in one.
    """

    def __init__(self, revenue: str = "net_revenue", exposure: str = "age_days", horizon_days: int = 90):
        self.revenue = revenue
        self.exposure = exposure
        self.horizon_days = horizon_days

    def fit(self, X, y=None):
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.fitted_ = True
        return self

    def predict(self, X) -> np.ndarray:
        revenue = np.asarray(X[self.revenue], dtype=float)
        exposure = np.maximum(np.asarray(X[self.exposure], dtype=float) + 1, self.horizon_days)
        return np.maximum(revenue / exposure * self.horizon_days, 0.0)


def _linear(model):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return make_pipeline(FunctionTransformer(signed_log, feature_names_out="one-to-one"), StandardScaler(), model)


FOREST_SAMPLE_ROWS = 30_000  # bootstrap rows per tree: enough for stable trees, bounded cost on big sets


def make_candidates(spec: ModelSpec, seed: int = 0, horizon_days: int = 90, rows: int | None = None) -> dict[str, BaseEstimator]:
    """Fresh, unfitted candidates for the spec, in ``CANDIDATES`` order; ``rows`` (the fitting rows)
    bounds the forest's bootstrap sample."""
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import LogisticRegression, PoissonRegressor

    sample = 0.5 if not rows or rows * 0.5 <= FOREST_SAMPLE_ROWS else FOREST_SAMPLE_ROWS / rows
    forest = {"n_estimators": 100, "min_samples_leaf": 20, "max_features": "sqrt", "max_samples": sample,
              "max_depth": 16, "n_jobs": -1, "random_state": seed}
    boosting = {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 31, "min_samples_leaf": 40,
                "l2_regularization": 1.0, "early_stopping": True, "validation_fraction": 0.15, "n_iter_no_change": 20,
                "random_state": seed}
    if spec.kind == "classifier":
        return {
            "baseline": BinnedRateClassifier(feature=spec.baseline_feature),
            "linear": _linear(LogisticRegression(max_iter=2000, C=1.0)),
            "random_forest": RandomForestClassifier(**forest),
            "hist_gradient_boosting": HistGradientBoostingClassifier(**boosting),
        }
    # Revenue is zero for most customers and long-tailed for the rest: Poisson losses keep the
    # predictions positive and their totals close to the actual total.
    return {
        "baseline": NaiveRateRegressor(revenue=spec.baseline_feature, horizon_days=horizon_days),
        "linear": _linear(PoissonRegressor(alpha=1e-4, max_iter=1000)),
        "random_forest": RandomForestRegressor(**{**forest, "max_features": 0.4}),
        "hist_gradient_boosting": HistGradientBoostingRegressor(loss="poisson", **boosting),
    }


def describe(estimator: BaseEstimator) -> dict[str, object]:
    """The hyper-parameters worth logging: the final step's own, plain values only."""
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    params = {"estimator": type(final).__name__}
    for key, value in final.get_params(deep=False).items():
        if value is None or isinstance(value, (bool, int, float, str)):
            params[key] = value
    return params
