"""The embedded Dagster instance every local command shares: ``$DAGSTER_HOME``, else
``data/dagster_home``, with the project's ``dagster.yaml`` and no first-visit pop-up in the UI."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from shopverse_platform.lib import paths


# The project's dagster.yaml as shipped before (sha256 of each committed version, newest first). An
# instance whose file is one of them unedited gets the current one: an instance made before kept
# the file it was made with, and with it, e.g., the python_logs level that dropped every step's
# context.log info lines (34f2d26) or no python_logs at all (the versions before it).
SHIPPED_BEFORE = frozenset({
    "23f84520c3dda7c02f7e00bbc10df8186dbe43ed8c4cd3c89b2e580a1a7d9c01",  # 34f2d26, 2026-12-07
    "954ea5357481b043abdb2d63ddf86ed20284132035d5ec627e3acc954980a2a0",  # e7ceadb, 2026-12-04
    "23d27aba271bee7aded3aeca172e5ac7baf0a20e81efa798a946d3b383391e49",  # d3dc47e, 2026-12-04
    "f43aff95c9503213b7a0a8673b9a6edbd39399a991401d1b147f7ed6ecaa20b7",  # 54feff3, 2026-12-04
    "f671d2c47519b74a1cead07202cd702bd84c0bd8b02064fa4531989e16fa71d1",  # 0d7273f, 2026-12-04
    "f5ff029ba1a8caf5d585f1ccb77e36b8094635723dda8d8b8153f9dbb6803045",  # 834fd45, 2026-12-04
    "1e4ec2386668a1b3e84686fad4a35ee1937b6a43c268e166c3738de1329a41d3",  # 699bf06, 2026-11-21
    "709df6b9ab496a6a83211715ed10f35f38afed727de5f42f72e9ff120113eef9",  # d805807, 2026-11-21
})


def embedded_dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or paths.data_dir() / "dagster_home").resolve()


def prepare_embedded_home(home: Path) -> Path:
    """Create ``home`` with the project's dagster.yaml (kept if the user edited it; an earlier
    version the project shipped, unedited, is brought up to date) and the UI's first-visit pop-up
    marked as seen."""
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists() or hashlib.sha256(settings.read_bytes()).hexdigest() in SHIPPED_BEFORE:
        shutil.copyfile(paths.PROJECT_ROOT / "dagster.yaml", settings)
    (home / ".nux").mkdir(exist_ok=True)
    (home / ".nux" / "nux.yaml").write_text("seen: 1\n")
    return home


def use_embedded_instance() -> Path:
    """Prepare the embedded instance and point this process's ``DAGSTER_HOME`` at it, so that
    ``DagsterInstance.get()`` in this command finds the same runs as the UI."""
    home = prepare_embedded_home(embedded_dagster_home())
    os.environ["DAGSTER_HOME"] = str(home)
    return home
