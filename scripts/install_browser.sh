#!/usr/bin/env bash
# Install the headless browser the UI tests drive: Debian's Chromium, used by Playwright for Python
# through executable_path=/usr/bin/chromium (Playwright's own browser download is never used).
# Idempotent: does nothing when a working chromium is already on the machine.
#
#   scripts/install_browser.sh          # prints the browser path and version
#
# Environment: SHOPVERSE_CHROMIUM   browser to check instead of /usr/bin/chromium
set -euo pipefail

CHROMIUM="${SHOPVERSE_CHROMIUM:-/usr/bin/chromium}"

works() { [[ -x "$CHROMIUM" ]] && "$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1; }

if ! works; then
    if [[ -n "${SHOPVERSE_CHROMIUM:-}" ]]; then
        echo "install_browser: SHOPVERSE_CHROMIUM=$CHROMIUM is not a working browser" >&2
        exit 1
    fi
    command -v apt-get >/dev/null || { echo "install_browser: apt-get not found; install Chromium by hand" >&2; exit 1; }
    SUDO=()
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "install_browser: need root (or sudo) for apt-get install chromium" >&2; exit 1; }
        SUDO=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    echo "install_browser: apt-get install -y chromium" >&2
    "${SUDO[@]}" apt-get update -qq
    # The Debian package pulls its fonts and libraries; no recommends (no desktop integration).
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
    works || { echo "install_browser: chromium installed but '$CHROMIUM --version' fails" >&2; exit 1; }
fi
echo "browser ready: $CHROMIUM ($("$CHROMIUM" --headless --no-sandbox --version 2>/dev/null))"
