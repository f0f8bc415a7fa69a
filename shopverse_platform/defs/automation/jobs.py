"""The daily, the weekly, the freshness and the integrity job."""

import dagster as dg

# TRIGGER_TAG: what started a run; FRESHNESS_TRIGGER: its value on the landing-zone sensor's
# freshness runs (a day that has not ended yet), which the appending assets read
from shopverse_platform.defs.asset_helpers import FRESHNESS_TRIGGER as FRESHNESS_TRIGGER
from shopverse_platform.defs.asset_helpers import TRIGGER_TAG as TRIGGER_TAG
from shopverse_platform.defs.automation.selections import DAILY_SCOPE, FRESHNESS_SCOPE, WEEKLY_SCOPE
from shopverse_platform.defs.cleaning.assets import EVENT_ID_UNIQUE

WAREHOUSE_TAG = "shopverse/warehouse"

daily_job = dg.define_asset_job(
    name="daily_job",
    selection=DAILY_SCOPE,
    description=(
        "One UTC day (or a range of days in one run) through every layer: raw and clean tables, "
        "facts, daily metrics and the daily report, then the unpartitioned tables built from them "
        "(sessions, dimensions, customer metrics, anomalies, the current segments). Launched by the daily "
        "schedule for yesterday and by the landing-zone sensor for days whose files changed."
    ),
    tags={WAREHOUSE_TAG: "write"},
)

weekly_job = dg.define_asset_job(
    name="weekly_job",
    selection=WEEKLY_SCOPE,
    description=(
        "One Monday-to-Sunday UTC week: weekly KPIs, the weekly report, and the weekly snapshots "
        "built on them (segments, model training and scores). Launched by the weekly schedule on "
        "Monday morning for the week that has just ended, and for old weeks when late files "
        "change their days."
    ),
    tags={WAREHOUSE_TAG: "write"},
)

freshness_job = dg.define_asset_job(
    name="freshness_job",
    selection=FRESHNESS_SCOPE,
    description=(
        "Today's tables while the day fills: the daily ingestion, cleaning, facts and daily metrics of "
        "one UTC day that has not ended, launched by the landing-zone sensor when new collector files "
        "settle (at most one run per day in flight, at most one per freshness_interval_seconds). "
        "raw_events and clean_events append only the new files when the earlier ones are unchanged. "
        "Reports, whole-history, weekly and ML tables wait for the daily job at the day's end. A job "
        "of its own, so that the daily schedule never takes a freshness run for the day's full run."
    ),
    tags={WAREHOUSE_TAG: "write"},
)

integrity_job = dg.define_asset_job(
    name="integrity_job",
    selection=dg.AssetSelection.checks(EVENT_ID_UNIQUE.key),
    description=(
        "The table checks that a daily run evaluates on the days it wrote, evaluated on the whole table: "
        "no event_id twice anywhere in clean_events, whichever days the copies are on. Launched by the "
        "integrity schedule once a week; a failure is reported on the check, nothing is rebuilt."
    ),
    tags={WAREHOUSE_TAG: "write"},
)
