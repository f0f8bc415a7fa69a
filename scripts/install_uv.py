#!/usr/bin/env python3
"""Install a pinned uv with nothing but the Python standard library.

    python3 scripts/install_uv.py 0.13.9 [--dest DIR]

Prints the path of a ``uv`` binary of exactly that version on stdout (progress goes to stderr):

1. ``uv`` on PATH, or already in DIR, when ``uv --version`` says the pinned version: used as is,
   no network.
2. Otherwise the uv wheel for this machine is fetched from the package index, its sha256 checked
   against the one the index publishes, and the ``uv`` binary extracted from it (a wheel is a zip
   file; uv ships it under ``uv-<version>.data/scripts/``) into DIR (default ``<project>/.tools/
   uv-<version>``), then ``uv --version`` checked.

Why not ``python3 -m pip install uv``: Debian 12 and Ubuntu 24.04 mark their Python as externally
managed (PEP 668), so pip refuses, and a stock system often has no pip at all. uv is one static
binary; its wheel is the only carrier the package index offers, so reading the zip is enough.

The index is the one this machine is configured for, in this order: UV_DEFAULT_INDEX,
UV_INDEX_URL, PIP_INDEX_URL, ``index-url`` in pip's configuration files, else
https://pypi.org/simple. It is read through the simple repository API, JSON (PEP 691) when the
index offers it, else HTML (PEP 503). A CA bundle from PIP_CERT or pip's ``cert`` setting is
honoured (SSL_CERT_FILE is, by Python itself); HTTPS_PROXY and the like are, by urllib.
"""

from __future__ import annotations

import argparse
import base64
import configparser
import hashlib
import html.parser
import json
import os
import platform
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INDEX = "https://pypi.org/simple"
# Legacy manylinux names and the glibc they stand for (PEP 600).
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


class InstallError(Exception):
    """A reason the pinned uv cannot be installed, said in one line for the operator."""


def log(message: str) -> None:
    print(f"install_uv: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ platform
@dataclass(frozen=True)
class Platform:
    """What a wheel's platform tag is matched against."""

    system: str  # linux, macos or windows
    arch: str  # x86_64, aarch64, armv7l, i686, ppc64le, s390x, riscv64, arm64 (macOS) …
    libc: str = ""  # glibc or musl (Linux only)
    version: tuple[int, int] = (0, 0)  # glibc or musl version on Linux, macOS version on macOS


def _musl_version(arch: str) -> tuple[int, int] | None:
    """Version of the musl loader, if this Linux is a musl one (it prints it on stderr)."""
    loader = Path(f"/lib/ld-musl-{arch}.so.1")
    if not loader.exists():
        return None
    out = subprocess.run([str(loader)], capture_output=True, text=True, check=False).stderr
    match = re.search(r"Version (\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else (1, 1)


def detect_platform() -> Platform:
    machine = platform.machine()
    if sys.platform.startswith("linux"):
        arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine)
        if sys.maxsize <= 2**32 and arch == "x86_64":
            arch = "i686"  # a 32-bit Python on a 64-bit kernel
        glibc = os.confstr("CS_GNU_LIBC_VERSION") if hasattr(os, "confstr") else None
        if glibc and (match := re.match(r"glibc (\d+)\.(\d+)", glibc)):
            return Platform("linux", arch, "glibc", (int(match.group(1)), int(match.group(2))))
        if (musl := _musl_version(arch)) is not None:
            return Platform("linux", arch, "musl", musl)
        raise InstallError(f"cannot tell this Linux's C library (glibc or musl) for a {arch} uv wheel")
    if sys.platform == "darwin":
        major, minor, *_ = (int(part) for part in (platform.mac_ver()[0] + ".0").split(".")[:2])
        return Platform("macos", machine, "", (major, minor))
    if sys.platform == "win32":
        return Platform("windows", {"AMD64": "amd64", "ARM64": "arm64", "x86": "win32"}.get(machine, machine.lower()))
    raise InstallError(f"no uv wheel is known for this system ({sys.platform} {machine})")


def tag_fit(tag: str, plat: Platform) -> tuple[int, ...] | None:
    """How well one wheel platform tag fits ``plat`` (higher is better), None if it does not run there."""
    if plat.system == "linux":
        if tag in (f"{legacy}_{plat.arch}" for legacy in LEGACY_MANYLINUX) and plat.libc == "glibc":
            needs = LEGACY_MANYLINUX[tag[: -len(plat.arch) - 1]]
            return needs if needs <= plat.version else None
        match = re.fullmatch(r"(manylinux|musllinux)_(\d+)_(\d+)_(.+)", tag)
        if not match or match.group(4) != plat.arch:
            return None
        family_libc = "glibc" if match.group(1) == "manylinux" else "musl"
        needs = (int(match.group(2)), int(match.group(3)))
        return needs if family_libc == plat.libc and needs <= plat.version else None
    if plat.system == "macos":
        match = re.fullmatch(r"macosx_(\d+)_(\d+)_(.+)", tag)
        if not match:
            return None
        needs, arch = (int(match.group(1)), int(match.group(2))), match.group(3)
        fits_arch = arch == plat.arch or (arch == "universal2" and plat.arch in ("x86_64", "arm64"))
        # An architecture-specific wheel beats universal2 (smaller, same binary).
        return (int(arch != "universal2"), *needs) if fits_arch and needs <= plat.version else None
    if plat.system == "windows":
        return (0,) if tag == ("win32" if plat.arch == "win32" else f"win_{plat.arch}") else None
    return None


# -------------------------------------------------------------------------------------- index
@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str
    sha256: str | None


def pip_config_files() -> list[Path]:
    """pip's configuration files, lowest precedence first (pip's own order)."""
    if env_file := os.environ.get("PIP_CONFIG_FILE"):
        return [] if env_file == os.devnull else [Path(env_file)]
    home = Path.home()
    xdg_dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d] + [Path("/etc/pip.conf")]
    xdg_home = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    files += [home / ".pip" / "pip.conf", xdg_home / "pip" / "pip.conf"]
    if venv := os.environ.get("VIRTUAL_ENV"):
        files.append(Path(venv) / "pip.conf")
    return files


def pip_config_value(key: str) -> str | None:
    """``key`` from pip's configuration files ([install] over [global], later files over earlier)."""
    value = None
    for path in pip_config_files():
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (OSError, configparser.Error):
            continue
        for section in ("global", "install"):
            if parser.has_option(section, key):
                value = parser.get(section, key).strip()
    return value or None


def configured_index() -> str:
    """The package index this machine is configured for (see the module docstring)."""
    for variable in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"):
        if value := os.environ.get(variable, "").strip():
            return value
    return pip_config_value("index-url") or DEFAULT_INDEX


def ssl_context() -> ssl.SSLContext:
    cafile = os.environ.get("PIP_CERT") or pip_config_value("cert")
    return ssl.create_default_context(cafile=cafile if cafile and Path(cafile).exists() else None)


def _split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without user:password, and the Authorization header they stand for (urllib ignores them)."""
    parts = urllib.parse.urlsplit(url)
    if not parts.username:
        return url, {}
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    token = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
    header = {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), header


class _AnchorParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), []

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.anchors.append((self._href, "".join(self._text).strip()))
            self._href = None


def parse_project_page(body: bytes, content_type: str, page_url: str) -> list[IndexFile]:
    """The files of a simple-API project page, JSON (PEP 691) or HTML (PEP 503), with absolute URLs."""
    files = []
    if "json" in content_type:
        for entry in json.loads(body)["files"]:
            url = urllib.parse.urljoin(page_url, entry["url"])
            files.append(IndexFile(entry["filename"], url, entry.get("hashes", {}).get("sha256")))
        return files
    parser = _AnchorParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    for href, text in parser.anchors:
        url, _, fragment = urllib.parse.urljoin(page_url, href).partition("#")
        algorithm, _, digest = fragment.partition("=")
        filename = text or urllib.parse.unquote(url.rsplit("/", 1)[-1])
        files.append(IndexFile(filename, url, digest if algorithm == "sha256" and digest else None))
    return files


def pick_wheel(files: list[IndexFile], version: str, plat: Platform) -> IndexFile:
    """The uv ``version`` wheel that runs on ``plat``, the best-fitting one if several do."""
    best, best_fit = None, None
    pattern = re.compile(rf"uv-{re.escape(version)}-py3-none-(.+)\.whl")
    for file in files:
        match = pattern.fullmatch(file.filename)
        if not match:
            continue
        fits = [fit for tag in match.group(1).split(".") if (fit := tag_fit(tag, plat)) is not None]
        if fits and (best_fit is None or max(fits) > best_fit):
            best, best_fit = file, max(fits)
    if best is None:
        offered = sorted({f.filename for f in files if f.filename.startswith(f"uv-{version}-")})
        libc_or_os = ".".join(map(str, plat.version)) if plat.version != (0, 0) else ""
        machine = " ".join(filter(None, (plat.system, plat.arch, plat.libc, libc_or_os)))
        raise InstallError(
            f"the index offers no uv {version} wheel for {machine}"
            + (f" (it has: {', '.join(offered)})" if offered else " (no such version)")
        )
    return best


def fetch(url: str, headers: dict[str, str], context: ssl.SSLContext):
    request = urllib.request.Request(url, headers={"User-Agent": "shopverse-install-uv", **headers})
    try:
        return urllib.request.urlopen(request, timeout=60, context=context)
    except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
        raise InstallError(f"cannot fetch {url}: {exc}") from exc


def download_verified(file: IndexFile, target: Path, headers: dict[str, str], context: ssl.SSLContext) -> None:
    """Download ``file`` to ``target``, refusing it unless its sha256 is the index's."""
    if not file.sha256:
        raise InstallError(f"the index publishes no sha256 for {file.filename}; refusing an unverified download")
    digest = hashlib.sha256()
    with fetch(file.url, headers, context) as response, open(target, "wb") as out:
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != file.sha256.lower():
        raise InstallError(f"sha256 mismatch for {file.filename}: index says {file.sha256}, download is {digest.hexdigest()}")


def extract_binaries(wheel: Path, version: str, dest: Path, exe: str) -> Path:
    """Put the wheel's ``uv`` (and ``uvx``) binaries into ``dest``; returns the uv path."""
    prefix = f"uv-{version}.data/scripts/"
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.startswith(prefix) and "/" not in n[len(prefix):]]
        if prefix + "uv" + exe not in names:
            raise InstallError(f"{wheel.name} holds no {prefix}uv{exe}")
        for name in names:
            final = dest / name[len(prefix):]
            # Extract beside the final path, then rename: a concurrent reader never sees half a binary.
            partial = final.with_name(final.name + ".partial")
            with archive.open(name) as src, open(partial, "wb") as out:
                shutil.copyfileobj(src, out)
            partial.chmod(0o755)  # zip members carry no usable mode here
            os.replace(partial, final)
    return dest / ("uv" + exe)


def uv_version(binary: str | Path) -> str | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except OSError:
        return None
    match = re.match(r"uv (\S+)", out)
    return match.group(1) if match else None


def install(version: str, dest: Path, index: str | None = None, plat: Platform | None = None) -> Path:
    """Path of a uv ``version`` binary: an existing one, else one installed from the index into ``dest``."""
    exe = ".exe" if sys.platform == "win32" else ""
    for candidate in (shutil.which("uv"), dest / f"uv{exe}"):
        if candidate and Path(candidate).exists() and uv_version(candidate) == version:
            return Path(candidate)
    index = (index or configured_index()).rstrip("/")
    plat = plat or detect_platform()
    index_url, headers = _split_credentials(index)
    context = ssl_context()
    page = f"{index_url}/uv/"
    log(f"fetching uv {version} from {page}")
    accept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
    with fetch(page, {**headers, "Accept": accept}, context) as response:
        files = parse_project_page(response.read(), response.headers.get("Content-Type", ""), response.geturl())
    wheel = pick_wheel(files, version, plat)
    # Credentials go only to the index's own host, not to a files host it links to.
    same_host = urllib.parse.urlsplit(wheel.url).netloc == urllib.parse.urlsplit(index_url).netloc
    with tempfile.TemporaryDirectory(prefix="install-uv-") as tmp:
        path = Path(tmp) / wheel.filename
        download_verified(wheel, path, headers if same_host else {}, context)
        log(f"{wheel.filename}: sha256 {wheel.sha256} verified")
        binary = extract_binaries(path, version, dest, exe)
    found = uv_version(binary)
    if found != version:
        raise InstallError(f"{binary} --version says {found!r}, expected {version}")
    log(f"uv {version} installed: {binary}")
    return binary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version", help="exact uv version, e.g. 0.13.9")
    parser.add_argument("--dest", type=Path, help="where to put the binary (default: <project>/.tools/uv-VERSION)")
    parser.add_argument("--index", help="simple-API index URL (default: the configured one, see above)")
    args = parser.parse_args(argv)
    dest = args.dest or PROJECT_ROOT / ".tools" / f"uv-{args.version}"
    try:
        print(install(args.version, dest, args.index))
    except InstallError as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
