"""The three models: what they predict, for whom, from which features, and how they are judged."""

from __future__ import annotations

from dataclasses import dataclass

CUSTOMER_FEATURES: tuple[str, ...] = (
    "recency_days", "orders", "order_days", "cancellations", "age_days", "tenure_days", "gross_revenue",
    "net_revenue", "average_order_value", "orders_30d", "orders_90d", "revenue_90d", "units_per_order",
    "products_per_order", "cancellation_rate", "days_between_orders",
)
VISITOR_FEATURES: tuple[str, ...] = (
    "is_identified", "devices", "sessions_7d", "recent_sessions", "recent_active_days", "recent_events",
    "recent_page_views", "recent_item_views", "item_views_7d", "recent_cart_adds", "cart_adds_7d",
    "recent_checkouts", "recent_purchases", "purchases_total", "revenue_total", "recent_mobile_share",
    "days_since_last_visit", "days_since_last_cart", "days_since_last_purchase", "days_since_first_seen",
)

CANDIDATES: tuple[str, ...] = ("baseline", "linear", "random_forest", "hist_gradient_boosting")

CLASSIFIER_METRICS: tuple[str, ...] = ("roc_auc", "pr_auc", "f1", "precision", "recall", "brier", "threshold", "positive_rate")
REGRESSOR_METRICS: tuple[str, ...] = ("mae", "rmse", "r2", "spearman", "top_decile_share", "total_error_pct")


@dataclass(frozen=True)
class ModelSpec:
    name: str  # registered model, MLflow experiment suffix and model asset
    kind: str  # "classifier" | "regressor"
    entity: str  # "customer" | "visitor"
    features: tuple[str, ...]
    training_set: str
    scores: str
    label: str  # what label = 1 (or the label value) means
    score_column: str
    primary_metric: str
    higher_is_better: bool
    default_margin: float  # champion gate: absolute for AUCs, relative (fraction) for errors
    baseline_feature: str  # the one feature the naive baseline uses
    description: str

    @property
    def entity_column(self) -> str:
        return "customer_id" if self.entity == "customer" else "visitor_id"

    def beats(self, new: float, champion: float, margin: float) -> bool:
        """Does ``new`` beat ``champion`` by the margin (absolute for scores, relative for errors)?"""
        if self.higher_is_better:
            return new >= champion + margin
        return new <= champion * (1 - margin)


PROPENSITY = ModelSpec(
    name="purchase_propensity", kind="classifier", entity="visitor", features=VISITOR_FEATURES,
    training_set="propensity_training_set", scores="propensity_scores",
    label="purchases within the window after the cutoff (7 days by default)",
    score_column="purchase_probability", primary_metric="roc_auc", higher_is_better=True, default_margin=0.005,
    baseline_feature="days_since_last_cart",
    description="Will a recent visitor or customer purchase in the next 7 days?",
)
CHURN = ModelSpec(
    name="churn", kind="classifier", entity="customer", features=CUSTOMER_FEATURES,
    training_set="churn_training_set", scores="churn_scores",
    label="no order within the window after the cutoff (90 days by default)",
    score_column="churn_probability", primary_metric="roc_auc", higher_is_better=True, default_margin=0.005,
    baseline_feature="recency_days",
    description="Will a customer with past purchases not buy again within N days?",
)
CLV = ModelSpec(
    name="customer_lifetime_value", kind="regressor", entity="customer", features=CUSTOMER_FEATURES,
    training_set="clv_training_set", scores="clv_scores",
    label="net revenue within the horizon after the cutoff (90 days by default), floored at 0",
    score_column="predicted_revenue", primary_metric="rmse", higher_is_better=False, default_margin=0.01,
    baseline_feature="net_revenue",
    description="How much will a customer spend over the next period?",
)
SPECS = {spec.name: spec for spec in (PROPENSITY, CHURN, CLV)}
