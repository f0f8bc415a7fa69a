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
