"""BG/NBD + Gamma-Gamma and the lifetime-value candidates on the real CDNOW log, the classic
39-week calibration / 39-week holdout, against the naive baseline."""

from __future__ import annotations

import gzip
from collections import defaultdict
from datetime import date

import numpy as np
import pandas as pd
import pytest

from shopverse_platform.lib.ml import btyd, cdnow
from shopverse_platform.lib.paths import shared_data_dir

CDNOW = shared_data_dir() / "cdnow_master.txt.gz"


def _simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, T: float, horizon: float, seed: int):
    """Customers of a known BG/NBD process: purchases at Poisson rate lambda ~ Gamma(r, alpha), after
    each purchase a dropout with probability p ~ Beta(a, b). Returns (x, t_x, T) over [0, T] and the
    purchases in (T, T + horizon]."""
    rng = np.random.default_rng(seed)
    rates, dropouts = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    x, t_x, later = np.zeros(n), np.zeros(n), np.zeros(n)
    for i in range(n):
        t, alive = 0.0, True
        while alive:
            t += rng.exponential(1 / rates[i])
            if t > T + horizon:
                break
            if t <= T:
                x[i], t_x[i] = x[i] + 1, t
            else:
                later[i] += 1
            alive = rng.random() > dropouts[i]
    return x, t_x, np.full(n, T), later


def test_bgnbd_recovers_a_known_process():
    truth = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    x, t_x, T, later = _simulate_bgnbd(8000, **truth, T=39.0, horizon=39.0, seed=3)
    fitted = btyd.fit_bgnbd(x, t_x, T)
    assert fitted.r == pytest.approx(truth["r"], rel=0.15)
    assert fitted.alpha == pytest.approx(truth["alpha"], rel=0.2)
    assert fitted.a == pytest.approx(truth["a"], rel=0.35) and fitted.b == pytest.approx(truth["b"], rel=0.35)
    # the conditional expectation adds up to what the simulated customers really did next
    assert fitted.expected_purchases(39.0, x, t_x, T).sum() == pytest.approx(later.sum(), rel=0.06)


def _independent_summary() -> tuple[pd.DataFrame, dict]:
    """The calibration summary and holdout totals, read with the standard library alone."""
    days: dict[tuple[str, date], float] = defaultdict(float)
    with gzip.open(CDNOW, "rt") as handle:
        next(handle)
        for line in handle:
            customer, day, _, value = line.split()
            days[(customer, date(int(day[:4]), int(day[4:6]), int(day[6:])))] += float(value)
    calibration, holdout = defaultdict(list), defaultdict(list)
    for (customer, day), value in days.items():
        (calibration if day < date(1997, 10, 1) else holdout)[customer].append((day, value))
    rows = {}
    for customer, purchases in calibration.items():
        purchases.sort()
        first, last = purchases[0][0], purchases[-1][0]
        repeat = [v for _, v in purchases[1:]]
        rows[customer] = {"x": len(purchases) - 1, "t_x": (last - first).days / 7, "T": (date(1997, 10, 1) - first).days / 7,
                          "m_x": sum(repeat) / len(repeat) if repeat else 0.0}
    totals = {"purchases": sum(len(v) for v in holdout.values()), "revenue": sum(v for p in holdout.values() for _, v in p),
              "customers": len(calibration)}
    return pd.DataFrame.from_dict(rows, orient="index"), totals


def test_bgnbd_and_gamma_gamma_agree_with_lifetimes_on_cdnow():
    """Reference values: lifetimes 0.11.3 (BetaGeoFitter, GammaGammaFitter, no penalizer) fitted on
    this same calibration summary, in a scratch environment (lifetimes is not a dependency)."""
    summary, totals = _independent_summary()
    assert totals["customers"] == 23_570  # data/README.md
    bg = btyd.fit_bgnbd(summary.x, summary.t_x, summary["T"])
    assert (bg.r, bg.alpha, bg.a, bg.b) == pytest.approx((0.250657, 4.764954, 0.746021, 2.216007), rel=2e-3)
    assert bg.expected_purchases(39, summary.x, summary.t_x, summary["T"]).sum() == pytest.approx(16_622.93, rel=1e-3)
    gg = btyd.fit_gamma_gamma(summary.x, summary.m_x)
    assert (gg.p, gg.q, gg.v) == pytest.approx((6.275359, 3.624450, 14.983689), rel=2e-3)


def test_cdnow_lifetime_value_beats_the_naive_baseline():
    evaluation = cdnow.evaluate(CDNOW, candidates=("linear",))
    _, totals = _independent_summary()
    assert evaluation.customers == totals["customers"]
    assert evaluation.holdout_purchases == totals["purchases"]
    assert evaluation.holdout_revenue == pytest.approx(totals["revenue"], abs=0.01)
    naive = evaluation.metrics["naive"]
    for method in ("bgnbd_gamma_gamma", "linear"):
        assert evaluation.metrics[method]["mae"] < 0.8 * naive["mae"], method
        assert evaluation.metrics[method]["rmse"] < 0.9 * naive["rmse"], method
        assert abs(evaluation.metrics[method]["total_error_pct"]) < abs(naive["total_error_pct"]), method
    # BG/NBD's forecast of holdout purchases is within 20 % of what happened (the full CDNOW set is
    # known to be under-forecast by a BG/NBD calibrated on 39 weeks)
    assert evaluation.predicted_purchases == pytest.approx(totals["purchases"], rel=0.2)
