"""Local processes started as sessions of their own, recorded in PID files and stopped by PID.

Every process runs in its own session (``start_new_session``) with a PID file holding its PID and
start time, so a recycled PID is never signalled. Stopping sends SIGTERM to the process, then to
its whole session, then SIGKILL to whatever is left of the session and of its process tree.
Processes are found through /proc: no psutil at run time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shopverse_platform.lib import paths
from shopverse_platform.lib.automation.processes import alive, start_time
from shopverse_platform.lib.automation.processes import stat as _stat


class StackError(RuntimeError):
    """A service did not start, or the stack is in a state the command cannot act on."""


@dataclass
class Service:
    name: str
    label: str
    argv: list[str]
    env: dict[str, str]
    ready: Callable[[], bool]  # True when serving; may raise StackError for a fatal problem
    url: str | None = None
    after: tuple[str, ...] = ()  # services that must be ready before this one starts
    timeout: float = 240.0
    port: int | None = None  # the port it listens on, checked free before anything starts
    port_setting: str = ""  # what chooses another port (an option, a variable)



# ----------------------------------------------------------------------------- processes (/proc)

def _all_processes() -> dict[int, tuple[str, int, int, str]]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))):
            found[int(entry.name)] = stat
    return found


def family(pid: int, start: str | None = None) -> dict[int, str]:
    """The process, its descendants and every member of its session: {pid: start time}.

    Members of the session outlive a leader that was killed. Linux does not hand out a PID while a
    session still uses it as its id, so if ``pid`` now runs with another start time than ``start``
    (the leader's), the number was reused and nothing under it is ours."""
    procs = _all_processes()
    if start is not None and pid in procs and procs[pid][3] != start:
        return {}
    members = {p: s[3] for p, s in procs.items() if p == pid or s[2] == pid}
    frontier = list(members)
    while frontier:
        parent = frontier.pop()
        for p, s in procs.items():
            if s[1] == parent and p not in members:
                members[p] = s[3]
                frontier.append(p)
    return members


def wait_gone(procs: Mapping[int, str], timeout: float) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    while (left := {p: s for p, s in procs.items() if alive(p, s)}) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _signal(pids: Mapping[int, str], sig: int) -> None:
    for pid, start in pids.items():
        if alive(pid, start):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass


def terminate(pid: int, start: str, timeout: float = 30.0) -> None:
    """SIGTERM the process, then its session; SIGKILL what is left of its session and tree."""
    tree = family(pid, start)
    if alive(pid, start):
        _signal({pid: start}, signal.SIGTERM)  # the leader first: it shuts its own children down
        wait_gone({pid: start}, timeout)
        tree.update(family(pid, start) if alive(pid, start) else {})
    left = {p: s for p, s in tree.items() if alive(p, s)}  # then whatever it left behind
    _signal(left, signal.SIGTERM)
    left = wait_gone(left, 5)
    _signal(left, signal.SIGKILL)
    if left := wait_gone(left, 10):
        raise StackError(f"processes {sorted(left)} survived SIGKILL")




def rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    total = 0
    for member in family(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


# ----------------------------------------------------------------------------- supervisor


_CHILDREN: dict[tuple[str, str], subprocess.Popen] = {}  # (state dir, service) -> started by this process

class Supervisor:
    """Starts services as sessions of their own, records them in PID files, stops them by PID."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.pid_dir, self.log_dir = home / "pids", home / "logs"

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def record(self, name: str) -> tuple[int, str] | None:
        """(pid, start time) of a running service, else None. A stale PID file stays until stop():
        what is left of the service's session is found through it."""
        try:
            pid, start = (self.pid_dir / f"{name}.pid").read_text().split()
        except (OSError, ValueError):
            return None
        return (int(pid), start) if alive(int(pid), start) else None

    def spawn(self, service: Service) -> int:
        if record := self.record(service.name):
            raise StackError(f"{service.name} is already running (pid {record[0]})")
        self.stop(service.name)  # a stale PID file: what a crashed run of the stack left behind goes first
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path(service.name), "ab") as log:
            log.write(f"\n===== {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(service.argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                service.argv, env=service.env, cwd=paths.PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                # A shell that started us in the background ignores SIGINT; dagster maps SIGTERM to
                # the SIGINT handler, so an inherited "ignore" would make the service unstoppable.
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            )
        start = None
        while start is None and proc.poll() is None:
            start = start_time(proc.pid)
        (self.pid_dir / f"{service.name}.pid").write_text(f"{proc.pid} {start}\n")
        _CHILDREN[(str(self.home), service.name)] = proc
        return proc.pid

    def start_all(self, services: list[Service], on_start: Callable[[Service, int], None]) -> None:
        """Start each service once those it comes after are ready; return when all are ready."""
        started: dict[str, float] = {}
        ready: set[str] = set()
        while len(ready) < len(services):
            for service in services:
                if service.name not in started and set(service.after) <= ready:
                    on_start(service, self.spawn(service))
                    started[service.name] = time.monotonic()
            for service in services:
                name = service.name
                if name not in started or name in ready:
                    continue
                if not self.record(name):
                    raise StackError(f"{service.label} exited during startup:\n{self.log_tail(name)}")
                try:
                    if service.ready():
                        ready.add(name)
                except StackError as error:
                    raise StackError(f"{service.label}: {error}\n{self.log_tail(name)}") from None
                if name not in ready and time.monotonic() - started[name] > service.timeout:
                    raise StackError(f"{service.label} not ready after {service.timeout:.0f}s:\n{self.log_tail(name)}")
            time.sleep(0.5)

    def stop(self, name: str, timeout: float = 30.0) -> None:
        try:  # even when the leader has died, what is left of its session must go
            pid, start = (self.pid_dir / f"{name}.pid").read_text().split()
        except (OSError, ValueError):
            return
        terminate(int(pid), start, timeout=timeout)
        if child := _CHILDREN.pop((str(self.home), name), None):
            child.wait(timeout=5)  # started by this process: reap it
        (self.pid_dir / f"{name}.pid").unlink(missing_ok=True)

    def log_tail(self, name: str, lines: int = 30) -> str:
        try:
            text = self.log_path(name).read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "(no log)"
        return "\n".join(f"    {line}" for line in text) + f"\n    (full log: {self.log_path(name)})"

