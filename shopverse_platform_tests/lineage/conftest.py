"""A real Marquez for the `services` tests: $MARQUEZ_URL, or one started here for the session.

Started with the project's own scripts (scripts/services/postgres.sh and marquez.sh) on free ports,
with its PostgreSQL cluster and Marquez state in a temporary directory, so it never touches a
developer's running services. The jars come from `scripts/services/install.sh marquez`
($MARQUEZ_LIB_DIR, default <services home>/marquez/lib). Both servers are stopped, by PID, after
the session; the cluster is deleted.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopverse_platform.lib.paths import PROJECT_ROOT
from shopverse_platform_tests.conftest import free_ports

SERVICES = PROJECT_ROOT / "scripts" / "services"


def marquez_lib_dir() -> Path:
    if os.environ.get("MARQUEZ_LIB_DIR"):
        return Path(os.environ["MARQUEZ_LIB_DIR"])
    home = Path(os.environ.get("SHOPVERSE_SERVICES_HOME") or PROJECT_ROOT / ".services")
    return home / "marquez" / "lib"


def _script(env: dict[str, str], name: str, *args: str, timeout: int = 240) -> None:
    result = subprocess.run(
        ["bash", str(SERVICES / name), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"{name} {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}")


@pytest.fixture(scope="session")
def marquez_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("MARQUEZ_URL")
    if configured:
        yield configured.rstrip("/")
        return
    lib = marquez_lib_dir()
    if not list(lib.glob("marquez-api-*.jar")):
        pytest.skip(
            f"no Marquez jars in {lib}: run scripts/services/install.sh marquez, or set MARQUEZ_URL to a running "
            "Marquez. On machines whose Maven mirror lacks io.github.marquezproject:marquez-api (404), point "
            "MARQUEZ_MAVEN_REPO at a repository that has it (scripts/services/README.md)."
        )
    home = tmp_path_factory.mktemp("services")
    pg_port, api_port, admin_port = free_ports(3)
    env = {
        **os.environ,
        "SHOPVERSE_SERVICES_HOME": str(home), "MARQUEZ_LIB_DIR": str(lib),
        "SHOPVERSE_PG_PORT": str(pg_port), "MARQUEZ_PORT": str(api_port), "MARQUEZ_ADMIN_PORT": str(admin_port),
    }
    try:
        _script(env, "postgres.sh", "start")
        _script(env, "marquez.sh", "start", timeout=300)
        yield f"http://127.0.0.1:{api_port}"
    finally:
        for name, args in (("marquez.sh", ("stop",)), ("postgres.sh", ("stop",)), ("postgres.sh", ("destroy",))):
            try:
                _script(env, name, *args, timeout=120)
            except Exception as error:  # noqa: BLE001 - keep stopping the rest
                print(f"cleanup: {error}")
