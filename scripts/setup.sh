#!/usr/bin/env bash
# Install the project on a fresh machine: uv from PyPI, then the locked environment in .venv.
# Idempotent; about 10 s warm. Pass --services to also install PostgreSQL and the Marquez jars
# (needed by the integration tests).
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.9"
if ! command -v uv >/dev/null 2>&1 || [[ "$(uv --version | awk '{print $2}')" != "$UV_VERSION" ]]; then
    python3 -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}"
fi
uv sync --locked --quiet
echo "python environment ready: .venv ($(.venv/bin/python --version))"

if [[ "${1:-}" == "--services" ]]; then
    bash scripts/services/install.sh
fi
