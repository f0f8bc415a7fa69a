"""Every Dagster internal the platform relies on, in this one module and nowhere else: the lineage
policy's, the two types a run launcher's health check returns (``run_workers.py``), what the
shopverse command needs to record its runs with the code location (:func:`execute_in_code_location`),
and the SQLite event log the batching storage extends (``defs/automation/event_log.py``).

Why internals at all (docs/lineage.md, "Why the compute function, and why Dagster internals"):
no public Dagster mechanism emits an event *in the step, before the asset body runs*, in every
launch path (in-process ``materialize`` on an ephemeral instance, the CLI's step subprocesses, the
run workers the daemon launches) without the daemon running. Run-status and asset sensors run in
the daemon, after the fact, and never see an in-process run on an ephemeral instance; hooks see
neither the start nor a cancellation. So the policy wraps each asset's compute function, which
takes the few internals below.

``test_dagster_internals.py`` pins :data:`VERIFIED_DAGSTER_VERSION` and the shape of each internal
listed in :data:`INTERNALS`; on a Dagster upgrade it fails with what to re-check. Any other module
of the package importing ``dagster._`` fails ``test_no_other_module_uses_dagster_internals``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import dagster as dg
from dagster._core.definitions.decorators.op_decorator import DecoratedOpFunction
from dagster._core.execution.plan.compute_generator import create_op_compute_wrapper
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, EVENT_TYPE_TO_PIPELINE_RUN_STATUS
from dagster._core.execution.retries import RetryMode
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._record import copy as copy_record
from dagster._utils.error import SerializableErrorInfo, serializable_error_info_from_exc_info

# The Dagster release every function below was read against and the lineage tests pass with.
VERIFIED_DAGSTER_VERSION = "1.13.27"

# name -> what it is used for; the test checks each still exists with the shape used here.
INTERNALS = {
    "dagster._core.definitions.decorators.op_decorator.DecoratedOpFunction":
        "the @asset function Dagster keeps on the op (.decorated_fn, .has_context_arg())",
    "dagster._core.execution.plan.compute_generator.create_op_compute_wrapper":
        "turns that function into the (context, inputs) -> iterator compute Dagster runs",
    "dagster._record.copy":
        "Definitions with its assets replaced (what Definitions.map_asset_specs does)",
    "AssetsDefinition.dagster_internal_init / get_attributes_dict":
        "the same AssetsDefinition with another op (the rebuild Dagster does when it subsets)",
    "OpDefinition._version":
        "the op's code version, kept on the rebuilt op",
    "OpExecutionContext.get_step_execution_context().step.key":
        "the step key in the dagster run facet",
    "OpExecutionContext.job_def.asset_layer.asset_graph":
        "kinds and metadata of upstream assets, to name input datasets like their writers do",
    "dagster._core.launcher.DefaultRunLauncher / CheckRunHealthResult / WorkerStatus":
        "the run launcher the daemon's run monitoring health-checks (defs/automation/run_workers.py): a "
        "custom launcher is Dagster's documented extension point, its result types are not exported",
    "dagster._core.workspace.load_target.WorkspaceFileTarget(paths).create_origins()":
        "the code location origin the webserver and daemon read from workspace.yaml (no code server started)",
    "dagster._core.remote_origin.RemoteJobOrigin / RemoteRepositoryOrigin":
        "the run's remote_job_origin: what files a run under its code location (Overview timeline, run list filter)",
    "dagster._core.definitions.reconstruct.ReconstructableRepository.for_module(...).get_reconstructable_job(name)"
    ".get_python_origin()":
        "the run's job_code_origin, as a run the UI launches has it",
    "dagster._core.execution.api.execute_run / dagster._core.definitions.job_base.InMemoryJob":
        "execute a run created beforehand, in this process, with the job's own executor (what a run worker does)",
    "dagster._core.storage.event_log.sqlite.sqlite_event_log.SqliteEventLogStorage (._event_to_row, "
    ".run_connection, .index_transaction, .index_connection, ._store_asset_event_tags, ._store_asset_event, "
    "._store_asset_check_evaluation_planned, ._event_insert_timestamp) / "
    "dagster._core.storage.event_log.schema.AssetCheckExecutionsTable, SqlEventLogStorageTable / "
    "dagster._core.storage.asset_check_execution_record.AssetCheckExecutionRecordStatus / "
    "dagster._core.events.ASSET_EVENTS, ASSET_CHECK_EVENTS, "
    "EVENT_TYPE_TO_PIPELINE_RUN_STATUS":
        "the SQLite event log the batching storage extends (defs/automation/event_log.py): an event log storage "
        "class is Dagster's documented extension point (dagster.yaml), its SQLite base and helpers are not exported",
    "dagster._core.instance.ref.InstanceRef.from_dir(base_dir) (fields of ConfigurableClassData: .module_name)":
        "the classes an instance's dagster.yaml names, read without opening them: the forkserver of "
        "`shopverse backfill --workers` imports their modules once for every step's process (cli/step_processes.py)",
    "dagster._core.execution.retries.RetryMode.from_config":
        "the Celery executor's retries from its config, as dagster-celery's executor_creation_fn reads them, for the "
        "watched executor made in its place (defs/automation/run_workers.py, celery_steps.py)",
    "dagster._utils.error.SerializableErrorInfo(message, stack, cls_name) / serializable_error_info_from_exc_info":
        "the error a Celery step's failure carries when its task failed outside the step (its process killed) or was "
        "lost, recorded with Executor.log_failure_or_retry_event_after_error as the multiprocess executor does "
        "(defs/automation/celery_steps.py)",
}

__all__ = ["ASSET_CHECK_EVENTS", "ASSET_EVENTS", "EVENT_TYPE_TO_PIPELINE_RUN_STATUS", "AssetCheckExecutionRecordStatus",
           "AssetCheckExecutionsTable", "CheckRunHealthResult", "SqlEventLogStorageTable",
           "DefaultRunLauncher", "RetryMode", "SerializableErrorInfo", "SqliteEventLogStorage", "WorkerStatus",
           "compute_core", "serializable_error_info_from_exc_info",
           "execute_in_code_location", "instance_class_modules", "user_function"]


def compute_core(op: dg.OpDefinition) -> Callable:
    """The op's compute as Dagster calls it: ``(context, inputs) -> results``, the original
    function called with context, config, resources and inputs exactly as Dagster would."""
    original = op.compute_fn
    return create_op_compute_wrapper(op) if isinstance(original, DecoratedOpFunction) else original


def user_function(op: dg.OpDefinition) -> object:
    """The function the asset's author wrote (for its source location)."""
    original = op.compute_fn
    return original.decorated_fn if isinstance(original, DecoratedOpFunction) else original


def context_annotation(op: dg.OpDefinition) -> object:
    """Dagster picks the context class from the compute function's annotation: keep the original's
    (resolved, in case its module uses ``from __future__ import annotations``)."""
    original = op.compute_fn
    if not isinstance(original, DecoratedOpFunction) or not original.has_context_arg():
        return inspect.Parameter.empty
    try:
        first = next(iter(inspect.signature(original.decorated_fn, eval_str=True).parameters.values()))
    except Exception:  # noqa: BLE001 - an unresolvable string: let Dagster choose by step type
        return inspect.Parameter.empty
    if first.annotation in (dg.AssetExecutionContext, dg.OpExecutionContext):
        return first.annotation
    return inspect.Parameter.empty


def code_version(op: dg.OpDefinition) -> str | None:
    return op._version  # noqa: SLF001 - as OpDefinition.with_replaced_properties does


def with_node(assets_def: dg.AssetsDefinition, op: dg.OpDefinition) -> dg.AssetsDefinition:
    """The same asset(s), every attribute kept, the op swapped."""
    return assets_def.__class__.dagster_internal_init(**{**assets_def.get_attributes_dict(), "node_def": op})


def with_assets(defs: dg.Definitions, assets: list) -> dg.Definitions:
    return copy_record(defs, assets=assets)


def step_key(context: dg.OpExecutionContext) -> str | None:
    try:
        return context.get_step_execution_context().step.key
    except Exception:  # noqa: BLE001
        return None


def asset_graph(context: dg.OpExecutionContext):
    try:
        return context.job_def.asset_layer.asset_graph
    except Exception:  # noqa: BLE001
        return None


def execute_in_code_location(job: dg.JobDefinition, repository_name: str, workspace_file: Path,
                             instance: dg.DagsterInstance, *, run_id: str, run_config: dict, tags: dict[str, str],
                             asset_selection: set[dg.AssetKey] | None = None,
                             step_processes: bool = False) -> dg.JobExecutionResult:
    """Create a run of ``job`` recorded under the workspace's code location, as a run launched from
    the UI is (``remote_job_origin``, hence the ``.dagster/repository`` tag, and ``job_code_origin``),
    then execute it here, in this process, with the job's own executor.

    ``JobDefinition.execute_in_process`` records neither origin: the Overview timeline, which lists
    runs by code location, showed "No runs" after the shopverse command's runs. No public Dagster
    call creates a run with a remote origin without a code server and a run launcher (`dagster job
    launch`), which would take the run out of this process (its progress lines, its exit code).
    ``step_processes``: the run config asks for steps in processes of their own, which load the job
    again from its code location (a reconstructable job, not the in-memory one)."""
    # Imported here: every step process loads this module for the lineage policy, and needs none of these.
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import execute_run
    from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    [origin] = WorkspaceFileTarget(paths=[str(workspace_file)]).create_origins()
    target = origin.loadable_target_origin
    # The workspace names the module only; the code server finds its one Definitions attribute, which
    # definitions.py calls `defs`.
    repository = ReconstructableRepository.for_module(target.module_name, target.attribute or "defs",
                                                      target.working_directory)
    run = instance.create_run_for_job(
        job_def=job, run_id=run_id, run_config=run_config, tags=tags,
        asset_selection=frozenset(asset_selection) if asset_selection is not None else None,
        remote_job_origin=RemoteJobOrigin(RemoteRepositoryOrigin(origin, repository_name), job.name),
        job_code_origin=repository.get_reconstructable_job(job.name).get_python_origin(),
    )
    if step_processes:
        reconstructable = repository.get_reconstructable_job(job.name)
        if asset_selection is not None:
            reconstructable = reconstructable.get_subset(asset_selection=frozenset(asset_selection))
        return execute_run(reconstructable, run, instance)
    return execute_run(InMemoryJob(job), run, instance)


def instance_class_modules(dagster_home: str) -> list[str]:
    """The modules of the classes the instance in ``dagster_home`` is made of (its storages, compute
    log manager, run launcher and coordinator, as its dagster.yaml names them or Dagster's defaults),
    read from the file without opening any of them."""
    ref = InstanceRef.from_dir(dagster_home)
    return sorted({value.module_name for value in ref if hasattr(value, "module_name")})
