"""Dagster's SQLite event log, writing a batch of asset events in one transaction per database.

A run over a range of daily partitions records two asset events per partition and asset (planned,
then materialized): 8,248 for the UCI year's daily job. Dagster's SQLite storage writes each on its
own: a connection to the run's database, an insert, a commit, a close (which checkpoints the WAL),
then the same again on the index database. That bookkeeping was most of a year's backfill (issue 14:
~4,100 materializations at ~20 ms each, more than the SQL of every asset together).

Dagster already hands such events over in batches when ``DAGSTER_EVENT_BATCH_SIZE`` is set (the
partitions of one output, the planned events of one run) and its PostgreSQL storage writes a batch
at once; the SQLite storage stores a batch one event after another. This subclass writes the asset
events of a batch with one transaction on the run's database and one on the index database, row for
row what ``store_event`` writes (the same statements and index rows in the same order, the same
asset-table rows at the end); any other event of a batch is stored as Dagster stores it. A check
planned over a range is stored with its event serialised once, not once per partition.

Per-partition planned events are kept (Dagster could plan a range in one event, but then the UI no
longer shows a range's partitions as in progress or failed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

from dagster import EventLogEntry, StringSource, serialize_value

from shopverse_platform.defs.lineage.dagster_internals import (
    ASSET_CHECK_EVENTS,
    ASSET_EVENTS,
    AssetCheckExecutionRecordStatus,
    AssetCheckExecutionsTable,
    EVENT_TYPE_TO_PIPELINE_RUN_STATUS,
    SqlEventLogStorageTable,
    SqliteEventLogStorage,
)

# Events Dagster buffers per batch before handing them to the storage; read by Dagster at each event.
BATCH_SIZE_VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
DEFAULT_BATCH_SIZE = "1000"


class BatchingSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` in the Dagster home's ``history/runs`` (where Dagster's default
    SQLite storage keeps the event log, so an existing home keeps its history), whose
    ``store_event_batch`` writes a batch's asset events in one transaction per database."""

    def __init__(self, dagster_home: str, inst_data=None):
        # Dagster only batches when this is set; every process that opens this instance (webserver,
        # daemon, code server, run workers, the shopverse command) constructs this storage first.
        os.environ.setdefault(BATCH_SIZE_VARIABLE, DEFAULT_BATCH_SIZE)
        super().__init__(base_dir=str(Path(dagster_home) / "history" / "runs"), inst_data=inst_data)

    @classmethod
    def config_type(cls):
        return {"dagster_home": StringSource}

    @classmethod
    def from_config_value(cls, inst_data, config_value: Mapping[str, Any]):
        return cls(inst_data=inst_data, **config_value)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        # Consecutive asset events of one run are written together; anything else as Dagster does.
        for together, group in groupby(events, key=_bulk_key):
            group = list(group)
            if together is None:
                for event in group:
                    self.store_event(event)
            else:
                self._store_asset_events(together, group)

    def _store_asset_events(self, run_id: str, events: list[EventLogEntry]) -> None:
        """What ``store_event`` does for each asset event, with two transactions for all of them and
        one compiled insert per database (the rows ``prepare_insert_event`` would insert one by one;
        building and compiling a statement per event was half of the storage's time)."""
        rows = [self._event_to_row(event) for event in events]
        with self.run_connection(run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        with self.index_transaction() as conn:
            # the events mirrored in the index database; their ids in the order of the rows
            inserted = conn.execute(
                SqlEventLogStorageTable.insert().returning(SqlEventLogStorageTable.c.id, sort_by_parameter_order=True),
                rows)
            event_ids = [row[0] for row in inserted]
            self._store_asset_event_tags(conn, events, event_ids)
            for event, event_id in _last_of_each_kind(events, event_ids):
                self._store_asset_event(conn, event, event_id)

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        """The rows Dagster writes for a planned check over a range (one per partition, each holding
        the event), with the event serialised once: Dagster serialises it again for every partition,
        and it carries the range's partitions, so a year's range cost 374 × 14 serialisations."""
        planned = event.dagster_event.event_specific_data
        if not planned.partitions_subset:
            super()._store_asset_check_evaluation_planned(event, event_id)
            return
        common = dict(asset_key=planned.asset_key.to_string(), check_name=planned.check_name, run_id=event.run_id,
                      execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
                      evaluation_event=serialize_value(event),
                      evaluation_event_timestamp=self._event_insert_timestamp(event),
                      evaluation_event_storage_id=event_id)
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert(),
                         [{**common, "partition": key} for key in planned.partitions_subset.get_partition_keys()])


def _last_of_each_kind(events: list[EventLogEntry], event_ids: list[int]) -> list[tuple[EventLogEntry, int]]:
    """The events whose update of the asset table survives the batch, in batch order. An asset event
    overwrites a fixed set of its asset's columns (a materialization: the last materialization,
    run id and timestamp; a planned one: run id and timestamp), so after a batch each column holds
    what the last event of its asset and type wrote; applying only those, in order, leaves the same
    row (and serialises one event per asset instead of one per partition)."""
    last: dict[tuple[str, str], int] = {}
    for index, event in enumerate(events):
        last[(event.dagster_event.asset_key.to_string(), event.dagster_event_type.value)] = index
    return [(events[index], event_ids[index]) for index in sorted(last.values())]


def _bulk_key(event: EventLogEntry) -> str | None:
    """The run an event can be written in bulk for, or None: only asset events, which ``store_event``
    writes to the run's database and mirrors in the index database and nothing else."""
    event_type = event.dagster_event_type if event.is_dagster_event else None
    if (event_type in ASSET_EVENTS and event_type not in ASSET_CHECK_EVENTS
            and event_type not in EVENT_TYPE_TO_PIPELINE_RUN_STATUS and event.dagster_event.asset_key):
        return event.run_id
    return None
