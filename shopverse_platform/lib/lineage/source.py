"""Where an asset's code lives: file, line, and the git commit of the checkout (read from .git)."""

from __future__ import annotations

import configparser
import inspect
from pathlib import Path

from shopverse_platform.lib.lineage.run_events import SourceLocation


def source_location(fn: object) -> SourceLocation | None:
    """The file and first line of ``fn``, plus the git commit and origin URL when in a checkout."""
    try:
        target = inspect.unwrap(fn)  # type: ignore[arg-type]
        path = Path(inspect.getsourcefile(target) or "").resolve()
        line = inspect.getsourcelines(target)[1]
    except (TypeError, OSError):
        return None
    if not path.is_file():
        return None
    git_dir = _git_dir(path)
    return SourceLocation(
        path=str(path), line=line,
        git_sha=_head_commit(git_dir) if git_dir else None,
        repo_url=_origin_url(git_dir) if git_dir else None,
    )


def _git_dir(path: Path) -> Path | None:
    for parent in path.parents:
        candidate = parent / ".git"
        if candidate.is_dir():
            return candidate
    return None


def _head_commit(git_dir: Path) -> str | None:
    """HEAD's commit without running git: a detached sha, a loose ref, or a packed ref."""
    try:
        head = (git_dir / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head or None
        ref = head[5:]
        loose = git_dir / ref
        if loose.is_file():
            return loose.read_text().strip() or None
        packed = git_dir / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split(" ", 1)[0]
    except OSError:
        pass
    return None


def _origin_url(git_dir: Path) -> str | None:
    config = configparser.ConfigParser(strict=False)
    try:
        config.read(git_dir / "config")
        return config.get('remote "origin"', "url", fallback=None)
    except configparser.Error:
        return None
