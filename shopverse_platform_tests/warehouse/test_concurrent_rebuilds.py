"""Two processes rebuilding the same whole table at once on a DuckLake (two runs' whole-history
steps): `rebuild_table` replaces the rows of a table in the same shape by a delete and an insert, not
a new table, so the lake's own conflict check must refuse the second commit (which
`lake.is_contention` recognizes: the platform runs the transaction again) and the table must hold
one rebuild's rows, never both. On the embedded SQLite catalog and on PostgreSQL (services)."""

from __future__ import annotations

import duckdb
import pytest

from shopverse_platform.lib.warehouse import lake
from shopverse_platform.lib.warehouse.tables import in_transaction, rebuild_table
from shopverse_platform_tests.automation.test_celery_workers import lake_catalogued_in_postgres  # noqa: F401 (fixture)

ROWS = "SELECT range + ? AS customer_id FROM range(50)"


def _instance(location: lake.LakeLocation) -> duckdb.DuckDBPyConnection:
    """A DuckDB instance of its own with the lake attached and in use: what another process has."""
    con = duckdb.connect()
    lake.attach(con, location, "wh", read_only=False)
    con.execute("USE wh")
    return con


def _race(location: lake.LakeLocation) -> None:
    first, second = _instance(location), _instance(location)
    try:
        first.execute("CREATE TABLE rebuilt AS SELECT range AS customer_id FROM range(50)")
        first.execute("BEGIN")
        second.execute("BEGIN")
        assert rebuild_table(first, "rebuilt", ROWS, [100]) == 50
        assert rebuild_table(second, "rebuilt", ROWS, [200]) == 50
        first.execute("COMMIT")
        with pytest.raises(duckdb.Error) as refused:
            second.execute("COMMIT")
        assert lake.is_contention(refused.value), refused.value  # and rolled back whole
        assert first.execute("SELECT min(customer_id), count(*) FROM rebuilt").fetchone() == (100, 50)
        # run again, as the platform does after such a refusal: it reads the first's commit
        assert in_transaction(second, lambda: rebuild_table(second, "rebuilt", ROWS, [200])) == 50
        assert first.execute("SELECT min(customer_id), count(*) FROM rebuilt").fetchone() == (200, 50)
    finally:
        first.close()
        second.close()


def test_two_rebuilds_of_one_table_at_once_on_a_sqlite_catalog(tmp_path):
    _race(lake.parse_location(f"ducklake:sqlite:{tmp_path / 'lake.sqlite'}"))


@pytest.mark.services
def test_two_rebuilds_of_one_table_at_once_on_a_postgresql_catalog(lake_catalogued_in_postgres, tmp_path):
    _race(lake.parse_location(lake_catalogued_in_postgres, str(tmp_path / "lake-data")))
