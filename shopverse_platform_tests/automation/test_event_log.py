"""The batching SQLite event log (defs/automation/event_log.py, set in the shipped dagster.yaml)
records what Dagster's own SQLite storage records, with a range's asset events written in batches."""

import shutil
import sqlite3
from collections import Counter

import dagster as dg
import pytest
import yaml

from shopverse_platform.defs.automation import event_log
from shopverse_platform.lib.paths import PROJECT_ROOT

DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-31")
FIRST, LAST = "2026-01-03", "2026-01-14"  # 12 days
RANGE_TAGS = {"dagster/asset_partition_range_start": FIRST, "dagster/asset_partition_range_end": LAST}


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def days_seen(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run(), deps=[days_seen])
def days_summed(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"first": context.partition_key_range.start})


@dg.asset_check(asset=days_summed, blocking=True)
def days_summed_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


RANGE_JOB = dg.Definitions(assets=[days_seen, days_summed], asset_checks=[days_summed_positive],
                           jobs=[dg.define_asset_job("range_job", partitions_def=DAYS)]).resolve_job_def("range_job")


def _instance(home, storage: dict | None) -> dg.DagsterInstance:
    home.mkdir()
    settings = {"telemetry": {"enabled": False}}
    if storage:
        settings["event_log_storage"] = storage
    (home / "dagster.yaml").write_text(yaml.safe_dump(settings))
    return dg.DagsterInstance.from_config(str(home))


def _recorded(instance: dg.DagsterInstance, run_id: str) -> dict:
    """What the run left in the event log: event types of the run, and per asset the materialized
    partitions and the partitions of its materialization records, newest first."""
    types = Counter(record.event_log_entry.dagster_event_type.value
                    for record in instance.get_records_for_run(run_id).records if record.event_log_entry.is_dagster_event)
    assets = {}
    for key in (days_seen.key, days_summed.key):
        records = instance.fetch_materializations(key, limit=100).records
        planned = instance.get_event_records(dg.EventRecordsFilter(dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, key))
        entry = instance.get_asset_records([key])[0].asset_entry  # the asset table's row, as the UI reads it
        # each materialization's indexed tags, found by its event id in the index database
        tags = [sorted(instance.event_log_storage.get_event_tags_for_asset(key, filter_event_id=r.storage_id)[0])
                for r in records]
        assets[key.to_user_string()] = (sorted(instance.get_materialized_partitions(key)),
                                        [r.partition_key for r in records], len(planned),
                                        records[0].asset_materialization.metadata,
                                        entry.last_materialization.dagster_event.partition,
                                        entry.last_run_id == run_id, tags)
    # The check's executions as the UI reads them: one per partition of the range, and its status.
    executions = instance.event_log_storage.get_asset_check_execution_history(days_summed_positive.check_key, limit=100)
    checks = sorted(((e.partition or "", e.status.value, e.run_id == run_id, e.event.dagster_event_type.value)
                     for e in executions))
    return {"types": types, "assets": assets, "checks": checks}


@pytest.fixture
def batch_size(monkeypatch):
    monkeypatch.setenv(event_log.BATCH_SIZE_VARIABLE, "5")  # smaller than the range: several batches per output


def test_batched_storage_records_what_dagsters_sqlite_storage_records(tmp_path, batch_size, monkeypatch):
    stock = _instance(tmp_path / "stock", None)
    batching = _instance(tmp_path / "batching", {"module": event_log.__name__, "class": "BatchingSqliteEventLogStorage",
                                                 "config": {"dagster_home": str(tmp_path / "batching")}})
    assert type(stock.event_log_storage).__name__ == "SqliteEventLogStorage"
    assert isinstance(batching.event_log_storage, event_log.BatchingSqliteEventLogStorage)

    bulk_writes = []
    original = event_log.BatchingSqliteEventLogStorage._store_asset_events
    monkeypatch.setattr(event_log.BatchingSqliteEventLogStorage, "_store_asset_events",
                        lambda self, run_id, events: bulk_writes.append(len(events)) or original(self, run_id, events))

    recorded = []
    for instance in (stock, batching):
        result = RANGE_JOB.execute_in_process(instance=instance, tags=RANGE_TAGS)
        assert result.success
        recorded.append(_recorded(instance, result.run_id))

    days = [f"2026-01-{d:02d}" for d in range(3, 15)]
    assert recorded[0]["assets"]["days_seen"][0] == days
    assert recorded[0]["assets"]["days_seen"][1] == days[::-1]
    assert recorded[0]["types"]["ASSET_MATERIALIZATION"] == 24 and recorded[0]["types"]["ASSET_MATERIALIZATION_PLANNED"] == 24
    # Planned for each day of the range (a row per partition, stored with the event serialised once
    # by the batching storage), then evaluated once for the run.
    checks = recorded[0]["checks"]
    assert [partition for partition, status, *_ in checks if status == "PLANNED"] == days
    assert [(partition, status) for partition, status, *_ in checks if status != "PLANNED"] == [("", "SUCCEEDED")]
    assert recorded[1] == recorded[0]
    # The tags of each event went in under that event's id: the event and its tags have one timestamp.
    with sqlite3.connect(tmp_path / "batching" / "history" / "runs" / "index.db") as index:
        pairs = index.execute("SELECT e.timestamp, t.event_timestamp FROM asset_event_tags t "
                              "JOIN event_logs e ON e.id = t.event_id").fetchall()
    assert len(pairs) == 24 and len({stamp for stamp, _ in pairs}) == 24
    assert all(stamp == tag_stamp for stamp, tag_stamp in pairs), pairs
    # The 24 planned and 24 materialized partitions went in batches of at most 5 (Dagster's buffer).
    assert sum(bulk_writes) == 48 and max(bulk_writes) == 5 and len(bulk_writes) < 48 / 2


def test_the_shipped_instance_uses_it_in_the_default_layout(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    storage = instance.event_log_storage
    assert isinstance(storage, event_log.BatchingSqliteEventLogStorage)
    # Where Dagster's default SQLite storage keeps the event log: an existing home keeps its history.
    assert storage._base_dir == str(home / "history" / "runs")
