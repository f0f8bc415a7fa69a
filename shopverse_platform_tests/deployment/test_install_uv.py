"""scripts/install_uv.py: the pinned uv installed with the standard library alone (no pip, PEP 668).

The wheel choice is checked against the file names the index publishes for uv 0.13.9; the whole
install (simple-API page, sha256 check, extraction, ``--version`` check) runs against a local index
served over HTTP, with a stand-in wheel whose ``uv`` is a shell script."""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import io
import json
import re
import sys
import threading
import zipfile

import pytest

from shopverse_platform.lib.paths import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "install_uv.py"
_spec = importlib.util.spec_from_file_location("install_uv", SCRIPT)
install_uv = importlib.util.module_from_spec(_spec)
sys.modules["install_uv"] = install_uv  # dataclasses look their module up there
_spec.loader.exec_module(install_uv)
Platform, IndexFile, InstallError = install_uv.Platform, install_uv.IndexFile, install_uv.InstallError

# The wheels PyPI lists for uv 0.13.9 (https://pypi.org/simple/uv/, read 2026-12-04).
UV_0_13_9_WHEELS = [
    "uv-0.13.9-py3-none-linux_armv6l.whl",
    "uv-0.13.9-py3-none-macosx_10_12_x86_64.whl",
    "uv-0.13.9-py3-none-macosx_11_0_arm64.whl",
    "uv-0.13.9-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl",
    "uv-0.13.9-py3-none-manylinux_2_17_armv7l.manylinux2014_armv7l.musllinux_1_1_armv7l.whl",
    "uv-0.13.9-py3-none-manylinux_2_17_armv7l.manylinux2014_armv7l.whl",
    "uv-0.13.9-py3-none-manylinux_2_17_i686.manylinux2014_i686.whl",
    "uv-0.13.9-py3-none-manylinux_2_17_ppc64le.manylinux2014_ppc64le.whl",
    "uv-0.13.9-py3-none-manylinux_2_17_s390x.manylinux2014_s390x.whl",
    "uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "uv-0.13.9-py3-none-manylinux_2_28_aarch64.whl",
    "uv-0.13.9-py3-none-manylinux_2_31_riscv64.musllinux_1_1_riscv64.whl",
    "uv-0.13.9-py3-none-manylinux_2_31_riscv64.whl",
    "uv-0.13.9-py3-none-musllinux_1_1_i686.whl",
    "uv-0.13.9-py3-none-musllinux_1_1_x86_64.whl",
    "uv-0.13.9-py3-none-win32.whl",
    "uv-0.13.9-py3-none-win_amd64.whl",
    "uv-0.13.9-py3-none-win_arm64.whl",
    "uv-0.13.9.tar.gz",
    "uv-0.13.8-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
]
LISTING = [IndexFile(name, f"https://files.example/{name}", "0" * 64) for name in UV_0_13_9_WHEELS]


@pytest.mark.parametrize(
    ("plat", "expected_tags"),
    [
        # Debian 12 (glibc 2.36) and Ubuntu 24.04 (2.39) on x86_64: the manylinux2014 wheel.
        (Platform("linux", "x86_64", "glibc", (2, 36)), "manylinux_2_17_x86_64.manylinux2014_x86_64"),
        (Platform("linux", "x86_64", "glibc", (2, 39)), "manylinux_2_17_x86_64.manylinux2014_x86_64"),
        # aarch64: the newer-glibc build where the machine has it, the 2.17 one otherwise.
        (Platform("linux", "aarch64", "glibc", (2, 36)), "manylinux_2_28_aarch64"),
        (Platform("linux", "aarch64", "glibc", (2, 27)), "manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64"),
        # Alpine: musl wheels only.
        (Platform("linux", "x86_64", "musl", (1, 2)), "musllinux_1_1_x86_64"),
        (Platform("linux", "aarch64", "musl", (1, 2)), "manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64"),
        (Platform("macos", "arm64", "", (14, 5)), "macosx_11_0_arm64"),
        (Platform("macos", "x86_64", "", (10, 15)), "macosx_10_12_x86_64"),
        (Platform("windows", "amd64"), "win_amd64"),
    ],
)
def test_pick_wheel_takes_the_build_for_this_machine(plat, expected_tags):
    assert install_uv.pick_wheel(LISTING, "0.13.9", plat).filename == f"uv-0.13.9-py3-none-{expected_tags}.whl"


@pytest.mark.parametrize(
    ("plat", "version", "message"),
    [
        (Platform("linux", "x86_64", "glibc", (2, 12)), "0.13.9", "no uv 0.13.9 wheel for linux x86_64 glibc 2.12 (it has:"),
        (Platform("macos", "arm64", "", (10, 15)), "0.13.9", "no uv 0.13.9 wheel for macos arm64 10.15 (it has:"),
        (Platform("linux", "x86_64", "glibc", (2, 36)), "0.99.0", "no uv 0.99.0 wheel for linux x86_64 glibc 2.36 (no such version)"),
    ],
)
def test_pick_wheel_says_when_none_fits(plat, version, message):
    with pytest.raises(InstallError, match="^the index offers " + re.escape(message)):
        install_uv.pick_wheel(LISTING, version, plat)


def test_project_page_html_and_json_give_absolute_urls_and_hashes():
    page = "https://index.example/simple/uv/"
    html = (b'<html><body><a href="../../files/uv-1.0-py3-none-win32.whl#sha256=ab12" data-requires-python="&gt;=3.8">'
            b"uv-1.0-py3-none-win32.whl</a><a href=\"https://cdn.example/uv-1.0.tar.gz#md5=ff\">uv-1.0.tar.gz</a></body></html>")
    assert install_uv.parse_project_page(html, "text/html; charset=utf-8", page) == [
        IndexFile("uv-1.0-py3-none-win32.whl", "https://index.example/files/uv-1.0-py3-none-win32.whl", "ab12"),
        IndexFile("uv-1.0.tar.gz", "https://cdn.example/uv-1.0.tar.gz", None),  # md5 is not accepted as a checksum
    ]
    body = json.dumps({"meta": {"api-version": "1.1"}, "name": "uv", "files": [
        {"filename": "uv-1.0-py3-none-win32.whl", "url": "/files/uv-1.0-py3-none-win32.whl", "hashes": {"sha256": "cd34"}},
        {"filename": "uv-1.0.tar.gz", "url": "https://cdn.example/uv-1.0.tar.gz", "hashes": {}},
    ]}).encode()
    assert install_uv.parse_project_page(body, "application/vnd.pypi.simple.v1+json", page) == [
        IndexFile("uv-1.0-py3-none-win32.whl", "https://index.example/files/uv-1.0-py3-none-win32.whl", "cd34"),
        IndexFile("uv-1.0.tar.gz", "https://cdn.example/uv-1.0.tar.gz", None),
    ]


def test_configured_index_follows_uv_then_pip_then_pip_conf(monkeypatch, tmp_path):
    for variable in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"):
        monkeypatch.delenv(variable, raising=False)
    conf = tmp_path / "pip.conf"
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    assert install_uv.configured_index() == "https://pypi.org/simple"
    conf.write_text("[global]\nindex-url = https://mirror.example/global/simple\n")
    assert install_uv.configured_index() == "https://mirror.example/global/simple"
    conf.write_text("[global]\nindex-url = https://mirror.example/global/simple\n"
                    "[install]\nindex-url = https://mirror.example/install/simple\n")
    assert install_uv.configured_index() == "https://mirror.example/install/simple"
    monkeypatch.setenv("PIP_INDEX_URL", "https://pip.example/simple")
    assert install_uv.configured_index() == "https://pip.example/simple"
    monkeypatch.setenv("UV_INDEX_URL", "https://uv.example/simple")
    assert install_uv.configured_index() == "https://uv.example/simple"
    monkeypatch.setenv("UV_DEFAULT_INDEX", "https://uv-default.example/simple")
    assert install_uv.configured_index() == "https://uv-default.example/simple"


# ------------------------------------------------------------------ a whole install from a local index
VERSION = "9.9.9"
LINUX = Platform("linux", "x86_64", "glibc", (2, 36))
WHEEL_NAME = f"uv-{VERSION}-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


def stand_in_wheel(says: str) -> bytes:
    """A wheel laid out like uv's, whose ``uv`` is a script printing ``says`` for --version."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        wheel.writestr(f"uv-{VERSION}.data/scripts/uv", f'#!/bin/sh\necho "{says}"\n')
        wheel.writestr(f"uv-{VERSION}.data/scripts/uvx", "#!/bin/sh\necho uvx\n")
        wheel.writestr(f"uv-{VERSION}.dist-info/METADATA", f"Name: uv\nVersion: {VERSION}\n")
    return buffer.getvalue()


class LocalIndex:
    """A simple-API index on 127.0.0.1 serving one uv wheel, as JSON or HTML, with the sha256 given."""

    def __init__(self, wheel: bytes, sha256: str, api: str):
        self.requests: list[str] = []
        index = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                index.requests.append(self.path)
                if self.path == "/simple/uv/":
                    if api == "json":
                        files = [{"filename": WHEEL_NAME, "url": f"../../files/{WHEEL_NAME}", "hashes": {"sha256": sha256}}]
                        page = {"meta": {"api-version": "1.0"}, "name": "uv", "files": files}
                        body, kind = json.dumps(page).encode(), "application/vnd.pypi.simple.v1+json"
                    else:
                        body, kind = f'<a href="/files/{WHEEL_NAME}#sha256={sha256}">{WHEEL_NAME}</a>'.encode(), "text/html"
                elif self.path == f"/files/{WHEEL_NAME}":
                    body, kind = wheel, "application/octet-stream"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/simple"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def no_uv_on_path(monkeypatch, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the local index is reached directly even behind a proxy
    return empty


@pytest.mark.parametrize("api", ["json", "html"])
def test_install_fetches_verifies_and_extracts(api, tmp_path, no_uv_on_path):
    wheel = stand_in_wheel(f"uv {VERSION} (stand-in)")
    index = LocalIndex(wheel, hashlib.sha256(wheel).hexdigest(), api)
    try:
        binary = install_uv.install(VERSION, tmp_path / "tools", index=index.url, plat=LINUX)
    finally:
        index.close()
    assert binary == tmp_path / "tools" / "uv"
    assert install_uv.uv_version(binary) == VERSION
    assert sorted(p.name for p in (tmp_path / "tools").iterdir()) == ["uv", "uvx"]
    assert index.requests == ["/simple/uv/", f"/files/{WHEEL_NAME}"]
    # A second call finds the installed binary and asks the index nothing.
    assert install_uv.install(VERSION, tmp_path / "tools", index="http://127.0.0.1:9/unreachable", plat=LINUX) == binary


def test_install_refuses_a_wheel_whose_sha256_differs(tmp_path, no_uv_on_path):
    wheel = stand_in_wheel(f"uv {VERSION}")
    index = LocalIndex(wheel, hashlib.sha256(b"another file").hexdigest(), "json")
    try:
        with pytest.raises(InstallError, match=f"sha256 mismatch for {WHEEL_NAME}"):
            install_uv.install(VERSION, tmp_path / "tools", index=index.url, plat=LINUX)
    finally:
        index.close()
    assert not (tmp_path / "tools").exists()


def test_install_checks_the_extracted_binarys_version(tmp_path, no_uv_on_path):
    wheel = stand_in_wheel("uv 1.0.0")
    index = LocalIndex(wheel, hashlib.sha256(wheel).hexdigest(), "html")
    try:
        with pytest.raises(InstallError, match=r"--version says '1\.0\.0', expected 9\.9\.9"):
            install_uv.install(VERSION, tmp_path / "tools", index=index.url, plat=LINUX)
    finally:
        index.close()


def test_a_uv_of_the_pinned_version_on_path_is_used_without_the_index(tmp_path, no_uv_on_path):
    on_path = no_uv_on_path / "uv"
    on_path.write_text(f'#!/bin/sh\necho "uv {VERSION} (on PATH)"\n')
    on_path.chmod(0o755)
    assert install_uv.install(VERSION, tmp_path / "tools", index="http://127.0.0.1:9/unreachable", plat=LINUX) == on_path
    # Another version on PATH is not taken: the index is asked (and here it cannot be reached).
    on_path.write_text('#!/bin/sh\necho "uv 0.1.0"\n')
    with pytest.raises(InstallError, match="cannot fetch http://127.0.0.1:9/unreachable/uv/"):
        install_uv.install(VERSION, tmp_path / "tools", index="http://127.0.0.1:9/unreachable", plat=LINUX)


def test_setup_installs_uv_through_the_script_not_pip():
    setup = (PROJECT_ROOT / "scripts" / "setup.sh").read_text()
    assert 'UV="$(python3 scripts/install_uv.py "$UV_VERSION")"' in setup
    assert not re.search(r"^[^#]*-m pip", setup, re.M), "no pip: PEP 668 and pip-less Pythons refuse it"
    assert '"$UV" sync --locked' in setup
