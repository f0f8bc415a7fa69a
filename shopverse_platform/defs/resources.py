"""Resources: the warehouse and the landing zone, with embedded defaults.

Every setting is a resource field; when a field is left unset the resource falls back to an
environment variable read at run time (never at import time), then to a local default under
``data/``. So `dagster dev` on a laptop needs no configuration at all, and a deployment changes
behaviour by environment only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field

from shopverse_platform.lib import paths
from shopverse_platform.lib.lineage.naming import lineage_namespace
from shopverse_platform.lib.warehouse.lock import connect_with_retry, warehouse_lock


# Every connection of a step runs within this DuckDB memory_limit unless configured otherwise:
# DuckDB's own default is 80 % of the machine's RAM, so a step's peak grew with the data until the
# machine ran out. With a limit, the joins, aggregates, sorts and windows spill to the temp
# directory (DuckDB's default for a file database: `<warehouse>.tmp` beside it) instead.
DEFAULT_MEMORY_LIMIT = "2GB"


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse: one file, one process at a time (an OS lock beside the file; a second
    run or command waits its turn)."""

    # Why not dagster-duckdb's DuckDBResource (checked at 0.29.27, then the dependency was dropped):
    # its `database` is a required string with no run-time fallback to $SHOPVERSE_WAREHOUSE, it
    # always opens read-write (reports and `shopverse report` read with read_only=True), it has no
    # memory limit, and it closes the connection only when the `with` body succeeds (no
    # try/finally), so a failing asset would keep the file lock until garbage collection. The IO
    # managers of dagster-duckdb-pandas are not used either: every table is built by SQL inside
    # DuckDB, and the data never makes a round trip through Python.

    path: str | None = Field(
        default=None,
        description="DuckDB file. Unset: $SHOPVERSE_WAREHOUSE, else data/warehouse/shopverse.duckdb.",
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
    threads: int | None = Field(default=None, description="DuckDB worker threads. Unset: all cores.")

    def resolved_path(self) -> Path:
        configured = self.path or os.environ.get("SHOPVERSE_WAREHOUSE")
        return Path(configured).resolve() if configured else paths.default_warehouse_path()

    def lineage_name(self) -> str:
        """The warehouse's name in lineage: ``name``, else $SHOPVERSE_WAREHOUSE_NAME, else the file's
        name without its extension (``shopverse`` for shopverse.duckdb)."""
        return self.name or os.environ.get("SHOPVERSE_WAREHOUSE_NAME") or self.resolved_path().stem

    @property
    def uri(self) -> str:
        """The dataset namespace other systems (lineage) use for tables in this warehouse:
        ``duckdb://<warehouse name>``. A logical name, not the file's absolute path, so the same
        warehouse moved to another folder or opened from another host stays the same nodes in
        Marquez (OpenLineage naming: the namespace names the data source, the name the table)."""
        return lineage_namespace(self.lineage_name())

    @contextmanager
    def connect(self, read_only: bool = False, wait_seconds: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection, once this process holds the warehouse. ``wait_seconds``: how long to wait
        for another process to let go (default: an hour for the platform's lock, a minute for a
        process outside it); past that, ``WarehouseBusy`` (a DuckDB lock ``IOException``)."""
        path = self.resolved_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, object] = {}
        config["memory_limit"] = self.memory_limit or os.environ.get("SHOPVERSE_DUCKDB_MEMORY") or DEFAULT_MEMORY_LIMIT
        if self.threads:
            config["threads"] = self.threads
        # One process at a time, taken atomically (lib/warehouse/lock.py): a second run or command
        # waits its turn instead of failing on DuckDB's file lock.
        with warehouse_lock(path, timeout=3600.0 if wait_seconds is None else wait_seconds):
            con = connect_with_retry(path, read_only=read_only, config=config,
                                     timeout=60.0 if wait_seconds is None else min(wait_seconds, 60.0))
            try:
                yield con
            finally:
                con.close()


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
