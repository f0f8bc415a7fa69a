"""Resources: the warehouse and the landing zone, with embedded defaults.

Every setting is a resource field; when a field is left unset the resource falls back to an
environment variable read at run time (never at import time), then to a local default under
``data/``. So `dagster dev` on a laptop needs no configuration at all, and a deployment changes
behaviour by environment only.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field, PrivateAttr

from shopverse_platform.lib import paths
from shopverse_platform.lib.lineage.naming import lineage_namespace
from shopverse_platform.lib.warehouse import lake as ducklake
from shopverse_platform.lib.warehouse.lock import connect_with_retry, warehouse_lock


# Every connection of a step runs within this DuckDB memory_limit unless configured otherwise:
# DuckDB's own default is 80 % of the machine's RAM, so a step's peak grew with the data until the
# machine ran out. With a limit, the joins, aggregates, sorts and windows spill to the temp
# directory (DuckDB's default for a file database: `<warehouse>.tmp` beside it) instead.
DEFAULT_MEMORY_LIMIT = "2GB"
MEMORY_VARIABLE = "SHOPVERSE_DUCKDB_MEMORY"
THREADS_VARIABLE = "SHOPVERSE_DUCKDB_THREADS"

# How often a step is run again after its transaction met another process's commit to the same
# DuckLake table (each time after the transaction's own retries in lib/warehouse/lake.py).
LAKE_STEP_RETRIES = 5


def steps_at_once(run_config: dict | None) -> int | None:
    """How many step processes a run's executor runs at once on this machine: the ``multiprocess``
    executor's ``max_concurrent`` (unset or 0: one per core, as Dagster does). None when the steps
    run in the run's own process (``in_process``, the default) or as Celery tasks, whose workers'
    cores are their machines'."""
    execution = ((run_config or {}).get("execution") or {}).get("config") or {}
    if "multiprocess" not in execution:
        return None
    return (execution["multiprocess"] or {}).get("max_concurrent") or os.cpu_count() or 1


def threads_per_step(steps: int) -> int:
    """DuckDB threads for each of ``steps`` step processes running at once: the machine's cores
    divided among them, at least one. DuckDB starts a thread per core in every process; two step
    processes on two cores ran four, and the 30-day backfill with 2 workers took 59.2 / 59.4 s
    against 54.8 / 57.3 s with one thread each (bench/concurrency.py's 2-worker case, alternated;
    docs/scaling.md, session 28)."""
    return max(1, (os.cpu_count() or 1) // steps)


class Warehouse(dg.ConfigurableResource):
    """The warehouse, in one of two layouts. A DuckDB file (the default): one process at a time (an
    OS lock beside the file; a second run or command waits its turn). Or a DuckLake
    (``ducklake:sqlite:<catalog>`` embedded, ``ducklake:postgres:<conninfo>`` shared): Parquet data
    and a catalog, several writing processes and readers at once (lib/warehouse/lake.py)."""

    # Why not dagster-duckdb's DuckDBResource (checked at 0.29.27, then the dependency was dropped):
    # its `database` is a required string with no run-time fallback to $SHOPVERSE_WAREHOUSE, it
    # always opens read-write (reports and `shopverse report` read with read_only=True), it has no
    # memory limit, and it closes the connection only when the `with` body succeeds (no
    # try/finally), so a failing asset would keep the file lock until garbage collection. The IO
    # managers of dagster-duckdb-pandas are not used either: every table is built by SQL inside
    # DuckDB, and the data never makes a round trip through Python.

    path: str | None = Field(
        default=None,
        description="A DuckDB file, or a DuckLake: ducklake:sqlite:<catalog file> or ducklake:postgres:<conninfo>. "
                    "Unset: $SHOPVERSE_WAREHOUSE, else data/warehouse/shopverse.duckdb.",
    )
    data_path: str | None = Field(
        default=None,
        description="A DuckLake's data path (a folder, or s3://bucket/prefix/). Unset: $SHOPVERSE_WAREHOUSE_DATA_PATH, "
                    "else <catalog file without suffix>.files/ beside a SQLite catalog.",
    )
    name: str | None = Field(
        default=None,
        description="The warehouse's name in lineage (namespace duckdb://<name>). Unset: $SHOPVERSE_WAREHOUSE_NAME, "
                    "else the file's name without extension.",
    )
    memory_limit: str | None = Field(
        default=None, description=(f"DuckDB memory_limit, e.g. '4GB' (beyond it DuckDB spills to `<warehouse>.tmp`). "
                     f"Unset: $SHOPVERSE_DUCKDB_MEMORY, else {DEFAULT_MEMORY_LIMIT}.")
    )
    threads: int | None = Field(
        default=None, description="DuckDB worker threads of every connection. Unset: $SHOPVERSE_DUCKDB_THREADS, else "
                                  "all cores, divided among the step processes of a run whose executor runs N at once "
                                  "(`multiprocess`, `shopverse backfill --workers N`: cores / N each).")
    # this step's share of the machine's cores, in a run whose steps run in processes (setup_for_execution)
    _shared_threads: int | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """In a run, note how many step processes share this machine's cores (``steps_at_once``):
        unless the threads were chosen (``threads``, $SHOPVERSE_DUCKDB_THREADS), each step's DuckDB
        gets its share, whether the run came from `shopverse backfill --workers` or the UI's
        launchpad; the step's log says so."""
        steps = steps_at_once(context.run.run_config) if context.run is not None else None
        self._shared_threads = threads_per_step(steps) if steps else None
        if steps and not self._chosen_threads() and context.log is not None:
            context.log.info(f"warehouse: DuckDB runs {self._shared_threads} thread(s) in this step's "
                             f"process ({os.cpu_count()} cores shared by up to {steps} step processes at once; "
                             f"${THREADS_VARIABLE} or the resource's `threads` choose instead)")

    def setting(self) -> str:
        """The configured warehouse: ``path``, else $SHOPVERSE_WAREHOUSE, else the default DuckDB file."""
        return self.path or os.environ.get("SHOPVERSE_WAREHOUSE") or str(paths.default_warehouse_path())

    def lake(self) -> ducklake.LakeLocation | None:
        """The DuckLake this warehouse is, or None for a DuckDB file."""
        return ducklake.parse_location(self.setting(), self.data_path or os.environ.get("SHOPVERSE_WAREHOUSE_DATA_PATH"))

    def resolved_path(self) -> Path:
        """The DuckDB file, or a DuckLake's SQLite catalog file (a PostgreSQL catalog has none)."""
        lake = self.lake()
        if lake is None:
            return Path(self.setting()).resolve()
        file = lake.catalog_file()
        if file is None:
            raise ducklake.LakeConfigurationError(f"{lake.describe()} has its catalog in PostgreSQL, not in a file")
        return file

    def exists(self) -> bool:
        """Whether there is a warehouse yet (a run created it)."""
        lake = self.lake()
        return lake.exists() if lake is not None else self.resolved_path().exists()

    def describe(self) -> str:
        lake = self.lake()
        return lake.describe() if lake is not None else str(self.resolved_path())

    def lineage_name(self) -> str:
        """The warehouse's name in lineage: ``name``, else $SHOPVERSE_WAREHOUSE_NAME, else the file's
        name without its extension (``shopverse`` for shopverse.duckdb, and for a DuckLake catalogued
        in shopverse.sqlite: a warehouse migrated to DuckLake stays the same nodes in Marquez)."""
        lake = self.lake()
        stem = lake.stem() if lake is not None else self.resolved_path().stem
        return self.name or os.environ.get("SHOPVERSE_WAREHOUSE_NAME") or stem

    @property
    def uri(self) -> str:
        """The dataset namespace other systems (lineage) use for tables in this warehouse:
        ``duckdb://<warehouse name>``. A logical name, not the file's absolute path, so the same
        warehouse moved to another folder or opened from another host stays the same nodes in
        Marquez (OpenLineage naming: the namespace names the data source, the name the table)."""
        return lineage_namespace(self.lineage_name())

    def _config(self) -> dict[str, object]:
        config: dict[str, object] = {}
        config["memory_limit"] = self.memory_limit or os.environ.get(MEMORY_VARIABLE) or DEFAULT_MEMORY_LIMIT
        threads = self._chosen_threads() or self._shared_threads
        if threads:
            config["threads"] = int(threads)
        return config

    def _chosen_threads(self) -> int | str | None:
        return self.threads or os.environ.get(THREADS_VARIABLE)

    @contextmanager
    def connect(self, read_only: bool = False, wait_seconds: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection. A DuckDB file: once this process holds the warehouse; ``wait_seconds``: how
        long to wait for another process to let go (default: an hour for the platform's lock, a
        minute for a process outside it); past that, ``WarehouseBusy`` (a DuckDB lock
        ``IOException``). A DuckLake: at once, beside any other process; a step whose transaction
        met another process's commit on the same table is retried (``dg.RetryRequested``)."""
        lake = self.lake()
        if lake is not None:
            with self._lake_connection(lake, read_only) as con:
                yield con
            return
        path = self.resolved_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        # One process at a time, taken atomically (lib/warehouse/lock.py): a second run or command
        # waits its turn instead of failing on DuckDB's file lock.
        with warehouse_lock(path, timeout=3600.0 if wait_seconds is None else wait_seconds):
            con = connect_with_retry(path, read_only=read_only, config=self._config(),
                                     timeout=60.0 if wait_seconds is None else min(wait_seconds, 60.0))
            try:
                yield con
            finally:
                con.close()

    @contextmanager
    def _lake_connection(self, lake: ducklake.LakeLocation, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        con = ducklake.connect(lake, self.lineage_name(), read_only=read_only, config=self._config())
        try:
            yield con
        except duckdb.Error as error:
            if not ducklake.is_contention(error):
                raise
            # Another process committed to the same table while this step's transaction ran (two
            # partitions of one asset written at once): the transaction was rolled back whole, and
            # every step here is idempotent, so the step runs again after a jittered wait.
            raise dg.RetryRequested(max_retries=LAKE_STEP_RETRIES, seconds_to_wait=random.uniform(0.5, 3.0)) from error
        finally:
            con.close()  # its read group, if one is open, ended first (lib/warehouse/read_groups.py)
        if not read_only:  # the tables this connection created and left empty, primed before the next reads them
            ducklake.prime_new_tables(lake, self.lineage_name(), config=self._config())


class LandingZone(dg.ConfigurableResource):
    """Where shop events and order exports land as files."""

    path: str | None = Field(
        default=None, description="Landing directory. Unset: $SHOPVERSE_LANDING_DIR, else data/landing."
    )
    order_exports: str | None = Field(
        default=None,
        description=(
            "Directory (or single file) of order-line CSV exports in the UCI Online Retail layout. "
            "Unset: $SHOPVERSE_ORDER_EXPORTS, else <landing>/orders."
        ),
    )

    def root(self) -> Path:
        configured = self.path or os.environ.get("SHOPVERSE_LANDING_DIR")
        return Path(configured).resolve() if configured else paths.default_landing_dir()

    def events_dir(self) -> Path:
        return self.root() / "events"

    def logs_dir(self) -> Path:
        return self.root() / "logs"

    def imports_dir(self) -> Path:
        """Other tools' exports, ``imports/<source>/YYYY-MM-DD/`` (docs/events.md, "Importing")."""
        return self.root() / "imports"

    def order_exports_path(self) -> Path:
        configured = self.order_exports or os.environ.get("SHOPVERSE_ORDER_EXPORTS")
        return Path(configured).resolve() if configured else self.root() / "orders"

    def order_exports_configured(self) -> bool:
        """Whether the order-exports path was set (config or environment), not the default: a
        configured path must exist, the default may be absent until the first export lands."""
        return bool(self.order_exports or os.environ.get("SHOPVERSE_ORDER_EXPORTS"))

    def catalogue_file(self) -> Path:
        return self.root() / "catalogue" / "products.csv"

    def customers_file(self) -> Path:
        return self.root() / "customers" / "customers.csv"


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"warehouse": Warehouse(), "landing_zone": LandingZone()})
