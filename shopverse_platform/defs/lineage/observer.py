"""What one asset step tells OpenLineage: gathered from the step context and the asset graph.

`StepLineage` is created by the instrumented compute function (policy.py) when the step's compute
begins. It emits START for each asset the step materializes, watches the results the asset yields
(materialization metadata, check results), and emits COMPLETE, FAIL or ABORT when the compute ends.
Every method swallows its own errors: lineage is never allowed to fail a step.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import dagster as dg
from openlineage.client.event_v2 import RunState

from shopverse_platform.defs.lineage import dagster_internals as internals
from shopverse_platform.lib.lineage import naming
from shopverse_platform.lib.lineage.column_lineage import column_lineage
from shopverse_platform.lib.lineage.run_events import (
    Assertion,
    ErrorInfo,
    JobInfo,
    OutputInfo,
    RunInfo,
    SourceLocation,
    build_event,
)
from shopverse_platform.lib.warehouse.column_docs import column_descriptions

# Materialization metadata entries that list files the asset read (ingestion writes these).
FILE_INPUT_KEYS = ("source_files", "exports", "lineage/input_files")
# Where an asset may state the SQL that builds its table, for column lineage (sql_lineage.py writes
# the first).
SQL_KEYS = ("lineage/sql", "sql")
INTERRUPTS = (dg.DagsterExecutionInterruptedError, KeyboardInterrupt)
MLFLOW_RESOURCE_KEY = "mlflow_tracking"


@dataclass
class _AssetState:
    key: dg.AssetKey
    job: JobInfo
    run: RunInfo
    inputs: list[naming.DatasetName]
    output: naming.DatasetName
    writes_files: bool = False  # a report: its outputs are the files it reports writing
    metadata: dict[str, object] = field(default_factory=dict)
    assertions: list[Assertion] = field(default_factory=list)
    failed_blocking: list[str] = field(default_factory=list)
    done: bool = False


class StepLineage:
    def __init__(self, context: dg.OpExecutionContext, source: SourceLocation | None) -> None:
        self.context = context
        self.assets: list[_AssetState] = []
        self.emitter = None
        try:
            self.resource = context.resources.lineage
            if not self.resource.enabled:
                return
            self.warehouse = context.resources.warehouse
            self.emitter = self.resource.emitter()
            self.assets = [self._asset_state(key, source) for key in sorted(context.selected_asset_keys)]
        except Exception as error:  # noqa: BLE001
            self._warn("could not prepare OpenLineage events", error)
            self.emitter = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for asset in self.assets:
            self._emit(asset, RunState.START)

    def observe(self, item: object) -> None:
        try:
            self._observe(item)
        except Exception as error:  # noqa: BLE001
            self._warn("could not read an asset result for OpenLineage", error)

    def complete(self) -> None:
        for asset in self.assets:
            if asset.failed_blocking:
                # Dagster fails the step after the compute for a failed blocking check; the table
                # was written, so the event still describes it (with the failed assertion).
                self._emit(asset, RunState.FAIL, ErrorInfo(
                    f"blocking asset check(s) failed: {', '.join(asset.failed_blocking)}"
                ), describe=True)
            else:
                self._emit(asset, RunState.COMPLETE)

    def fail(self, error: BaseException) -> None:
        state = RunState.ABORT if isinstance(error, INTERRUPTS) else RunState.FAIL
        message = f"{type(error).__name__}: {error}".rstrip(": ")
        if state == RunState.ABORT:
            message = f"the step was interrupted: the run was cancelled or its process stopped ({message})"
        info = ErrorInfo(
            message=message,
            stack_trace="".join(traceback.format_exception(type(error), error, error.__traceback__)),
        )
        for asset in self.assets:
            self._emit(asset, state, info)

    def abandoned(self) -> None:
        """Dagster closed the compute before it finished: an error while handling its output."""
        for asset in self.assets:
            self._emit(asset, RunState.FAIL, ErrorInfo("Dagster stopped the step while it handled the asset's output"))

    # ------------------------------------------------------------------ gathering facts
    def _asset_state(self, key: dg.AssetKey, source: SourceLocation | None) -> _AssetState:
        context = self.context
        spec = context.assets_def.specs_by_key[key]
        partition_key, partition_range = _partitions(context)
        window = _time_window(context)
        run = RunInfo(
            run_id=naming.run_id(context.run.run_id, key.path, context.retry_number),
            dagster_run_id=context.run.run_id,
            dagster_job=context.job_name,
            step_key=internals.step_key(context),
            asset_key=key.to_user_string(),
            partition_key=partition_key,
            partition_range=partition_range,
            nominal_start=window.start if window else None,
            nominal_end=window.end if window else None,
            retry_number=context.retry_number,
            run_url=self.resource.run_url(context.run.run_id),
            parent_facet=self.resource.parent_facet,
        )
        job = JobInfo(
            namespace=self.resource.settings().namespace,
            name=naming.job_name(key.path),
            description=spec.description,
            source=source,
            sql=_sql_of(spec.metadata),
        )
        upstream = sorted(context.assets_def.asset_deps.get(key, set()))
        return _AssetState(
            key=key, job=job, run=run,
            inputs=[self._dataset_of(parent) for parent in upstream],
            output=self._dataset_of(key),
            writes_files=naming.writes_files(spec.kinds, spec.metadata),
        )

    def _dataset_of(self, key: dg.AssetKey) -> naming.DatasetName:
        """Named from the asset graph, so the writer and every reader agree on the name."""
        kinds: frozenset[str] = frozenset()
        metadata: Mapping[str, object] = {}
        graph = internals.asset_graph(self.context)
        if graph is not None and graph.has(key):
            node = graph.get(key)
            kinds, metadata = frozenset(node.kinds), node.metadata
        return naming.asset_dataset(
            key.path, kinds=kinds, metadata=metadata, warehouse_uri=self.warehouse.uri,
            mlflow_tracking_uri=self._model_registry_uri(),
        )

    def _model_registry_uri(self) -> str | None:
        """The registry models go to. Steps that train or load a model have the `mlflow_tracking`
        resource, so the writer and the readers of a model dataset name it from the same place;
        otherwise the lineage resource's field, then $MLFLOW_REGISTRY_URI / $MLFLOW_TRACKING_URI."""
        mlflow = getattr(self.context.resources, MLFLOW_RESOURCE_KEY, None)
        for method in ("resolved_registry_uri", "resolved_tracking_uri"):
            if mlflow is not None and hasattr(mlflow, method):
                try:
                    return getattr(mlflow, method)()
                except Exception:  # noqa: BLE001
                    break
        return self.resource.resolved_mlflow_tracking_uri()

    def _observe(self, item: object) -> None:
        if isinstance(item, (dg.MaterializeResult, dg.AssetMaterialization)):
            self._merge_metadata(item.asset_key, item.metadata)
            for check in getattr(item, "check_results", None) or []:
                self._record_check(check)
        elif isinstance(item, dg.Output):
            key = self.context.assets_def.keys_by_output_name.get(item.output_name)
            self._merge_metadata(key, item.metadata)
        elif isinstance(item, dg.AssetCheckResult):
            self._record_check(item)

    def _merge_metadata(self, key: object, metadata: Mapping[str, object] | None) -> None:
        for asset in self._assets_for(key):
            asset.metadata.update(metadata or {})

    def _record_check(self, check: dg.AssetCheckResult) -> None:
        for asset in self._assets_for(check.asset_key):
            spec = next(
                (s for s in self.context.assets_def.check_specs if s.key.asset_key == asset.key and s.name == check.check_name),
                None,
            )
            severity = check.severity if check.severity is not None else dg.AssetCheckSeverity.ERROR
            blocking = bool(spec and spec.blocking) and severity == dg.AssetCheckSeverity.ERROR
            asset.assertions.append(Assertion(
                name=check.check_name or "check", success=bool(check.passed),
                description=spec.description if spec else check.description,
                severity="error" if severity == dg.AssetCheckSeverity.ERROR else "warn",
            ))
            if blocking and not check.passed:
                asset.failed_blocking.append(check.check_name or "check")

    def _assets_for(self, key: object) -> list[_AssetState]:
        if key is None:
            return self.assets if len(self.assets) == 1 else []
        key = dg.AssetKey.from_coercible(key)
        return [a for a in self.assets if a.key == key]

    # ------------------------------------------------------------------ emitting
    def _emit(
        self, asset: _AssetState, state: RunState, error: ErrorInfo | None = None, describe: bool = False
    ) -> None:
        if self.emitter is None or asset.done:
            return
        try:
            inputs = list(asset.inputs)
            outputs = [OutputInfo(dataset=asset.output)]
            if state != RunState.START:
                inputs += _file_inputs(asset.metadata)  # known once the asset has reported them
            if state == RunState.COMPLETE or describe:
                outputs = [self._describe_output(asset)]
            if asset.writes_files:
                outputs = [OutputInfo(dataset=d) for d in _file_outputs(asset.metadata)]
            job = asset.job
            sql = _sql_of(asset.metadata) or job.sql
            if sql != job.sql:
                job = JobInfo(job.namespace, job.name, job.description, job.source, sql)
            event = build_event(
                state, job=job, run=asset.run, inputs=inputs, outputs=outputs, error=error, describe_outputs=describe
            )
            outcome = self.emitter.emit(event)
            asset.done = state != RunState.START
            self.context.log.debug(
                f"OpenLineage {state.value} {job.namespace}/{job.name} run {asset.run.run_id}: {outcome}"
            )
        except Exception as error:  # noqa: BLE001
            self._warn(f"could not emit the OpenLineage {state.value} event", error)

    def _describe_output(self, asset: _AssetState) -> OutputInfo:
        """Schema, statistics, version, assertions and column lineage of what the step wrote."""
        metadata = {k: _unwrap(v) for k, v in asset.metadata.items()}
        output = OutputInfo(
            dataset=asset.output,
            row_count=_int(metadata.get("dagster/row_count")),
            assertions=asset.assertions,
            data_version=_data_version(self.context, asset.key),
            lineage_namespace=self.warehouse.uri,
        )
        if asset.output.namespace == self.warehouse.uri:
            self._read_warehouse(asset, output, metadata)
        schema = metadata.get("dagster/column_schema")
        if output.schema is None and isinstance(schema, dg.TableSchema):
            output.schema = [(c.name, c.type) for c in schema.columns]
        if output.schema:
            # The one source (lib/warehouse/columns.toml) that table_metadata also puts in the
            # Dagster column schema; a description the asset gives in its own schema wins.
            in_warehouse = asset.output.namespace == self.warehouse.uri
            output.column_descriptions = {
                **(column_descriptions(asset.output.name) if in_warehouse else {}),
                **({c.name: c.description for c in schema.columns if c.description}
                   if isinstance(schema, dg.TableSchema) else {}),
            }
        return output

    def _read_warehouse(self, asset: _AssetState, output: OutputInfo, metadata: dict) -> None:
        table = asset.output.name.split(".", 1)[-1]
        sql = _sql_of(asset.metadata) or asset.job.sql
        try:
            catalogue = _catalogue_of_run(self.warehouse, self.context.run_id)
            schema = metadata.get("dagster/column_schema")
            if isinstance(schema, dg.TableSchema) and output.row_count is not None:
                # what the step itself reported of its table, read on its own connection after writing
                output.schema = [(c.name, c.type) for c in schema.columns]
                catalogue.learn(f"main.{table}", output.schema)
            else:
                with self.warehouse.connect(read_only=True) as con:
                    columns = catalogue.read(con)
                    output.schema = columns.get(f"main.{table}")
                    if output.row_count is None and output.schema:
                        output.row_count = int(con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
            if sql:
                output.column_lineage = column_lineage(sql, catalogue.column_names_for_step(), target=table).restricted_to(
                    set(catalogue.columns))  # a temp table of the run is no dataset
        except Exception as error:  # noqa: BLE001 - e.g. another process holds the write lock
            self.context.log.debug(f"OpenLineage: warehouse facts for {table} unavailable ({error})")
            if sql and output.column_lineage is None:
                try:
                    output.column_lineage = column_lineage(sql, target=table)
                except Exception:  # noqa: BLE001
                    pass

    def _warn(self, what: str, error: BaseException) -> None:
        try:
            self.context.log.warning(f"{what}: {type(error).__name__}: {error}")
        except Exception:  # noqa: BLE001
            pass


# ---------------------------------------------------------------------- helpers
def _partitions(context: dg.OpExecutionContext) -> tuple[str | None, tuple[str, str] | None]:
    if not (context.has_partition_key or context.has_partition_key_range):
        return None, None
    key_range = context.partition_key_range
    if key_range.start == key_range.end:
        return key_range.start, None
    return None, (key_range.start, key_range.end)


def _time_window(context: dg.OpExecutionContext):
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    try:
        return context.partition_time_window
    except Exception:  # noqa: BLE001 - not time-partitioned
        return None


def _data_version(context: dg.OpExecutionContext, key: dg.AssetKey) -> str | None:
    """Dagster's data version of this run's materialization of ``key`` (the last partition's in a
    range): the asset's newest materialization, looked up by its key (one indexed read; reading the
    run's materializations so far grew with steps × partitions, issue 14), if this run wrote it."""
    try:
        records = context.instance.fetch_materializations(key, limit=1).records
    except Exception:  # noqa: BLE001
        return None
    if not records or records[0].run_id != context.run.run_id:
        return None
    materialization = records[0].event_log_entry.asset_materialization
    return materialization.tags.get("dagster/data_version") if materialization and materialization.tags else None


def _file_inputs(metadata: Mapping[str, object]) -> list[naming.DatasetName]:
    files: list[naming.DatasetName] = []
    for entry in FILE_INPUT_KEYS:
        value = _unwrap(metadata.get(entry))
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)):
            files.extend(naming.file_dataset(path) for path in value if isinstance(path, str) and path)
    return files


def _file_outputs(metadata: Mapping[str, object]) -> list[naming.DatasetName]:
    """The files a file-writing asset (a report) names in its materialization metadata as paths."""
    return sorted({
        naming.file_dataset(value.value) for value in metadata.values()
        if isinstance(value, dg.PathMetadataValue) and value.value
    })


def _sql_of(metadata: Mapping[str, object] | None) -> str | None:
    for entry in SQL_KEYS:
        value = _unwrap((metadata or {}).get(entry))
        if isinstance(value, str) and value.strip():
            return value.strip().removeprefix("```sql").removesuffix("```").strip()
    return None


def _unwrap(value: object) -> object:
    return value.value if isinstance(value, dg.MetadataValue) else value


def _int(value: object) -> int | None:
    try:
        return int(value) if value is not None else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


class _RunCatalogue:
    """The warehouse's tables and columns, as column lineage needs them, for one run in this
    process: read on the first step that needs them, then kept up to date by each step's own
    column schema (its writer's view, read on the step's connection after writing), and read again
    when a statement names a table it does not know (one an earlier step created). Each step used
    to open a connection and read the whole catalogue: ~25 ms a step, 0.6-0.7 s of a daily run."""

    def __init__(self, warehouse, run_id: str) -> None:
        self.warehouse, self.run_id = warehouse, run_id
        self.columns: dict[str, list[tuple[str, str]]] = {}
        self.loaded = False

    def read(self, con) -> dict[str, list[tuple[str, str]]]:
        self.columns, self.loaded = _columns(con), True
        return self.columns

    def learn(self, table: str, schema: list[tuple[str, str]]) -> None:
        self.columns[table] = list(schema)

    def column_names_for_step(self) -> Callable[[str], list[str] | None]:
        """Column names by table for one step's lineage; a table not known reads the catalogue again,
        once per step (a statement's temp tables are never in it)."""
        refreshed = False

        def column_names(table: str) -> list[str] | None:
            nonlocal refreshed
            if table not in self.columns and not refreshed:
                refreshed = True
                with self.warehouse.connect(read_only=True) as con:
                    self.read(con)
            return [name for name, _ in self.columns[table]] if table in self.columns else None

        return column_names


_CATALOGUE: list[_RunCatalogue] = []  # the current run's, in this process (one at a time)


def _catalogue_of_run(warehouse, run_id: str) -> _RunCatalogue:
    if not _CATALOGUE or _CATALOGUE[0].run_id != run_id or _CATALOGUE[0].warehouse.uri != warehouse.uri:
        _CATALOGUE[:] = [_RunCatalogue(warehouse, run_id)]
    catalogue = _CATALOGUE[0]
    if not catalogue.loaded:
        with warehouse.connect(read_only=True) as con:
            catalogue.read(con)
    return catalogue


def _columns(con) -> dict[str, list[tuple[str, str]]]:
    columns: dict[str, list[tuple[str, str]]] = {}
    for table, name, dtype in con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog IN (current_database(), 'temp') AND table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall():
        columns.setdefault(f"main.{table}", []).append((name, dtype))
    return columns
