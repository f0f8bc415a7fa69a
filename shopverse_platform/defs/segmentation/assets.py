"""Segmentation rebuilt every day as of the latest data: value tiers, RFM segments, behaviour
clusters and intent segments (weekly snapshots and movements live in ``snapshots.py``); and the
behaviour-cluster model the daily clusters apply, fitted in the weekly job (group ``ml``)."""


from datetime import timedelta

import dagster as dg
from pydantic import Field

from shopverse_platform.defs.asset_helpers import table_metadata
from shopverse_platform.defs.checks import Check, table_checks
from shopverse_platform.defs.lineage.sql_lineage import StatementLog, frame_lineage_metadata, sql_lineage_metadata
from shopverse_platform.defs.ml.common import ML, code_version
from shopverse_platform.defs.ml.resources import MlflowTracking
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.defs.segmentation.common import (
    SEGMENTATION,
    CustomerSegmentationConfig,
    resolve_as_of,
)
from shopverse_platform.lib.segmentation import checks
from shopverse_platform.lib.segmentation.customers import (
    as_of_params,
    customer_state_sql,
)
from shopverse_platform.lib.segmentation.intent import intent_segments_sql
from shopverse_platform.lib.segmentation.rfm import rfm_segments_sql, value_tiers_sql
from shopverse_platform.lib.segmentation.tables import (
    build_table,
    markdown_table,
    write_frame,
)
from shopverse_platform.lib.cleaning.dimensions import update_visitor_observations
from shopverse_platform.lib.segmentation.visitors import recent_visitor_state_sql
from shopverse_platform.lib.warehouse.column_docs import comment_columns
from shopverse_platform.lib.warehouse.shapes import relation

# Depends on the asset's config (order_source): evaluated by the asset, with the config of its run.
MATCHES_CUSTOMER_METRICS = Check(
    "value_tiers", "matches_customer_metrics",
    "At customer_metrics' as-of day, the population and every net revenue equal customer_metrics'.")
# Depends on the asset's config (k_min, k_max).
K_IN_RANGE = Check("behaviour_clusters", "k_in_range_and_labelled",
                   "k lies in the configured range and every cluster has its own readable label.")


@dg.asset(**SEGMENTATION.whole_history(["orders", "customer_metrics"]), check_specs=[MATCHES_CUSTOMER_METRICS.spec()])
def value_tiers(context: dg.AssetExecutionContext, config: CustomerSegmentationConfig, warehouse: Warehouse):
    """Customers by net revenue to date (as of the last day with orders): VIP = top 5 %
    (95th percentile and up), High = 67th-95th, Medium = 33rd-67th, Low = bottom 33 %. The
    percentile is the percent rank of the customer's net revenue; equal revenue, equal tier.
    Customers with credits only (a cancellation of an order from before the data) are included."""
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, config.as_of_date, config.order_source)
        params = as_of_params(as_of)
        log = StatementLog(con)  # the SQL that really ran (the settings it reads included), for column lineage
        build_table(log, "value_tiers", value_tiers_sql(log, config.order_source), params)
        by_tier = dict(con.execute("SELECT value_tier, count(*) FROM value_tiers GROUP BY 1").fetchall())
        yield dg.MaterializeResult(metadata={**table_metadata(con, "value_tiers"), "as_of_date": str(as_of),
                                             "customers_by_tier": dg.MetadataValue.json(by_tier),
                                             **sql_lineage_metadata(con, "value_tiers", log.take())})
        yield MATCHES_CUSTOMER_METRICS.result(
            checks.tiers_match_customer_metrics(con, filtered=config.order_source is not None))


value_tiers_checks = table_checks("value_tiers", [
    (Check("value_tiers", "customer_unique", "One row per customer."),
     lambda con: checks.unique_key(con, "value_tiers", "customer_id")),
    (Check("value_tiers", "ordered_by_revenue", "No customer of a higher tier has less net revenue than one of a lower tier."),
     checks.tiers_ordered_by_revenue),
])


@dg.asset(**SEGMENTATION.whole_history(["orders"]))
def rfm_segments(context: dg.AssetExecutionContext, config: CustomerSegmentationConfig, warehouse: Warehouse):
    """Customers with at least one order, scored 1-5 on recency, frequency (orders) and monetary
    (net revenue) by percent rank (ties share a score; the most recent buyers get R = 5), and
    named from the grid of R against FM = ceil((F + M) / 2): Champions, Loyal Customers,
    Potential Loyalists, New Customers, Promising, Need Attention, At Risk, Can't Lose Them,
    Hibernating, Lost. The grid is in docs/models.md."""
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, config.as_of_date, config.order_source)
        params = as_of_params(as_of)
        log = StatementLog(con)  # the SQL that really ran (the settings it reads included), for column lineage
        build_table(log, "rfm_segments", rfm_segments_sql(log, config.order_source), params)
        by_segment = dict(con.execute("SELECT rfm_segment, count(*) FROM rfm_segments GROUP BY 1 ORDER BY 2 DESC").fetchall())
        yield dg.MaterializeResult(metadata={**table_metadata(con, "rfm_segments"), "as_of_date": str(as_of),
                                             "customers_by_segment": dg.MetadataValue.json(by_segment),
                                             **sql_lineage_metadata(con, "rfm_segments", log.take())})


rfm_segments_checks = table_checks("rfm_segments", [
    (Check("rfm_segments", "customer_unique", "One row per customer."),
     lambda con: checks.unique_key(con, "rfm_segments", "customer_id")),
    (Check("rfm_segments", "scores_valid", "R, F and M scores lie in 1..5 and every customer has one of the ten named segments."),
     checks.rfm_scores_valid),
])


class ClusterConfig(CustomerSegmentationConfig):
    k_min: int = Field(default=3, description="Smallest number of clusters tried.")
    k_max: int = Field(default=8, description="Largest number of clusters tried.")
    seed: int = Field(default=0, description="Random seed of KMeans and of the silhouette sample.")
    event_lookback_days: int = Field(default=90, description="Days of site activity behind the behaviour features (when events exist).")


def _customer_frame(con, config: ClusterConfig, as_of):
    """Customers with an order, their RFM and behaviour features, and recent site activity when
    known; and the statements that queried each of the two parts (for column lineage)."""
    params = as_of_params(as_of)
    observed = update_visitor_observations(con)  # the visitor observations the site activity is read from
    log = StatementLog(con)  # the SQL that really ran (the settings it reads included)
    customers = log.execute(f"SELECT * FROM ({customer_state_sql(log, config.order_source)}) WHERE orders > 0 ORDER BY customer_id",
                            params).df()
    customer_sql = log.take()
    visits = log.execute(
        f"SELECT visitor_id AS customer_id, recent_sessions, recent_item_views, recent_cart_adds "
        f"FROM ({recent_visitor_state_sql(log, config.event_lookback_days)})", params).df()
    visit_sql = [*observed.sql, *log.take()]  # the observations as a full update makes them, then the read
    frame = customers.merge(visits, on="customer_id", how="left")
    for column in ("recent_sessions", "recent_item_views", "recent_cart_adds"):
        frame[column] = frame[column].fillna(0)
    return frame, customer_sql, visit_sql


def _refit_reason(stored, frame, config: ClusterConfig) -> str | None:
    """Why the daily step cannot apply the stored model to ``frame`` (None: it can)."""
    from shopverse_platform.lib.segmentation.clusters import varying_features

    if stored is None:
        return "no model stored yet"
    if stored.model.features != varying_features(frame):
        return f"the stored model's features {stored.model.features} are not the ones that vary today"
    if not config.k_min <= stored.model.k <= config.k_max:
        return f"the stored model's k = {stored.model.k} is outside [{config.k_min}, {config.k_max}]"
    return None


def _fit_metadata(clustering) -> dict[str, object]:
    return {"k": clustering.k,
            "silhouette_by_k": dg.MetadataValue.json({str(k): round(v, 4) for k, v in clustering.silhouette_by_k.items()}),
            "features": dg.MetadataValue.json(clustering.features)}


def _model_metadata(stored) -> dict[str, object]:
    return {"model_as_of_date": str(stored.as_of_date), "model_fitted_at": stored.fitted_at.isoformat(sep=" "),
            "model_fitted_by": stored.fitted_by}


@dg.asset(**SEGMENTATION.whole_history(["orders", "clean_events", "sessions"], kinds={"duckdb", "scikit-learn"}),
          check_specs=[K_IN_RANGE.spec()])
def behaviour_clusters(context: dg.AssetExecutionContext, config: ClusterConfig, warehouse: Warehouse):
    """Customers assigned to behaviour clusters: the model fitted weekly by
    `behaviour_cluster_model` (KMeans on scaled RFM and behaviour features: recency, orders, net
    revenue, average order value, units and products per order, cancellation rate, days between
    orders, and sessions, item views and cart adds of the last 90 days when events exist; k with
    the best silhouette in [k_min, k_max]) is read from `behaviour_cluster_model` and applied: each
    customer goes to the nearest centre. With no stored model (or one fitted on other features, or
    with k outside [k_min, k_max]) the clusters are fitted here once and the model stored. Each
    cluster is profiled (medians, size) in `behaviour_cluster_profiles` and named from its value,
    frequency and recency, e.g. "High-value frequent buyers, active"."""
    from datetime import UTC, datetime

    import pandas as pd

    from shopverse_platform.lib.segmentation.cluster_store import MODEL_TABLE, load_model, store_model
    from shopverse_platform.lib.segmentation.clusters import (
        EVENT_FEATURES,
        ORDER_FEATURES,
        apply_model,
        cluster_customers,
    )

    with warehouse.connect() as con:
        as_of = resolve_as_of(con, config.as_of_date, config.order_source)
        metadata: dict[str, object] = {"as_of_date": str(as_of)}
        if as_of:
            frame, customer_sql, visit_sql = _customer_frame(con, config, as_of)
        else:  # no orders yet: no query ran, so no column lineage either
            frame = pd.DataFrame(columns=["customer_id", *ORDER_FEATURES, *EVENT_FEATURES])
        out = frame[["customer_id", *ORDER_FEATURES, *EVENT_FEATURES]].copy()
        out.insert(1, "as_of_date", as_of)
        if len(frame) > config.k_max:
            stored = load_model(con)
            reason = _refit_reason(stored, frame, config)
            if reason is None:  # the usual day: the weekly fit applied, no KMeans
                labels, profiles = apply_model(stored.model, frame)
                model = stored.model
                metadata.update({"k": model.k, "silhouette": round(stored.silhouette, 4),
                                 "features": dg.MetadataValue.json(model.features), **_model_metadata(stored),
                                 "fitted_now": False})
            else:  # fitted once here and stored, so the next days apply it until the weekly fit replaces it
                context.log.info(f"behaviour_clusters: fitting the clusters now ({reason})")
                clustering = cluster_customers(frame, config.k_min, config.k_max, config.seed)
                store_model(con, clustering, as_of=as_of, fitted_at=datetime.now(UTC).replace(tzinfo=None),
                            fitted_by="behaviour_clusters", customers=len(frame))
                comment_columns(con, MODEL_TABLE)  # written beside behaviour_clusters
                labels, profiles, model = clustering.labels, clustering.profiles, clustering.model
                metadata.update({**_fit_metadata(clustering), **_model_metadata(load_model(con)),
                                 "fitted_now": True, "fit_reason": reason})
            names = dict(zip(profiles.cluster, profiles.cluster_label))
            out.insert(2, "cluster", labels.astype("int32"))
            out.insert(3, "cluster_label", [names[c] for c in labels])
            profiles = profiles.assign(as_of_date=as_of, k=model.k)
            metadata["profiles"] = dg.MetadataValue.md(markdown_table(profiles[["cluster", "cluster_label", "customers", "share"]]))
        else:
            out = out.head(0)
            out.insert(2, "cluster", pd.Series(dtype="int32"))
            out.insert(3, "cluster_label", pd.Series(dtype="str"))
            profiles = pd.DataFrame({"cluster": pd.Series(dtype="int64"), "cluster_label": pd.Series(dtype="str"),
                                     "customers": pd.Series(dtype="int64"), "share": pd.Series(dtype="float64")})
            metadata["skipped"] = f"{len(frame)} customers: too few to cluster"
        write_frame(con, "behaviour_clusters", out)
        write_frame(con, "behaviour_cluster_profiles", profiles)
        comment_columns(con, "behaviour_cluster_profiles")  # written beside behaviour_clusters
        if as_of:
            # The table is written from the frame: its feature columns are the queries' (the event
            # features with 0 for customers not seen), the cluster and its label are KMeans', no SQL's.
            metadata.update(frame_lineage_metadata(con, "behaviour_clusters", [
                (customer_sql, ["customer_id", *ORDER_FEATURES]), (visit_sql, list(EVENT_FEATURES))]))
        yield dg.MaterializeResult(metadata={**table_metadata(con, "behaviour_clusters"), **metadata})
        yield K_IN_RANGE.result(checks.clusters_labelled(con, config.k_min, config.k_max))


@dg.asset(**ML.whole_history(["orders", "clean_events"], kinds={"duckdb", "scikit-learn", "mlflow"}, eager=False))
def behaviour_cluster_model(context: dg.AssetExecutionContext, config: ClusterConfig, warehouse: Warehouse,
                            mlflow_tracking: MlflowTracking):
    """The behaviour-cluster model, fitted weekly: KMeans for every k in [k_min, k_max] on every
    customer with an order as of the latest data (the features of `behaviour_clusters`), the k
    with the best silhouette kept. Stored in `behaviour_cluster_model` (one row per cluster: its
    centre, name and the scaling) for the daily `behaviour_clusters` to apply, and tracked in
    MLflow experiment `shopverse/behaviour_clusters` (k, features, silhouette per k, the model as
    JSON). In the weekly job, not the daily one: the daily step reads the table, it does not
    depend on this asset."""
    from datetime import UTC, datetime

    from shopverse_platform.lib.ml.cluster_tracking import track_cluster_fit
    from shopverse_platform.lib.ml.tracking import RunOrigin
    from shopverse_platform.lib.segmentation.cluster_store import MODEL_TABLE, load_model, store_model
    from shopverse_platform.lib.segmentation.clusters import cluster_customers

    with warehouse.connect() as con:
        as_of = resolve_as_of(con, config.as_of_date, config.order_source)
        frame = _customer_frame(con, config, as_of)[0] if as_of else None
        if frame is None or len(frame) <= config.k_max:
            customers = 0 if frame is None else len(frame)
            context.log.warning(f"behaviour_cluster_model: {customers} customers, too few to cluster; the stored model is kept")
            yield dg.MaterializeResult(metadata={"as_of_date": str(as_of), "skipped": f"{customers} customers: too few to cluster"})
            return
        clustering = cluster_customers(frame, config.k_min, config.k_max, config.seed)
        origin = RunOrigin(context.run.run_id, context.asset_key.to_user_string(),
                           context.partition_key if context.has_partition_key else None, code_version())
        tracked = track_cluster_fit(clustering, mlflow_tracking.target(), origin, as_of=as_of, customers=len(frame),
                                    params={"k_min": config.k_min, "k_max": config.k_max, "seed": config.seed,
                                            "event_lookback_days": config.event_lookback_days,
                                            "order_source": config.order_source or "all"})
        store_model(con, clustering, as_of=as_of, fitted_at=datetime.now(UTC).replace(tzinfo=None),
                    fitted_by="behaviour_cluster_model", customers=len(frame), mlflow_run_id=tracked.run_id)
        yield dg.MaterializeResult(metadata={
            **table_metadata(con, MODEL_TABLE), "as_of_date": str(as_of), "customers": len(frame),
            **_fit_metadata(clustering), **_model_metadata(load_model(con)),
            "experiment_id": tracked.experiment_id, "mlflow_run_id": tracked.run_id,
            "tracking_uri": mlflow_tracking.resolved_tracking_uri(),
            "profiles": dg.MetadataValue.md(markdown_table(clustering.profiles[["cluster", "cluster_label", "customers", "share"]])),
        })


behaviour_clusters_checks = table_checks("behaviour_clusters", [
    (Check("behaviour_clusters", "customer_unique", "One row per customer."),
     lambda con: checks.unique_key(con, "behaviour_clusters", "customer_id")),
])


class IntentConfig(dg.Config):
    as_of_date: str | None = Field(default=None, description="Day (YYYY-MM-DD) the segments describe. Unset: the last day with events.")
    lookback_days: int = Field(default=28, description="A recent visitor was seen in this many days up to the as-of day.")


@dg.asset(**SEGMENTATION.whole_history(["clean_events", "sessions"]))
def intent_segments(context: dg.AssetExecutionContext, config: IntentConfig, warehouse: Warehouse):
    """Visitors seen in the last 28 days (bots excluded; a device is the user it last logged in
    as within those days) by purchase intent: converted (purchased in the window), high (added to
    cart and came back for two or more sessions), medium (viewed items, or a cart in a single
    visit), low (browsing only: pages, lists, search). Reads the window's rows of
    `visitor_observations` (per event day, session, device and user: counts of each kind of event,
    kept up to date from the changed partitions of clean_events), not the events; the bot verdicts
    of `sessions`; and `purchase_observations` for revenue_total (the whole history's purchases)."""
    from datetime import date

    with warehouse.connect() as con:
        events = relation(con, "clean_events")
        as_of = date.fromisoformat(config.as_of_date) if config.as_of_date else con.execute(
            f"SELECT max(event_date) FROM {events}").fetchone()[0]
        before = as_of + timedelta(days=1) if as_of else None
        observed = update_visitor_observations(con)  # the visitor observations the segments are read from
        context.log.info(f"intent_segments: {observed.mode}")
        log = StatementLog(con)  # the SQL that really ran (the settings it reads included), for column lineage
        build_table(log, "intent_segments", intent_segments_sql(log, config.lookback_days), {"before": before})
        by_level = dict(con.execute("SELECT intent_segment, count(*) FROM intent_segments GROUP BY 1").fetchall())
        yield dg.MaterializeResult(metadata={**table_metadata(con, "intent_segments"), "as_of_date": str(as_of),
                                             "visitors_by_level": dg.MetadataValue.json(by_level),
                                             "observations": dg.MetadataValue.text(observed.mode),
                                             **sql_lineage_metadata(con, "intent_segments", [*observed.sql, *log.take()])})


intent_segments_checks = table_checks("intent_segments", [
    (Check("intent_segments", "visitor_unique", "One row per visitor."),
     lambda con: checks.unique_key(con, "intent_segments", "visitor_id")),
    (Check("intent_segments", "levels_valid", "Every visitor has one of: converted, high, medium, low."), checks.intent_levels_valid),
])
