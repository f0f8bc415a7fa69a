"""What a data directory records about its shop, in ``$SHOPVERSE_DATA_DIR/shop.toml``.

- ``first_day``: where the shop's data starts, so where the daily and weekly partitions start
  (lib/automation/settings.py ``first_day``, read when the definitions load). Written by
  ``shopverse run`` and ``shopverse backfill``, moved earlier, never later.
- ``customer_window_days``: the label window of the churn and lifetime-value training sets when
  their run config does not set one (else 90 days, the UCI Online Retail setting), read when they
  run. ``shopverse run`` records the simulated shop's (``make demo``): its history is too short for
  two 90-day label windows.

The file lives beside the warehouse: the processes that read one warehouse (webserver, daemon, run
workers, commands) read one record.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from pathlib import Path

from shopverse_platform.lib import paths

SHOP_FILE = "shop.toml"
HEADER = (
    "# What this data directory records about its shop (lib/shop.py). first_day: where its data\n"
    "# starts, so where the partitions start (written by `shopverse run` and `shopverse backfill`,\n"
    "# ignored when automation.toml sets first_day; restart `shopverse up` after changing it).\n"
    "# customer_window_days: the churn and lifetime-value label window when their run config sets none.\n"
)


def shop_file() -> Path:
    return paths.data_dir() / SHOP_FILE


def parse_day(value: object, name: str) -> date:
    """A TOML date (``first_day = 2026-05-08``) or an ISO string (``first_day = "2026-05-08"``)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a date, YYYY-MM-DD, got {value!r}") from error


def read_shop(path: Path | None = None) -> dict[str, object]:
    """The record's settings, checked ({} without a file)."""
    path = path or shop_file()
    if not path.exists():
        return {}
    raw = tomllib.loads(path.read_text())
    unknown = set(raw) - {"first_day", "customer_window_days"}
    if unknown:
        raise ValueError(f"{path}: unknown settings {sorted(unknown)}")
    if "first_day" in raw:
        raw["first_day"] = parse_day(raw["first_day"], f"first_day in {path}")
    window = raw.get("customer_window_days")
    if window is not None and (not isinstance(window, int) or isinstance(window, bool) or window < 1):
        raise ValueError(f"customer_window_days in {path} must be a whole number of days, 1 or more, got {window!r}")
    return raw


def update_shop(path: Path | None = None, **values: object) -> None:
    """Set ``values`` in the record, keeping its other settings."""
    path = path or shop_file()
    settings = {**read_shop(path), **values}
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{name} = {value.isoformat() if isinstance(value, date) else value}" for name, value in sorted(settings.items())]
    path.write_text(HEADER + "\n".join(lines) + "\n")


def customer_window_days(path: Path | None = None) -> int | None:
    """The recorded label window of the customer models, None when the record sets none."""
    return read_shop(path).get("customer_window_days")  # type: ignore[return-value]
