"""How a lake instance loads its extensions (lib/warehouse/lake.py, ``extension_loading_settings``):
the two locked PyPI extensions by path without DuckDB's per-load signature check (~190 ms of every
lake process's start), and nothing loaded on its own; $SHOPVERSE_LAKE_VERIFY_EXTENSIONS=1 keeps the
check, which the packaged files pass."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from shopverse_platform.lib.warehouse import lake


def _settings(con: duckdb.DuckDBPyConnection) -> tuple:
    return con.execute("SELECT current_setting('allow_unsigned_extensions'), current_setting('autoload_known_extensions'), "
                       "current_setting('autoinstall_known_extensions')").fetchone()


def _extension_directory_with_a_forged_excel(root: Path) -> Path:
    """An extension directory where a file that is no DuckDB extension sits as ``excel``, as if
    INSTALLed from elsewhere: an instance that autoloaded would try to load it."""
    platform = duckdb.execute("PRAGMA platform").fetchone()[0]
    folder = root / f"v{duckdb.__version__}" / platform
    folder.mkdir(parents=True)
    (folder / "excel.duckdb_extension").write_bytes(b"not an extension" * 64)
    return root


@pytest.fixture(autouse=True)
def _own_instances():
    lake.release_instances()
    yield
    lake.release_instances()


@pytest.mark.parametrize("read_only", [False, True])
def test_a_lake_instance_loads_its_extensions_unchecked_and_autoloads_nothing(tmp_path, monkeypatch, read_only):
    monkeypatch.delenv(lake.VERIFY_EXTENSIONS_VARIABLE, raising=False)
    location = lake.parse_location(f"ducklake:sqlite:{tmp_path / 'shop.sqlite'}")
    with lake.connect(location, "shop", read_only=False, config={}) as con:  # creates the lake
        con.execute("CREATE TABLE orders AS SELECT range AS order_id FROM range(5)")
    lake.release_instances()
    directory = _extension_directory_with_a_forged_excel(tmp_path / "extensions")
    with lake.connect(location, "shop", read_only=read_only, config={"extension_directory": str(directory)}) as con:
        assert _settings(con) == (True, False, False)
        assert con.execute("SELECT count(*), sum(order_id) FROM orders").fetchone() == (5, 10)
        loaded = dict(con.execute("SELECT extension_name, loaded FROM duckdb_extensions() "
                                  "WHERE extension_name IN ('ducklake', 'sqlite_scanner', 'excel')").fetchall())
        assert loaded == {"ducklake": True, "sqlite_scanner": True, "excel": False}
        # a function of an extension not loaded names it, instead of loading the file found for it
        with pytest.raises(duckdb.CatalogException, match="exists in the excel extension"):
            con.execute("SELECT * FROM read_xlsx('orders.xlsx')")


def test_verifying_extensions_keeps_duckdbs_check_which_the_packaged_files_pass(tmp_path, monkeypatch):
    monkeypatch.setenv(lake.VERIFY_EXTENSIONS_VARIABLE, "1")
    assert lake.extension_loading_settings() == {}
    location = lake.parse_location(f"ducklake:sqlite:{tmp_path / 'shop.sqlite'}")
    with lake.connect(location, "shop", read_only=False, config={}) as con:
        assert _settings(con) == (False, True, True)
        con.execute("CREATE TABLE orders AS SELECT range AS order_id FROM range(3)")
        assert con.execute("SELECT sum(order_id) FROM orders").fetchone() == (3,)
    # DuckDB's own check refuses a file that is not signed: the check above really ran
    forged = _extension_directory_with_a_forged_excel(tmp_path / "extensions")
    checking = duckdb.connect(config={"extension_directory": str(forged)})
    with pytest.raises(duckdb.Error, match="excel"):
        checking.execute("SELECT * FROM read_xlsx('orders.xlsx')")
    checking.close()


def test_the_settings_follow_the_variable():
    assert lake.extension_loading_settings({}) == {
        "allow_unsigned_extensions": True, "autoload_known_extensions": False, "autoinstall_known_extensions": False}
    assert lake.extension_loading_settings({lake.VERIFY_EXTENSIONS_VARIABLE: "true"}) == {}
    assert lake.extension_loading_settings({lake.VERIFY_EXTENSIONS_VARIABLE: "0"})["allow_unsigned_extensions"] is True
