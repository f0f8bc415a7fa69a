"""Naming rules and event building: names, facets, and validity against the OpenLineage schema."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from jsonschema import ValidationError
from openlineage.client.event_v2 import RunState
from openlineage.client.serde import Serde

from shopverse_platform.lib.lineage import naming
from shopverse_platform.lib.lineage.column_lineage import SourceColumn, SqlLineage
from shopverse_platform.lib.lineage.run_events import (
    Assertion,
    ErrorInfo,
    JobInfo,
    OutputInfo,
    RunInfo,
    SourceLocation,
    build_event,
)
from shopverse_platform_tests.lineage.support import validate_event

WAREHOUSE = "duckdb://shopverse"


@pytest.mark.parametrize(
    ("path", "kinds", "metadata", "expected"),
    [
        (["clean_events"], {"duckdb", "sql"}, {}, (WAREHOUSE, "main.clean_events")),
        (["metrics", "daily_sales"], {"duckdb"}, {}, (WAREHOUSE, "main.daily_sales")),
        (["churn"], {"mlflow", "scikit-learn"}, {}, ("mlflow://127.0.0.1:5500", "churn")),
        (["churn_scores"], {"duckdb", "mlflow"}, {}, (WAREHOUSE, "main.churn_scores")),
        (["daily_report"], {"html"}, {"lineage/namespace": "file://reports", "lineage/name": "/srv/daily.html"},
         ("file://reports", "/srv/daily.html")),
    ],
)
def test_asset_dataset_names(path, kinds, metadata, expected):
    name = naming.asset_dataset(path, kinds=kinds, metadata=metadata, warehouse_uri=WAREHOUSE,
                                mlflow_tracking_uri="http://127.0.0.1:5500")
    assert (name.namespace, name.name) == expected


def test_mlflow_namespaces_and_files():
    assert naming.mlflow_namespace(None) == "mlflow://local"
    assert naming.mlflow_namespace("sqlite:////srv/data/mlflow/mlflow.db") == "mlflow://localhost/srv/data/mlflow/mlflow.db"
    assert naming.mlflow_namespace("file:///srv/mlruns") == "mlflow://localhost/srv/mlruns"
    assert naming.mlflow_namespace("https://mlflow.example.com/") == "mlflow://mlflow.example.com"
    assert naming.mlflow_namespace("databricks://prod") == "mlflow://databricks-prod"
    assert naming.file_dataset("/data/landing/a.ndjson", host="h1") == naming.DatasetName("file://h1", "/data/landing/a.ndjson")
    assert naming.DatasetName("file://h1", "/a").node_id == "dataset:file://h1:/a"


def test_run_ids_are_stable_per_run_asset_and_attempt():
    dagster_run = str(uuid.uuid4())
    first = naming.run_id(dagster_run, ["clean_events"])
    assert first == naming.run_id(dagster_run, ["clean_events"])  # START and COMPLETE pair up
    assert uuid.UUID(first)
    assert first != naming.run_id(dagster_run, ["sessions"])
    assert first != naming.run_id(dagster_run, ["clean_events"], attempt=1)
    assert first != naming.run_id(str(uuid.uuid4()), ["clean_events"])  # a rerun is a new run


def _facts(**run_overrides):
    dagster_run = str(uuid.uuid4())
    job = JobInfo(
        namespace="shopverse", name="daily_sales", description="Sales per UTC day.",
        source=SourceLocation(path="/srv/shopverse/defs/metrics/sales.py", line=16, git_sha="abc123"),
        sql="SELECT order_date AS sales_date, sum(amount) AS revenue FROM orders GROUP BY 1",
    )
    run = RunInfo(
        run_id=naming.run_id(dagster_run, ["daily_sales"]), dagster_run_id=dagster_run, dagster_job="__ASSET_JOB",
        step_key="daily_sales", asset_key="daily_sales", partition_key="2024-03-05",
        nominal_start=datetime(2024, 3, 5, tzinfo=timezone.utc), nominal_end=datetime(2024, 3, 6, tzinfo=timezone.utc),
        **run_overrides,
    )
    output = OutputInfo(
        dataset=naming.DatasetName(WAREHOUSE, "main.daily_sales"),
        schema=[("sales_date", "DATE"), ("revenue", "DECIMAL(18,2)")],
        row_count=1, size_bytes=262144, data_version="v1",
        assertions=[Assertion("daily_sales_every_day_present", True, "One row per day.", severity="error")],
        column_lineage=SqlLineage(
            columns={"sales_date": [SourceColumn("main.orders", "order_date")],
                     "revenue": [SourceColumn("main.orders", "amount", "AGGREGATION")]},
            indirect=[SourceColumn("main.orders", "order_date", "GROUP_BY")],
        ),
        lineage_namespace=WAREHOUSE,
    )
    inputs = [naming.DatasetName(WAREHOUSE, "main.orders")]
    return job, run, inputs, output


def test_complete_event_carries_every_facet_and_validates():
    job, run, inputs, output = _facts()
    event = Serde.to_dict(build_event(RunState.COMPLETE, job=job, run=run, inputs=inputs, outputs=[output]))
    validate_event(event)
    assert event["eventType"] == "COMPLETE"
    assert (event["job"]["namespace"], event["job"]["name"]) == ("shopverse", "daily_sales")
    assert set(event["job"]["facets"]) == {"jobType", "documentation", "sourceCodeLocation", "sql"}
    assert event["job"]["facets"]["jobType"] | {"_producer": None, "_schemaURL": None} == {
        "processingType": "BATCH", "integration": "DAGSTER", "jobType": "ASSET", "_producer": None, "_schemaURL": None}
    assert event["job"]["facets"]["sourceCodeLocation"]["url"] == "file:///srv/shopverse/defs/metrics/sales.py#L16"
    run_facets = event["run"]["facets"]
    assert run_facets["nominalTime"]["nominalStartTime"] == "2024-03-05T00:00:00Z"
    assert run_facets["nominalTime"]["nominalEndTime"] == "2024-03-06T00:00:00Z"
    assert run_facets["dagster"]["runId"] == run.dagster_run_id and run_facets["dagster"]["jobName"] == "__ASSET_JOB"
    assert run_facets["processing_engine"]["name"] == "Dagster"
    assert "parent" not in run_facets and "errorMessage" not in run_facets
    assert event["inputs"] == [{"namespace": WAREHOUSE, "name": "main.orders", "facets": {}, "inputFacets": {}}]
    written = event["outputs"][0]
    assert [f["name"] for f in written["facets"]["schema"]["fields"]] == ["sales_date", "revenue"]
    assert written["facets"]["version"]["datasetVersion"] == "v1"
    assert written["facets"]["dataSource"]["uri"] == WAREHOUSE
    assert written["facets"]["dataQualityAssertions"]["assertions"][0]["success"] is True
    assert written["outputFacets"]["outputStatistics"] | {"_producer": None, "_schemaURL": None} == {
        "rowCount": 1, "size": 262144, "_producer": None, "_schemaURL": None}
    revenue = written["facets"]["columnLineage"]["fields"]["revenue"]["inputFields"][0]
    assert (revenue["namespace"], revenue["name"], revenue["field"]) == (WAREHOUSE, "main.orders", "amount")
    assert revenue["transformations"][0]["type"] == "DIRECT" and revenue["transformations"][0]["subtype"] == "AGGREGATION"
    assert written["facets"]["columnLineage"]["dataset"][0]["transformations"][0]["type"] == "INDIRECT"


def test_start_fail_and_abort_carry_inputs_but_no_undescribed_output():
    job, run, inputs, output = _facts()
    start = Serde.to_dict(build_event(RunState.START, job=job, run=run, inputs=inputs, outputs=[output]))
    validate_event(start)
    assert start["outputs"] == []  # an output without its schema would blank it in Marquez
    assert [i["name"] for i in start["inputs"]] == ["main.orders"]
    fail = Serde.to_dict(build_event(
        RunState.FAIL, job=job, run=run, inputs=inputs, outputs=[output],
        error=ErrorInfo("ValueError: boom", "Traceback (most recent call last):\n  ...\nValueError: boom\n"),
    ))
    validate_event(fail)
    assert fail["run"]["facets"]["errorMessage"]["message"] == "ValueError: boom"
    assert fail["run"]["facets"]["errorMessage"]["programmingLanguage"] == "python"
    assert fail["run"]["runId"] == start["run"]["runId"] and fail["outputs"] == []
    described = Serde.to_dict(build_event(RunState.FAIL, job=job, run=run, inputs=inputs, outputs=[output],
                                          error=ErrorInfo("blocking asset check(s) failed"), describe_outputs=True))
    assert described["outputs"][0]["facets"]["schema"]["fields"]


def test_parent_facet_is_opt_in_and_valid():
    job, run, inputs, output = _facts(parent_facet=True)
    event = Serde.to_dict(build_event(RunState.START, job=job, run=run, inputs=inputs, outputs=[output]))
    validate_event(event)
    parent = event["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == run.dagster_run_id and parent["job"]["name"] == "__ASSET_JOB"


def test_the_validator_rejects_a_broken_event():
    job, run, inputs, output = _facts()
    event = Serde.to_dict(build_event(RunState.COMPLETE, job=job, run=run, inputs=inputs, outputs=[output]))
    event["outputs"][0]["facets"]["schema"]["fields"][0]["name"] = 7
    with pytest.raises(ValidationError):
        validate_event(event)
    del event["run"]["runId"]
    with pytest.raises(ValidationError):
        validate_event(event)
