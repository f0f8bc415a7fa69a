"""Where the embedded defaults live on disk.

The project keeps its generated state (landing zone, warehouse, reports, local MLflow store,
lineage buffer) under one data directory: ``$SHOPVERSE_DATA_DIR`` when set, else ``data/`` at the
project root. Read at call time, never at import time, so tests can point it elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    configured = os.environ.get("SHOPVERSE_DATA_DIR")
    return Path(configured).resolve() if configured else PROJECT_ROOT / "data"


def default_warehouse_path() -> Path:
    return data_dir() / "warehouse" / "shopverse.duckdb"


def default_landing_dir() -> Path:
    return data_dir() / "landing"


def shared_data_dir() -> Path:
    """The real datasets (UCI Online Retail, CDNOW) shipped beside the project in ``../shared``."""
    configured = os.environ.get("SHOPVERSE_SHARED_DATA")
    return Path(configured).resolve() if configured else PROJECT_ROOT.parent / "shared" / "data"


REPORTS_PORT_DEFAULT = 8090


def reports_dir() -> Path:
    """The reports folder: daily/ and weekly/ pages, their shared plotly.js and index.html."""
    return data_dir() / "reports"


def reports_port() -> int:
    value = os.environ.get("SHOPVERSE_REPORTS_PORT", str(REPORTS_PORT_DEFAULT))
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"SHOPVERSE_REPORTS_PORT must be a port number, got {value!r}")
    return int(value)


def reports_url() -> str:
    """Where the reports folder is served (``shopverse up``), for links in the Dagster UI:
    $SHOPVERSE_REPORTS_URL (behind a proxy, another host), else 127.0.0.1 on $SHOPVERSE_REPORTS_PORT."""
    return (os.environ.get("SHOPVERSE_REPORTS_URL") or f"http://127.0.0.1:{reports_port()}").rstrip("/")
