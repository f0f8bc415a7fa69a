#!/usr/bin/env bash
# End-to-end check of a running Marquez (scripts/services/marquez.sh start):
#   POST an OpenLineage RunEvent pair (START, COMPLETE) for one job with one input and one
#   output dataset (schema facets), then read it back through the Marquez API:
#   namespaces, jobs (latest run COMPLETED), datasets (schema fields) and the lineage graph
#   (input -> job -> output edges). Exits non-zero on the first mismatch.
#
#   scripts/services/smoke_test.sh
#
# Environment: MARQUEZ_PORT (default 5000), SMOKE_NAMESPACE (default shopverse_smoke).
# Needs python3 (standard library only).
set -euo pipefail

# shellcheck source=_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

command -v python3 >/dev/null || die "python3 is required for the smoke test"
export MARQUEZ_URL="http://127.0.0.1:${MARQUEZ_PORT:-5000}"
export SMOKE_NAMESPACE="${SMOKE_NAMESPACE:-shopverse_smoke}"

python3 - <<'PY'
import datetime, json, os, sys, time, urllib.error, urllib.parse, urllib.request, uuid

BASE = os.environ["MARQUEZ_URL"]
JOB_NS = os.environ["SMOKE_NAMESPACE"]
DS_NS = "duckdb://shopverse_smoke"          # dataset namespaces are URIs and need URL-encoding
JOB = "smoke.build_orders_daily"
IN_DS, OUT_DS = "raw.orders", "mart.orders_daily"
PRODUCER = "https://github.com/shopverse/shopverse-platform/scripts/services/smoke_test.sh"
RUN_ID = str(uuid.uuid4())

def q(s):
    return urllib.parse.quote(s, safe="")

def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")

def check(cond, msg):
    print(("  ok   " if cond else "  FAIL ") + msg)
    if not cond:
        sys.exit(1)

def schema_facet(fields):
    return {"schema": {
        "_producer": PRODUCER,
        "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
        "fields": [{"name": n, "type": t} for n, t in fields]}}

def event(event_type):
    return {
        "eventType": event_type,
        "eventTime": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": RUN_ID},
        "job": {"namespace": JOB_NS, "name": JOB},
        "inputs": [{"namespace": DS_NS, "name": IN_DS,
                    "facets": schema_facet([("order_id", "BIGINT"), ("order_ts", "TIMESTAMP"), ("amount", "DOUBLE")])}],
        "outputs": [{"namespace": DS_NS, "name": OUT_DS,
                     "facets": schema_facet([("day", "DATE"), ("revenue", "DOUBLE")])}],
    }

t0 = time.monotonic()
print(f"Marquez smoke test against {BASE} (run {RUN_ID})")
for et in ("START", "COMPLETE"):
    status, body = call("POST", "/api/v1/lineage", event(et))
    check(status == 201, f"POST /api/v1/lineage {et} -> {status} {body or ''}".rstrip())
    time.sleep(0.2)

status, body = call("GET", "/api/v1/namespaces")
names = {n["name"] for n in body["namespaces"]} if status == 200 else set()
check({JOB_NS, DS_NS} <= names, f"GET /api/v1/namespaces lists {JOB_NS!r} and {DS_NS!r}")

status, body = call("GET", f"/api/v1/namespaces/{q(JOB_NS)}/jobs")
jobs = {j["name"]: j for j in body["jobs"]} if status == 200 else {}
check(JOB in jobs, f"GET /api/v1/namespaces/{JOB_NS}/jobs has {JOB!r}")
latest = jobs[JOB].get("latestRun") or {}
check(latest.get("id") == RUN_ID and latest.get("state") == "COMPLETED",
      f"latestRun is {RUN_ID} in state COMPLETED (got {latest.get('id')} {latest.get('state')})")
check([d["name"] for d in jobs[JOB]["inputs"]] == [IN_DS] and [d["name"] for d in jobs[JOB]["outputs"]] == [OUT_DS],
      "job inputs/outputs recorded")

status, body = call("GET", f"/api/v1/namespaces/{q(JOB_NS)}/jobs/{q(JOB)}/runs")
runs = {r["id"]: r for r in body["runs"]} if status == 200 else {}
check(runs.get(RUN_ID, {}).get("state") == "COMPLETED", "GET .../jobs/{job}/runs shows the run COMPLETED")

status, body = call("GET", f"/api/v1/namespaces/{q(DS_NS)}/datasets")
ds = {d["name"]: d for d in body["datasets"]} if status == 200 else {}
check(OUT_DS in ds and [f["name"] for f in ds[OUT_DS]["fields"]] == ["day", "revenue"],
      f"GET /api/v1/namespaces/{DS_NS}/datasets has {OUT_DS!r} with its schema fields")

node = f"dataset:{DS_NS}:{IN_DS}"
status, body = call("GET", f"/api/v1/lineage?nodeId={q(node)}&depth=2")
check(status == 200, f"GET /api/v1/lineage?nodeId={node}&depth=2 -> {status}")
edges = {(e["origin"], e["destination"]) for n in body["graph"] for e in n["inEdges"] + n["outEdges"]}
job_node, out_node = f"job:{JOB_NS}:{JOB}", f"dataset:{DS_NS}:{OUT_DS}"
check((node, job_node) in edges and (job_node, out_node) in edges,
      f"lineage edges {IN_DS} -> {JOB} -> {OUT_DS}")

status, body = call("GET", "/api/v1/events/lineage?limit=20")
mine = [e["eventType"] for e in body["events"] if e["run"]["runId"] == RUN_ID] if status == 200 else []
check(sorted(mine) == ["COMPLETE", "START"], "GET /api/v1/events/lineage returns both raw events")
print(f"smoke test passed in {time.monotonic() - t0:.1f} s")
PY
