"""Building OpenLineage run events from plain facts about one asset materialization.

Nothing here knows Dagster: `defs/lineage` gathers the facts (job, run, inputs, output) from the
step and the asset graph, and these functions turn them into `openlineage.client.event_v2`
events with the standard facets, under the canonical facet keys of the OpenLineage spec.
"""

from __future__ import annotations

import importlib.metadata
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar

import attr
from openlineage.client.event_v2 import (
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.facet_v2 import (
    RunFacet,
    column_lineage_dataset,
    data_quality_assertions_dataset,
    dataset_version_dataset,
    datasource_dataset,
    documentation_job,
    error_message_run,
    job_type_job,
    nominal_time_run,
    output_statistics_output_dataset,
    parent_run,
    processing_engine_run,
    schema_dataset,
    source_code_location_job,
    sql_job,
)

from shopverse_platform.lib.lineage.column_lineage import IDENTITY, SqlLineage
from shopverse_platform.lib.lineage.naming import DatasetName

# Who produced the events (OpenLineage wants a URI; a URN names this integration without
# pretending a web page exists for it).
PRODUCER = "urn:shopverse:shopverse-platform:lineage"
SCHEMA_DIR = Path(__file__).parent / "schemas"
DAGSTER_FACET_SCHEMA = "urn:shopverse:openlineage:facets:DagsterRunFacet:1-0-0"
_DIRECT_DESCRIPTIONS = {
    IDENTITY: "copied unchanged",
    "TRANSFORMATION": "computed from the input column(s)",
    "AGGREGATION": "aggregated from the input column(s)",
}


@attr.define
class DagsterRunFacet(RunFacet):
    """The Dagster run, job and step that materialized the asset (schema in schemas/)."""

    runId: str  # noqa: N815
    jobName: str  # noqa: N815
    stepKey: str | None = attr.field(default=None)  # noqa: N815
    assetKey: str | None = attr.field(default=None)  # noqa: N815
    partitionKey: str | None = attr.field(default=None)  # noqa: N815
    partitionRangeStart: str | None = attr.field(default=None)  # noqa: N815
    partitionRangeEnd: str | None = attr.field(default=None)  # noqa: N815
    retryNumber: int = attr.field(default=0)  # noqa: N815
    runUrl: str | None = attr.field(default=None)  # noqa: N815
    _additional_skip_redact: ClassVar[list[str]] = ["runId", "jobName", "stepKey", "assetKey"]

    @staticmethod
    def _get_schema() -> str:
        return f"{DAGSTER_FACET_SCHEMA}#/$defs/DagsterRunFacet"


@dataclass(frozen=True)
class SourceLocation:
    path: str  # absolute path of the file defining the asset
    line: int | None = None
    git_sha: str | None = None
    repo_url: str | None = None


@dataclass(frozen=True)
class JobInfo:
    namespace: str
    name: str
    description: str | None = None
    source: SourceLocation | None = None
    sql: str | None = None


@dataclass(frozen=True)
class RunInfo:
    run_id: str  # the OpenLineage runId
    dagster_run_id: str
    dagster_job: str
    step_key: str | None = None
    asset_key: str | None = None
    partition_key: str | None = None
    partition_range: tuple[str, str] | None = None
    nominal_start: datetime | None = None
    nominal_end: datetime | None = None
    retry_number: int = 0
    run_url: str | None = None
    parent_facet: bool = False  # see docs/lineage.md: Marquez renames child jobs under a parent


@dataclass(frozen=True)
class Assertion:
    name: str
    success: bool
    description: str | None = None
    column: str | None = None
    severity: str | None = None  # "error" for blocking checks, "warn" otherwise


@dataclass
class OutputInfo:
    dataset: DatasetName
    schema: list[tuple[str, str]] | None = None
    column_descriptions: dict[str, str] = field(default_factory=dict)  # column -> description, for the schema
    row_count: int | None = None
    size_bytes: int | None = None
    data_version: str | None = None
    assertions: list[Assertion] = field(default_factory=list)
    column_lineage: SqlLineage | None = None
    lineage_namespace: str | None = None  # namespace of the tables named in column_lineage


@dataclass(frozen=True)
class ErrorInfo:
    message: str
    stack_trace: str | None = None


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def build_event(
    state: RunState,
    *,
    job: JobInfo,
    run: RunInfo,
    inputs: list[DatasetName],
    outputs: list[OutputInfo],
    error: ErrorInfo | None = None,
    event_time: str | None = None,
    describe_outputs: bool = False,
) -> RunEvent:
    """One START / COMPLETE / FAIL / ABORT event for an asset's run.

    Outputs appear only when they are described: on COMPLETE, or with ``describe_outputs`` (a table
    written, then a blocking check failed). Marquez makes a new dataset version for every output it
    is sent and, when a run ends, may leave the dataset's current version on any of them, so an
    output named without its schema at START or FAIL would blank the dataset's schema in Marquez.
    """
    described = describe_outputs or state == RunState.COMPLETE
    return RunEvent(
        eventType=state,
        eventTime=event_time or utc_now(),
        producer=PRODUCER,
        run=Run(runId=run.run_id, facets=_run_facets(run, job.namespace, error)),
        job=Job(namespace=job.namespace, name=job.name, facets=_job_facets(job)),
        inputs=[InputDataset(namespace=d.namespace, name=d.name) for d in sorted(set(inputs))],
        outputs=[_output_dataset(o) for o in outputs] if described else [],
    )


def _run_facets(run: RunInfo, namespace: str, error: ErrorInfo | None) -> dict[str, RunFacet]:
    facets: dict[str, RunFacet] = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=_version("dagster"), name="Dagster", openlineageAdapterVersion=_version("openlineage-python"),
            producer=PRODUCER,
        ),
        "dagster": DagsterRunFacet(
            runId=run.dagster_run_id, jobName=run.dagster_job, stepKey=run.step_key, assetKey=run.asset_key,
            partitionKey=run.partition_key,
            partitionRangeStart=run.partition_range[0] if run.partition_range else None,
            partitionRangeEnd=run.partition_range[1] if run.partition_range else None,
            retryNumber=run.retry_number, runUrl=run.run_url, producer=PRODUCER,
        ),
    }
    if run.nominal_start:
        facets["nominalTime"] = nominal_time_run.NominalTimeRunFacet(
            nominalStartTime=_iso(run.nominal_start),
            nominalEndTime=_iso(run.nominal_end) if run.nominal_end else None,
            producer=PRODUCER,
        )
    if run.parent_facet:
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run.dagster_run_id),
            job=parent_run.Job(namespace=namespace, name=run.dagster_job),
            producer=PRODUCER,
        )
    if error:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error.message, programmingLanguage="python", stackTrace=error.stack_trace, producer=PRODUCER
        )
    return facets


def _job_facets(job: JobInfo) -> dict[str, object]:
    facets: dict[str, object] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="DAGSTER", jobType="ASSET", producer=PRODUCER
        ),
    }
    if job.description:
        facets["documentation"] = documentation_job.DocumentationJobFacet(
            description=job.description, contentType="text/markdown", producer=PRODUCER
        )
    if job.source:
        anchor = f"#L{job.source.line}" if job.source.line else ""
        facets["sourceCodeLocation"] = source_code_location_job.SourceCodeLocationJobFacet(
            type="git" if job.source.git_sha else "file",
            url=f"{Path(job.source.path).as_uri()}{anchor}",
            repoUrl=job.source.repo_url, path=job.source.path, version=job.source.git_sha, producer=PRODUCER,
        )
    if job.sql:
        facets["sql"] = sql_job.SQLJobFacet(query=job.sql, dialect="duckdb", producer=PRODUCER)
    return facets


def _output_dataset(output: OutputInfo) -> OutputDataset:
    facets: dict[str, object] = {
        "dataSource": datasource_dataset.DatasourceDatasetFacet(
            name=output.dataset.namespace, uri=output.dataset.namespace, producer=PRODUCER
        ),
    }
    if output.schema:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(
                    name=name, type=dtype, description=output.column_descriptions.get(name), ordinal_position=position
                )
                for position, (name, dtype) in enumerate(output.schema, start=1)
            ],
            producer=PRODUCER,
        )
    if output.data_version:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=output.data_version, producer=PRODUCER
        )
    if output.assertions:
        facets["dataQualityAssertions"] = data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
            assertions=[
                data_quality_assertions_dataset.Assertion(
                    assertion=a.name, success=a.success, column=a.column, severity=a.severity, name=a.name,
                    description=a.description,
                )
                for a in output.assertions
            ],
            producer=PRODUCER,
        )
    if output.column_lineage and output.column_lineage.columns:
        facets["columnLineage"] = _column_lineage_facet(output.column_lineage, output.lineage_namespace or "")
    output_facets = {}
    if output.row_count is not None or output.size_bytes is not None:
        output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=output.row_count, size=output.size_bytes, producer=PRODUCER
        )
    return OutputDataset(
        namespace=output.dataset.namespace, name=output.dataset.name, facets=facets, outputFacets=output_facets
    )


def _column_lineage_facet(lineage: SqlLineage, namespace: str) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    cl = column_lineage_dataset

    def field_of(source, kind: str) -> cl.InputField:
        return cl.InputField(
            namespace=namespace, name=source.table, field=source.column,
            transformations=[cl.Transformation(
                type=kind, subtype=source.subtype,
                description=_DIRECT_DESCRIPTIONS.get(source.subtype) if kind == "DIRECT" else None,
            )],
        )

    return cl.ColumnLineageDatasetFacet(
        fields={
            column: cl.Fields(inputFields=[field_of(s, "DIRECT") for s in sources])
            for column, sources in lineage.columns.items()
        },
        dataset=[field_of(s, "INDIRECT") for s in lineage.indirect],
        producer=PRODUCER,
    )


def dagster_facet_schema() -> dict:
    return json.loads((SCHEMA_DIR / "DagsterRunFacet.json").read_text())


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
