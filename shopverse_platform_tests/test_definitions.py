"""The code location loads, every asset is documented, and configuration is read at run time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from shopverse_platform.definitions import defs
from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform.lib.paths import PROJECT_ROOT
from shopverse_platform_tests.conftest import Command, Finished

FOUNDATION_ASSETS = {"raw_events", "raw_orders", "clean_events", "clean_order_lines", "sessions", "dim_products", "dim_customers"}


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return defs()


def test_definitions_load_with_the_foundation_assets(definitions):
    keys = {k.to_user_string() for k in definitions.resolve_asset_graph().get_all_asset_keys()}
    assert FOUNDATION_ASSETS <= keys
    definitions.resolve_implicit_global_asset_job_def()  # the whole graph forms one valid job


def test_every_asset_has_a_description_owner_and_kind(definitions):
    graph = definitions.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if not node.is_materializable:
            continue
        spec = definitions.resolve_assets_def(key).specs_by_key[key]
        assert spec.description and len(spec.description) > 40, f"{key} needs a docstring"
        assert spec.owners, f"{key} needs owners"
        assert spec.kinds, f"{key} needs kinds"


def test_resources_read_environment_at_run_time(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOPVERSE_DATA_DIR", str(tmp_path / "d1"))
    assert Warehouse().resolved_path() == tmp_path / "d1" / "warehouse" / "shopverse.duckdb"
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", str(tmp_path / "elsewhere.duckdb"))
    assert Warehouse().resolved_path() == tmp_path / "elsewhere.duckdb"
    assert Warehouse(path=str(tmp_path / "field.duckdb")).resolved_path() == tmp_path / "field.duckdb"  # a field beats env
    monkeypatch.setenv("SHOPVERSE_LANDING_DIR", str(tmp_path / "landing"))
    assert LandingZone().order_exports_path() == tmp_path / "landing" / "orders"


BIN = Path(sys.executable).parent


@pytest.mark.background_command(
    Command([str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"], cwd=PROJECT_ROOT, timeout=300))
def test_dagster_cli_validates_the_workspace(background_command: Finished):
    result = background_command.result
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Validation successful" in result.stdout + result.stderr


@pytest.mark.background_command(Command([str(BIN / "dg"), "check", "defs"], cwd=PROJECT_ROOT, timeout=300))
def test_dg_check_defs_passes(background_command: Finished):
    result = background_command.result
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_every_check_runs_in_a_job_and_table_checks_run_on_their_own(definitions):
    """Stored-table checks are definitions of their own (defs/checks.py); the daily and weekly jobs
    select assets only, and still run every check of those assets, blocking ones included."""
    graph = definitions.resolve_asset_graph()
    repository = definitions.get_repository_def()
    in_jobs = set()
    for name in ("daily_job", "weekly_job"):
        job_graph = repository.get_job(name).asset_layer.asset_graph
        in_jobs |= job_graph.asset_check_keys
        # a job runs exactly the checks of the assets it builds
        assert {key.asset_key for key in job_graph.asset_check_keys} <= set(job_graph.executable_asset_keys)
    assert in_jobs == graph.asset_check_keys
    standalone = {key for checks_def in definitions.asset_checks or [] for key in checks_def.check_keys}
    assert dg.AssetCheckKey(dg.AssetKey("orders"), "orders_document_unique") in standalone
    assert dg.AssetCheckKey(dg.AssetKey("clean_events"), "clean_events_event_id_unique") in standalone
    assert graph.get_check_spec(dg.AssetCheckKey(dg.AssetKey("orders"), "orders_document_unique")).blocking


IMPORT_ONLY = """
import importlib, pkgutil, sys
import shopverse_platform.lib.automation.settings as settings
import shopverse_platform.lib.ml.tracking as tracking

calls = []
def record(name, real):
    def wrapper(*args, **kwargs):
        calls.append(name)
        return real(*args, **kwargs)
    return wrapper
settings.AutomationSettings.load = staticmethod(record("settings", settings.AutomationSettings.load))
tracking.source_digest = record("digest", tracking.source_digest)

import shopverse_platform.defs as package
for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(module.name)
import shopverse_platform.definitions as definitions
print("import:", sorted(calls))
definitions.defs()
print("load:", sorted(set(calls)))
"""


def test_importing_the_definitions_reads_no_settings_and_hashes_no_sources():
    """Importing defs/ defines objects only: automation.toml is read and the ML sources hashed when
    the definitions load (once), not on every import (a fresh interpreter, so nothing is cached)."""
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", IMPORT_ONLY], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "import: []" in result.stdout
    assert "load: ['digest', 'settings']" in result.stdout
