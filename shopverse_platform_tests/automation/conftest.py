"""Fixtures of the automation tests: the code location (loaded once) and landing files."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path

import dagster as dg
import pytest


@pytest.fixture(scope="session")
def definitions() -> dg.Definitions:
    from shopverse_platform.definitions import defs

    return defs()


def land(root: Path, day: date, name: str = "batch-000.ndjson", lines: int = 2, age_seconds: float = 300,
         layout: str = "events") -> Path:
    """Write a landing file for ``day`` (``events/YYYY-MM-DD`` or ``logs/YYYYMMDD``), last modified
    ``age_seconds`` ago (older than the sensor's settle time unless told otherwise)."""
    folder = root / "events" / day.isoformat() if layout == "events" else root / "logs" / day.strftime("%Y%m%d")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(f'{{"event_id": "{name}-{i}", "event_name": "page_view"}}\n' for i in range(lines)))
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path
