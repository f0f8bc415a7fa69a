"""Training sets of the three models, built from a cutoff: features strictly before it, labels
from a fixed window after it, validation on a later cutoff (lib/ml/features.py)."""

from datetime import date

import dagster as dg
from pydantic import Field

from shopverse_platform.defs.asset_helpers import table_metadata
from shopverse_platform.defs.checks import run_checks
from shopverse_platform.defs.lineage.sql_lineage import StatementLog, sql_lineage_metadata
from shopverse_platform.defs.ml.common import ML, training_set_checks, with_code_version
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.ml import checks, features
from shopverse_platform.lib.ml.specs import CHURN, CLV, PROPENSITY, ModelSpec
from shopverse_platform.lib.shop import customer_window_days, shop_file


class _TrainingSetConfig(dg.Config):
    training_cutoff: str | None = Field(default=None, description="YYYY-MM-DD. Unset: validation cutoff minus the window.")
    validation_cutoff: str | None = Field(
        default=None, description="YYYY-MM-DD. Unset: last day of data + 1 - window (the latest fully observed label window).")
    min_rows: int = Field(default=checks.MIN_ROWS, description="Fewest rows per split for the set to pass its checks.")


# The customer models' label window when neither the run config nor the data directory's shop.toml
# sets one: the UCI Online Retail setting, a quarter of a year.
CUSTOMER_WINDOW_DAYS = 90


class CustomerTrainingSetConfig(_TrainingSetConfig):
    window_days: int | None = Field(
        default=None, description=f"Label window after the cutoff, in days. Unset: customer_window_days in the data "
        f"directory's shop.toml when set (`shopverse run` records the simulated shop's 21), else {CUSTOMER_WINDOW_DAYS}.")
    order_source: str | None = Field(default=None, description="Only orders of this source ('events' or 'order_export'). Unset: all.")


class PropensityTrainingSetConfig(_TrainingSetConfig):
    window_days: int = Field(default=7, description="Label window after the cutoff, in days.")
    lookback_days: int = Field(default=28, description="Visitors seen in this many days before the cutoff form the population.")


def window_days(spec: ModelSpec, configured: int | None) -> tuple[int, str]:
    """The label window of a training set and where it comes from: the run config, else (customer
    models) the data directory's shop.toml, else the default."""
    if configured is not None:
        return configured, "run config"
    recorded = customer_window_days() if spec.entity == "customer" else None
    if recorded is not None:
        return recorded, f"customer_window_days in {shop_file()}"
    return CUSTOMER_WINDOW_DAYS, "default"


def _build(context: dg.AssetExecutionContext, spec: ModelSpec, config, warehouse: Warehouse):
    order_source = getattr(config, "order_source", None)
    lookback = getattr(config, "lookback_days", 28)
    window, window_source = window_days(spec, config.window_days)
    with warehouse.connect() as con:
        last_day = features.last_day(con, spec, order_source)
        if last_day is None:
            what = ("no shop events yet (visitors and their visits come from the event feed: the tracker or another "
                    "tool's export; order exports carry none)" if spec.entity == "visitor" else "no orders yet")
            context.log.warning(f"{spec.training_set}: {what}; the set is empty and its checks fail")
        cutoffs = features.resolve_cutoffs(
            last_day or date.today(), window,
            date.fromisoformat(config.training_cutoff) if config.training_cutoff else None,
            date.fromisoformat(config.validation_cutoff) if config.validation_cutoff else None,
        )
        log = StatementLog(con)  # the SQL that really ran (both splits, the swap), for column lineage
        features.build_training_set(log, spec, cutoffs, order_source, lookback)
        splits = {split: {"rows": n, "label_mean": round(float(mean or 0), 4)} for split, n, mean in con.execute(
            f"SELECT split, count(*), avg(label) FROM {spec.training_set} GROUP BY 1").fetchall()}
        yield dg.MaterializeResult(metadata={
            **table_metadata(con, spec.training_set),
            "training_cutoff": str(cutoffs.training), "validation_cutoff": str(cutoffs.validation),
            "window_days": cutoffs.window_days, "window_days_from": window_source, "splits": dg.MetadataValue.json(splits),
            **sql_lineage_metadata(con, spec.training_set, log.take()),
        })
        outcomes = checks.run_checks(con, spec, config.min_rows)
        yield from run_checks((check, lambda name=check.name: outcomes[name]) for check in training_set_checks(spec.training_set))


def _asset_args(spec: ModelSpec, deps: list[str]) -> dict:
    return {"name": spec.training_set, **ML.whole_history(deps, eager=False),
            "check_specs": [check.spec() for check in training_set_checks(spec.training_set)]}


@dg.asset(**_asset_args(CHURN, ["orders"]))
def churn_training_set(context: dg.AssetExecutionContext, config: CustomerTrainingSetConfig, warehouse: Warehouse):
    """Churn training set: customers with an order before the cutoff, their order-history features
    as of the day before it (recency, frequency, revenue, order size, cancellations, last 30/90
    days), and label 1 when they place no order within the next `window_days` (90 by default, the
    Online Retail setting; `shopverse run` records the simulated demo shop's 21 in the data
    directory's shop.toml). Two splits: training at an earlier cutoff, validation at a later one."""
    yield from _build(context, CHURN, config, warehouse)


@dg.asset(**_asset_args(CLV, ["orders"]))
def clv_training_set(context: dg.AssetExecutionContext, config: CustomerTrainingSetConfig, warehouse: Warehouse):
    """Lifetime-value training set: customers with an order before the cutoff, the same
    order-history features as churn, and as label their net revenue within the next `window_days`
    (90 by default; `shopverse run` records the simulated demo shop's 21 in the data directory's
    shop.toml), floored at 0. Two splits: training at an earlier cutoff, validation at a later one."""
    yield from _build(context, CLV, config, warehouse)


@dg.asset(**_asset_args(PROPENSITY, ["clean_events"]))
def propensity_training_set(context: dg.AssetExecutionContext, config: PropensityTrainingSetConfig, warehouse: Warehouse):
    """Purchase-propensity training set: visitors (logged-in users and anonymous devices, bots
    excluded) seen in the 28 days before the cutoff, their site activity as of the day before it
    (sessions, item views, carts, checkouts, past purchases, days since each), and label 1 when
    they purchase within the next `window_days` (7 by default). Two splits: training at an earlier
    cutoff, validation at a later one."""
    yield from _build(context, PROPENSITY, config, warehouse)


@dg.definitions
def training_sets() -> dg.Definitions:
    return dg.Definitions(assets=with_code_version([churn_training_set, clv_training_set, propensity_training_set]))
