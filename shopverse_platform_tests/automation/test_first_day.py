"""Where the partitions start: the shop's first day, read when the definitions load.

After `make demo` the Dagster UI listed every daily asset from 2010-12-01 ("30 ✓, 5,817 missing")
because the partitions started at the UCI export's first day whatever the data. Now they start on
``first_day`` in automation.toml when set, else the first day the building commands recorded in
the data directory, else 2010-12-01; the UCI export still loads with its own range.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from shopverse_platform.cli.first_day import check_first_day, claim_first_day
from shopverse_platform.cli.main import main
from shopverse_platform.lib.automation import settings as automation
from shopverse_platform.lib.automation.settings import (
    DEFAULT_FIRST_DAY,
    AutomationSettings,
    first_day,
    record_first_day,
    recorded_first_day,
    shop_file,
)

DEMO_FIRST = date(2026, 5, 6)  # a Wednesday: the first complete week starts on Monday 2026-05-11


def _settings(directory: Path, text: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "automation.toml"
    path.write_text(text)
    return path


def test_first_day_comes_from_the_settings_file_then_the_data_directory_then_the_default(tmp_path):
    record = tmp_path / "data" / "shop.toml"
    unset = _settings(tmp_path / "unset")
    assert first_day(unset, record).day == DEFAULT_FIRST_DAY == date(2010, 12, 1)
    assert not first_day(unset, record).pinned

    record_first_day(DEMO_FIRST, record)
    found = first_day(unset, record)
    assert (found.day, found.pinned) == (DEMO_FIRST, False)
    assert str(record) in found.setting

    pinned = _settings(tmp_path / "pinned", "first_day = 2024-01-01\n")  # a TOML date
    found = first_day(pinned, record)
    assert (found.day, found.pinned) == (date(2024, 1, 1), True)  # the deployment's setting wins over the record
    assert found.setting == f"first_day in {pinned}"
    assert found.first_week == date(2024, 1, 1)  # a Monday: its own week
    assert first_day(unset, record).first_week == date(2026, 5, 11)


def test_first_day_setting_accepts_a_string_and_rejects_what_is_not_a_date(tmp_path):
    path = _settings(tmp_path, 'first_day = "2025-02-03"\n')
    assert AutomationSettings.load(path).first_day == date(2025, 2, 3)
    path.write_text('first_day = "last spring"\n')
    with pytest.raises(ValueError, match="first_day must be a date, YYYY-MM-DD"):
        AutomationSettings.load(path)
    assert AutomationSettings().first_day is None  # unset in the shipped file
    assert automation.automation_settings().first_day is None


def test_a_building_command_records_its_first_day_and_moves_it_earlier_never_later(tmp_path):
    settings = _settings(tmp_path)
    record = tmp_path / "data" / "shop.toml"
    assert claim_first_day(DEMO_FIRST, settings, record) == f"first day {DEMO_FIRST}: the partitions start there (recorded in {record})"
    assert recorded_first_day(record) == DEMO_FIRST

    assert claim_first_day(date(2026, 11, 1), settings, record) is None  # a later range: the earlier days stay listed
    assert recorded_first_day(record) == DEMO_FIRST

    moved = claim_first_day(date(2010, 12, 1), settings, record)  # the UCI export on the demo's data directory
    assert moved is not None and "moved from 2026-05-06 to 2010-12-01" in moved and "restart" in moved
    assert recorded_first_day(record) == date(2010, 12, 1)


def test_the_first_record_reaches_back_to_days_the_warehouse_already_holds(tmp_path):
    # a warehouse built before the setting existed holds the UCI year; a first demo run on it must not hide it
    warehouse = tmp_path / "data" / "warehouse" / "shopverse.duckdb"
    warehouse.parent.mkdir(parents=True)
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE TABLE raw_orders AS SELECT CAST(DATE '2010-12-01' + INTERVAL (i) DAY AS DATE) AS partition_date FROM range(3) t(i)")
    con.close()
    record = tmp_path / "data" / "shop.toml"
    claim_first_day(DEMO_FIRST, _settings(tmp_path), record)
    assert recorded_first_day(record) == date(2010, 12, 1)


def test_a_pinned_first_day_is_never_moved_and_refuses_earlier_ranges(tmp_path):
    settings = _settings(tmp_path, "first_day = 2026-01-01\n")
    record = tmp_path / "data" / "shop.toml"
    assert claim_first_day(date(2010, 12, 1), settings, record) is None
    assert not record.exists()
    check_first_day(date(2026, 1, 1), "the range", settings)  # on the first day: fine
    with pytest.raises(Exception, match=r"the range starts on 2010-12-01, before the first day 2026-01-01 set by first_day in "):
        check_first_day(date(2010, 12, 1), "the range", settings)


def test_run_before_a_pinned_first_day_stops_with_one_line_naming_the_setting(tmp_path, monkeypatch, capsys):
    settings = _settings(tmp_path, "first_day = 2026-01-01\n")
    monkeypatch.setattr(automation, "SETTINGS_FILE", settings)
    assert main(["run", "--end", "2011-12-09", "--days", "374", "--simulate", "never"]) == 2
    err = capsys.readouterr().err
    assert err == (f"shopverse run: --days 374 up to 2011-12-09 starts on 2010-12-01, before the first day 2026-01-01 "
                   f"set by first_day in {settings}: no partition exists before it; start on or after 2026-01-01, "
                   f"or set first_day earlier\n")
    assert main(["backfill", "--start", "2025-12-31", "--end", "2026-01-02"]) == 2
    assert "shopverse backfill: --start 2025-12-31..--end 2026-01-02 starts on 2025-12-31, before the first day" in capsys.readouterr().err
    assert not (tmp_path / "data" / "warehouse").exists()  # nothing was built


def test_the_definitions_partitions_start_on_the_recorded_first_day():
    """Every daily asset, the jobs, the weekly assets and the landing sensor start on the recorded day
    when the definitions load (importing defs/ reads nothing: test_definitions)."""
    from shopverse_platform.definitions import defs

    record_first_day(DEMO_FIRST)  # in this test's data directory, as `shopverse run` does
    loaded = defs()
    graph = loaded.resolve_asset_graph()
    starts: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        partitions = graph.get(key).partitions_def
        if partitions is not None:
            starts.setdefault(type(partitions).__name__, set()).add(str(partitions.start.date()))
    assert starts == {"DailyPartitionsDefinition": {"2026-05-06"}, "WeeklyPartitionsDefinition": {"2026-05-11"}}
    daily, weekly = loaded.resolve_job_def("daily_job"), loaded.resolve_job_def("weekly_job")
    assert daily.partitions_def.get_partition_keys()[:2] == ["2026-05-06", "2026-05-07"]
    assert weekly.partitions_def.get_partition_keys()[0] == "2026-05-11"
    # the jobs keep every asset they had with the default first day
    assert daily.asset_layer.selected_asset_keys == _default_definitions().resolve_job_def("daily_job").asset_layer.selected_asset_keys
    assert "Days before the first day of the partitions (2026-05-06, the first day recorded in" in (
        loaded.resolve_sensor_def("landing_zone_sensor").description)


def _default_definitions():
    from shopverse_platform.definitions import defs

    shop_file().unlink()
    loaded = defs()
    assert loaded.resolve_job_def("daily_job").partitions_def.get_partition_keys()[0] == "2010-12-01"
    return loaded
