"""The embedded Dagster instance every local command shares: ``$DAGSTER_HOME``, else
``data/dagster_home``, with the project's ``dagster.yaml`` and no first-visit pop-up in the UI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from shopverse_platform.lib import paths


def embedded_dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or paths.data_dir() / "dagster_home").resolve()


def prepare_embedded_home(home: Path) -> Path:
    """Create ``home`` with the project's dagster.yaml (kept if the user edited it) and the UI's
    first-visit pop-up marked as seen."""
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(paths.PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    (home / ".nux").mkdir(exist_ok=True)
    (home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    return home


def use_embedded_instance() -> Path:
    """Prepare the embedded instance and point this process's ``DAGSTER_HOME`` at it, so that
    ``DagsterInstance.get()`` in this command finds the same runs as the UI."""
    home = prepare_embedded_home(embedded_dagster_home())
    os.environ["DAGSTER_HOME"] = str(home)
    return home
