"""The global policy: every asset instrumented, the graph unchanged, events emitted in-process."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import dagster as dg
import duckdb
import pytest

import shopverse_platform.definitions
from shopverse_platform.definitions import defs as platform_defs
from shopverse_platform.defs.lineage.policy import (
    INSTRUMENTED_TAG,
    is_instrumented,
    with_openlineage,
)
from shopverse_platform.defs.lineage.resources import OpenLineageResource
from shopverse_platform.lib import paths
from shopverse_platform.lib.lineage.emitter import LineageEmitter, LineageSettings
from shopverse_platform_tests.conftest import free_port
from shopverse_platform_tests.lineage import location
from shopverse_platform_tests.lineage.support import (
    FakeBackend,
    by_job,
    read_events,
    validate_event,
)


def _events() -> list[dict]:
    return read_events(paths.data_dir() / "lineage" / "events.ndjson")


def _materialize(*names: str, resources: dict | None = None, **kwargs) -> dg.ExecuteInProcessResult:
    selected = [a for a in location.defs.assets if a.key.to_user_string() in names]
    return dg.materialize(
        selected, resources={**location.defs.resources, **(resources or {})},
        instance=dg.DagsterInstance.ephemeral(), **kwargs,
    )


def _warehouse_columns(table: str) -> list[tuple[str, str]]:
    con = duckdb.connect(str(paths.default_warehouse_path()), read_only=True)
    try:
        return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()]
    finally:
        con.close()


@pytest.fixture(scope="module")
def platform() -> dg.Definitions:
    return platform_defs()


def test_every_platform_asset_is_instrumented_and_new_ones_will_be(platform):
    graph = platform.resolve_asset_graph()
    materializable = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    assert len(materializable) >= 7
    for key in materializable:
        assets_def = platform.resolve_assets_def(key)
        assert is_instrumented(assets_def), f"{key.to_user_string()} emits no lineage"
        assert {"lineage", "warehouse"} <= set(assets_def.node_def.required_resource_keys)
    assert isinstance(platform.resources["lineage"], OpenLineageResource)

    @dg.asset
    def brand_new_asset() -> None:
        """Written tomorrow by someone who never heard of lineage."""

    assert is_instrumented(with_openlineage(dg.Definitions(assets=[brand_new_asset])).assets[0])


def test_instrumenting_changes_nothing_else_in_the_graph():
    plain = dg.load_from_defs_folder(path_within_project=Path(shopverse_platform.definitions.__file__).parent)
    # the lineage policy alone: the automation policy applied after it changes conditions on purpose
    platform = with_openlineage(plain)
    before, after = plain.resolve_asset_graph(), platform.resolve_asset_graph()
    assert before.get_all_asset_keys() == after.get_all_asset_keys()
    for key in before.get_all_asset_keys():
        b, a = before.get(key), after.get(key)
        assert (b.parent_keys, b.partitions_def, b.description, b.kinds, b.group_name, b.owners, b.metadata,
                b.check_keys, b.automation_condition) == \
               (a.parent_keys, a.partitions_def, a.description, a.kinds, a.group_name, a.owners, a.metadata,
                a.check_keys, a.automation_condition)
        if not b.is_materializable:
            continue
        op_b, op_a = plain.resolve_assets_def(key).node_def, platform.resolve_assets_def(key).node_def
        assert op_a.name == op_b.name
        assert [i.name for i in op_a.input_defs] == [i.name for i in op_b.input_defs]
        assert [o.name for o in op_a.output_defs] == [o.name for o in op_b.output_defs]
        assert op_a.config_schema.as_field().config_type.key == op_b.config_schema.as_field().config_type.key
        assert {k: v for k, v in op_a.tags.items() if k != INSTRUMENTED_TAG} == dict(op_b.tags)
    twice = with_openlineage(platform)
    assert all(a is b for a, b in zip(twice.assets, platform.assets))  # applying the policy twice is harmless


def test_start_is_written_before_the_asset_runs_and_complete_after():
    result = _materialize("lineage_orders", "lineage_revenue", "lineage_model")
    assert result.success
    events = _events()
    for event in events:
        validate_event(event)
    for job in ("lineage_orders", "lineage_revenue", "lineage_model"):
        assert [e["eventType"] for e in by_job(events, job)] == ["START", "COMPLETE"], job
        start, complete = by_job(events, job)
        assert start["run"]["runId"] == complete["run"]["runId"]
        assert start["job"]["namespace"] == "shopverse"
    # the asset body itself saw its START already written
    orders = result.asset_materializations_for_node("lineage_orders")[0]
    assert orders.metadata["starts_seen_by_the_body"].value == 1


def test_inputs_come_from_the_asset_graph_and_outputs_match_them():
    assert _materialize("lineage_orders", "lineage_revenue", "lineage_model").success
    events = _events()
    warehouse = "duckdb://shopverse"  # the file's name, never its path: the same node from any folder or host
    complete = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE"}

    orders_out = complete["lineage_orders"]["outputs"][0]
    assert (orders_out["namespace"], orders_out["name"]) == (warehouse, "main.lineage_orders")
    assert [(i["namespace"], i["name"]) for i in complete["lineage_orders"]["inputs"]] == [
        (f"file://{socket.gethostname()}", str(location.landing_file()))
    ]
    revenue = complete["lineage_revenue"]
    assert [(i["namespace"], i["name"]) for i in revenue["inputs"]] == [(warehouse, "main.lineage_orders")]
    start_inputs = by_job(events, "lineage_revenue", "START")[0]["inputs"]
    assert [(i["namespace"], i["name"]) for i in start_inputs] == [(warehouse, "main.lineage_orders")]
    model = complete["lineage_model"]
    assert [(o["namespace"], o["name"]) for o in model["outputs"]] == [("mlflow://local", "lineage_model")]
    assert [(i["namespace"], i["name"]) for i in model["inputs"]] == [(warehouse, "main.lineage_revenue")]


def test_complete_describes_the_table_as_the_warehouse_has_it():
    result = _materialize("lineage_orders", "lineage_revenue")
    assert result.success
    revenue = by_job(_events(), "lineage_revenue", "COMPLETE")[0]
    output = revenue["outputs"][0]
    assert [(f["name"], f["type"]) for f in output["facets"]["schema"]["fields"]] == _warehouse_columns("lineage_revenue")
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 2  # ann and bob; bob's -2.0 is filtered out
    assert "size" not in output["outputFacets"]["outputStatistics"]  # no storage scan after each step (issue 14)
    materialization = result.asset_materializations_for_node("lineage_revenue")[0]
    assert output["facets"]["version"]["datasetVersion"] == materialization.tags["dagster/data_version"]
    assertions = {a["assertion"]: (a["success"], a["severity"]) for a in output["facets"]["dataQualityAssertions"]["assertions"]}
    assert assertions == {"revenue_positive": (True, "error"), "two_customers": (True, "error")}
    lineage = output["facets"]["columnLineage"]
    fields = {
        column: {(f["name"], f["field"], f["transformations"][0]["subtype"]) for f in spec["inputFields"]}
        for column, spec in lineage["fields"].items()
    }
    assert fields == {
        "customer": {("main.lineage_orders", "customer", "IDENTITY")},
        "revenue": {("main.lineage_orders", "amount", "AGGREGATION")},
        "last_order": {("main.lineage_orders", "placed_at", "AGGREGATION")},
    }
    indirect = {(f["field"], f["transformations"][0]["subtype"]) for f in lineage["dataset"]}
    assert indirect == {("amount", "FILTER"), ("customer", "GROUP_BY")}
    assert revenue["job"]["facets"]["sql"]["query"] == location.REVENUE_SQL


def test_job_and_run_facets_of_a_partition():
    result = _materialize("lineage_daily", partition_key="2024-03-05")
    assert result.success
    start, complete = by_job(_events(), "lineage_daily")
    facets = complete["run"]["facets"]
    assert facets["nominalTime"]["nominalStartTime"] == "2024-03-05T00:00:00Z"
    assert facets["nominalTime"]["nominalEndTime"] == "2024-03-06T00:00:00Z"
    assert facets["dagster"]["runId"] == result.run_id and facets["dagster"]["partitionKey"] == "2024-03-05"
    assert facets["dagster"]["stepKey"] == "lineage_daily"
    assert facets["processing_engine"]["version"] == dg.__version__
    job = complete["job"]["facets"]
    assert job["jobType"]["processingType"] == "BATCH" and job["jobType"]["integration"] == "DAGSTER"
    assert job["documentation"]["description"] == "One row per day partition."
    source = Path(location.__file__).read_text().splitlines()
    def_line = next(n for n, line in enumerate(source, 1) if line.startswith("def lineage_daily"))
    decorator_line = max(n for n, line in enumerate(source[:def_line], 1) if line.startswith("@dg.asset"))
    assert job["sourceCodeLocation"]["url"] == f"{Path(location.__file__).resolve().as_uri()}#L{decorator_line}"


def test_a_failing_asset_emits_fail_with_its_error_and_stack():
    result = _materialize("lineage_orders", "lineage_broken", raise_on_error=False)
    assert not result.success
    events = by_job(_events(), "lineage_broken")
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    error = events[1]["run"]["facets"]["errorMessage"]
    assert error["message"] == "ValueError: deliberate failure for the lineage tests"
    assert "location.py" in error["stackTrace"] and "raise ValueError" in error["stackTrace"]
    validate_event(events[1])
    assert [e["eventType"] for e in by_job(_events(), "lineage_orders")] == ["START", "COMPLETE"]


def test_a_failed_blocking_check_is_a_fail_that_still_describes_the_table():
    result = _materialize("lineage_orders", "lineage_blocked", raise_on_error=False)
    assert not result.success
    start, fail = by_job(_events(), "lineage_blocked")
    assert fail["eventType"] == "FAIL"
    assert fail["run"]["facets"]["errorMessage"]["message"] == "blocking asset check(s) failed: never_passes"
    assertions = fail["outputs"][0]["facets"]["dataQualityAssertions"]["assertions"]
    assert [(a["assertion"], a["success"]) for a in assertions] == [("never_passes", False)]


def test_an_interrupted_step_is_an_abort():
    @dg.asset
    def interrupted() -> None:
        raise dg.DagsterExecutionInterruptedError()  # what Dagster raises in a step it is cancelling

    instrumented = with_openlineage(dg.Definitions(assets=[interrupted], resources={"warehouse": location.Warehouse()}))
    result = dg.materialize(instrumented.assets, resources=instrumented.resources,
                            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    assert [e["eventType"] for e in by_job(_events(), "interrupted")] == ["START", "ABORT"]


def test_lineage_never_breaks_a_pipeline_and_nothing_is_lost(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    lineage = OpenLineageResource(url=closed, directory=str(tmp_path / "lineage"))
    result = _materialize("lineage_orders", "lineage_revenue", resources={"lineage": lineage})
    assert result.success
    buffered = read_events(tmp_path / "lineage" / "buffer.ndjson")
    assert [(e["job"]["name"], e["eventType"]) for e in buffered] == [
        ("lineage_orders", "START"), ("lineage_orders", "COMPLETE"),
        ("lineage_revenue", "START"), ("lineage_revenue", "COMPLETE"),
    ]
    with FakeBackend() as backend:
        backend.failing = False
        replayed = LineageEmitter(LineageSettings.resolve(url=backend.url, directory=tmp_path / "lineage")).replay()
        assert (replayed.sent, replayed.remaining) == (4, 0)
        assert backend.received == buffered


def test_even_an_unwritable_lineage_directory_does_not_fail_the_run(tmp_path):
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("a file where the lineage directory should be")
    lineage = OpenLineageResource(directory=str(blocker / "lineage"))
    result = _materialize("lineage_orders", resources={"lineage": lineage})
    assert result.success
    assert result.asset_materializations_for_node("lineage_orders")


def test_the_events_draw_the_graph_a_live_marquez_drew():
    """The recorded Marquez contract, checked without Marquez: the edges Marquez draws from these
    events (each job's latest COMPLETE: inputs -> job -> outputs) are the ones it drew live."""
    from shopverse_platform_tests.lineage.support import (
        CONTRACT,
        graph_from_events,
        normalise_edges,
    )

    lineage = OpenLineageResource(namespace="lineage_contract")
    assert _materialize("lineage_orders", "lineage_revenue", "lineage_model", resources={"lineage": lineage}).success
    replacements = {
        "duckdb://shopverse": "{warehouse}", str(paths.data_dir() / "landing"): "{landing}",
        "lineage_contract": "{jobs}", f"file://{socket.gethostname()}": "file://{host}", "mlflow://local": "mlflow://local",
    }
    observed = normalise_edges(graph_from_events(_events()), replacements)
    assert observed == json.loads(CONTRACT.read_text())["edges"]


def test_a_report_outputs_the_files_it_wrote():
    assert _materialize("lineage_orders", "lineage_revenue", "lineage_report").success
    start, complete = by_job(_events(), "lineage_report")
    assert start["outputs"] == []
    folder = paths.data_dir() / "reports"
    host = f"file://{socket.gethostname()}"
    assert [(o["namespace"], o["name"]) for o in complete["outputs"]] == [
        (host, str(folder / "revenue.html")), (host, str(folder / "revenue.md"))]
    assert [i["name"] for i in complete["inputs"]] == ["main.lineage_revenue"]
    validate_event(complete)


def test_the_warehouse_namespace_is_its_name_not_its_path(tmp_path, monkeypatch):
    """The same warehouse moved to another folder (or opened from another host) is the same node."""
    from shopverse_platform.defs.resources import Warehouse

    here, there = tmp_path / "a" / "shop.duckdb", tmp_path / "b" / "shop.duckdb"
    assert Warehouse(path=str(here)).uri == Warehouse(path=str(there)).uri == "duckdb://shop"
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE_NAME", "eu-shop")
    assert Warehouse(path=str(here)).uri == "duckdb://eu-shop"
    assert Warehouse(path=str(here), name="us-shop").uri == "duckdb://us-shop"  # the resource's field wins
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE_NAME", "/srv/data/shop")
    with pytest.raises(ValueError, match="SHOPVERSE_WAREHOUSE_NAME"):
        Warehouse(path=str(here)).uri


def test_the_run_catalogue_is_read_once_and_again_only_for_a_table_it_does_not_know(tmp_path):
    """Column lineage needs every table's columns: read once per run in this process (each step
    used to open the warehouse and read them all), updated by each step's own schema, and read
    again, once per step at most, when a statement names a table created since."""
    from shopverse_platform.defs.lineage import observer
    from shopverse_platform.defs.resources import Warehouse

    class CountingWarehouse(Warehouse):
        def connect(self, *args, **kwargs):
            opened.append(kwargs.get("read_only"))
            return super().connect(*args, **kwargs)

    opened: list = []
    warehouse = CountingWarehouse(path=str(tmp_path / "w.duckdb"))
    with Warehouse(path=warehouse.path).connect() as con:
        con.execute("CREATE TABLE a (x INTEGER)")
    catalogue = observer._catalogue_of_run(warehouse, "run-1")
    assert catalogue.columns == {"main.a": [("x", "INTEGER")]} and len(opened) == 1
    assert observer._catalogue_of_run(warehouse, "run-1") is catalogue and len(opened) == 1  # the next step
    catalogue.learn("main.a", [("x", "INTEGER"), ("y", "VARCHAR")])  # a step's own schema after it wrote
    names = catalogue.column_names_for_step()
    assert names("main.a") == ["x", "y"] and len(opened) == 1
    with Warehouse(path=warehouse.path).connect() as con:
        con.execute("CREATE TABLE b (z DOUBLE)")  # an earlier step of the run made it
    assert names("main.b") == ["z"] and len(opened) == 2
    assert names("main._staging") is None and len(opened) == 2  # a temp table: not read again this step
    assert observer._catalogue_of_run(warehouse, "run-2") is not catalogue and len(opened) == 3  # a new run reads anew
