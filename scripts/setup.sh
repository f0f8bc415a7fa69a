#!/usr/bin/env bash
# Install the project on a fresh machine: uv, then the locked environment in .venv.
# Idempotent; about 10 s warm. Pass --services to also install PostgreSQL, Redis, SeaweedFS,
# Chromium and the Marquez jars (needed by the integration tests; apt-get, so as root or with sudo;
# SeaweedFS is built with the machine's Go).
#
# Needs: bash, python3 (any 3.x with its standard library: no pip, no venv module) and HTTPS access
# to the package index. uv comes from scripts/install_uv.py: the uv on PATH if it is the pinned
# version, else the pinned wheel fetched from the configured index (sha256-checked) and unpacked
# into .tools/uv-<version>/ -- `pip install uv` is refused by Debian 12's and Ubuntu 24.04's
# externally managed Python (PEP 668) and fails where pip is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.9"
UV="$(python3 scripts/install_uv.py "$UV_VERSION")"

# The project needs Python 3.11 (requires-python). uv uses one on the machine (Debian 12's python3,
# pyenv, ...) and otherwise downloads a python-build-standalone build from GitHub; say so first,
# since that download is what fails on a machine that reaches only the package index.
if ! "$UV" python find --quiet '>=3.11,<3.12' >/dev/null 2>&1; then
    echo "setup: no Python 3.11 on this machine; uv will download one (python-build-standalone, from GitHub)." >&2
    echo "setup: if that is not reachable, install Python 3.11 first (Debian 12: apt-get install python3; Ubuntu 24.04: python3.11 from the deadsnakes PPA, or pyenv)." >&2
fi
# --compile-bytecode: write the .pyc files now (about 20 s once). Where PYTHONDONTWRITEBYTECODE is
# set, as on these machines, Python otherwise recompiles every imported module in every process:
# importing dagster, mlflow and the definitions took 8.3 s instead of 4.1 s, in each CLI command,
# each test subprocess and each Dagster step process.
"$UV" sync --locked --quiet --compile-bytecode
VENV="${UV_PROJECT_ENVIRONMENT:-.venv}"
echo "python environment ready: $VENV ($("$VENV/bin/python" --version)), uv: $UV"

if [[ "${1:-}" == "--services" ]]; then
    bash scripts/services/install.sh postgres
    bash scripts/services/install.sh redis    # the broker of the Celery step workers' test
    bash scripts/services/install.sh seaweedfs  # the S3 server of the object-storage lake tests
    bash scripts/install_browser.sh   # Debian's Chromium for the Playwright UI checks
    # Marquez's published jar (io.github.marquezproject:marquez-api) is absent from the Maven
    # mirror these machines reach (404 for every version, checked 2026-11-21), while all its
    # dependencies resolve. Try it; without it the live Marquez tests skip and say why, and the
    # lineage events are validated against the OpenLineage schema and Marquez's recorded contract.
    if ! bash scripts/services/install.sh marquez; then
        echo "WARNING: Marquez jars not installed; live Marquez tests will be skipped (set MARQUEZ_URL or MARQUEZ_MAVEN_REPO)" >&2
    fi
fi
