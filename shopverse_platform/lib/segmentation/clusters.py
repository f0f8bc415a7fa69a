"""Behaviour clusters: KMeans on scaled RFM and behaviour features, k chosen by silhouette.

Features are made comparable first: a signed log (``sign(x) * log1p(|x|)``) tames the long tails of
revenue and counts, then each is standardised; features that do not vary are dropped. Every k in
the range is fitted (same seed), the silhouette is measured on a fixed random sample, and the k
with the highest silhouette wins. Each cluster is then profiled (medians of the raw features) and
named from where its medians sit among all customers: value (net revenue), frequency (orders) and
recency, e.g. "High-value frequent buyers, active".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ORDER_FEATURES: tuple[str, ...] = (
    "recency_days", "orders", "net_revenue", "average_order_value", "units_per_order",
    "products_per_order", "cancellation_rate", "days_between_orders",
)
EVENT_FEATURES: tuple[str, ...] = ("recent_sessions", "recent_item_views", "recent_cart_adds")
SILHOUETTE_SAMPLE = 3000


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # cluster number per row, 0-based, ordered by cluster size (0 = largest)
    k: int
    silhouette_by_k: dict[int, float]
    features: list[str]
    profiles: pd.DataFrame  # one row per cluster: cluster, label, customers, share, medians
    model: "ClusterModel | None" = None  # what applies this clustering to other customers


@dataclass(frozen=True)
class ClusterModel:
    """A fitted clustering reduced to what assigning a customer needs, so the daily step can apply
    the weekly fit without refitting: the features, the signed-log means and standard deviations
    that scaled them, the centres (scaled units, row i = cluster i, numbered by size at fit time)
    and the names of the clusters."""

    features: list[str]
    mean: np.ndarray
    std: np.ndarray
    centres: np.ndarray
    names: dict[int, str]

    @property
    def k(self) -> int:
        return len(self.centres)

    def scale(self, frame: pd.DataFrame) -> np.ndarray:
        values = frame[self.features].astype("float64").fillna(0.0).to_numpy()
        return (signed_log(values) - self.mean) / self.std

    def assign(self, frame: pd.DataFrame) -> np.ndarray:
        """The nearest centre (Euclidean, in scaled units) of each row of ``frame``, as KMeans'
        ``predict`` does; ties go to the lower cluster number."""
        matrix = self.scale(frame)
        distances = ((matrix[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2)
        return distances.argmin(axis=1).astype("int64")

    def to_dict(self) -> dict:
        """The model as plain JSON values (the MLflow artifact of a fit)."""
        return {"k": self.k, "features": list(self.features), "mean": self.mean.tolist(), "std": self.std.tolist(),
                "centres": self.centres.tolist(), "names": {str(c): n for c, n in self.names.items()}}


def signed_log(x):
    """``sign(x) * log1p(|x|)``: a log scale that keeps zero and negative values (refunds)."""
    return np.sign(x) * np.log1p(np.abs(x))


def prepare(frame: pd.DataFrame, features: list[str]) -> tuple[np.ndarray, list[str]]:
    """The scaled matrix of the features that vary, and their names."""
    matrix, varying, _, _ = _prepare(frame, features)
    return matrix, varying


def _prepare(frame: pd.DataFrame, features: list[str]) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    values = frame[features].astype("float64").fillna(0.0)
    varying = [c for c in features if values[c].nunique() > 1]
    matrix = signed_log(values[varying].to_numpy())
    mean = matrix.mean(axis=0)
    std = matrix.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (matrix - mean) / std, varying, mean, std


def choose_k(matrix: np.ndarray, k_min: int, k_max: int, seed: int) -> tuple[int, dict[int, float], dict[int, np.ndarray]]:
    best, scores, fitted, _ = _choose_k(matrix, k_min, k_max, seed)
    return best, scores, fitted


def _choose_k(matrix: np.ndarray, k_min: int, k_max: int, seed: int):
    """``choose_k`` plus the centres of every k fitted (scaled units, KMeans' numbering)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    n = len(matrix)
    rng = np.random.default_rng(seed)
    sample = rng.choice(n, size=min(n, SILHOUETTE_SAMPLE), replace=False)
    scores: dict[int, float] = {}
    fitted: dict[int, np.ndarray] = {}
    centres: dict[int, np.ndarray] = {}
    for k in range(k_min, min(k_max, n - 1) + 1):
        # one OpenMP thread: on a busy two-core machine KMeans' spinning threads were ~20x slower
        with threadpool_limits(limits=1):
            kmeans = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(matrix)
        labels = kmeans.labels_
        if len(np.unique(labels[sample])) < 2:
            continue
        scores[k] = float(silhouette_score(matrix[sample], labels[sample]))
        fitted[k] = labels
        centres[k] = kmeans.cluster_centers_
    if not scores:
        raise ValueError(f"no k in [{k_min}, {k_max}] gives two clusters on {n} customers")
    best = max(scores, key=lambda k: (scores[k], -k))
    return best, scores, fitted, centres


def _level(value: float, low: float, high: float, words: tuple[str, str, str]) -> str:
    return words[0] if value <= low else words[2] if value >= high else words[1]


# What sets a cluster apart when two share the same value/frequency/recency name: the feature
# whose cluster mean (in scaled units) lies furthest from the population's, as (low, high) words.
TRAITS = {
    "average_order_value": ("small orders", "big orders"),
    "units_per_order": ("few units per order", "many units per order"),
    "products_per_order": ("narrow baskets", "wide baskets"),
    "cancellation_rate": ("few cancellations", "many cancellations"),
    "days_between_orders": ("short gaps between orders", "long gaps between orders"),
    "recent_sessions": ("rarely on the site", "often on the site"),
    "recent_item_views": ("few product views", "many product views"),
    "recent_cart_adds": ("few cart adds", "many cart adds"),
}


def _trait(scaled_means: pd.Series) -> str:
    candidates = scaled_means[[c for c in scaled_means.index if c in TRAITS]]
    if candidates.empty:
        return "another profile"
    feature = candidates.abs().idxmax()
    return TRAITS[feature][int(candidates[feature] > 0)]


def name_clusters(frame: pd.DataFrame, labels: np.ndarray, scaled: pd.DataFrame | None = None) -> dict[int, str]:
    """A readable, unique name per cluster: value (net revenue), frequency (orders) and recency of
    its medians against the population's terciles; clusters that would share a name also get the
    trait that sets them apart most (``TRAITS``), then a number if still needed."""
    q = frame[["net_revenue", "orders", "recency_days"]].quantile([1 / 3, 2 / 3])
    base: dict[int, str] = {}
    for cluster in sorted(np.unique(labels)):
        med = frame.loc[labels == cluster, ["net_revenue", "orders", "recency_days"]].median()
        value = _level(med.net_revenue, q.net_revenue.iloc[0], q.net_revenue.iloc[1], ("Low-value", "Mid-value", "High-value"))
        frequency = "one-time" if med.orders <= 1 else _level(
            med.orders, q.orders.iloc[0], q.orders.iloc[1], ("occasional", "occasional", "frequent"))
        recency = _level(med.recency_days, q.recency_days.iloc[0], q.recency_days.iloc[1], ("active", "cooling", "lapsed"))
        base[int(cluster)] = f"{value} {frequency} buyers, {recency}"
    names: dict[int, str] = {}
    for cluster, name in base.items():
        if list(base.values()).count(name) > 1 and scaled is not None:
            name = f"{name}, {_trait(scaled[labels == cluster].mean())}"
        while name in names.values():
            name = f"{name} ({sum(n.startswith(name) for n in names.values()) + 1})"
        names[cluster] = name
    return names


def profile(frame: pd.DataFrame, labels: np.ndarray, features: list[str], names: dict[int, str]) -> pd.DataFrame:
    """One row per cluster present in ``labels``: its name, size, share and the medians of the raw features."""
    medians = frame[features].astype("float64").groupby(labels).median()
    profiles = pd.DataFrame({
        "cluster": medians.index.astype(int),
        "cluster_label": [names[c] for c in medians.index],
        "customers": pd.Series(labels).value_counts().reindex(medians.index).to_numpy(),
    })
    profiles["share"] = profiles.customers / len(frame)
    for column in features:
        profiles[f"median_{column}"] = medians[column].to_numpy()
    return profiles


def candidate_features(frame: pd.DataFrame) -> list[str]:
    """The features of ``frame`` a clustering is fitted on, before constant ones are dropped."""
    return [c for c in (*ORDER_FEATURES, *EVENT_FEATURES) if c in frame.columns]


def varying_features(frame: pd.DataFrame) -> list[str]:
    """The features a clustering of ``frame`` would keep (those that vary): a stored model fitted
    on other features no longer describes these customers."""
    values = frame[candidate_features(frame)].astype("float64").fillna(0.0)
    return [c for c in values.columns if values[c].nunique() > 1]


def cluster_customers(frame: pd.DataFrame, k_min: int = 3, k_max: int = 8, seed: int = 0) -> Clustering:
    """Cluster the customers of ``frame`` (one row each, with ``ORDER_FEATURES`` and optionally
    ``EVENT_FEATURES``); ``model`` of the result assigns other customers to the same clusters."""
    matrix, features, mean, std = _prepare(frame, candidate_features(frame))
    k, scores, fitted, centres = _choose_k(matrix, k_min, k_max, seed)
    raw = fitted[k]
    # renumber by size so cluster 0 is the largest, stable across reruns
    sizes = pd.Series(raw).value_counts()
    by_size = sorted(sizes.index, key=lambda c: (-sizes[c], c))
    order = {old: new for new, old in enumerate(by_size)}
    labels = np.array([order[c] for c in raw])
    names = name_clusters(frame, labels, pd.DataFrame(matrix, columns=features))
    model = ClusterModel(features=features, mean=mean, std=std, centres=centres[k][by_size], names=names)
    return Clustering(labels=labels, k=k, silhouette_by_k=scores, features=features,
                      profiles=profile(frame, labels, features, names), model=model)


def apply_model(model: ClusterModel, frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Assign each customer of ``frame`` to the nearest centre of ``model``; the labels and the
    profiles of that assignment (clusters nobody falls into are left out)."""
    labels = model.assign(frame)
    return labels, profile(frame, labels, model.features, model.names)
