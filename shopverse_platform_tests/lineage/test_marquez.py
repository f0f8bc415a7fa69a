"""The platform's lineage as a real Marquez sees it, asserted through Marquez's own API.

One module-scoped materialization of the whole asset graph (a small simulated landing zone plus an
order export, over one full week), a rerun of one partition, a deliberately failing asset, and a
run whose events went through the buffer and `replay`. Everything goes to one Marquez and a job
namespace unique to this session.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections import deque
from datetime import date
from urllib.parse import quote

import dagster as dg
import duckdb
import pytest
import requests

from shopverse_platform.cli.backfill import complete_weeks
from shopverse_platform.definitions import defs as platform_defs
from shopverse_platform.defs.lineage.policy import with_openlineage
from shopverse_platform.defs.lineage.resources import OpenLineageResource
from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform.lib.automation.alerts import RANGE_END_TAG, RANGE_START_TAG
from shopverse_platform.lib.lineage.emitter import LineageEmitter, LineageSettings
from shopverse_platform.lib.simulator.traffic import simulate
from shopverse_platform_tests.conftest import free_port
from shopverse_platform_tests.lineage import location
from shopverse_platform_tests.lineage.support import CONTRACT, normalise_edges

pytestmark = pytest.mark.services

FIRST_DAY, LAST_DAY = date(2024, 3, 4), date(2024, 3, 11)  # Monday to Monday: one complete week
EXPORT_LINES = [  # UCI Online Retail layout, invoice days inside the window
    ("536365", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "6", "2024-03-05 08:26:00", "2.55", "17850", "United Kingdom"),
    ("536366", "22633", "HAND WARMER UNION JACK", "6", "2024-03-06 08:28:00", "1.85", "17850", "United Kingdom"),
    ("C536379", "D", "Discount", "-1", "2024-03-06 09:41:00", "27.50", "14527", "United Kingdom"),
]


@dg.asset(deps=["daily_sales"], kinds={"duckdb"})
def deliberately_failing(context) -> None:
    """Reads the daily sales, then fails: Marquez must show a FAILED run with this error."""
    raise RuntimeError("deliberately failing asset: the lineage integration test")


class Marquez:
    def __init__(self, url: str) -> None:
        self.api = f"{url}/api/v1"

    def get(self, path: str, **params) -> dict:
        response = requests.get(f"{self.api}{path}", params=params, timeout=60)
        response.raise_for_status()
        return response.json()

    def jobs(self, namespace: str) -> dict[str, dict]:
        return {j["name"]: j for j in self.get(f"/namespaces/{quote(namespace, safe='')}/jobs", limit=500)["jobs"]}

    def runs(self, namespace: str, job: str) -> list[dict]:
        return self.get(f"/namespaces/{quote(namespace, safe='')}/jobs/{quote(job, safe='')}/runs", limit=100)["runs"]

    def dataset(self, namespace: str, name: str) -> dict:
        return self.get(f"/namespaces/{quote(namespace, safe='')}/datasets/{quote(name, safe='')}")

    def upstream(self, node_id: str) -> set[str]:
        """Every node upstream of ``node_id`` in Marquez's lineage graph (edges followed backwards)."""
        graph = {n["id"]: n for n in self.get("/lineage", nodeId=node_id, depth=60)["graph"]}
        seen, queue = {node_id}, deque([node_id])
        while queue:
            for edge in graph.get(queue.popleft(), {}).get("inEdges", []):
                if edge["origin"] not in seen:
                    seen.add(edge["origin"])
                    queue.append(edge["origin"])
        return seen


def _stages(definitions: dg.Definitions) -> list[tuple[set[dg.AssetKey], dict[str, str]]]:
    """Daily assets and what needs no week over the range, then the week, then what follows it."""
    graph = definitions.resolve_asset_graph()
    keys = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    kind = {k: type(graph.get(k).partitions_def).__name__ for k in keys}
    weekly = {k for k in keys if kind[k] == "WeeklyPartitionsDefinition"}
    after_weekly = {k for k in keys if kind[k] == "NoneType" and graph.get_ancestor_asset_keys(k) & weekly}
    first = set(keys) - weekly - after_weekly
    weeks = complete_weeks(FIRST_DAY, LAST_DAY)
    assert weeks, "the window must hold a complete week"
    return [
        (first, {RANGE_START_TAG: FIRST_DAY.isoformat(), RANGE_END_TAG: LAST_DAY.isoformat()}),
        (weekly, {RANGE_START_TAG: weeks[0].isoformat(), RANGE_END_TAG: weeks[1].isoformat()}),
        (after_weekly, {}),
    ]


@pytest.fixture(scope="module")
def built(marquez_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("marquez_graph")
    namespace = f"shopverse_it_{uuid.uuid4().hex[:8]}"
    landing = root / "data" / "landing"
    simulate(landing, users=120, days=(LAST_DAY - FIRST_DAY).days + 1, start=FIRST_DAY, seed=11, gzip=False,
             layout="ndjson", faults=0.002, progress=False)
    export = landing / "orders" / "export-2024-03.csv"
    export.parent.mkdir(parents=True, exist_ok=True)
    export.write_text("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
                      + "".join(",".join(line) + "\n" for line in EXPORT_LINES))
    warehouse = Warehouse(path=str(root / "data" / "warehouse" / "shopverse.duckdb"))
    lineage = OpenLineageResource(url=marquez_url, namespace=namespace, directory=str(root / "lineage"))
    resources = {"warehouse": warehouse, "landing_zone": LandingZone(path=str(landing)), "lineage": lineage}
    definitions = platform_defs()
    job = definitions.resolve_implicit_global_asset_job_def()
    outcomes = []
    (root / "dagster_home").mkdir()
    with pytest.MonkeyPatch.context() as env, dg.instance_for_test(temp_dir=str(root / "dagster_home")) as instance:
        env.setenv("SHOPVERSE_DATA_DIR", str(root / "data"))  # MLflow's local store and reports go here
        for name in ("MLFLOW_TRACKING_URI", "OPENLINEAGE_URL", "OPENLINEAGE_NAMESPACE"):
            env.delenv(name, raising=False)
        for selection, tags in _stages(definitions):
            if selection:
                result = job.get_subset(asset_selection=selection).execute_in_process(
                    instance=instance, tags=tags, resources=resources, raise_on_error=False)
                outcomes.append(result.success)
        rerun = job.get_subset(asset_selection={dg.AssetKey("raw_orders")}).execute_in_process(
            instance=instance, partition_key="2024-03-05", resources=resources)
        failing = with_openlineage(dg.Definitions(assets=[deliberately_failing], resources=resources))
        failed = dg.materialize(failing.assets, resources=failing.resources, instance=instance, raise_on_error=False)
        # Marquez "down" (a closed port): the events wait in the buffer; `replay` sends them later.
        closed = f"http://127.0.0.1:{free_port()}"
        env.setenv("SHOPVERSE_DATA_DIR", str(root / "location_data"))
        offline = OpenLineageResource(url=closed, namespace=namespace, directory=str(root / "offline"))
        selected = [a for a in location.defs.assets
                    if a.key.to_user_string() in ("lineage_orders", "lineage_revenue", "lineage_model")]
        offline_run = dg.materialize(selected, resources={"warehouse": Warehouse(), "lineage": offline}, instance=instance)
    replayer = LineageEmitter(LineageSettings.resolve(url=marquez_url, directory=root / "offline"))
    return {
        "namespace": namespace, "warehouse": warehouse, "marquez": Marquez(marquez_url),
        "assets": {k.to_user_string() for k in definitions.resolve_asset_graph().get_all_asset_keys()
                   if definitions.resolve_asset_graph().get(k).is_materializable},
        "stages_ok": outcomes, "rerun": rerun, "failed": failed, "offline_run": offline_run,
        "replays": [replayer.replay(), replayer.replay()], "root": root, "export": export,
    }


def _table(built: dict, name: str) -> str:
    return f"dataset:{built['warehouse'].uri}:main.{name}"


def test_every_asset_is_one_job_with_a_completed_run(built):
    assert built["stages_ok"] and all(built["stages_ok"])
    jobs = built["marquez"].jobs(built["namespace"])
    assert built["assets"] <= set(jobs), built["assets"] - set(jobs)
    for asset in built["assets"]:
        assert jobs[asset]["latestRun"]["state"] == "COMPLETED", asset
        assert jobs[asset]["type"] == "BATCH" and jobs[asset]["description"]
    assert not [name for name in jobs if "." in name]  # no per-launcher duplicates like __ASSET_JOB.x


def test_lineage_from_a_metric_reaches_back_to_the_landing_files(built):
    marquez, ns = built["marquez"], built["namespace"]
    sales = marquez.upstream(_table(built, "daily_sales"))
    for job in ("orders", "order_lines", "clean_order_lines", "raw_orders"):
        assert f"job:{ns}:{job}" in sales
    assert {_table(built, t) for t in ("orders", "order_lines", "clean_order_lines", "raw_orders")} <= sales
    assert f"dataset:file://{socket.gethostname()}:{built['export']}" in sales
    traffic = marquez.upstream(_table(built, "daily_traffic"))
    assert {_table(built, "clean_events"), _table(built, "raw_events")} <= traffic
    landing_events = {n for n in traffic if n.startswith("dataset:file://") and "/landing/events/" in n}
    assert len(landing_events) >= 8  # at least one batch file per day of the window


def test_lineage_from_a_model_reaches_back_to_the_landing_files(built):
    marquez, ns = built["marquez"], built["namespace"]
    # the ML layer's default registry: the local MLflow store under the data directory
    model = f"dataset:mlflow://localhost{built['root'] / 'data' / 'mlflow' / 'mlflow.db'}:churn"
    upstream = marquez.upstream(model)
    assert f"job:{ns}:churn" in upstream and _table(built, "churn_training_set") in upstream
    assert {_table(built, "clean_events"), _table(built, "raw_events")} <= upstream
    assert any(n.startswith("dataset:file://") for n in upstream)
    scores = marquez.upstream(_table(built, "churn_scores"))
    assert model in scores  # the scoring job reads the model dataset the training job wrote


def test_schema_fields_are_the_warehouse_columns(built):
    con = duckdb.connect(str(built["warehouse"].resolved_path()), read_only=True)
    try:
        for table in ("daily_sales", "clean_events", "raw_orders"):
            expected = [(name, dtype) for name, dtype, *_ in con.execute(f"DESCRIBE {table}").fetchall()]
            dataset = built["marquez"].dataset(built["warehouse"].uri, f"main.{table}")
            assert {f["name"]: f["type"] for f in dataset["fields"]} == dict(expected), table  # Marquez reorders
            assert "dataQualityAssertions" in dataset["facets"] or table == "raw_orders"
    finally:
        con.close()


def test_a_failing_asset_shows_a_failed_run_with_its_error(built):
    assert not built["failed"].success
    [run] = built["marquez"].runs(built["namespace"], "deliberately_failing")
    assert run["state"] == "FAILED"
    error = run["facets"]["errorMessage"]
    assert error["message"] == "RuntimeError: deliberately failing asset: the lineage integration test"
    assert "test_marquez.py" in error["stackTrace"]


def test_a_rerun_of_a_partition_adds_a_run_not_a_job(built):
    marquez, ns = built["marquez"], built["namespace"]
    runs = marquez.runs(ns, "raw_orders")
    assert len(runs) == 2 and {r["state"] for r in runs} == {"COMPLETED"}
    rerun = next(r for r in runs if r["facets"]["dagster"]["runId"] == built["rerun"].run_id)
    # Marquez 0.51 keeps the nominal time as a run facet (its nominalStartTime column stays empty)
    nominal = rerun["facets"]["nominalTime"]
    assert (nominal["nominalStartTime"], nominal["nominalEndTime"]) == ("2024-03-05T00:00:00Z", "2024-03-06T00:00:00Z")
    assert [name for name in marquez.jobs(ns) if name.endswith("raw_orders")] == ["raw_orders"]


def test_column_lineage_of_a_table_built_by_sql(built):
    marquez = built["marquez"]
    namespace = "duckdb://shopverse"  # the warehouse's name (location_data/warehouse/shopverse.duckdb)
    node = f"datasetField:{namespace}:main.lineage_revenue:revenue"
    graph = {n["id"]: n for n in marquez.get("/column-lineage", nodeId=node, depth=10)["graph"]}
    # Marquez lists a field's inEdges from the field itself to its source (origin == the field)
    sources = {e["destination"] if e["origin"] == node else e["origin"] for e in graph[node]["inEdges"]}
    assert sources == {f"datasetField:{namespace}:main.lineage_orders:amount"}


def test_buffered_events_reach_marquez_once_through_replay(built):
    first, second = built["replays"]
    assert (first.sent, first.remaining) == (6, 0)  # START and COMPLETE of three assets
    assert (second.sent, second.remaining) == (0, 0)
    runs = built["marquez"].runs(built["namespace"], "lineage_revenue")
    assert [r["state"] for r in runs] == ["COMPLETED"]
    assert runs[0]["facets"]["dagster"]["runId"] == built["offline_run"].run_id
    ledger = [json.loads(line) for line in (built["root"] / "offline" / "sent.ndjson").read_text().splitlines()]
    assert len(ledger) == 6 == len({(r["runId"], r["eventType"], r["eventTime"]) for r in ledger})


def test_marquez_draws_the_recorded_contract_graph(built):
    """The graph Marquez built from the location's events equals the recorded contract, which the
    fast suite checks against freshly emitted events when no Marquez is available."""
    root = built["root"] / "location_data"
    warehouse = "duckdb://shopverse"
    graph = built["marquez"].get("/lineage", nodeId=f"dataset:{warehouse}:main.lineage_revenue", depth=20)["graph"]
    edges = {(e["origin"], e["destination"]) for n in graph for e in n["inEdges"] + n["outEdges"]}
    replacements = {warehouse: "{warehouse}", str(root / "landing"): "{landing}", built["namespace"]: "{jobs}",
                    f"file://{socket.gethostname()}": "file://{host}", "mlflow://local": "mlflow://local"}
    observed = normalise_edges(edges, replacements)
    if os.environ.get("SHOPVERSE_RECORD_MARQUEZ_CONTRACT"):
        recorded = json.loads(CONTRACT.read_text()) if CONTRACT.exists() else {}
        CONTRACT.write_text(json.dumps({**recorded, "edges": observed}, indent=1) + "\n")
    assert observed == json.loads(CONTRACT.read_text())["edges"]
