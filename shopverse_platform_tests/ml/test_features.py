"""Point-in-time training sets: populations, features and labels by hand, cutoffs, and the proof
that data after the cutoff changes no feature."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from shopverse_platform.defs.ml.training_sets import (
    churn_training_set,
    clv_training_set,
    propensity_training_set,
)
from shopverse_platform.lib.ml.features import resolve_cutoffs
from shopverse_platform.lib.ml.specs import CUSTOMER_FEATURES, VISITOR_FEATURES


def _config(asset: str, **values) -> dict:
    return {"ops": {asset: {"config": values}}}


def _set(built, table: str) -> pd.DataFrame:
    return built.frame(f"SELECT * FROM {table} ORDER BY split, entity_id").set_index(["split", "entity_id"])


def test_default_cutoffs_leave_a_full_label_window_for_validation():
    cutoffs = resolve_cutoffs(date(2011, 12, 9), 90)
    # 2011-12-10 minus 90 days, and 90 days before that (counted on a calendar)
    assert (cutoffs.validation, cutoffs.training) == (date(2011, 9, 11), date(2011, 6, 13))
    assert cutoffs.validation_end == date(2011, 12, 10)
    with pytest.raises(ValueError, match="overlap"):
        resolve_cutoffs(date(2011, 12, 9), 90, training=date(2011, 7, 1), validation=date(2011, 9, 11))


def test_customer_training_sets_by_hand(hand_orders):
    """Hand-written orders (segmentation/fixture.py), cutoffs 2011-01-01 and 2011-02-01, 30-day windows."""
    cutoffs = {"training_cutoff": "2011-01-01", "validation_cutoff": "2011-02-01", "window_days": 30, "min_rows": 1}
    result = hand_orders.materialize([churn_training_set, clv_training_set],
                                     run_config={"ops": {"churn_training_set": {"config": cutoffs},
                                                         "clv_training_set": {"config": cutoffs}}})
    assert result.success
    churn = _set(hand_orders, "churn_training_set")
    # training: only customers who had bought before 2011-01-01; C10's first order (01-03) falls in
    # the label window, so C10 is not in the training split
    train = churn.loc["train"]
    assert sorted(train.index) == ["C01", "C02", "C03", "C07", "C08", "C11"]
    assert train.label.to_dict() == {"C01": 1, "C02": 1, "C03": 1, "C07": 0, "C08": 0, "C11": 1}  # C07 01-24, C08 01-10
    validation = churn.loc["validation"]
    assert sorted(validation.index) == ["C01", "C02", "C03", "C07", "C08", "C09", "C10", "C11"]
    assert validation.label[validation.label == 0].index.tolist() == ["C02"]  # bought 02-14; C03's 03-08 is after the window
    c08 = train.loc["C08"]  # eight orders of 10 on 2010-12-01..08, as of 2010-12-31
    assert (c08.recency_days, c08.orders, c08.net_revenue, c08.age_days, c08.tenure_days, c08.orders_30d,
            c08.average_order_value, c08.days_between_orders) == (23, 8, 80, 30, 7, 7, 10, 1)
    clv = _set(hand_orders, "clv_training_set")
    assert clv.loc["train"].label.to_dict() == {"C01": 0, "C02": 0, "C03": 0, "C07": 20, "C08": 30, "C11": 0}
    assert clv.loc["validation"].label.to_dict()["C02"] == 40
    # C06 bought 80 on 02-07 and returned 10 on 02-08: not in validation (first seen on 02-07)
    assert "C06" not in clv.loc["validation"].index
    assert (clv[list(CUSTOMER_FEATURES)] == churn[list(CUSTOMER_FEATURES)]).all().all()  # one feature code


@pytest.mark.slow
def test_order_features_ignore_everything_after_the_cutoff(retail):
    """Changing orders after a cutoff changes labels, never the features computed before it."""
    config = _config("churn_training_set", training_cutoff="2011-06-13", validation_cutoff="2011-09-11", window_days=90)
    assert retail.materialize([churn_training_set], run_config=config).success
    before = _set(retail, "churn_training_set")
    with retail.warehouse.connect() as con:
        # after the validation cutoff: drop half the orders, double the rest, add a newcomer
        con.execute("DELETE FROM orders WHERE order_date >= '2011-09-11' AND hash(document_id) % 2 = 0")
        con.execute("UPDATE orders SET net_amount = net_amount * 2, gross_amount = gross_amount * 2 WHERE order_date >= '2011-09-11'")
        con.execute("""INSERT INTO orders BY NAME SELECT DATE '2011-10-01' AS order_date, 'order_export' AS source, 'X1' AS document_id,
                       'NEWCOMER' AS customer_id, 1::BIGINT AS units, 1::BIGINT AS products, 99::DECIMAL(18,2) AS gross_amount,
                       0::DECIMAL(18,2) AS credited_amount, 99::DECIMAL(18,2) AS net_amount, true AS is_order, false AS is_credit""")
    assert retail.materialize([churn_training_set], run_config=config).success
    after = _set(retail, "churn_training_set")
    features = list(CUSTOMER_FEATURES)
    pd.testing.assert_frame_equal(after[features], before[features])
    assert (after.label != before.label).sum() > 100  # the change was seen: by the labels only
    assert "NEWCOMER" not in after.index.get_level_values("entity_id")
    with retail.warehouse.connect() as con:  # between the cutoffs: training features stay, validation's move
        con.execute("DELETE FROM orders WHERE order_date >= '2011-06-13' AND order_date < '2011-09-11' AND hash(document_id) % 3 = 0")
    assert retail.materialize([churn_training_set], run_config=config).success
    moved = _set(retail, "churn_training_set")
    pd.testing.assert_frame_equal(moved.loc["train"][features], before.loc["train"][features])
    assert not moved.loc["validation"][features].equals(before.loc["validation"][features])


@pytest.mark.slow
def test_visitor_features_ignore_events_after_the_cutoff(simulated):
    """Deleting, adding and re-attributing events after the cutoff (a device logging in later)
    changes the propensity labels only."""
    config = _config("propensity_training_set", training_cutoff="2024-01-29", validation_cutoff="2024-02-05")
    assert simulated.materialize([propensity_training_set], run_config=config).success
    before = _set(simulated, "propensity_training_set")
    anonymous = before.loc["validation"].query("is_identified == 0").index[0]
    with simulated.warehouse.connect() as con:
        con.execute("DELETE FROM clean_events WHERE event_date >= '2024-02-05' AND hash(event_id) % 2 = 0")
        # an anonymous device of the validation split logs in and buys after the cutoff
        con.execute("""INSERT INTO clean_events BY NAME
                       SELECT 'late-' || event_name AS event_id, event_name, TIMESTAMP '2024-02-06 12:00:00' AS event_ts,
                              DATE '2024-02-06' AS event_date, 'U-LATE' AS user_id, ? AS anonymous_id, 'late-session' AS session_id,
                              'mobile' AS device, 49.0 AS value, 'T-LATE' AS transaction_id, DATE '2024-02-06' AS partition_date
                       FROM (VALUES ('login'), ('purchase')) t(event_name)""", [anonymous])
    assert simulated.materialize([propensity_training_set], run_config=config).success
    after = _set(simulated, "propensity_training_set")
    features = list(VISITOR_FEATURES)
    pd.testing.assert_frame_equal(after[features], before[features])
    assert (after.label != before.label).sum() > 10
    assert after.loc[("validation", anonymous)].label == 1  # the late purchase is the device's, not U-LATE's
