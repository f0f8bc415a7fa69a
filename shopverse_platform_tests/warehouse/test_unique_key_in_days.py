"""The uniqueness check on the days a run wrote: the same verdict as the whole-table check whenever
the other days were unique, with the written days' ids alone hashed."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from shopverse_platform.lib.warehouse.tables import unique_key, unique_key_in_days

D1, D2, D3, D4 = date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3), date(2024, 3, 4)


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (event_id VARCHAR, partition_date DATE)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [("a", D1), ("b", D1), ("c", D2), ("d", D3)])
    yield con
    con.close()


def _days(con, start, end):
    return unique_key_in_days(con, "t", "event_id", "partition_date", start, end)


def test_unique_days_pass_like_the_whole_table(con):
    assert _days(con, D2, D3) == (True, {"key": "event_id", "repeated_keys": 0, "days": "2024-03-02..2024-03-02"})
    assert unique_key(con, "t", "event_id")[0]


def test_a_duplicate_inside_the_written_days_fails(con):
    con.execute("INSERT INTO t VALUES ('d', ?)", [D3])
    assert _days(con, D3, D4)[:1] == (False,) and _days(con, D3, D4)[1]["repeated_keys"] == 1


def test_a_written_id_already_on_another_day_fails_earlier_or_later(con):
    # an old day rewritten with an id of a later day (the write-time dedupe looks only backwards)
    con.execute("INSERT INTO t VALUES ('d', ?), ('a', ?)", [D2, D2])
    outcome = _days(con, D2, D3)
    assert outcome[0] is False and outcome[1]["repeated_keys"] == 2
    assert unique_key(con, "t", "event_id") == (False, {"key": "event_id", "repeated_keys": 2})


def test_a_duplicate_between_other_days_is_not_the_written_days_concern(con):
    # the days not written were checked when they were written: only the run's days are looked at
    con.execute("INSERT INTO t VALUES ('a', ?)", [D3])
    assert _days(con, D2, D3)[0] is True
    assert _days(con, D1, D2)[0] is False


def test_with_a_reach_only_the_days_a_copy_can_land_on_are_compared(con):
    # d (written on D3) again on D1: seen when D1 is within the reach, not when the reach starts after it
    con.execute("INSERT INTO t VALUES ('d', ?)", [D1])
    within = unique_key_in_days(con, "t", "event_id", "partition_date", D3, D4, reach=(D1, D4))
    beyond = unique_key_in_days(con, "t", "event_id", "partition_date", D3, D4, reach=(D2, D4))
    assert within == (False, {"key": "event_id", "repeated_keys": 1, "days": "2024-03-03..2024-03-03",
                              "compared_with_days": "2024-03-01..2024-03-03"})
    assert beyond[0] is True and beyond[1]["compared_with_days"] == "2024-03-02..2024-03-03"
    # and a duplicate among the written days themselves whatever the reach
    con.execute("INSERT INTO t VALUES ('c', ?)", [D2])
    assert unique_key_in_days(con, "t", "event_id", "partition_date", D2, D3, reach=(D2, D3))[0] is False
