"""`make demo` (`shopverse run` with its defaults) simulates enough history for every model.

With a month of traffic and 90-day label windows, the churn and lifetime-value training sets had
no training split (both cutoffs fell before the first day), their checks failed and no model was
trained ("training set has an empty split or a single class"). The demo now simulates
``DEFAULT_DAYS`` days and records the simulated shop's ``customer_window_days``; this builds the
training sets from exactly that traffic, as the demo's run does, and checks them against what the
simulator's own purchase events say.
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import duckdb

from shopverse_platform.cli.main import (
    DEFAULT_DAYS,
    DEFAULT_SEED,
    DEFAULT_USERS,
    SIMULATED_CUSTOMER_WINDOW_DAYS,
)
from shopverse_platform.defs.cleaning.assets import clean_events, clean_order_lines
from shopverse_platform.defs.ingestion.assets import raw_events, raw_orders
from shopverse_platform.defs.metrics.facts import order_lines, orders
from shopverse_platform.defs.ml.training_sets import (
    churn_training_set,
    clv_training_set,
    propensity_training_set,
)
from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform.lib.ml.checks import MIN_PER_CLASS, MIN_ROWS
from shopverse_platform.lib.shop import update_shop
from shopverse_platform.lib.simulator.traffic import simulate
from shopverse_platform_tests.conftest import materialize_range

END = date(2026, 11, 30)  # the demo ends yesterday; any day will do


def _expected_customer_splits(landing, window: int) -> list[tuple]:
    """From the simulated purchase and refund events themselves (not the platform's tables): the
    cutoffs of the two splits (validation = last sales day + 1 - window, training = validation -
    window), the registered customers who bought before each cutoff, and how many of them did not
    buy in the window after it (churned)."""
    con = duckdb.connect()
    # devices on the old tracker (3 %) write event_type, and 'order_completed' for a purchase
    con.execute(f"""
        CREATE TABLE sales AS
        SELECT DISTINCT name AS event_name, user_id, day FROM (
            SELECT coalesce(event_name, CASE event_type WHEN 'order_completed' THEN 'purchase' ELSE event_type END) AS name,
                   user_id, CAST(timezone('UTC', CAST(event_time AS TIMESTAMPTZ)) AS DATE) AS day
            FROM read_json('{landing}/events/*/*.ndjson', format = 'newline_delimited', union_by_name = true,
                           columns = {{event_name: 'VARCHAR', event_type: 'VARCHAR', user_id: 'VARCHAR', event_time: 'VARCHAR'}}))
        WHERE name IN ('purchase', 'refund') AND user_id IS NOT NULL""")
    last = con.execute("SELECT max(day) FROM sales").fetchone()[0]
    validation = last + timedelta(days=1 - window)
    splits = []
    for split, cutoff in (("validation", validation), ("train", validation - timedelta(days=window))):
        rows, churned = con.execute("""
            WITH population AS (SELECT DISTINCT user_id FROM sales WHERE day < $cutoff),
                 bought AS (SELECT DISTINCT user_id FROM sales
                            WHERE event_name = 'purchase' AND day >= $cutoff AND day < $cutoff + $window)
            SELECT count(*), count(*) FILTER (WHERE bought.user_id IS NULL)
            FROM population LEFT JOIN bought USING (user_id)""", {"cutoff": cutoff, "window": window}).fetchone()
        splits.append((split, cutoff, rows, churned))
    con.close()
    return splits


def test_the_demo_history_gives_every_model_a_training_set_that_trains(tmp_path):
    start = END - timedelta(days=DEFAULT_DAYS - 1)
    landing = tmp_path / "landing"
    # faults=0: the same valid traffic as the demo's (the faults are drawn from their own stream)
    simulate(landing, users=DEFAULT_USERS, days=DEFAULT_DAYS, start=start, seed=DEFAULT_SEED, faults=0.0)
    update_shop(customer_window_days=SIMULATED_CUSTOMER_WINDOW_DAYS)  # what `shopverse run` records when it simulates
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    resources = {"warehouse": warehouse, "landing_zone": LandingZone(path=str(landing))}
    assert materialize_range([raw_events, raw_orders, clean_events, clean_order_lines, order_lines, orders],
                             resources, str(start), str(END)).success

    built = dg.materialize([churn_training_set, clv_training_set, propensity_training_set], resources=resources,
                           instance=dg.DagsterInstance.ephemeral())

    assert built.success
    checks = {evaluation.check_name: evaluation.passed for evaluation in built.get_asset_check_evaluations()}
    assert len(checks) == 15 and all(checks.values()), checks  # five checks per set, every one green
    expected = _expected_customer_splits(landing, SIMULATED_CUSTOMER_WINDOW_DAYS)
    for split, _, rows, churned in expected:  # the demo's margin over what the checks require
        assert rows >= 2 * MIN_ROWS and min(churned, rows - churned) >= 2 * MIN_PER_CLASS, (split, rows, churned)
    with warehouse.connect(read_only=True) as con:
        churn = con.execute("SELECT split, cutoff_date, count(*), CAST(sum(label) AS INTEGER) FROM churn_training_set "
                            "GROUP BY ALL ORDER BY split DESC").fetchall()
        clv = con.execute("SELECT split, label_end_date - cutoff_date, count(*), count(*) FILTER (WHERE label > 0) "
                          "FROM clv_training_set GROUP BY ALL ORDER BY split DESC").fetchall()
        propensity = con.execute("SELECT split, count(*), CAST(sum(label) AS INTEGER) FROM propensity_training_set "
                                 "GROUP BY ALL ORDER BY split DESC").fetchall()
    assert churn == [(split, cutoff, rows, churned) for split, cutoff, rows, churned in expected]
    # lifetime value: the same customers, over the same window, some of them spending
    assert [(s, w, n) for s, w, n, _ in clv] == [(s, SIMULATED_CUSTOMER_WINDOW_DAYS, n) for s, _, n, _ in expected]
    assert all(spenders >= MIN_PER_CLASS for *_, spenders in clv)
    assert [s for s, *_ in propensity] == ["validation", "train"]
    assert all(rows >= MIN_ROWS and MIN_PER_CLASS <= buyers <= rows - MIN_PER_CLASS for _, rows, buyers in propensity)
