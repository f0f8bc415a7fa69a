"""What changed in the landing zone since the last look, as UTC days to (re)process.

The landing-zone sensor calls ``scan`` and then ``plan``; both are plain functions so the rules
can be tested without Dagster.

- A day's state is one token: a digest of every file's name, size and modification time, the file
  count and the newest modification time. The cursor keeps one token per day (not one entry per
  file: the classic ``logs/YYYYMMDD/*.json`` layout holds one file per event), so it stays small.
- A day runs when its token is new or has changed: a new file, a changed file, a re-delivery
  copied over an old one. A pure deletion (fewer files, nothing newer) does not run: archiving a
  landing folder must not empty the warehouse.
- A file modified less than ``settle_seconds`` ago is still being written: its day waits for a
  later tick and its cursor entry is left alone, so nothing is recorded before it was complete.
- A day that has not ended yet (today, UTC) gets no full run: it is neither run nor recorded among
  the days, so it is seen as new once it has ended. Meanwhile ``freshness_plan`` decides its
  freshness runs (docs/operations.md), recorded apart in the cursor's ``fresh`` entries.
- Order exports (CSV files spanning many days) have one fingerprint each; a new or changed export
  runs the invoice days it contains.
- First look (no cursor): a day runs unless the raw asset already holds a materialization of it
  made after its newest file; either way it is recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from shopverse_platform.lib.automation.settings import contiguous_blocks, week_start
from shopverse_platform.lib.ingestion import landing
from shopverse_platform.lib.ingestion.order_exports import order_export_files

CURSOR_VERSION = 1


@dataclass(frozen=True)
class DayState:
    digest: str
    count: int
    newest_mtime_ns: int

    @property
    def token(self) -> str:
        return f"{self.digest}:{self.count}:{self.newest_mtime_ns}"

    @classmethod
    def from_token(cls, token: str) -> DayState:
        digest, count, newest = token.split(":")
        return cls(digest, int(count), int(newest))

    def only_lost_files_since(self, before: DayState) -> bool:
        """True when the day only lost files: fewer of them and none newer than before."""
        return self.count < before.count and self.newest_mtime_ns <= before.newest_mtime_ns


@dataclass(frozen=True)
class ExportState:
    fingerprint: str  # "size:mtime_ns"
    mtime_ns: int


@dataclass
class Snapshot:
    days: dict[date, DayState] = field(default_factory=dict)
    unsettled_days: set[date] = field(default_factory=set)
    exports: dict[str, ExportState] = field(default_factory=dict)
    unsettled_exports: set[str] = field(default_factory=set)


@dataclass
class LandingCursor:
    days: dict[str, str] = field(default_factory=dict)  # ISO day -> DayState token
    exports: dict[str, str] = field(default_factory=dict)  # export path -> fingerprint
    # the freshness path: ISO day not ended yet -> "token@POSIX time" of its last freshness request
    fresh: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        raw = {"v": CURSOR_VERSION, "days": self.days, "exports": self.exports}
        if self.fresh:  # absent when empty: a cursor without freshness entries reads as before
            raw["fresh"] = self.fresh
        return json.dumps(raw, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> LandingCursor | None:
        if not text:
            return None
        raw = json.loads(text)
        if raw.get("v") != CURSOR_VERSION:
            return None  # an unknown cursor shape is treated as a first look
        return cls(days=dict(raw.get("days", {})), exports=dict(raw.get("exports", {})), fresh=dict(raw.get("fresh", {})))


@dataclass
class LandingPlan:
    days_to_run: dict[date, str]  # day -> why ("new", "changed", "order export ...", "first look")
    cursor: LandingCursor
    waiting: set[date] = field(default_factory=set)  # still being written, or not ended yet
    deletions_ignored: set[date] = field(default_factory=set)

    def blocks(self) -> list[tuple[date, date]]:
        return contiguous_blocks(set(self.days_to_run))

    def weeks(self) -> set[date]:
        return {week_start(day) for day in self.days_to_run}


# ----------------------------------------------------------------------------------- scanning
def _parse_day(name: str, layout: str) -> date | None:
    try:
        if layout == "events":
            return date.fromisoformat(name) if len(name) == 10 else None
        return datetime.strptime(name, "%Y%m%d").date() if len(name) == 8 and name.isdigit() else None
    except ValueError:
        return None


def _event_file(name: str, layout: str) -> bool:
    # every file raw_events registers, the ones it quarantines as not event files included: a note
    # dropped into a day already ingested changes what that day's rerun records
    return landing.is_landed_name(name, layout)


def _scan_imports(base: Path, entries: dict[date, list[tuple[str, int, int]]]) -> None:
    """Other tools' exports, ``imports/<source>/YYYY-MM-DD/<file>``: part of their day like its
    event files (raw_events registers them, unknown sources included, litter excepted)."""
    if not base.is_dir():
        return
    with os.scandir(base) as sources:
        for source in sources:
            if not source.is_dir() or landing.is_litter(source.name):
                continue
            with os.scandir(source.path) as day_dirs:
                for day_dir in day_dirs:
                    day = _parse_day(day_dir.name, "events") if day_dir.is_dir() else None
                    if day is None:
                        continue
                    with os.scandir(day_dir.path) as files:
                        for entry in files:
                            if entry.is_file() and not landing.is_litter(entry.name):
                                stat = entry.stat()
                                entries.setdefault(day, []).append(
                                    (f"imports/{source.name}/{day_dir.name}/{entry.name}", stat.st_size, stat.st_mtime_ns))


def scan(root: Path, order_exports: Path | None, now: float, settle_seconds: float) -> Snapshot:
    """Fingerprint the landing zone: event days under ``events/``, ``logs/`` and
    ``imports/<source>/``, and order exports.

    ``now`` is a POSIX timestamp; files modified after ``now - settle_seconds`` are unsettled.
    """
    snapshot = Snapshot()
    settled_before_ns = int((now - settle_seconds) * 1e9)
    entries: dict[date, list[tuple[str, int, int]]] = {}
    for layout in ("events", "logs"):
        base = root / layout
        if not base.is_dir():
            continue
        with os.scandir(base) as day_dirs:
            for day_dir in day_dirs:
                day = _parse_day(day_dir.name, layout) if day_dir.is_dir() else None
                if day is None:
                    continue
                with os.scandir(day_dir.path) as files:
                    for entry in files:
                        if not entry.is_file() or not _event_file(entry.name, layout):
                            continue
                        stat = entry.stat()
                        entries.setdefault(day, []).append((f"{layout}/{day_dir.name}/{entry.name}", stat.st_size, stat.st_mtime_ns))
    _scan_imports(root / "imports", entries)
    for day, files in entries.items():
        files.sort()
        newest = max(m for _, _, m in files)
        if newest > settled_before_ns:
            snapshot.unsettled_days.add(day)
            continue
        digest = hashlib.sha1("\n".join(f"{n}|{s}|{m}" for n, s, m in files).encode()).hexdigest()[:16]
        snapshot.days[day] = DayState(digest, len(files), newest)
    if order_exports is not None:
        for path in order_export_files(order_exports):
            stat = path.stat()
            key = str(path)
            if stat.st_mtime_ns > settled_before_ns:
                snapshot.unsettled_exports.add(key)
            else:
                snapshot.exports[key] = ExportState(f"{stat.st_size}:{stat.st_mtime_ns}", stat.st_mtime_ns)
    return snapshot


# ----------------------------------------------------------------------------------- planning
ProcessedAt = Callable[[str, Iterable[date]], dict[date, float]]
"""(raw asset name, days) -> {day: timestamp of the latest materialization of that day}."""


def plan(
    snapshot: Snapshot,
    cursor: LandingCursor | None,
    *,
    last_complete: date,
    first_day: date,
    processed_at: ProcessedAt,
    days_of_export: Callable[[str], set[date]],
) -> LandingPlan:
    """Decide which complete UTC days to run and the cursor to store (see the module docstring)."""
    first_look = cursor is None
    previous = cursor or LandingCursor()
    new = LandingCursor(days={}, exports={})
    to_run: dict[date, str] = {}
    waiting = {d for d in snapshot.unsettled_days if first_day <= d}
    deletions: set[date] = set()

    def valid(day: date) -> bool:
        return first_day <= day <= last_complete

    # Unsettled or not-yet-ended days keep whatever the cursor said about them.
    for day in snapshot.unsettled_days:
        if day.isoformat() in previous.days:
            new.days[day.isoformat()] = previous.days[day.isoformat()]

    complete = {day: state for day, state in snapshot.days.items() if valid(day)}
    waiting |= {day for day in snapshot.days if day > last_complete}
    if first_look:
        done = processed_at("raw_events", complete.keys())
        for day, state in complete.items():
            if done.get(day, -1.0) * 1e9 < state.newest_mtime_ns:
                to_run[day] = "first look: not processed since its files landed"
    else:
        for day, state in complete.items():
            before = previous.days.get(day.isoformat())
            if before is None:
                to_run[day] = "new files"
            elif before != state.token:
                if state.only_lost_files_since(DayState.from_token(before)):
                    deletions.add(day)
                else:
                    to_run[day] = "changed files"
    for day, state in complete.items():
        new.days[day.isoformat()] = state.token

    for key in snapshot.unsettled_exports:
        if key in previous.exports:
            new.exports[key] = previous.exports[key]
    for key, export in snapshot.exports.items():
        new.exports[key] = export.fingerprint
        if not first_look and previous.exports.get(key) == export.fingerprint:
            continue
        days = {d for d in days_of_export(key) if valid(d)}
        if first_look:
            done = processed_at("raw_orders", days)
            days = {d for d in days if done.get(d, -1.0) * 1e9 < export.mtime_ns}
        name = Path(key).name
        for day in days:
            to_run.setdefault(day, f"order export {name}")
    return LandingPlan(days_to_run=to_run, cursor=new, waiting=waiting - set(to_run), deletions_ignored=deletions)


def run_key(prefix: str, first: date, last: date, plan_: LandingPlan) -> str:
    """A run key unique to the landing state of the days it covers, so the same state is never
    requested twice (Dagster drops a run request whose key a sensor already used)."""
    tokens = [plan_.cursor.days.get((first + timedelta(days=i)).isoformat(), "") for i in range((last - first).days + 1)]
    tokens += sorted(plan_.cursor.exports.values())
    digest = hashlib.sha1("|".join(tokens).encode()).hexdigest()[:12]
    span = first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"
    return f"{prefix}:{span}:{digest}"


# ----------------------------------------------------------------------------------- freshness
@dataclass
class FreshnessPlan:
    """Days that have not ended whose settled files changed since their last freshness request."""

    due: dict[date, str]  # day -> its DayState token now
    kept: dict[str, str]  # cursor entries of days not due (unchanged, too soon, still being written)
    too_soon: set[date] = field(default_factory=set)
    previous: dict[str, str] = field(default_factory=dict)  # the entries of due days before this look

    def cursor(self, requested: Iterable[date], now: float) -> dict[str, str]:
        """The ``fresh`` cursor once ``requested`` (some of ``due``) have had their run requested at
        ``now``; a due day not requested (a run of it still in flight) keeps its entry and stays due."""
        fresh = {**self.kept, **self.previous}
        fresh.update({day.isoformat(): f"{self.due[day]}@{now:.3f}" for day in requested})
        return fresh


def freshness_plan(snapshot: Snapshot, fresh: dict[str, str], *, last_complete: date, first_day: date,
                   now: float, interval_seconds: float) -> FreshnessPlan:
    """The freshness path (docs/operations.md): a day after ``last_complete`` (today, UTC) is due when
    its settled files differ from those of its last freshness request, and that request is at least
    ``interval_seconds`` old. A day still being written keeps its entry and waits; entries of days
    that have ended are dropped: their files are the full run's (``plan``) from then on."""
    due: dict[date, str] = {}
    kept: dict[str, str] = {}
    too_soon: set[date] = set()
    previous: dict[str, str] = {}
    for key, entry in fresh.items():
        day = date.fromisoformat(key)
        if day == last_complete + timedelta(days=1) and (day in snapshot.unsettled_days or day not in snapshot.days):
            kept[key] = entry
    for day, state in snapshot.days.items():
        # the day in progress only: a folder dated later (a clock ahead) is no partition yet
        if day != last_complete + timedelta(days=1) or day < first_day:
            continue
        before = fresh.get(day.isoformat())
        token, _, requested_at = (before or "").rpartition("@")
        if before is not None and token == state.token:
            kept[day.isoformat()] = before
        elif before is not None and now - float(requested_at) < interval_seconds:
            kept[day.isoformat()] = before
            too_soon.add(day)
        else:
            due[day] = state.token
            if before is not None:
                previous[day.isoformat()] = before
    return FreshnessPlan(due=due, kept=kept, too_soon=too_soon, previous=previous)


def freshness_run_key(day: date, token: str) -> str:
    return f"fresh:{day.isoformat()}:{hashlib.sha1(token.encode()).hexdigest()[:12]}"
