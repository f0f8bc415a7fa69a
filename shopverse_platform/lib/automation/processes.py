"""Which process executes a run, and whether it still exists: read from /proc (no psutil at run time).

A run is tagged ``shopverse/runner`` = ``host:pid:start time`` by the process that executes its
steps (the shopverse command for its in-process runs, the run worker for runs the daemon launches).
The PID with its start time names one process: a PID the kernel handed out again after the
worker died has another start time, so it never passes for the worker.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

RUNNER_TAG = "shopverse/runner"


def stat(pid: int) -> tuple[str, int, int, str] | None:
    """(state, ppid, session id, start time) of a live process, from /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[1]), int(fields[3]), fields[19]


def alive(pid: int, start: str | None = None) -> bool:
    found = stat(pid)
    return found is not None and found[0] not in ("Z", "X") and (start is None or found[3] == start)


def start_time(pid: int) -> str | None:
    """The start time /proc records for a live process: with the PID, it names the process."""
    found = stat(pid)
    return found[3] if found else None


def runner_tag() -> str:
    """The ``shopverse/runner`` value naming this process."""
    return f"{socket.gethostname()}:{os.getpid()}:{start_time(os.getpid())}"


def runner_gone(tag: str | None) -> str | None:
    """Why the process the tag names is known to be gone ("pid N on HOST"), else None: it is
    alive, or the tag is missing or unreadable, or it names another host (whose processes this one
    cannot see: the daemon and the code location may run in separate containers)."""
    host, _, rest = (tag or "").partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit() or alive(int(pid), started or None):
        return None
    return f"pid {pid} on {host}"
