"""The HTTP event collector: ``create_app(settings)`` builds the ASGI app ``shopverse collect`` serves.

Routes (the contract is in docs/events.md, "The collector"):

- ``POST /v1/events``: one event, a JSON array of events or NDJSON; every valid event is stored
  (group-committed and fsynced, ``spool.py``) before the answer; invalid ones are listed with the
  cleaning layer's reason code (``lib/cleaning/event_validation``).
- ``POST /mp/collect`` and ``POST /debug/mp/collect``: the GA4 Measurement Protocol (``mp.py``).
- ``GET /health``, ``GET /metrics`` (Prometheus text, one registry per app).
- everything else: the static files of ``static/`` (the tracker and the demo shop), mounted last.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
import zlib
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import orjson
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from shopverse_platform.lib.ingestion.adapters import FORMATS, Rejection, convert, load_sources
from shopverse_platform.lib.ingestion.collector import mp
from shopverse_platform.lib.ingestion.collector.settings import CollectorSettings
from shopverse_platform.lib.ingestion.collector.spool import Spool, StorageError

STATIC_DIR = Path(__file__).parent / "static"
_ROUTES = ("/v1/events", "/mp/collect", "/debug/mp/collect", "/health", "/metrics")


class _Refused(Exception):
    """A whole request refused: its status and JSON body."""

    def __init__(self, status: int, reason: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail, self.headers = status, reason, detail, headers or {}

    def response(self) -> Response:
        return _json(self.status, {"error": self.reason, "detail": self.detail}, self.headers)


def _json(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


class Metrics:
    """The collector's Prometheus metrics, in a registry of their own (one per app instance)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("shopverse_collector_events_received", "Events received (valid or not)", registry=r)
        self.accepted = Counter("shopverse_collector_events_accepted", "Events stored and acknowledged", registry=r)
        self.rejected = Counter("shopverse_collector_events_rejected", "Events refused, by reason code", ["reason"], registry=r)
        self.request_bytes = Counter("shopverse_collector_request_bytes", "Request body bytes as received", registry=r)
        self.requests = Counter("shopverse_collector_requests", "Requests by route and status", ["route", "status"], registry=r)
        self.latency = Histogram("shopverse_collector_request_seconds", "Request latency by route", ["route"], registry=r,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.fsync = Histogram("shopverse_collector_fsync_seconds", "Latency of one group commit's fsync", registry=r,
                               buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
        self.rolled = Counter("shopverse_collector_files_rolled", "Landing files published", registry=r)
        self.queue = Gauge("shopverse_collector_queue_depth", "Requests waiting for their fsync", registry=r)
        self.open_files = Gauge("shopverse_collector_open_files", "Files being written", registry=r)


class _Timing:
    """ASGI middleware: latency and status per route (static files count as one route)."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        route = scope["path"] if scope["path"] in _ROUTES else "static"
        started = time.perf_counter()
        status = [500]

        async def send_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
            self.metrics.requests.labels(route, str(status[0])).inc()


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Events per second per key, as a token bucket holding one second of events. A batch larger
    than a second's worth passes when the bucket is full (it goes into debt), so no batch the
    size limit allows is refused forever."""

    def __init__(self, rate: float, clock=time.monotonic) -> None:
        self.rate, self.clock, self.buckets = rate, clock, {}

    def retry_after(self, key: str, events: int) -> int | None:
        """None when ``events`` may pass now (and takes them), else whole seconds to wait."""
        now = self.clock()
        b = self.buckets.setdefault(key, _Bucket(self.rate, now))
        b.tokens = min(self.rate, b.tokens + (now - b.at) * self.rate)
        b.at = now
        need = min(events, self.rate)
        if b.tokens >= need:
            b.tokens -= events
            return None
        return max(1, math.ceil((need - b.tokens) / self.rate))


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, decompressed when gzip, never more than ``limit`` bytes held (413 beyond: a
    gzip bomb is stopped after ``limit`` decompressed bytes, not after it filled the memory)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _Refused(413, "body_too_large", f"the body is {int(declared):,} bytes, more than {limit:,}")
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip"):
        raise _Refused(415, "unsupported_encoding", f"Content-Encoding {encoding!r}: only gzip is accepted")
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding in ("gzip", "x-gzip") else None
    parts: list[bytes] = []
    size = raw = 0
    try:
        async for chunk in request.stream():
            raw += len(chunk)
            if inflate is None:
                parts.append(chunk)
                size += len(chunk)
            else:
                data = chunk
                while data:
                    out = inflate.decompress(data, limit + 1 - size)
                    parts.append(out)
                    size += len(out)
                    data = inflate.unconsumed_tail
                    if size > limit:
                        break
            if size > limit:
                raise _Refused(413, "body_too_large", f"the body is more than {limit:,} bytes"
                               + (" once decompressed" if inflate is not None else ""))
        if inflate is not None and not inflate.eof:
            raise _Refused(400, "malformed_json", "the gzip stream is truncated")
    except zlib.error as error:
        raise _Refused(400, "malformed_json", f"the body is not valid gzip: {error}") from None
    request.state.raw_bytes = raw
    return b"".join(parts)


_LONG_DIGITS = re.compile(rb"[0-9]{19}")


def _loads(text: bytes) -> object:
    """JSON as cleaning reads it: orjson, else the standard parser (numbers beyond a double, lone
    surrogates), but never the NaN/Infinity literals that are not JSON. A run of 19+ digits may be
    an integer beyond 64 bits, which orjson would turn into a float: the standard parser keeps it."""
    if _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text, parse_constant=_no_constant, parse_float=_float)


class _Overflow(float):
    """A number beyond a double (``1e400``): judged as infinity, like DuckDB reads it, but never
    written back (orjson refuses a float subclass, the standard writer refuses infinity)."""


def _float(text: str) -> float:
    value = float(text)
    return _Overflow(value) if math.isinf(value) else value


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _parse_events(body: bytes, content_type: str) -> list[object | _Unparsable]:
    """The events of a body: one object, an array, or NDJSON lines (a line that is not JSON is
    kept as ``_Unparsable`` so that it is rejected alone). Raises ``_Refused`` (400) when the body
    is not JSON at all."""
    text = body.strip()
    if not text:
        raise _Refused(400, "malformed_json", "the body is empty")
    if text[:1] not in (b"[", b"{"):
        raise _Refused(400, "malformed_json", "the body is neither a JSON object, a JSON array nor NDJSON")
    ndjson = "ndjson" in content_type or "jsonl" in content_type
    if not ndjson:
        try:
            value = _loads(text)
        except ValueError as error:
            if text[:1] == b"[" or b"\n" not in text:
                raise _Refused(400, "malformed_json", f"the body is not JSON: {error}") from None
        else:
            return value if isinstance(value, list) else [value]
    events: list[object] = []
    for line in text.split(b"\n"):
        if line.strip():
            try:
                events.append(_loads(line))
            except UnicodeDecodeError as error:
                events.append(_Unparsable(str(error), "invalid_encoding"))
            except ValueError as error:
                events.append(_Unparsable(str(error)))
    return events


@dataclass
class _Unparsable:
    error: str
    reason: str = "malformed_json"


def _encode(event: dict, received_at: str) -> bytes:
    """The stored line: the event's own keys as sent, plus ``received_at`` (the server's)."""
    line = dict(event)
    line["received_at"] = received_at
    try:
        return orjson.dumps(line) + b"\n"
    except TypeError:  # an integer beyond 64 bits or a lone surrogate: the standard writer keeps it
        return json.dumps(line, separators=(",", ":"), allow_nan=False).encode() + b"\n"


# (event, landing day, now) -> None when cleaning would keep the event, else (reason code, detail)
Validator = Callable[[object, date, datetime], "tuple[str, str] | None"]


def create_app(settings: CollectorSettings, validate: Validator, spool: Spool | None = None) -> FastAPI:
    """The collector app for ``settings``; ``spool`` for tests (default: one on the landing zone).

    ``validate`` is ``lib.cleaning.event_validation.validate_event`` (the cleaning rules): passed
    in by the caller because lib's data-flow contract keeps ingestion from importing cleaning."""
    metrics = Metrics()
    spool = spool or Spool(
        settings.events_dir, settings.roll_seconds, settings.roll_bytes,
        on_fsync=metrics.fsync.observe, on_roll=lambda path, lines, size: metrics.rolled.inc(),
    )
    limiter = RateLimiter(settings.rate_limit) if settings.rate_limit else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await spool.start()
        try:
            yield
        finally:
            await spool.close()

    app = FastAPI(title="ShopVerse collector", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.spool, app.state.metrics, app.state.settings = spool, metrics, settings

    def check_key(request: Request, query_name: str) -> str:
        key = request.headers.get("x-write-key") or request.query_params.get(query_name) or ""
        if settings.write_keys is None:
            return key or (request.client.host if request.client else "")
        if not key:
            raise _Refused(401, "missing_write_key", f"send the write key in X-Write-Key or ?{query_name}=")
        if key not in settings.write_keys:
            raise _Refused(403, "unknown_write_key", "the write key is not one of the collector's")
        return key

    async def judge_and_store(events: list[object], key: str) -> tuple[int, list[dict]]:
        """Validate, store the valid ones (fsynced), count; returns (accepted, rejected)."""
        metrics.received.inc(len(events))
        if len(events) > settings.max_events_per_batch:
            raise _Refused(413, "too_many_events", f"{len(events):,} events, more than {settings.max_events_per_batch:,} per request")
        if limiter is not None and (wait := limiter.retry_after(key, len(events))) is not None:
            raise _Refused(429, "rate_limited", f"more than {settings.rate_limit:g} events/s for this key",
                           {"Retry-After": str(wait)})
        now = datetime.now(timezone.utc)
        day = now.date()
        received_at = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        lines: list[bytes] = []
        rejected: list[dict] = []
        for index, event in enumerate(events):
            if isinstance(event, _Unparsable):
                verdict = (event.reason, f"the line is not JSON: {event.error}")
            elif isinstance(event, Rejection):  # an import record its adapter could not map
                verdict = (event.reason, event.detail)
            else:
                verdict = validate(event, day, now)
            if verdict is None:
                try:
                    lines.append(_encode(event, received_at))
                    continue
                except ValueError as error:  # 1e400 outside the judged fields: not storable as sent
                    verdict = ("malformed_json", f"the event cannot be stored as sent: {error}")
            reason, detail = verdict
            event_id = event.get("event_id") if isinstance(event, dict) else None
            rejected.append({"index": index, "event_id": event_id, "reason": reason, "detail": detail})
            metrics.rejected.labels(reason).inc()
        if lines:
            metrics.queue.set(spool.queue_depth + 1)
            try:
                await spool.append(day, b"".join(lines), len(lines))
            except StorageError as error:
                raise _Refused(503, "storage_failure", str(error)) from None
            finally:
                metrics.queue.set(spool.queue_depth)
            metrics.accepted.inc(len(lines))
        return len(lines), rejected

    async def collect_events(request: Request) -> Response:
        try:
            key = check_key(request, "key")
            body = await _read_body(request, settings.max_body_bytes)
            metrics.request_bytes.inc(request.state.raw_bytes)
            events = _parse_events(body, request.headers.get("content-type", "").lower())
            accepted, rejected = await judge_and_store(events, key)
        except _Refused as refused:
            return refused.response()
        return _json(422 if rejected else 200, {"accepted": accepted, "rejected": rejected})

    async def mp_events(request: Request) -> tuple[list[object], str]:
        key = check_key(request, "api_secret")
        body = await _read_body(request, settings.max_body_bytes)
        metrics.request_bytes.inc(request.state.raw_bytes)
        try:
            payload = _loads(body)
        except ValueError as error:
            raise _Refused(400, "malformed_json", f"the body is not JSON: {error}") from None
        try:
            return mp.to_events(payload, datetime.now(timezone.utc)), key
        except mp.NotAPayload as error:
            raise _Refused(400, "schema_violation", str(error)) from None

    async def mp_collect(request: Request) -> Response:
        try:
            events, key = await mp_events(request)
            accepted, rejected = await judge_and_store(events, key)
        except _Refused as refused:
            return refused.response()
        if rejected:
            return _json(422, {"accepted": accepted, "rejected": rejected})
        return Response(status_code=204)

    async def mp_debug(request: Request) -> Response:
        try:
            events, _ = await mp_events(request)
        except _Refused as refused:
            return _json(200 if refused.status == 400 else refused.status, {"validationMessages": [
                {"fieldPath": "", "description": refused.detail, "validationCode": "VALUE_INVALID"}]})
        if len(events) > settings.max_events_per_batch:
            return _json(200, {"validationMessages": [{
                "fieldPath": "events", "description": f"more than {settings.max_events_per_batch} events",
                "validationCode": "EXCEEDED_MAX_ENTITIES"}]})
        now = datetime.now(timezone.utc)
        messages = [mp.validation_message(i, *verdict) for i, e in enumerate(events)
                    if (verdict := validate(e, now.date(), now)) is not None]
        return _json(200, {"validationMessages": messages})

    async def import_events(request: Request) -> Response:
        """Another tool's records (``/v1/import/<format>``: NDJSON lines, or CSV with its header),
        mapped by the same adapter as landing/imports/ files, then judged and stored as events."""
        source = request.path_params["source"]
        try:
            key = check_key(request, "key")
            try:
                sources = await asyncio.to_thread(load_sources, settings.landing_dir / "sources.toml")
            except (ValueError, OSError) as error:  # a wrong declaration: the operator's to fix
                raise _Refused(500, "bad_sources_file", str(error)) from None
            if source not in FORMATS and source not in sources:
                raise _Refused(404, "unknown_format", f"{source!r} is neither an import format ({', '.join(FORMATS)}) "
                                                      f"nor a source declared in landing/sources.toml")
            body = await _read_body(request, settings.max_body_bytes)
            metrics.request_bytes.inc(request.state.raw_bytes)
            try:
                lines = [line for line in body.decode("utf-8").splitlines() if line.strip()]
            except UnicodeDecodeError as error:
                raise _Refused(400, "invalid_encoding", f"the body is not UTF-8: {error}") from None
            events = [e if isinstance(e, Rejection) else {**e, "source": f"import:{source}"}
                      for e in convert(source, lines, sources)]
            accepted, rejected = await judge_and_store(events, key)
        except _Refused as refused:
            return refused.response()
        return _json(422 if rejected else 200, {"accepted": accepted, "rejected": rejected})

    async def wrong_method(request: Request) -> Response:
        # without it the static mount below would answer a GET with 404
        return _json(405, {"error": "method_not_allowed", "detail": f"{request.method}: send events with POST"},
                     {"Allow": "POST, OPTIONS"})

    # plain Starlette routes (FastAPI's dependency solving cost ~10 % of a single-event request);
    # the other methods answer 405 here, or the static mount below would answer a GET with 404
    for path, endpoint in (("/v1/events", collect_events), ("/mp/collect", mp_collect), ("/debug/mp/collect", mp_debug),
                           ("/v1/import/{source}", import_events)):
        app.add_route(path, endpoint, methods=["POST"], include_in_schema=False)
        app.add_route(path, wrong_method, methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)

    @app.get("/health")
    async def health() -> Response:
        writable = await asyncio.to_thread(_writable, settings.events_dir)
        metrics.open_files.set(spool.open_files)
        return _json(200 if writable else 503, {
            "status": "ok" if writable else "landing zone not writable", "landing_dir": str(settings.events_dir),
            "landing_writable": writable, "open_files": spool.open_files, "queue_depth": spool.queue_depth})

    @app.get("/metrics")
    async def prometheus() -> Response:
        metrics.open_files.set(spool.open_files)
        metrics.queue.set(spool.queue_depth)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST", "OPTIONS"],
                       allow_headers=["Content-Type", "Content-Encoding", "X-Write-Key"])
    app.add_middleware(_Timing, metrics=metrics)
    # last, so that the API routes above win over any file of the same name
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True, check_dir=False), name="static")
    return app


def _writable(folder: Path) -> bool:
    import os

    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)
