"""Partitions shared by every layer.

Days are UTC days. They start on the shop's first day (``first_day`` in lib/automation/settings.py):
``first_day`` in automation.toml when set, else the first day the building commands recorded in the
data directory (a demo's simulated history starts there), else 2010-12-01, the first day of the UCI
Online Retail export. Read once, when the definitions load, so the webserver, the daemon and the
run workers of one data directory list the same partitions; weeks start on the first Monday on or
after that day.
"""

import dagster as dg

from shopverse_platform.lib.automation.settings import first_day

FIRST = first_day()
FIRST_DAY = FIRST.day.isoformat()

daily_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, timezone="UTC")
weekly_partitions = dg.WeeklyPartitionsDefinition(start_date=FIRST.first_week.isoformat(), timezone="UTC", day_offset=1)
