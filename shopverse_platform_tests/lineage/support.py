"""Helpers for the lineage tests: schema validation, reading events, a backend that can fail."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from shopverse_platform.lib.lineage.run_events import dagster_facet_schema

SPEC_DIR = Path(__file__).parent / "openlineage_spec"
# The lineage graph a live Marquez drew for the test location (recorded by test_marquez.py).
CONTRACT = Path(__file__).parent / "marquez_contract.json"
CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


def _registry() -> Registry:
    schemas = [json.loads(p.read_text()) for p in SPEC_DIR.glob("*.json")] + [dagster_facet_schema()]
    return Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)


REGISTRY = _registry()


def validate_event(event: dict) -> None:
    """The event against OpenLineage.json, then every facet against the schema its _schemaURL names."""
    _validator(f"{CORE}#/$defs/RunEvent").validate(event)
    for facet in _facets(event):
        url = facet["_schemaURL"]
        base = url.split("#", 1)[0]
        assert base in {uri for uri in REGISTRY}, f"no vendored schema for facet {url}"
        _validator(url).validate(facet)


def _validator(ref: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": ref}, registry=REGISTRY)


def _facets(event: dict):
    yield from (event["run"].get("facets") or {}).values()
    yield from (event["job"].get("facets") or {}).values()
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        for group in ("facets", "inputFacets", "outputFacets"):
            yield from (dataset.get(group) or {}).values()


def graph_from_events(events: list[dict]) -> set[tuple[str, str]]:
    """The lineage edges Marquez draws from these events: for each job, its latest COMPLETE run's
    inputs -> job -> outputs (Marquez's current job version)."""
    latest: dict[tuple[str, str], dict] = {}
    for event in events:
        if event["eventType"] == "COMPLETE":
            latest[(event["job"]["namespace"], event["job"]["name"])] = event
    edges = set()
    for (namespace, name), event in latest.items():
        job = f"job:{namespace}:{name}"
        edges |= {(f"dataset:{d['namespace']}:{d['name']}", job) for d in event["inputs"]}
        edges |= {(job, f"dataset:{d['namespace']}:{d['name']}") for d in event["outputs"]}
    return edges


def normalise_edges(edges: set[tuple[str, str]], replacements: dict[str, str]) -> list[list[str]]:
    """Edges with machine-specific parts (temp paths, host, namespace) replaced by placeholders,
    keeping only edges whose two ends both mention one of them (a shared Marquez holds others)."""

    def norm(node: str) -> str | None:
        hit = False
        for value, placeholder in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
            if value in node:
                node, hit = node.replace(value, placeholder), True
        return node if hit else None

    kept = {(norm(a), norm(b)) for a, b in edges}
    return sorted([a, b] for a, b in kept if a and b)


def read_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def by_job(events: list[dict], job: str, event_type: str | None = None) -> list[dict]:
    return [e for e in events if e["job"]["name"] == job and (event_type is None or e["eventType"] == event_type)]


class FakeBackend:
    """A tiny OpenLineage endpoint: answers 503 while ``failing``, else 201, and keeps what it got."""

    def __init__(self) -> None:
        self.failing = True
        self.received: list[dict] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if backend.failing:
                    self.send_response(503)
                else:
                    backend.received.append(json.loads(body))
                    self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FakeBackend:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
