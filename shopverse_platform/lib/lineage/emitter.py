"""Settings resolved at run time, and the openlineage-python client built from them.

The client is always given its transport explicitly. Left to itself, openlineage-python also reads
``./openlineage.yml`` and ``OPENLINEAGE_URL``, and with both present it sends every event twice
(see ../shared/STACK.md). ``OPENLINEAGE_DISABLED=true`` is still honoured by the client.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from openlineage.client import OpenLineageClient

from shopverse_platform.lib import paths
from shopverse_platform.lib.lineage.naming import DEFAULT_JOB_NAMESPACE
from shopverse_platform.lib.lineage.transport import (
    BufferedHttpTransport,
    LineageBuffer,
    NdjsonFileTransport,
    ReplayResult,
    locked,
    to_dict,
)

log = logging.getLogger(__name__)


def default_directory() -> Path:
    return paths.data_dir() / "lineage"


@dataclass(frozen=True)
class LineageSettings:
    url: str | None
    api_key: str | None
    namespace: str
    directory: Path
    timeout_seconds: float = 5.0
    retry_after_seconds: float = 60.0

    @classmethod
    def resolve(
        cls,
        *,
        url: str | None = None,
        api_key: str | None = None,
        namespace: str | None = None,
        directory: str | Path | None = None,
        timeout_seconds: float = 5.0,
        retry_after_seconds: float = 60.0,
    ) -> LineageSettings:
        """Explicit values first, then ``OPENLINEAGE_*`` from the environment *now*, then defaults."""
        return cls(
            url=(url or os.environ.get("OPENLINEAGE_URL") or "").strip() or None,
            api_key=api_key or os.environ.get("OPENLINEAGE_API_KEY") or None,
            namespace=namespace or os.environ.get("OPENLINEAGE_NAMESPACE") or DEFAULT_JOB_NAMESPACE,
            directory=Path(directory).resolve() if directory else default_directory(),
            timeout_seconds=timeout_seconds,
            retry_after_seconds=retry_after_seconds,
        )

    @property
    def destination(self) -> str:
        return f"{self.url} (buffer: {self.directory})" if self.url else str(self.directory / "events.ndjson")


class LineageEmitter:
    """Sends events where the settings say; never raises into the pipeline."""

    def __init__(self, settings: LineageSettings) -> None:
        self.settings = settings
        if settings.url:
            self.transport: BufferedHttpTransport | NdjsonFileTransport = BufferedHttpTransport(
                settings.url, settings.directory, api_key=settings.api_key, timeout=settings.timeout_seconds,
                retry_after_seconds=settings.retry_after_seconds,
            )
        else:
            self.transport = NdjsonFileTransport(settings.directory)
        self.client = OpenLineageClient(transport=self.transport)

    def emit(self, event) -> str:
        """'sent', 'buffered' or 'written'; 'disabled' or 'failed' when nothing went out."""
        if self.client.transport is not self.transport:  # OPENLINEAGE_DISABLED=true
            return "disabled"
        try:
            self.transport.last_outcome = "filtered"  # stays so if an openlineage.yml filter drops it
            self.client.emit(event)
        except Exception as error:  # noqa: BLE001 - lineage must never break a pipeline
            log.warning("could not emit OpenLineage event: %s", error)
            return self._last_resort(event)
        # The client drops the transport's return value; the transport remembers what it did.
        return self.transport.last_outcome

    def _last_resort(self, event) -> str:
        """Even if the client itself failed, keep the event: append it to the buffer."""
        try:
            with locked(self.settings.directory):
                LineageBuffer(self.settings.directory).append(to_dict(event))
            return "buffered"
        except Exception as error:  # noqa: BLE001
            log.error("OpenLineage event lost, the buffer is not writable: %s", error)
            return "failed"

    def replay(self) -> ReplayResult:
        if not isinstance(self.transport, BufferedHttpTransport):
            raise RuntimeError("replay needs a backend: set OPENLINEAGE_URL (or pass --url)")
        return self.transport.replay()

    def close(self) -> None:
        try:
            self.client.close(timeout=self.settings.timeout_seconds)
        except Exception:  # noqa: BLE001
            pass
