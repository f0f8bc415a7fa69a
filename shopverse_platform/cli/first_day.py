"""The first day a building command needs, settled before the definitions load.

The daily and weekly partitions start on the shop's first day (``first_day`` in
lib/automation/settings.py), read once when the definitions load. ``shopverse run`` and
``shopverse backfill`` load them in their own process, after this:

- a range that starts before a first day pinned in automation.toml stops the command with one line
  naming the setting: the deployment chose where its shop starts, and there are no partitions before it;
- otherwise the data directory's record (``shop.toml``) is written when there is none, and moved
  earlier when the range (or a day the warehouse already holds) starts before it, never later: the
  user asked for those days, so the command builds them, and the Dagster UI started afterwards on
  the same data directory lists the same days. ``make demo`` records its simulated history's first
  day this way, and ``shopverse run --end 2011-12-09 --days 374`` (the UCI export) moves it to 2010-12-01.

Why not an environment variable for a one-off run: the record already gives the command's own
process the partitions of its range, and a variable set for one command only would leave the UI,
started later without it, listing other partitions than the ones the command built.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from shopverse_platform.cli.arguments import UsageError
from shopverse_platform.lib.automation.settings import (
    first_day,
    record_first_day,
    recorded_first_day,
    shop_file,
)


def check_first_day(first: date, what: str, settings_path: Path | None = None) -> None:
    """Refuse a range starting before a first day pinned in automation.toml, in one line."""
    current = first_day(settings_path)
    if current.pinned and first < current.day:
        raise UsageError(f"{what} starts on {first}, before the first day {current.day} set by {current.setting}: "
                         f"no partition exists before it; start on or after {current.day}, or set first_day earlier")


def held_first_day() -> date | None:
    """The earliest day the warehouse holds raw data for (None without a warehouse or data)."""
    from shopverse_platform.defs.resources import Warehouse

    warehouse = Warehouse()
    if not warehouse.exists():
        return None
    with warehouse.connect(read_only=True) as con:
        sources = [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = 'main' "
            "AND table_name IN ('raw_events', 'raw_orders')").fetchall()]
        if not sources:
            return None
        union = " UNION ALL ".join(f"SELECT min(partition_date) AS day FROM {t}" for t in sources)  # names listed above
        return con.execute(f"SELECT CAST(min(day) AS DATE) FROM ({union})").fetchone()[0]


def claim_first_day(first: date, settings_path: Path | None = None, record: Path | None = None) -> str | None:
    """Record ``first`` (or an earlier day the warehouse holds) as the data directory's first day when
    there is no record or it is later; returns what to tell the user, None when nothing changed."""
    if first_day(settings_path, record).pinned:
        return None
    record = record or shop_file()
    recorded = recorded_first_day(record)
    wanted = min(day for day in (first, held_first_day()) if day is not None)
    if recorded is not None and recorded <= wanted:
        return None
    record_first_day(wanted, record)
    if recorded is None:
        return f"first day {wanted}: the partitions start there (recorded in {record})"
    return (f"first day moved from {recorded} to {wanted} (recorded in {record}): a `shopverse up` started "
            f"before lists the new days after a restart")
