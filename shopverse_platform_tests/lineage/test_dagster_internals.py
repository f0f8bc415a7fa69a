"""The Dagster internals the lineage policy uses: pinned, in one module, and still shaped as used.

When one of these fails after a Dagster upgrade, re-check each entry of
``dagster_internals.INTERNALS`` against the new release (the functions' source, not just their
names), run shopverse_platform_tests/lineage/ including the slow launch-path tests, then update
``VERIFIED_DAGSTER_VERSION`` and the recorded shapes below. docs/lineage.md explains why the policy
needs them at all.
"""

import ast
import inspect
from pathlib import Path

import dagster as dg

import shopverse_platform
from shopverse_platform.defs.lineage import dagster_internals as internals

RECHECK = (
    "Dagster changed under the lineage policy: re-check every entry of "
    "shopverse_platform/defs/lineage/dagster_internals.py INTERNALS against this release, run the lineage "
    "tests with the slow launch paths, then update VERIFIED_DAGSTER_VERSION and this test."
)
# What AssetsDefinition.dagster_internal_init takes and get_attributes_dict returns in 1.13.27: the
# rebuild passes the one to the other, so both must still be the same complete set.
ASSETS_DEFINITION_ATTRIBUTES = [
    "backfill_policy", "can_subset", "check_specs_by_output_name", "execution_type", "hook_defs", "is_subset",
    "keys_by_input_name", "keys_by_output_name", "node_def", "resource_defs", "selected_asset_check_keys",
    "selected_asset_keys", "specs",
]
# Names a module outside dagster_internals.py must not use: the internals, reached without an import.
INTERNAL_NAMES = {"dagster_internal_init", "get_attributes_dict", "get_step_execution_context", "asset_layer",
                  "_version", "create_op_compute_wrapper", "DecoratedOpFunction"}


def test_dagster_is_the_version_the_internals_were_verified_with():
    assert dg.__version__ == internals.VERIFIED_DAGSTER_VERSION, RECHECK


def test_the_internals_still_have_the_shape_the_policy_uses():
    from dagster._core.definitions.decorators.op_decorator import DecoratedOpFunction
    from dagster._core.execution.plan.compute_generator import create_op_compute_wrapper
    from dagster._record import copy

    assert list(inspect.signature(create_op_compute_wrapper).parameters) == ["op_def"], RECHECK
    assert {"decorated_fn"} <= set(DecoratedOpFunction._fields) and callable(DecoratedOpFunction.has_context_arg), RECHECK
    assert list(inspect.signature(copy).parameters) == ["record", "kwargs"], RECHECK
    init = list(inspect.signature(dg.AssetsDefinition.dagster_internal_init).parameters)
    assert sorted(init) == ASSETS_DEFINITION_ATTRIBUTES, RECHECK
    assert hasattr(dg.OpExecutionContext, "get_step_execution_context"), RECHECK
    assert isinstance(inspect.getattr_static(dg.JobDefinition, "asset_layer"), property), RECHECK
    from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus

    assert isinstance(inspect.getattr_static(DefaultRunLauncher, "supports_check_run_worker_health"), property), RECHECK
    assert list(inspect.signature(DefaultRunLauncher.check_run_worker_health).parameters) == ["self", "run"], RECHECK
    assert {"RUNNING", "FAILED"} <= set(WorkerStatus.__members__), RECHECK
    assert list(inspect.signature(CheckRunHealthResult).parameters)[:2] == ["status", "msg"], RECHECK


def test_the_event_log_internals_the_batching_storage_extends_still_have_their_shape():
    from dagster._core.events import ASSET_EVENTS, DagsterEventType
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
    from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    storage = SqliteEventLogStorage
    assert list(inspect.signature(storage.__init__).parameters) == ["self", "base_dir", "inst_data"], RECHECK
    assert list(inspect.signature(storage._store_asset_event).parameters) == ["self", "conn", "event", "event_id"], RECHECK
    assert list(inspect.signature(storage._store_asset_event_tags).parameters) == ["self", "conn", "events", "event_ids"], RECHECK
    for method in ("run_connection", "index_transaction", "index_connection", "store_event_batch",
                   "_event_insert_timestamp"):
        assert callable(getattr(storage, method)), RECHECK
    # The row store_event inserts (prepare_insert_event is the insert of it), in the table's columns.
    assert list(inspect.signature(storage._event_to_row).parameters) == ["self", "event"], RECHECK
    assert "prepare_insert_event" in inspect.getsource(storage.store_event), RECHECK
    assert "_event_to_row" in inspect.getsource(storage.prepare_insert_event), RECHECK
    assert {"id", "run_id", "event", "dagster_event_type", "timestamp", "step_key", "asset_key",
            "partition"} <= set(SqlEventLogStorageTable.c.keys()), RECHECK
    # The planned check executions the storage writes itself: one row per partition, these columns.
    assert list(inspect.signature(storage._store_asset_check_evaluation_planned).parameters) == [
        "self", "event", "event_id"], RECHECK
    assert {"asset_key", "check_name", "partition", "run_id", "execution_status", "evaluation_event",
            "evaluation_event_timestamp", "evaluation_event_storage_id"} <= set(AssetCheckExecutionsTable.c.keys()), RECHECK
    assert AssetCheckExecutionRecordStatus.PLANNED.value == "PLANNED", RECHECK
    # What the storage writes in bulk is what store_event mirrors in the index database.
    assert {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_MATERIALIZATION_PLANNED} <= ASSET_EVENTS, RECHECK


def test_the_internals_that_record_cli_runs_in_the_code_location_still_have_their_shape(tmp_path):
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import execute_run
    from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    assert list(inspect.signature(execute_run).parameters)[:3] == ["job", "dagster_run", "instance"], RECHECK
    assert list(inspect.signature(InMemoryJob).parameters) == ["job_def"], RECHECK
    assert list(inspect.signature(ReconstructableRepository.for_module).parameters)[:3] == [
        "module", "fn_name", "working_directory"], RECHECK
    assert list(RemoteJobOrigin.__annotations__) == ["repository_origin", "job_name"], RECHECK
    assert list(RemoteRepositoryOrigin.__annotations__) == ["code_location_origin", "repository_name"], RECHECK
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text("load_from:\n  - python_module:\n      module_name: some.module\n      location_name: here\n")
    [origin] = WorkspaceFileTarget(paths=[str(workspace)]).create_origins()
    assert (origin.location_name, origin.loadable_target_origin.module_name) == ("here", "some.module"), RECHECK


def test_rebuilding_an_asset_keeps_every_attribute_but_the_op():
    @dg.asset(check_specs=[dg.AssetCheckSpec("c", asset="a")], backfill_policy=dg.BackfillPolicy.single_run(),
              partitions_def=dg.DailyPartitionsDefinition("2024-01-01"), code_version="7")
    def a(context: dg.AssetExecutionContext):
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(check_name="c", passed=True)

    old = a.get_attributes_dict()
    assert sorted(old) == ASSETS_DEFINITION_ATTRIBUTES, RECHECK
    op = a.node_def
    assert internals.code_version(op) == "7"
    other = dg.OpDefinition(compute_fn=internals.compute_core(op), name=op.name,
                            outs={d.name: dg.Out.from_definition(d) for d in op.output_defs})
    rebuilt = internals.with_node(a, other)
    new = rebuilt.get_attributes_dict()
    assert new["node_def"] is other
    def kept(attributes: dict) -> dict:  # specs come as dict_values, which never compare equal
        return {k: list(v) if k == "specs" else v for k, v in attributes.items() if k != "node_def"}

    assert kept(new) == kept(old)
    assert internals.user_function(op).__name__ == "a"
    assert internals.context_annotation(op) is dg.AssetExecutionContext


def test_no_other_module_uses_dagster_internals():
    package = Path(shopverse_platform.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if path == Path(internals.__file__):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            if any(m.startswith("dagster._") for m in modules):
                offenders.append(f"{path.relative_to(package)}:{node.lineno} imports {modules}")
            if isinstance(node, ast.Attribute) and node.attr in INTERNAL_NAMES:
                offenders.append(f"{path.relative_to(package)}:{node.lineno} uses .{node.attr}")
    assert offenders == [], "Dagster internals belong in defs/lineage/dagster_internals.py only"


def test_the_instance_ref_read_for_the_step_processes_still_has_its_shape(tmp_path):
    from dagster._core.instance.ref import InstanceRef

    assert list(inspect.signature(InstanceRef.from_dir).parameters)[0] == "base_dir", RECHECK
    (tmp_path / "dagster.yaml").write_text("run_launcher:\n  module: a.launcher.module\n  class: Launcher\n")
    modules = internals.instance_class_modules(str(tmp_path))
    assert "a.launcher.module" in modules, RECHECK  # named by the file, not imported to be read
    assert {"dagster._core.storage.root", "dagster._core.storage.local_compute_log_manager"} <= set(modules), RECHECK
