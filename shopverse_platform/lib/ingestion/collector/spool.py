"""The collector's durable landing writer: group commit into hidden files, rolled into the landing zone.

Requests hand their encoded lines (``append``) to one writer task. The writer takes everything
queued, appends it to the open file of each landing day (the UTC day of receipt), flushes and
fsyncs each touched file once, in a thread (the event loop keeps serving), and only then resolves
the waiting requests: a request is acknowledged after its lines are on disk, and one fsync covers
every request that arrived meanwhile (the more load, the bigger the group).

The file being written is hidden from the landing sensor and the raw layer: its name
``.collector-<host>-<pid>-<seq>.ndjson.open`` starts with a dot and does not end like an event
file, so ``landing.is_litter`` skips it and ``landing.is_event_file`` does not take it. It is
rolled (closed, atomically renamed to ``collector-<UTC yyyymmddTHHMMSSffffff>-<host>-<pid>-<seq>.ndjson``
in the same folder, the folder fsynced) every ``roll_seconds``, at ``roll_bytes``, when its UTC
day is over and at shutdown. The timestamp in the name is the roll time, strictly increasing per
writer, so the visible files of a folder sort in the order they appeared. A file is only created
with its first lines, so no empty file is ever rolled.

On start, ``recover`` finishes what a killed collector left: each leftover ``.open`` file is cut
after its last complete line (a partial last line was never acknowledged: its fsync did not
return) and rolled like any other file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

log = logging.getLogger("shopverse.collector")

OPEN_PREFIX = ".collector-"
OPEN_SUFFIX = ".ndjson.open"
_OPEN_NAME = re.compile(r"\.collector-(?P<host>.+)-(?P<pid>\d+)-(?P<seq>\d+)\.ndjson\.open")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StorageError(Exception):
    """Lines could not be made durable: the request that sent them must not be acknowledged."""


@dataclass
class _OpenFile:
    day: date
    path: Path
    handle: object
    opened: float
    size: int = 0
    lines: int = 0


@dataclass
class _Pending:
    day: date
    payload: bytes
    lines: int
    done: asyncio.Future = field(repr=False)


@dataclass
class SpoolStats:
    """Counters the app turns into metrics and health."""

    fsync_seconds: list[float] = field(default_factory=list)  # drained by the metrics hook
    files_rolled: int = 0


class Spool:
    """Group-committing writer of ``<events_dir>/<YYYY-MM-DD>/`` files; see the module docstring."""

    def __init__(
        self,
        events_dir: Path,
        roll_seconds: float = 30.0,
        roll_bytes: int = 64 * 1024 * 1024,
        on_fsync: Callable[[float], None] | None = None,
        on_roll: Callable[[Path, int, int], None] | None = None,
        clock: Callable[[], float] = time.time,
        summary_seconds: float = 60.0,
    ) -> None:
        self.events_dir = Path(events_dir)
        self.roll_seconds = roll_seconds
        self.roll_bytes = roll_bytes
        self._on_fsync = on_fsync or (lambda seconds: None)
        self._on_roll = on_roll or (lambda path, lines, size: None)
        self._clock = clock
        self._host = _host()
        self._pid = os.getpid()
        self._seq = 0
        self._last_stamp = ""
        self._files: dict[date, _OpenFile] = {}
        self._pending: list[_Pending] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._closing = False
        self._summary_seconds = summary_seconds
        self._summary_at = clock()
        self._summary_events = 0
        self._summary_requests = 0

    # ------------------------------------------------------------------------------ state
    @property
    def open_files(self) -> int:
        return len(self._files)

    @property
    def queue_depth(self) -> int:
        """Requests waiting for their lines to be written and fsynced."""
        return len(self._pending)

    # -------------------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self.events_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self.recover)
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="collector-spool")

    async def close(self) -> None:
        """Write what is queued, then roll every open file (graceful shutdown)."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            await self._task
        await asyncio.to_thread(self._roll_all)

    async def append(self, day: date, payload: bytes, lines: int) -> None:
        """Queue ``payload`` (whole lines, each ending in a newline) for the file of ``day``;
        returns once they are fsynced, raises ``StorageError`` if they could not be."""
        if self._closing or self._wake is None:
            raise StorageError("the collector is shutting down")
        done = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(day, payload, lines, done))
        self._wake.set()
        await done

    # ----------------------------------------------------------------------------- writer
    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            if not self._pending:
                if self._closing:
                    return
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._next_roll_in())
                except TimeoutError:
                    pass
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                try:
                    failed = await asyncio.to_thread(self._commit, batch)
                except BaseException as error:  # noqa: BLE001 - every waiter must hear of it
                    failed = {p.day: error for p in batch}
                for p in batch:
                    if p.done.done():
                        continue
                    if p.day in failed:
                        p.done.set_exception(StorageError(f"could not store events: {failed[p.day]}"))
                    else:
                        p.done.set_result(None)
                self._summary_requests += len(batch)
                self._summary_events += sum(p.lines for p in batch if p.day not in failed)
            try:
                if self._due():  # checked here: a thread hop per commit for nothing cost latency
                    await asyncio.to_thread(self._roll_due)
            except OSError as error:
                log.error("collector: rolling failed: %s", error)
            self._summarise()

    def _next_roll_in(self) -> float:
        now = self._clock()
        waits = [f.opened + self.roll_seconds - now for f in self._files.values()]
        waits.append(self._summary_at + self._summary_seconds - now)
        return max(0.05, min(waits))

    def _summarise(self) -> None:
        now = self._clock()
        if now - self._summary_at < self._summary_seconds:
            return
        if self._summary_events or self._summary_requests:
            seconds = now - self._summary_at
            log.info("collector: %s events in %s requests in the last %.0fs (%s events/s), %d open files",
                     f"{self._summary_events:,}", f"{self._summary_requests:,}", seconds,
                     f"{self._summary_events / seconds:,.0f}", len(self._files))
        self._summary_at, self._summary_events, self._summary_requests = now, 0, 0

    def _commit(self, batch: list[_Pending]) -> dict[date, BaseException]:
        """Append and fsync (runs in a thread). Returns the days whose lines failed; such a file
        is cut back to where this commit started and rolled, so no half-written line stays."""
        by_day: dict[date, list[bytes]] = {}
        counts: dict[date, int] = {}
        for p in batch:
            by_day.setdefault(p.day, []).append(p.payload)
            counts[p.day] = counts.get(p.day, 0) + p.lines
        failed: dict[date, BaseException] = {}
        for day, payloads in by_day.items():
            start = None
            try:
                f = self._file(day)
                start = f.size
                data = b"".join(payloads)
                f.handle.write(data)
                f.handle.flush()
                began = time.perf_counter()
                os.fsync(f.handle.fileno())
                self._on_fsync(time.perf_counter() - began)
                f.size += len(data)
                f.lines += counts[day]
            except (OSError, ValueError) as error:
                failed[day] = error
                self._abandon(day, start)
        return failed

    def _abandon(self, day: date, size: int | None) -> None:
        f = self._files.get(day)
        if f is None:
            return
        try:
            if size is not None:
                f.handle.truncate(size)
                f.handle.flush()
                os.fsync(f.handle.fileno())
            self._roll(day)
        except (OSError, ValueError) as error:
            log.error("collector: could not cut %s back after a failed write (%s); it is recovered at the next start", f.path, error)
            self._files.pop(day, None)

    def _file(self, day: date) -> _OpenFile:
        f = self._files.get(day)
        if f is None:
            folder = self.events_dir / day.isoformat()
            new_folder = not folder.exists()
            folder.mkdir(parents=True, exist_ok=True)
            self._seq += 1
            path = folder / f"{OPEN_PREFIX}{self._host}-{self._pid}-{self._seq}{OPEN_SUFFIX}"
            handle = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open until rolled
            fsync_dir(folder)  # the file's entry is as durable as its lines
            if new_folder:
                fsync_dir(self.events_dir)
            f = self._files[day] = _OpenFile(day, path, handle, self._clock())
        return f

    # ---------------------------------------------------------------------------- rolling
    def _due(self) -> bool:
        now = self._clock()
        today = datetime.fromtimestamp(now, timezone.utc).date()
        return any(f.size >= self.roll_bytes or now - f.opened >= self.roll_seconds or day != today
                   for day, f in self._files.items())

    def _roll_due(self) -> None:
        now = self._clock()
        today = datetime.fromtimestamp(now, timezone.utc).date()
        for day, f in list(self._files.items()):
            if f.size >= self.roll_bytes or now - f.opened >= self.roll_seconds or day != today:
                self._roll(day)

    def _roll_all(self) -> None:
        for day in list(self._files):
            self._roll(day)

    def _stamp(self) -> str:
        stamp = datetime.fromtimestamp(self._clock(), timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        if stamp <= self._last_stamp:  # same microsecond or a clock step back: keep names increasing
            stamp = f"{int(self._last_stamp[:8]):08d}T{int(self._last_stamp[9:]) + 1:012d}"
        self._last_stamp = stamp
        return stamp

    def _roll(self, day: date) -> Path | None:
        f = self._files.pop(day)
        f.handle.close()
        if f.size == 0 and f.path.stat().st_size == 0:
            f.path.unlink()
            fsync_dir(f.path.parent)
            return None
        return self._publish(f.path, f.lines, f.path.stat().st_size)

    def _publish(self, path: Path, lines: int, size: int) -> Path:
        match = _OPEN_NAME.fullmatch(path.name)
        host, pid, seq = (match["host"], match["pid"], match["seq"]) if match else (self._host, str(self._pid), "0")
        target = path.with_name(f"collector-{self._stamp()}-{host}-{pid}-{seq}.ndjson")
        os.rename(path, target)
        fsync_dir(path.parent)
        self._on_roll(target, lines, size)
        log.info("rolled %s : %s events, %.1f MB", target.relative_to(self.events_dir.parent), f"{lines:,}", size / 1e6)
        return target

    # --------------------------------------------------------------------------- recovery
    def recover(self) -> list[Path]:
        """Roll the ``.open`` files a collector that died left behind, each cut after its last
        complete line. Files of a collector still running on this host (its pid alive) are left."""
        rolled: list[Path] = []
        if not self.events_dir.is_dir():
            return rolled
        for folder in sorted(p for p in self.events_dir.iterdir() if p.is_dir()):
            for path in sorted(folder.glob(f"{OPEN_PREFIX}*{OPEN_SUFFIX}")):
                match = _OPEN_NAME.fullmatch(path.name)
                if match and match["host"] == self._host and int(match["pid"]) != self._pid and _alive(int(match["pid"])):
                    continue
                rolled.extend(p for p in [self._recover_file(path)] if p is not None)
        return rolled

    def _recover_file(self, path: Path) -> Path | None:
        with open(path, "r+b") as handle:
            data = handle.read()
            keep = data.rfind(b"\n") + 1
            if keep < len(data):
                handle.truncate(keep)
                handle.flush()
                os.fsync(handle.fileno())
        if keep == 0:
            path.unlink()
            fsync_dir(path.parent)
            log.info("recovered %s: no complete line, removed", path)
            return None
        log.info("recovering %s: %d bytes of a partial last line cut", path, len(data) - keep)
        return self._publish(path, data[:keep].count(b"\n"), keep)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
