"""The fitted cluster model (lib/segmentation/clusters.py) applies the fit to other customers:
the same customers get the fit's labels, a new one goes to its nearest centre."""

import numpy as np
import pandas as pd

from shopverse_platform.lib.segmentation.clusters import ORDER_FEATURES, apply_model, choose_k, cluster_customers, prepare


def _customers(n: int = 300, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    frame = pd.DataFrame({"customer_id": np.arange(n)})
    for i, column in enumerate(ORDER_FEATURES):
        frame[column] = rng.gamma(2.0, 1.0 + 5.0 * group * (i % 3 + 1), n).round(2)
    frame["orders"] = 1 + (group * 3 + rng.integers(0, 3, n))
    return frame


def test_model_applied_to_the_fitted_customers_gives_the_fit():
    frame = _customers()
    clustering = cluster_customers(frame, 2, 5, 0)
    # the fit itself is unchanged: same k as choosing it directly on the prepared matrix
    matrix, features = prepare(frame, list(ORDER_FEATURES))
    k, _, _ = choose_k(matrix, 2, 5, 0)
    assert clustering.k == k == clustering.model.k
    assert clustering.features == features
    labels, profiles = apply_model(clustering.model, frame)
    assert (labels == clustering.labels).all()
    pd.testing.assert_frame_equal(profiles, clustering.profiles)


def test_new_customer_goes_to_its_nearest_centre():
    frame = _customers()
    clustering = cluster_customers(frame, 2, 5, 0)
    features = clustering.features
    # centres recomputed from the fit's labels: the means of the scaled members of each cluster
    logged = np.sign(frame[features].to_numpy(float)) * np.log1p(np.abs(frame[features].to_numpy(float)))
    scaled = (logged - logged.mean(axis=0)) / logged.std(axis=0)
    centres = np.array([scaled[clustering.labels == c].mean(axis=0) for c in range(clustering.k)])
    np.testing.assert_allclose(clustering.model.centres, centres, atol=1e-6)
    newcomers = _customers(20, seed=99)
    new_scaled = (np.sign(newcomers[features].to_numpy(float)) * np.log1p(np.abs(newcomers[features].to_numpy(float)))
                  - logged.mean(axis=0)) / logged.std(axis=0)
    expected = np.linalg.norm(new_scaled[:, None, :] - centres[None], axis=2).argmin(axis=1)
    labels, profiles = apply_model(clustering.model, newcomers)
    assert (labels == expected).all()
    assert profiles.customers.sum() == 20
    assert set(profiles.cluster_label) <= set(clustering.model.names.values())
