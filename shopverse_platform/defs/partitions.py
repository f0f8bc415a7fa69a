"""Partitions shared by every layer.

Days are UTC days. The range starts with the earliest real data the platform ships with
(UCI Online Retail, 2010-12-01) so the same partitions serve real order exports and simulated
traffic.
"""

import dagster as dg

FIRST_DAY = "2010-12-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, timezone="UTC")
weekly_partitions = dg.WeeklyPartitionsDefinition(start_date="2010-12-06", timezone="UTC", day_offset=1)
