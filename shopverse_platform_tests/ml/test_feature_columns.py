"""The feature queries name their columns in the spec's order: COLUMNS keeps the relation's order,
so customer_features.sql and visitor_features.sql must lay the state out as the spec lists it."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from shopverse_platform.lib.ml import features
from shopverse_platform.lib.ml.specs import CHURN, CLV, PROPENSITY


@pytest.mark.parametrize("spec", [PROPENSITY, CHURN, CLV], ids=lambda s: s.name)
def test_features_and_splits_follow_the_spec_order(spec):
    con = duckdb.connect()  # nothing built yet: the empty relations of orders and clean_events
    head = ["entity_id", "first_seen_date", "last_seen_date"]
    scoring = features.scoring_frame(con, spec, date(2026, 11, 1))
    assert list(scoring.columns) == [*head, *spec.features]
    split = features.labelled_frame(con, spec, date(2026, 11, 1), date(2026, 11, 15))
    assert list(split.columns) == ["split", "cutoff_date", "label_end_date", *head, *spec.features, "label"]
