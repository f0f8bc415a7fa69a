"""The SQL files of the ingestion, cleaning and automation layers: each is run by its module, loads
with its parts into one statement, and values (such as a landing path) are bound, never spliced."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

import shopverse_platform.lib as lib
from shopverse_platform.defs.cleaning.assets import clean_events, dim_customers, dim_products, sessions
from shopverse_platform.defs.ingestion.assets import raw_events
from shopverse_platform.defs.resources import LandingZone
from shopverse_platform.lib.cleaning import dimensions
from shopverse_platform.lib.warehouse.shapes import ITEMS_TYPE
from shopverse_platform.lib.warehouse.sql import SqlText, load_sql, table
from shopverse_platform_tests.cleaning import events_fixture as fx
from shopverse_platform_tests.conftest import materialize_range

LIB = Path(lib.__file__).parent
FOLDERS = ("cleaning", "ingestion", "automation")


def _load(folder: str, name: str, **parts) -> SqlText:
    return load_sql(LIB / folder / "module.py", name, **parts)


def _parts(folder: str, name: str) -> dict:
    """The parts each file with placeholders takes, as its module passes them."""
    cleaning = {
        "clean_events_ddl": {"items_type": SqlText(ITEMS_TYPE)},
        "delete_window": {"target": table("clean_events")},
        "outcome_counts": {"outcome": table("_parsed_events")},
        "drop_work_table": {"work": table("_sessionised")},
        "reconciliation": {"raw_rows": _load("cleaning", "raw_event_lines"), "clean": table("clean_events")},
        "input_quality_rows": {"raw_by_day": _load("cleaning", "raw_event_lines_by_day"),
                               "raw_first_day": _load("cleaning", "raw_events_first_day"), "clean": table("clean_events")},
        "clean_order_lines_rows": {"history": _load("cleaning", "order_history")},
        "typed_orders": {"arrivals": SqlText(f"({_load('cleaning', 'export_arrivals')})")},
        "empty_table_like": {"target": table("clean_order_lines"), "rows": _load(
            "cleaning", "clean_order_lines_rows", history=_load("cleaning", "order_history_empty"))},
        "insert_rows": {"target": table("quarantine"), "rows": _load("cleaning", "quarantine_orders_rows")},
        "sessions": {
            "events": table("clean_events"),
            "events_per_minute": SqlText(dimensions.events_per_minute_sql("count(*)", "min(event_ts)", "max(event_ts)")),
            "bot_rule": SqlText(dimensions.bot_rule_sql("count(*)", "min(event_ts)", "max(event_ts)")),
        },
        "session_rule": {"needs": table("_session_needs")},
        "sessionised": {"session_rule": _load("cleaning", "session_rule", needs=SqlText("needs"))},
        "session_ids_appended": {"session_rule": _load("cleaning", "session_rule", needs=table("_session_needs"))},
        "session_partitions_full": {"events": table("clean_events")},
        "sessions_recomputed": {"sessions": dimensions.sessions_query(table("clean_events"))},
        "session_hours_rows": {"sessions": table("sessions")},
        "session_hours_full": {"rows": dimensions.session_hours_sql(table("sessions"))},
        "dim_products": {"catalogue": _load("cleaning", "catalogue_file")},
        "dim_customers": {"profiles": _load("cleaning", "customer_profiles_empty")},
        "product_observations": {"events": table("clean_events"), "lines": table("clean_order_lines")},
        "customer_observations": {"events": table("clean_events"), "lines": table("clean_order_lines")},
        "visitor_observations": {"events": table("clean_events")},
        "purchase_observations": {"events": table("clean_events")},
        "event_name_observations": {"events": table("clean_events")},
        "built_from_current_events": {"built_from": SqlText("SELECT * FROM sessions_sources")},
        "observations_delete": {"observations": table("product_observations")},
    }
    ingestion = {
        "raw_orders_rows": {"invoice_day": _load("ingestion", "invoice_day")},
        "insert_order_export_files": {"invoice_day": _load("ingestion", "invoice_day")},
        "export_invoice_days": {"invoice_day": _load("ingestion", "invoice_day")},
    }
    return {"cleaning": cleaning, "ingestion": ingestion}.get(folder, {}).get(name, {})


# Fragments that are an expression, not a query: parsed inside a SELECT.
EXPRESSIONS = {("ingestion", "invoice_day")}
CTE_LISTS = {("cleaning", "session_rule")}  # fragments of common table expressions, spliced after WITH

SQL_FILES = sorted((folder, path.stem) for folder in FOLDERS for path in (LIB / folder).glob("*.sql"))


def test_the_layers_keep_their_sql_in_files():
    names = {name for _, name in SQL_FILES}
    assert {"quarantine_ddl", "parsed_events", "sessions", "dim_products", "order_export_files_ddl",
            "alerts_ddl", "insert_alert"} <= names


@pytest.mark.parametrize(("folder", "name"), SQL_FILES, ids=[f"{f}/{n}" for f, n in SQL_FILES])
def test_each_sql_file_is_loaded_by_its_module_and_loads_into_one_statement(folder, name):
    modules = [p.read_text() for p in (LIB / folder).glob("*.py")]
    # A module loads it by name (some pick one of two names, or name it in a table of sources).
    assert any("load_sql(__file__" in text and re.search(rf'"{name}"', text) for text in modules), (
        f"lib/{folder}/{name}.sql is not loaded by any module beside it")
    text = _load(folder, name, **_parts(folder, name))
    if (folder, name) in CTE_LISTS:
        text = f"WITH {text} SELECT 1"
    statements = duckdb.connect().extract_statements(f"SELECT {text}" if (folder, name) in EXPRESSIONS else text)
    assert len(statements) == 1


def test_a_landing_path_with_a_quote_builds_the_dimensions(tmp_path, warehouse, query, hostile_feed):
    """The catalogue and profile paths are bound to read_csv: a quote in them once ended the SQL
    string (a ParserException). Same data and expectations as the cleaning layer's dimension test."""
    landing = tmp_path / "o'brien's landing"
    landing.mkdir()
    resources = {"warehouse": warehouse, "landing_zone": LandingZone(path=str(landing))}
    fx.write_landing(landing, gzip_day2=True)
    assert materialize_range([raw_events, clean_events, sessions], resources, "2024-03-05", "2024-03-06").success
    (landing / "catalogue").mkdir()
    (landing / "catalogue" / "products.csv").write_text(
        "product_id,product_name,category,price\nP001,Mug,Kitchen,8.5\nP003,Vase,Home,20\n")
    (landing / "customers").mkdir()
    (landing / "customers" / "customers.csv").write_text(
        "user_id,age_group,country,signup_date,acquisition_channel\nu1,25-34,GB,2024-01-02,organic\n")
    assert materialize_range([dim_products, dim_customers], resources, "2024-03-05", "2024-03-05").success
    products = {r[0]: r[1:] for r in query("SELECT product_id, product_name, category, list_price, in_catalogue FROM dim_products")}
    assert products["P001"] == ("Mug", "Kitchen", 8.5, True)
    assert products["P003"] == ("Vase", "Home", 20.0, True)
    assert products["P002"][-1] is False  # seen in the events only
    assert query("SELECT customer_id, age_group, country, signup_date, acquisition_channel, source FROM dim_customers") == [
        ("u1", "25-34", "GB", date(2024, 1, 2), "organic", "events")]
