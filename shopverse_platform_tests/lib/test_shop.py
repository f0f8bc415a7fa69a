"""The data directory's shop record (shop.toml): where the shop's data starts, and the customer
models' label window of a shop whose customers buy on a shorter cycle than the UCI export's."""

from __future__ import annotations

from datetime import date

import pytest

from shopverse_platform.defs.ml.training_sets import CUSTOMER_WINDOW_DAYS, window_days
from shopverse_platform.lib.ml.specs import CHURN, CLV, PROPENSITY
from shopverse_platform.lib.shop import customer_window_days, read_shop, shop_file, update_shop


def test_the_record_keeps_each_setting_when_another_is_written(tmp_path):
    path = tmp_path / "shop.toml"
    assert read_shop(path) == {} and customer_window_days(path) is None
    update_shop(path, first_day=date(2026, 10, 5))
    update_shop(path, customer_window_days=21)
    assert read_shop(path) == {"first_day": date(2026, 10, 5), "customer_window_days": 21}
    update_shop(path, first_day=date(2010, 12, 1))
    assert read_shop(path) == {"first_day": date(2010, 12, 1), "customer_window_days": 21}
    assert path.read_text().startswith("# What this data directory records about its shop")


@pytest.mark.parametrize("text, message", [
    ("customer_window_days = 0\n", "must be a whole number of days, 1 or more, got 0"),
    ('customer_window_days = "a month"\n', "must be a whole number of days"),
    ('first_day = "soon"\n', "first_day in .* must be a date, YYYY-MM-DD, got 'soon'"),
    ("window = 21\n", r"unknown settings \['window'\]"),
])
def test_a_wrong_record_names_the_setting_and_the_file(tmp_path, text, message):
    path = tmp_path / "shop.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_shop(path)


def test_the_customer_models_window_comes_from_run_config_then_the_record_then_90_days():
    assert CUSTOMER_WINDOW_DAYS == 90
    assert window_days(CHURN, None) == (90, "default")  # no record in this test's data directory
    update_shop(customer_window_days=21)
    recorded = (21, f"customer_window_days in {shop_file()}")
    assert window_days(CHURN, None) == window_days(CLV, None) == recorded
    assert window_days(CHURN, 45) == (45, "run config")  # a run's own config wins
    assert window_days(PROPENSITY, 7) == (7, "run config")  # the visitor model never reads the customer window


def test_run_records_the_simulated_shops_window_but_keeps_one_the_user_set(capsys):
    from shopverse_platform.cli.main import SIMULATED_CUSTOMER_WINDOW_DAYS, _record_simulated_window

    _record_simulated_window()
    assert customer_window_days() == SIMULATED_CUSTOMER_WINDOW_DAYS == 21
    update_shop(customer_window_days=35)
    _record_simulated_window()
    assert customer_window_days() == 35
    assert "churn and lifetime value: 35-day label window" in capsys.readouterr().out.splitlines()[-1]
