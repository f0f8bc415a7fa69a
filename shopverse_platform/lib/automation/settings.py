"""Automation settings (schedule times, freshness deadlines, sensor pace) and the UTC calendar.

The settings come from ``lib/automation/automation.toml`` (beside this module), read when the code location loads
(``automation_settings()``: the one path every definition takes, read once per process, never at import).
Why a file and not an environment variable: a schedule's cron string is part of its definition,
and the webserver, the daemon and the run workers each load the definitions. A file shipped with
the code gives every process the same value; an environment variable set in one shell but not in
another would make the UI show one time while the daemon fires at another.

The first day of the partitions (``first_day``) is read the same way, once, when the definitions load:
``first_day`` in automation.toml when a deployment sets it; else the first day recorded in the data
directory (``$SHOPVERSE_DATA_DIR/shop.toml``) by the commands that build a range (``shopverse run``,
``shopverse backfill``); else 2010-12-01, the first day of the UCI Online Retail export. The record
lives beside the warehouse: every process that reads the same warehouse reads the same record.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from shopverse_platform.lib.shop import parse_day, read_shop, shop_file, update_shop

SETTINGS_FILE = Path(__file__).resolve().parent / "automation.toml"

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _clock(value: str, name: str) -> time:
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except (ValueError, AttributeError) as error:
        raise ValueError(f"{name} must be HH:MM, got {value!r}") from error


@dataclass(frozen=True)
class AutomationSettings:
    timezone: str = "UTC"
    daily_at: time = time(2, 0)
    daily_fresh_by: time = time(3, 0)
    weekly_day: str = "monday"
    weekly_at: time = time(4, 0)
    weekly_fresh_by: time = time(6, 0)
    landing_interval_seconds: int = 30
    landing_settle_seconds: int = 10
    # the freshness path: a day that has not ended gets at most one freshness run per this many seconds
    freshness_interval_seconds: int = 60
    first_day: date | None = None  # unset: the data directory's record, else DEFAULT_FIRST_DAY

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # raises on an unknown zone
        if self.first_day is not None:
            object.__setattr__(self, "first_day", parse_day(self.first_day, "first_day"))
        if self.freshness_interval_seconds < 0:
            raise ValueError(f"freshness_interval_seconds must be 0 or more, got {self.freshness_interval_seconds!r}")
        if self.weekly_day not in WEEKDAYS:
            raise ValueError(f"weekly_day must be one of {WEEKDAYS}, got {self.weekly_day!r}")

    @classmethod
    def load(cls, path: Path = SETTINGS_FILE) -> AutomationSettings:
        raw = tomllib.loads(path.read_text()) if path.exists() else {}
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown settings {sorted(unknown)}")
        values: dict[str, object] = {}
        for name, value in raw.items():
            values[name] = _clock(value, name) if name.endswith(("_at", "_fresh_by")) else value
        return cls(**values)

    @staticmethod
    def _cron(at: time, day_of_week: str = "*") -> str:
        return f"{at.minute} {at.hour} * * {day_of_week}"

    @property
    def daily_cron(self) -> str:
        return self._cron(self.daily_at)

    @property
    def weekly_cron(self) -> str:
        # cron counts Sunday as 0, Monday as 1
        return self._cron(self.weekly_at, str((WEEKDAYS.index(self.weekly_day) + 1) % 7))

    @property
    def daily_fresh_cron(self) -> str:
        return self._cron(self.daily_fresh_by)

    @property
    def weekly_fresh_cron(self) -> str:
        return self._cron(self.weekly_fresh_by, str((WEEKDAYS.index(self.weekly_day) + 1) % 7))

    @staticmethod
    def since_midnight(at: time) -> timedelta:
        """How far back a freshness deadline looks: a materialization after midnight (in the
        settings' time zone) can hold the day that has just ended."""
        return max(timedelta(hours=at.hour, minutes=at.minute), timedelta(minutes=1))


@cache
def automation_settings(path: Path = SETTINGS_FILE) -> AutomationSettings:
    """The settings of this code location, read from ``path`` on first use and kept for the process."""
    return AutomationSettings.load(path)


# ----------------------------------------------------------------------------- first day
# The first day of the UCI Online Retail export, the earliest real data the platform ships with: the
# partitions' start when nothing else is set, as before the setting existed.
DEFAULT_FIRST_DAY = date(2010, 12, 1)


@dataclass(frozen=True)
class FirstDay:
    """The partitions' first day and the setting it comes from (named in every message about it)."""

    day: date
    setting: str
    pinned: bool  # set in automation.toml: a command refuses a range before it instead of moving it

    @property
    def first_week(self) -> date:
        """The first Monday on or after the first day: the first complete Monday-to-Sunday week."""
        return self.day + timedelta(days=(7 - self.day.weekday()) % 7)


def recorded_first_day(path: Path | None = None) -> date | None:
    """The first day recorded in the data directory's ``shop.toml`` (lib/shop.py), None without one."""
    return read_shop(path).get("first_day")  # type: ignore[return-value]


def record_first_day(day: date, path: Path | None = None) -> None:
    update_shop(path, first_day=day)


def first_day(settings_path: Path | None = None, record: Path | None = None) -> FirstDay:
    """Where the partitions start (see the module docstring for the order)."""
    settings_path = settings_path or SETTINGS_FILE
    pinned = automation_settings(settings_path).first_day
    if pinned is not None:
        return FirstDay(pinned, f"first_day in {settings_path}", pinned=True)
    record = record or shop_file()
    recorded = recorded_first_day(record)
    if recorded is not None:
        return FirstDay(recorded, f"the first day recorded in {record}", pinned=False)
    return FirstDay(DEFAULT_FIRST_DAY, f"the default first day (no first_day in {settings_path}, no {record})", pinned=False)


# ----------------------------------------------------------------------------- UTC calendar
def as_utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def last_complete_day(moment: datetime) -> date:
    """The last UTC day that has completely ended at ``moment``."""
    return as_utc(moment).date() - timedelta(days=1)


def week_start(day: date) -> date:
    """The Monday of the (Monday-to-Sunday) week holding ``day``."""
    return day - timedelta(days=day.weekday())


def last_complete_week(moment: datetime) -> date:
    """Start (Monday) of the last Monday-to-Sunday UTC week that has completely ended at ``moment``."""
    return week_start(as_utc(moment).date()) - timedelta(days=7)


def day_end(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=timezone.utc)


def contiguous_blocks(days: list[date] | set[date]) -> list[tuple[date, date]]:
    """Sorted days grouped into runs of consecutive days: [(first, last), ...]."""
    blocks: list[tuple[date, date]] = []
    for day in sorted(days):
        if blocks and day == blocks[-1][1] + timedelta(days=1):
            blocks[-1] = (blocks[-1][0], day)
        else:
            blocks.append((day, day))
    return blocks
