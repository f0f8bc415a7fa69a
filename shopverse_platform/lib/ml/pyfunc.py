"""The MLflow model every registered version is: a scikit-learn estimator with its feature list
and (classifiers) its decision threshold, answering a DataFrame with ``score`` (and ``label``).

Batch scoring (``models:/<name>@champion`` loaded in the scoring assets) and the scoring server
(``mlflow models serve``) both call this ``predict``, so they cannot disagree.
"""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd


class ScoringModel(mlflow.pyfunc.PythonModel):
    def __init__(self, estimator, features: list[str], kind: str, threshold: float | None = None):
        self.estimator = estimator
        self.features = list(features)
        self.kind = kind
        self.threshold = threshold

    def scores(self, frame: pd.DataFrame) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        X = frame[self.features].astype("float64")
        with threadpool_limits(limits=1):  # see lib/ml/training.py: OpenMP spinning on busy machines
            if self.kind == "classifier":
                return self.estimator.predict_proba(X)[:, 1]
            return np.maximum(self.estimator.predict(X), 0.0)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        scores = self.scores(pd.DataFrame(model_input))
        out = pd.DataFrame({"score": scores.astype("float64")})
        if self.kind == "classifier":
            out["label"] = (scores >= self.threshold).astype("int64")
        return out
