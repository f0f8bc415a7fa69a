"""Anomalies over the whole history: traffic, orders, sessions, revenue."""

import dagster as dg
from pydantic import Field

from shopverse_platform.defs.asset_helpers import table_metadata
from shopverse_platform.defs.asset_shapes import ANALYTICS
from shopverse_platform.defs.checks import Check, table_checks
from shopverse_platform.defs.lineage.sql_lineage import StatementLog, sql_lineage_metadata
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.metrics.anomalies import (
    AnomalyThresholds,
    build_anomalies,
    thresholds_metadata,
)

DEFAULTS = AnomalyThresholds()


class AnomalyConfig(dg.Config):
    traffic_score: float = Field(default=DEFAULTS.traffic_score, description="|robust z| of hourly sessions to flag.")
    order_shop_ratio: float = Field(default=DEFAULTS.order_shop_ratio, description="Order value / the shop's 99th percentile.")
    order_customer_score: float = Field(default=DEFAULTS.order_customer_score,
                                        description="Robust z of log order value vs the customer's other orders.")
    hyperactive_score: float = Field(default=DEFAULTS.hyperactive_score, description="Robust z of log events per minute.")
    revenue_drop_score: float = Field(default=DEFAULTS.revenue_drop_score, description="Robust z below which a day's revenue dropped.")


@dg.asset(**ANALYTICS.whole_history(["sessions", "orders", "order_lines"]))
def anomalies(context: dg.AssetExecutionContext, config: AnomalyConfig, warehouse: Warehouse):
    """Traffic spikes and drops (sessions per hour against the same hour and weekday of the
    surrounding weeks), unusual orders (value far outside the shop's and the customer's norm, with
    what was later cancelled), bots and hyperactive sessions (events per minute), and revenue drops
    (a day's net revenue against the same weekday of the surrounding weeks). Each row carries its
    method, observed and expected values, score, threshold and severity."""
    thresholds = AnomalyThresholds(**config.model_dump())
    with warehouse.connect() as con:
        log = StatementLog(con)  # the SQL that really ran, for column lineage
        build_anomalies(log, thresholds)
        by_type = dict(con.execute("SELECT anomaly_type, count(*) FROM anomalies GROUP BY 1 ORDER BY 1").fetchall())
        yield dg.MaterializeResult(metadata={
            **table_metadata(con, "anomalies"),
            **sql_lineage_metadata(con, "anomalies", log.take()),
            "by_type": dg.MetadataValue.json(by_type),
            "thresholds": dg.MetadataValue.json(thresholds_metadata(thresholds)),
        })


def _rows_explained(con) -> tuple[bool, dict]:
    unexplained = con.execute(
        "SELECT count(*) FROM anomalies WHERE method IS NULL OR score IS NULL OR threshold IS NULL "
        "OR severity NOT IN ('low', 'medium', 'high') OR abs(score) < threshold"
    ).fetchone()[0]
    return unexplained == 0, {"unexplained_rows": unexplained}


anomalies_checks = table_checks("anomalies", [
    (Check("anomalies", "rows_explained", "Every row names its method, score, threshold and a known severity, "
           "and its score crosses its threshold.", blocking=True), _rows_explained),
])
