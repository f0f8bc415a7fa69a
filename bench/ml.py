"""Model training speed on 100k customers / visitors, and model quality on real and simulated data.

Not a test: run `python bench/ml.py [--customers N] [--skip-quality]`; results go to the `## Models`
section of bench/RESULTS.md (only that section is replaced).

Speed: 100k customers get a year and a quarter of orders from a buy-till-you-die process (Gamma
purchase rates, Beta dropout after each order, lognormal spend, a few cancellations), written as the
`orders` fact; 100k visitors get six weeks of sessions shaped like `clean_events` (Gamma visit rates,
a per-visitor propensity driving carts and purchases). The platform's own code then builds each
training set (`build_training_set`) and trains every candidate of every model with the full MLflow
logging (nested runs, figures, model, registry gate) into a local SQLite store. The target is the
sum of the three trainings: at most 2 minutes. Data generation and training-set SQL are timed apart.

Quality: churn and lifetime value on the real UCI Online Retail export (loaded through the
platform's assets), propensity on simulator events, and the CDNOW 39/39-week evaluation.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from results import (
    write_section,  # bench/results.py (this folder is on sys.path when run as a script)
)

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from shopverse_platform.lib.ml import features  # noqa: E402
from shopverse_platform.lib.ml.specs import CHURN, CLV, PROPENSITY, ModelSpec  # noqa: E402
from shopverse_platform.lib.ml.tracking import RunOrigin, TrackingTarget  # noqa: E402
from shopverse_platform.lib.paths import shared_data_dir  # noqa: E402

START = date(2023, 1, 1)


# --------------------------------------------------------------------------- synthetic data
def synthetic_orders(customers: int, days: int = 455, seed: int = 0) -> pd.DataFrame:
    """Orders of ``customers`` acquired in the first 120 days, in the shape of the `orders` fact."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.8, 0.05, customers)  # purchases per day, mean 0.04
    dropout = rng.beta(1.0, 6.0, customers)
    spend = rng.normal(3.3, 0.6, customers)
    t = rng.uniform(0, 120, customers)  # first order
    alive = np.ones(customers, bool)
    who, when = [], []
    while alive.any():
        idx = np.flatnonzero(alive)
        who.append(idx)
        when.append(t[idx])
        alive[idx] = rng.random(len(idx)) > dropout[idx]
        t[idx] = t[idx] + rng.exponential(1 / rate[idx])
        alive &= t < days
    who, when = np.concatenate(who), np.concatenate(when)
    amount = np.round(np.exp(rng.normal(spend[who], 0.5)), 2)
    frame = pd.DataFrame({"customer": who, "day": when.astype(int), "amount": amount})
    cancelled = frame.sample(frac=0.03, random_state=seed).assign(day=lambda f: np.minimum(f.day + 1, days - 1),
                                                                 amount=lambda f: -np.round(f.amount * 0.5, 2))
    frame["is_order"], cancelled["is_order"] = True, False
    frame = pd.concat([frame, cancelled], ignore_index=True)
    return pd.DataFrame({
        "order_date": pd.to_datetime(START) + pd.to_timedelta(frame.day, unit="D"),
        "source": "order_export",
        "customer": frame.customer,
        "units": np.where(frame.is_order, rng.integers(1, 20, len(frame)), 0),
        "products": np.where(frame.is_order, rng.integers(1, 8, len(frame)), 0),
        "gross_amount": np.where(frame.is_order, frame.amount, 0.0),
        "credited_amount": np.where(frame.is_order, 0.0, -frame.amount),
        "net_amount": frame.amount,
        "is_order": frame.is_order,
        "is_credit": ~frame.is_order,
    })


STEPS = ("session_start", "page_view", "view_item", "add_to_cart", "begin_checkout", "purchase")


def synthetic_events(visitors: int, days: int = 42, seed: int = 1) -> pd.DataFrame:
    """Six weeks of sessions of ``visitors``, numeric: one row per event (session, visitor, step,
    seconds since START, identified, value). ``events_sql`` turns it into `clean_events` rows."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.9, 0.25, visitors)  # sessions per day
    propensity = rng.gamma(1.5, 1 / 1.5, visitors)
    identified = rng.random(visitors) < 0.7
    visitor = np.repeat(np.arange(visitors), rng.poisson(rate * days))
    n = len(visitor)
    start = rng.uniform(0, days, n) * 86_400
    view = rng.random(n) < 0.65
    cart = view & (rng.random(n) < np.minimum(0.27 * propensity[visitor], 0.85))
    checkout = cart & (rng.random(n) < 0.45)
    purchase = checkout & (rng.random(n) < 0.62)
    masks = (np.ones(n, bool), np.ones(n, bool), view, cart, checkout, purchase)
    parts = []
    for step, (mask, offset) in enumerate(zip(masks, (0, 20, 60, 120, 200, 300))):
        idx = np.flatnonzero(mask)
        parts.append(pd.DataFrame({"session": idx, "step": step, "seconds": start[idx] + offset}))
    events = pd.concat(parts, ignore_index=True)
    events["visitor"] = visitor[events.session]
    events["identified"] = identified[events.visitor]
    events["value"] = np.where(events.step == 5, np.round(rng.lognormal(3.5, 0.6, len(events)), 2), np.nan)
    return events


def events_sql(table: str) -> str:
    names = "[" + ", ".join(f"'{s}'" for s in STEPS) + "]"
    return f"""
    SELECT 'E' || CAST(row_number() OVER () AS VARCHAR) AS event_id, {names}[step + 1] AS event_name,
           TIMESTAMP '{START}' + to_microseconds(CAST(seconds * 1e6 AS BIGINT)) AS event_ts,
           CAST(TIMESTAMP '{START}' + to_microseconds(CAST(seconds * 1e6 AS BIGINT)) AS DATE) AS event_date,
           CASE WHEN identified THEN 'U' || CAST(visitor AS VARCHAR) END AS user_id, 'A' || CAST(visitor AS VARCHAR) AS anonymous_id,
           'S' || CAST(session AS VARCHAR) AS session_id, CASE WHEN visitor % 3 = 0 THEN 'desktop' ELSE 'mobile' END AS device,
           CASE WHEN step = 5 THEN value END AS value, CASE WHEN step = 5 THEN 'T' || CAST(session AS VARCHAR) END AS transaction_id
    FROM {table}"""


# ------------------------------------------------------------------------------------ speed
def train(spec: ModelSpec, con: duckdb.DuckDBPyConnection, target: TrackingTarget, window: int) -> dict:
    from shopverse_platform.lib.ml.training import train_and_track

    cutoffs = features.resolve_cutoffs(features.last_day(con, spec), window)
    started = time.perf_counter()
    features.build_training_set(con, spec, cutoffs)
    build = time.perf_counter() - started
    frame = features.load_training_set(con, spec)
    outcome = train_and_track(spec, frame, target, RunOrigin("bench", spec.name, None, "bench"), dataset_source="bench",
                              checks_passed=True, horizon_days=window)
    fits = {name: r.metrics["fit_seconds"] for name, r in outcome.candidates.items()}
    return {"model": spec.name, "train_rows": int((frame.split == "train").sum()), "validation_rows": int((frame.split == "validation").sum()),
            "set_seconds": build, "train_seconds": outcome.seconds, "fits": fits, "selected": outcome.selected,
            "metric": (spec.primary_metric, outcome.metrics[spec.primary_metric])}


def speed(customers: int, root: Path) -> list[dict]:
    target = TrackingTarget(f"sqlite:///{root / 'mlflow.db'}", f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts"))
    con = duckdb.connect(str(root / "bench.duckdb"))
    con.execute("SET enable_progress_bar = false")
    started = time.perf_counter()
    con.register("_orders", synthetic_orders(customers))
    con.execute("""CREATE TABLE orders AS
                   SELECT CAST(order_date AS DATE) AS order_date, source, 'D' || CAST(row_number() OVER () AS VARCHAR) AS document_id,
                          'C' || CAST(customer AS VARCHAR) AS customer_id, units, products,
                          CAST(gross_amount AS DECIMAL(18,2)) AS gross_amount, CAST(credited_amount AS DECIMAL(18,2)) AS credited_amount,
                          CAST(net_amount AS DECIMAL(18,2)) AS net_amount, is_order, is_credit
                   FROM _orders""")
    con.register("_events", synthetic_events(int(customers * 1.25)))
    con.execute(f"CREATE TABLE clean_events AS {events_sql('_events')}")
    print(f"synthetic data: {time.perf_counter() - started:.1f}s")
    # warm-up: the first MLflow call migrates the store and imports the logging stack
    from shopverse_platform.lib.ml.tracking import ensure_experiment, using

    with using(target):
        ensure_experiment(target, "warmup")
    rows = []
    for spec, window in ((CHURN, 90), (CLV, 90), (PROPENSITY, 7)):
        row = train(spec, con, target, window)
        rows.append(row)
        print(f"{spec.name:<26} train {row['train_rows']:>7,} validation {row['validation_rows']:>7,} "
              f"set {row['set_seconds']:5.1f}s train {row['train_seconds']:5.1f}s "
              + " ".join(f"{k}={v:.1f}s" for k, v in row["fits"].items()))
    con.close()
    return rows


# ---------------------------------------------------------------------------------- quality
def quality(root: Path) -> dict:
    """Real Online Retail (churn, lifetime value), simulated events (propensity), CDNOW."""
    import dagster as dg

    from shopverse_platform.defs.cleaning.assets import (
        clean_events,
        clean_order_lines,
        dim_customers,
    )
    from shopverse_platform.defs.ingestion.assets import raw_events, raw_orders
    from shopverse_platform.defs.metrics.customers_seasonality import customer_metrics
    from shopverse_platform.defs.metrics.facts import order_lines, orders
    from shopverse_platform.defs.ml.models import (
        churn,
        customer_lifetime_value,
        purchase_propensity,
    )
    from shopverse_platform.defs.ml.resources import MlflowTracking
    from shopverse_platform.defs.ml.training_sets import (
        churn_training_set,
        clv_training_set,
        propensity_training_set,
    )
    from shopverse_platform.defs.resources import LandingZone, Warehouse
    from shopverse_platform.lib.ml import cdnow
    from shopverse_platform.lib.simulator.traffic import simulate

    tracking = MlflowTracking(tracking_uri=f"sqlite:///{root / 'quality.db'}", artifact_location=str(root / "quality_artifacts"))
    tags = {"dagster/asset_partition_range_start": "2010-12-01", "dagster/asset_partition_range_end": "2011-12-09"}
    retail = Warehouse(path=str(root / "retail.duckdb"))
    zone = LandingZone(path=str(root / "landing"), order_exports=str(shared_data_dir() / "online_retail.csv.gz"))
    resources = {"warehouse": retail, "landing_zone": zone, "mlflow_tracking": tracking}
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([raw_orders, clean_order_lines, order_lines, orders, dim_customers, customer_metrics],
                          resources=resources, tags=tags, instance=instance).success
    result = dg.materialize([churn_training_set, churn, clv_training_set, customer_lifetime_value], resources=resources, instance=instance)
    out = {"retail": result}
    sim = {"users": 20_000, "days": 42, "start": date(2024, 1, 1), "seed": 7, "faults": 0}
    simulate(root / "sim_landing", **sim)
    events = Warehouse(path=str(root / "sim.duckdb"))
    sim_resources = {"warehouse": events, "landing_zone": LandingZone(path=str(root / "sim_landing")), "mlflow_tracking": tracking}
    last = sim["start"] + timedelta(days=sim["days"] - 1)
    assert dg.materialize([raw_events, clean_events], resources=sim_resources, instance=instance,
                          tags={"dagster/asset_partition_range_start": str(sim["start"]),
                                "dagster/asset_partition_range_end": str(last)}).success
    out["simulated"] = dg.materialize([propensity_training_set, purchase_propensity], resources=sim_resources, instance=instance)
    out["simulation"] = sim
    out["cdnow"] = cdnow.evaluate(shared_data_dir() / "cdnow_master.txt.gz")
    return out


def _candidates_table(result, key: str, metrics: tuple[str, ...]) -> str:
    meta = next(e.materialization.metadata for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key)
    table = meta["candidates"].value.splitlines()
    header = [c.strip() for c in table[0].strip("|").split("|")]
    lines = [f"| candidate | {' | '.join(metrics)} |", "|---|" + "---:|" * len(metrics)]
    for line in table[2:]:
        cells = dict(zip(header, [c.strip() for c in line.strip("|").split("|")]))
        lines.append(f"| {cells['candidate']} | " + " | ".join(cells[m] for m in metrics) + " |")
    return "\n".join(lines) + f"\n\nselected and registered: **{meta['selected_candidate'].value}**"


# ---------------------------------------------------------------------------------- results
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--skip-quality", action="store_true", help="only the speed part")
    args = parser.parse_args()
    os.environ.setdefault("DAGSTER_HOME", tempfile.mkdtemp(prefix="bench-dagster-"))
    root = Path(tempfile.mkdtemp(prefix="bench-ml-"))
    try:
        rows = speed(args.customers, root)
        total = sum(r["train_seconds"] for r in rows)
        print(f"all candidates of all models: {total:.1f}s (target <= 120s)")
        outcome = None if args.skip_quality else quality(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    speed_table = "\n".join(
        f"| {r['model']} | {r['train_rows']:,} | {r['validation_rows']:,} | {r['set_seconds']:.1f} | "
        + " | ".join(f"{r['fits'][c]:.1f}" for c in ("baseline", "linear", "random_forest", "hist_gradient_boosting"))
        + f" | {r['train_seconds']:.1f} | {r['selected']} ({r['metric'][0]} {r['metric'][1]:.3f}) |" for r in rows)
    load = os.getloadavg()[0]
    body = f"""## Models

`python bench/ml.py` — {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()},
load average {load:.1f} when it finished (other work on the machine slows every figure).

### Speed: every candidate of every model, {args.customers:,} customers / {int(args.customers * 1.25):,} visitors

Synthetic orders and events (see the script's docstring), the platform's own training-set SQL and
training code, full MLflow logging into a local SQLite store (nested runs, 4-5 plotly figures per
candidate, the model, the registry gate). `training s` = all four candidates fitted, evaluated,
plotted and logged, the best registered.

| model | train rows | validation rows | training set s | baseline fit s | linear fit s | forest fit s | boosting fit s | training s | selected |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---|
{speed_table}

**Total training: {total:.1f} s** for all candidates of all three models (target ≤ 120 s).
"""
    if outcome:
        ev = outcome["cdnow"]
        cdnow_rows = "\n".join(f"| {name} | {m['mae']:.2f} | {m['rmse']:.2f} | {m['r2']:.3f} | {m['spearman']:.3f} | "
                               f"{m['top_decile_share']:.3f} | {m['total_error_pct']:+.1f} |" for name, m in ev.metrics.items())
        classifier = ("roc_auc", "pr_auc", "f1", "brier", "threshold")
        regressor = ("mae", "rmse", "r2", "spearman", "top_decile_share", "total_error_pct")
        sim = outcome["simulation"]
        body += f"""
### Quality on real data

**Churn** (UCI Online Retail, no order within 90 days; training cutoff 2011-06-13, validation cutoff
2011-09-11; metrics on the validation split):

{_candidates_table(outcome["retail"], "churn", classifier)}

**Lifetime value** (UCI Online Retail, net revenue in the next 90 days, same cutoffs):

{_candidates_table(outcome["retail"], "customer_lifetime_value", regressor)}

**Lifetime value on CDNOW** ({ev.customers:,} customers, calibration 1997-01-01..09-30, holdout
1997-10-01..1998-06-30; {ev.holdout_purchases:,} holdout purchase days worth ${ev.holdout_revenue:,.0f}; BG/NBD
forecast {ev.predicted_purchases:,.0f} purchase days; r={ev.bgnbd.r:.4f}, α={ev.bgnbd.alpha:.3f}, a={ev.bgnbd.a:.4f},
b={ev.bgnbd.b:.4f}; Gamma-Gamma p={ev.gamma_gamma.p:.3f}, q={ev.gamma_gamma.q:.3f}, v={ev.gamma_gamma.v:.3f}):

| method | MAE $ | RMSE $ | R² | Spearman | top-decile share | total error % |
|---|---:|---:|---:|---:|---:|---:|
{cdnow_rows}

### Quality on simulated data

**Purchase propensity** (simulator: {sim['users']:,} users, {sim['days']} days, seed {sim['seed']}; purchase within 7
days; metrics on the validation split):

{_candidates_table(outcome["simulated"], "purchase_propensity", classifier)}
"""
    write_section("Models", body)
    print(body)


if __name__ == "__main__":
    main()
