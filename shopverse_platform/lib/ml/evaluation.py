"""Metrics (the same names for every model of a kind) and the plotly figures logged with each run."""

from __future__ import annotations

import numpy as np
import pandas as pd

IMPORTANCE_SAMPLE = 1500
IMPORTANCE_REPEATS = 2


# ------------------------------------------------------------------------------------ metrics
def choose_threshold(y: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold with the best F1 on (y, scores): chosen on the tuning rows, never on
    the validation split the metrics are reported on."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, scores)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)[:-1]
    return float(thresholds[int(np.argmax(f1))]) if len(thresholds) else 0.5


def classification_metrics(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    from sklearn.metrics import (
        average_precision_score,
        brier_score_loss,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    y = np.asarray(y, dtype=int)
    predicted = (scores >= threshold).astype(int)
    both = len(np.unique(y)) == 2
    return {
        "roc_auc": float(roc_auc_score(y, scores)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, scores)) if both else float("nan"),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "brier": float(brier_score_loss(y, scores)),
        "threshold": float(threshold),
        "positive_rate": float(y.mean()),
    }


def fast_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney statistic (ties count half); 0.5 with a single class. The same
    value as scikit-learn's, without its input validation: permutation importance calls it often."""
    from scipy.stats import rankdata

    y = np.asarray(y) > 0
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return 0.5
    ranks = rankdata(scores)
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def fast_r2(y: np.ndarray, predicted: np.ndarray) -> float:
    y, predicted = np.asarray(y, dtype=float), np.asarray(predicted, dtype=float)
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - predicted) ** 2).sum()) / total if total > 0 else 0.0


def top_decile_share(y: np.ndarray, predicted: np.ndarray) -> float:
    """Share of the actual total held by the 10 % of rows predicted highest."""
    total = float(np.sum(y))
    if total <= 0:
        return float("nan")
    top = np.argsort(-predicted, kind="stable")[: max(1, int(np.ceil(len(y) * 0.1)))]
    return float(np.sum(np.asarray(y)[top]) / total)


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    from scipy.stats import spearmanr
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y, predicted = np.asarray(y, dtype=float), np.asarray(predicted, dtype=float)
    total = float(y.sum())
    return {
        "mae": float(mean_absolute_error(y, predicted)),
        "rmse": float(np.sqrt(mean_squared_error(y, predicted))),
        "r2": float(r2_score(y, predicted)),
        "spearman": float(spearmanr(y, predicted).statistic) if np.std(predicted) > 0 and np.std(y) > 0 else float("nan"),
        "top_decile_share": top_decile_share(y, predicted),
        "total_error_pct": float(100 * (predicted.sum() - total) / total) if total else float("nan"),
    }


def permutation_importance(predict, X: pd.DataFrame, y: np.ndarray, metric, seed: int = 0) -> pd.Series:
    """Drop of ``metric`` (higher is better) when each feature is shuffled, averaged over repeats,
    on at most ``IMPORTANCE_SAMPLE`` rows. Model-agnostic, so every candidate gets the same chart."""
    rng = np.random.default_rng(seed)
    if len(X) > IMPORTANCE_SAMPLE:
        rows = rng.choice(len(X), IMPORTANCE_SAMPLE, replace=False)
        X, y = X.iloc[rows].reset_index(drop=True), np.asarray(y)[rows]
    base = metric(y, predict(X))
    drops = {}
    for column in X.columns:
        shuffled = X.copy()
        losses = []
        for _ in range(IMPORTANCE_REPEATS):
            shuffled[column] = rng.permutation(X[column].to_numpy())
            losses.append(base - metric(y, predict(shuffled)))
        drops[column] = float(np.mean(losses))
    return pd.Series(drops).sort_values(ascending=False)


# ------------------------------------------------------------------------------------ figures
CURVE_POINTS = 1000  # points kept per curve / scatter: the HTML stays small on 100k rows


def _thin(*arrays):
    """Every array thinned to at most ``CURVE_POINTS`` evenly spaced points (first and last kept)."""
    n = len(arrays[0])
    if n <= CURVE_POINTS:
        return arrays
    keep = np.unique(np.linspace(0, n - 1, CURVE_POINTS).astype(int))
    return tuple(np.asarray(a)[keep] for a in arrays)


def _layout(fig, title: str, x: str, y: str):
    fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, width=640, height=480)
    return fig


def roc_figure(y, scores, name: str):
    import plotly.graph_objects as go
    from sklearn.metrics import roc_curve

    fpr, tpr = _thin(*roc_curve(y, scores)[:2])
    fig = go.Figure([go.Scatter(x=fpr, y=tpr, mode="lines", name=name),
                     go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash"}, name="chance")])
    return _layout(fig, f"ROC curve: {name}", "false positive rate", "true positive rate")


def pr_figure(y, scores, name: str):
    import plotly.graph_objects as go
    from sklearn.metrics import precision_recall_curve

    precision, recall = _thin(*precision_recall_curve(y, scores)[:2])
    fig = go.Figure([go.Scatter(x=recall, y=precision, mode="lines", name=name),
                     go.Scatter(x=[0, 1], y=[np.mean(y)] * 2, mode="lines", line={"dash": "dash"}, name="base rate")])
    return _layout(fig, f"Precision-recall curve: {name}", "recall", "precision")


def confusion_figure(y, scores, threshold: float, name: str):
    import plotly.graph_objects as go
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(np.asarray(y, dtype=int), (scores >= threshold).astype(int), labels=[0, 1])
    fig = go.Figure(go.Heatmap(z=matrix, x=["predicted 0", "predicted 1"], y=["actual 0", "actual 1"],
                               text=matrix, texttemplate="%{text}", colorscale="Blues", showscale=False))
    return _layout(fig, f"Confusion matrix at threshold {threshold:.3f}: {name}", "", "")


def calibration_figure(y, predicted, name: str, kind: str = "classifier"):
    """Classifier: observed rate against mean predicted probability per decile of the score.
    Regressor: mean actual against mean predicted value per decile of the prediction."""
    import plotly.graph_objects as go

    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "p": np.asarray(predicted, dtype=float)})
    frame["bin"] = pd.qcut(frame.p.rank(method="first"), q=min(10, len(frame)), labels=False)
    bins = frame.groupby("bin").agg(p=("p", "mean"), y=("y", "mean"))
    top = float(max(bins.p.max(), bins.y.max(), 1e-9))
    fig = go.Figure([go.Scatter(x=bins.p, y=bins.y, mode="lines+markers", name=name),
                     go.Scatter(x=[0, top], y=[0, top], mode="lines", line={"dash": "dash"}, name="perfect")])
    labels = ("mean predicted probability", "observed rate") if kind == "classifier" else ("mean predicted", "mean actual")
    return _layout(fig, f"Calibration by decile: {name}", *labels)


def importance_figure(importance: pd.Series, name: str, metric: str):
    import plotly.graph_objects as go

    top = importance.head(20)[::-1]
    fig = go.Figure(go.Bar(x=top.values, y=top.index, orientation="h"))
    return _layout(fig, f"Permutation importance ({metric} drop): {name}", f"{metric} drop", "")


def predicted_vs_actual_figure(y, predicted, name: str):
    import plotly.graph_objects as go

    y, predicted = np.asarray(y, dtype=float), np.asarray(predicted, dtype=float)
    top = float(max(np.percentile(y, 99.5), np.percentile(predicted, 99.5), 1.0))
    if len(y) > CURVE_POINTS:  # a fixed random sample of the points
        rows = np.random.default_rng(0).choice(len(y), CURVE_POINTS, replace=False)
        y, predicted = y[rows], predicted[rows]
    fig = go.Figure([go.Scattergl(x=predicted, y=y, mode="markers", marker={"size": 4, "opacity": 0.4}, name=name),
                     go.Scatter(x=[0, top], y=[0, top], mode="lines", line={"dash": "dash"}, name="perfect")])
    fig.update_xaxes(range=[0, top])
    fig.update_yaxes(range=[0, top])
    return _layout(fig, f"Predicted against actual: {name}", "predicted", "actual")


def gains_figure(y, predicted, name: str):
    """Cumulative share of the actual total captured by the customers ranked by prediction."""
    import plotly.graph_objects as go

    y = np.asarray(y, dtype=float)
    order = np.argsort(-np.asarray(predicted, dtype=float), kind="stable")
    captured = np.cumsum(y[order]) / max(y.sum(), 1e-9)
    share, captured = _thin(np.arange(1, len(y) + 1) / len(y), captured)
    fig = go.Figure([go.Scatter(x=share, y=captured, mode="lines", name=name),
                     go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash"}, name="random")])
    return _layout(fig, f"Cumulative gains: {name}", "share of customers (ranked by prediction)", "share of actual total")
