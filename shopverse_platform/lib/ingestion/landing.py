"""The landing zone's event files: finding, fingerprinting and reading them, without interpreting them.

The landing files are the raw layer: immutable deliveries, kept where they landed. The raw asset
records each file (size, modification time, line counts) so that cleaning reads exactly what was
registered and the reconciliation has an independent count; the lines are read straight into the
cleaning step, in bounded chunks, instead of being copied into the warehouse first (that copy cost
about as much as all the cleaning). Parsing and typing happen in DuckDB, so a malformed line is
quarantined with its reason instead of being dropped by a reader. Files are read here rather than
through DuckDB's readers because (a) its JSON reader skips or fails on malformed lines and reports
no line numbers, and (b) its per-file overhead makes the one-file-per-event layout crawl (about
1.3k files/s measured). Order exports have their own module, ``lib/order_exports``.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

import orjson
import numpy as np
import polars as pl
import pyarrow as pa

from shopverse_platform.lib.ingestion import gone_inputs
from shopverse_platform.lib.ingestion.adapters import landing_files as imports
from shopverse_platform.lib.ingestion.adapters.registry import Rejection, UnknownSource, convert, load_sources
from shopverse_platform.lib.warehouse.sql import load_sql  # no DuckDB import: this module stays free of it

# Batch files, whatever the case of their extension (".NDJSON" from a Windows export is the same
# file): a file the raw layer does not list is not counted, so the reconciliation could not see it.
# A ".json" file in a batch folder is read as lines of JSON too (most exporters write one event per
# line); a pretty-printed document there lands in quarantine line by line, visibly.
EVENT_FILE_SUFFIXES = (".ndjson", ".jsonl", ".json", ".ndjson.gz", ".jsonl.gz", ".json.gz")


def is_event_file(name: str, layout: str) -> bool:
    """Does a file of a batch folder (``events``) or a one-event folder (``logs``) hold events?"""
    lowered = name.lower()
    return lowered.endswith(EVENT_FILE_SUFFIXES) if layout == "events" else lowered.endswith(".json")


def is_gzip(path: str) -> bool:
    return path.lower().endswith(".gz")


# Files of a landing day folder that are neither events nor worth a quarantine record: hidden
# files (".DS_Store", "._x" resource forks, ".#x" editor locks), "~" backups and Office locks
# ("x~", "~$x"), and the desktop files Windows writes. Only names that are not event files are
# skipped this way: a hidden ".x.ndjson" is still read, so nothing named as events is dropped.
LITTER_NAMES = frozenset({"thumbs.db", "desktop.ini"})


def is_litter(name: str) -> bool:
    """A name the landing zone skips silently (see ``LITTER_NAMES``)."""
    return name.startswith((".", "~")) or name.endswith("~") or name.lower() in LITTER_NAMES


def is_landed_name(name: str, layout: str) -> bool:
    """Does ``raw_events`` register a file of this name: an event file, or any other that is not
    litter (registered as ``not_an_event_file``, so that it shows in the quarantine)?"""
    return is_event_file(name, layout) or not is_litter(name)


# Why a whole landing file is one quarantine record instead of its lines (``raw_events.rejected_reason``;
# the same codes as in cleaning's QUARANTINE_REASONS).
UNREADABLE_FILE = "unreadable_file"
NOT_AN_EVENT_FILE = "not_an_event_file"
SYMLINK_OUTSIDE_LANDING = "symlink_outside_landing"
_NOT_EVENTS_DETAIL = {
    "events": "not an event file (a batch folder holds .ndjson, .jsonl or .json files, optionally .gz)",
    "logs": "not an event file (a logs folder holds one .json file per event)",
}

# The lines of landing files, as the cleaning layer reads them (blank lines left out). Large
# strings, not the string views Polars holds (which would hand them over without a copy): DuckDB
# scans a registered Arrow table through pyarrow and pushes the filters a hash join derives from
# its small side into that scan (``l.source_file IN (...)``); DuckDB 1.5 (the version DuckLake
# needs) has pyarrow evaluate them, and pyarrow has no ``is_in`` kernel for string views
# (pyarrow 25), so every re-delivered event failed the cleaning. The copy costs ~0.1 s and the
# lines' bytes once more per million lines, for the duration of ``read_lines``. ``raw_bytes`` holds the
# line as delivered only where it is not valid UTF-8 (``raw_line`` then carries U+FFFD in place of
# the bad bytes), so that the quarantine keeps the original; it is NULL on every other line.
EVENT_LINE_SCHEMA = pa.schema(
    [
        ("partition_date", pa.date32()),
        ("source_file", pa.large_string()),
        ("line_number", pa.int32()),
        ("raw_line", pa.large_string()),
        ("encoding_error", pa.bool_()),
        ("raw_bytes", pa.binary()),
        # import files only (``imports/<source>/``): the record as the other tool sent it (raw_line
        # then holds it mapped to our event JSON, what cleaning judges), and the adapter's rejection
        # of a record no event maps (cleaning quarantines it with this reason and detail)
        ("source_line", pa.string()),
        ("import_reason", pa.string()),
        ("import_detail", pa.string()),
    ]
)

# The layout of an import file in the raw layer's registry: "import:<source>" (the folder name).
IMPORT_LAYOUT = "import:"


def is_import(landing_file: LandingFile) -> bool:
    return landing_file.layout.startswith(IMPORT_LAYOUT)

# One row per landing file: what the raw layer registered (see ``inventory``).
LANDED_FILE_SCHEMA = pa.schema(
    [
        ("partition_date", pa.date32()),
        ("source_file", pa.string()),
        ("layout", pa.string()),
        ("size_bytes", pa.int64()),
        ("modified_ns", pa.int64()),
        ("line_count", pa.int64()),
        ("blank_lines", pa.int64()),
        # NULL for a file whose lines are read; else why the whole file is one quarantine record
        ("rejected_reason", pa.string()),
        ("rejected_detail", pa.string()),
    ]
)

@dataclass(frozen=True)
class LandingFile:
    path: str  # a string, not a Path: the one-event layout has hundreds of thousands a day
    partition_date: date
    layout: str  # "ndjson" (many events per file) or "logs" (one event per file)
    # the fingerprint the raw layer registered; reading a registered file checks it still holds
    size_bytes: int | None = None
    modified_ns: int | None = None
    # set when the file is not read but registered as one quarantine record (``LANDED_FILE_SCHEMA``)
    rejected_reason: str | None = None
    rejected_detail: str | None = None


def days(start: date, end: date) -> Iterable[date]:
    """The days in [start, end)."""
    for offset in range((end - start).days):
        yield start + timedelta(days=offset)


def event_files(events_dir: Path, logs_dir: Path, start: date, end: date,
                imports_dir: Path | None = None) -> list[LandingFile]:
    """Landing files for the UTC days in [start, end), in a deterministic order.

    ``events/YYYY-MM-DD/*.ndjson[.gz]`` hold batches; ``logs/YYYYMMDD/*.json`` hold one event each.
    Every other entry of a day folder is listed too, with a ``rejected_reason``, so that it becomes
    one quarantine record instead of being ignored: a file that is not an event file or a folder
    (``not_an_event_file``; litter such as ``.DS_Store`` excepted, see ``is_litter``), and a
    symbolic link (or a day folder that is one) whose target resolves outside the landing zone
    (``symlink_outside_landing``: never read). A link resolving inside the landing zone is
    followed, under its own name: a copy of another delivery then shows as duplicates.

    ``imports_dir`` (``imports/<source>/YYYY-MM-DD/``): other tools' exports, layout
    ``import:<source>``, read through their adapter (lib/ingestion/adapters); a file of a folder
    that names no format or declared source is listed as ``not_an_event_file`` with the reason.
    """
    # the landing root (the folder holding events/ and logs/), and events/ and logs/ themselves
    # where they are links to another disk: a link may lead anywhere under these
    roots = tuple({os.path.realpath(p) for p in (os.path.commonpath([events_dir, logs_dir]), events_dir, logs_dir)})
    found: list[LandingFile] = []
    for day in days(start, end):
        found.extend(_day_folder(str(events_dir / day.isoformat()), day, "events", "ndjson", roots))
        found.extend(_day_folder(str(logs_dir / day.strftime("%Y%m%d")), day, "logs", "logs", roots))
    if imports_dir is not None:
        sources = load_sources(_sources_file(imports_dir))
        found.extend(
            LandingFile(f.path, f.partition_date, IMPORT_LAYOUT + f.source,
                        rejected_reason=NOT_AN_EVENT_FILE if f.rejected_detail else None, rejected_detail=f.rejected_detail)
            for f in imports.import_files(imports_dir, start, end, sources))
    return found


def _sources_file(imports_dir: Path) -> Path:
    """``landing/sources.toml``, beside ``imports/``: the declared import sources."""
    return Path(imports_dir).parent / "sources.toml"


def _import_source(landing_file: LandingFile) -> tuple[str, Path]:
    """(source name, sources.toml) of an import file ``<landing>/imports/<source>/<day>/<file>``."""
    path = Path(landing_file.path)
    return landing_file.layout[len(IMPORT_LAYOUT):], _sources_file(path.parents[2])


def _outside(path: str, roots: tuple[str, ...]) -> bool:
    """Does ``path`` resolve (through every link) to somewhere outside each of the directories ``roots``?"""
    target = os.path.realpath(path)
    return all(os.path.commonpath([target, root]) != root for root in roots)


def _link_out(path: str, name: str, day: date, layout: str) -> LandingFile:
    # the link's name only: neither its target nor anything read through it reaches the quarantine
    return LandingFile(path, day, layout, rejected_reason=SYMLINK_OUTSIDE_LANDING,
                       rejected_detail=f"{name}: a symbolic link leading outside the landing zone, not read")


def _day_folder(folder: str, day: date, folder_layout: str, layout: str, roots: tuple[str, ...]) -> list[LandingFile]:
    """The entries of one landing day folder (see ``event_files``), sorted by name.

    scandir: the entry type comes with the directory entry, no stat per file, and only links pay
    for a path resolution; the logs layout can hold hundreds of thousands of files a day.
    """
    if not os.path.isdir(folder):
        return []
    if os.path.islink(folder) and _outside(folder, roots):
        return [_link_out(folder, os.path.basename(folder), day, layout)]
    good: list[str] = []
    other: list[tuple[str, LandingFile]] = []
    prefix = os.path.join(folder, "")
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if entry.is_symlink():
                if _outside(entry.path, roots):
                    other.append((name, _link_out(prefix + name, name, day, layout)))
                    continue
                # inside the landing zone: judged like what it leads to
            events = is_event_file(name, folder_layout)
            if not events and is_litter(name):
                continue
            if entry.is_file():
                if events:
                    good.append(name)
                    continue
                reason, detail = NOT_AN_EVENT_FILE, _NOT_EVENTS_DETAIL[folder_layout]
            elif entry.is_dir():
                reason, detail = NOT_AN_EVENT_FILE, "a folder, not read (landing day folders are flat)"
            elif entry.is_symlink():
                reason, detail = UNREADABLE_FILE, "a symbolic link leading nowhere (its target is missing)"
            else:  # a FIFO, socket or device: reading it could block or never end
                reason, detail = NOT_AN_EVENT_FILE, "not a regular file, not read"
            other.append((name, LandingFile(prefix + name, day, layout, rejected_reason=reason,
                                            rejected_detail=f"{name}: {detail}")))
    if not other:  # the usual case: one sort of plain names
        return [LandingFile(prefix + name, day, layout) for name in sorted(good)]
    listed = [(name, LandingFile(prefix + name, day, layout)) for name in good] + other
    return [landing_file for _, landing_file in sorted(listed, key=lambda item: item[0])]


def _read_bytes(path: str) -> bytes:
    opener = gzip.open if is_gzip(path) else open
    with opener(path, "rb") as handle:
        return handle.read()


def _decode(data: bytes) -> tuple[str, bool, bytes | None]:
    """(text, invalid encoding, the bytes as delivered when they are not valid UTF-8)."""
    try:
        return data.decode("utf-8"), False, None
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), True, data


def _is_blank(line: bytes) -> bool:
    """A line that carries nothing: empty, or only the CR of a CRLF ending."""
    return line in (b"", b"\r")


def count_lines(data: bytes | memoryview) -> tuple[int, int]:
    """(lines that carry something, blank lines) of an NDJSON document.

    Counted on the bytes, independently of the reader the cleaning layer uses, so that the
    reconciliation ``raw = clean + quarantined + duplicates`` can catch a line that reader lost.
    A final line without a newline counts; whitespace-only lines count (they are quarantined).
    """
    if not data:
        return 0, 0
    buffer = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buffer == 10)  # numpy releases the GIL here: files count in parallel
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(buffer)]))
    if ends[-1] == starts[-1]:
        starts, ends = starts[:-1], ends[:-1]  # nothing after the final newline: not a line
    lengths = ends - starts
    blank = int(np.count_nonzero(lengths == 0))
    short = starts[lengths == 1]
    blank += int(np.count_nonzero(buffer[short] == 13))  # a line holding only the CR of a CRLF
    return len(starts) - blank, blank


def count_lines_in(handle: BinaryIO, block_size: int = 1 << 24) -> tuple[int, int]:
    """``count_lines`` over a stream, a block at a time: memory stays flat whatever the file size."""
    lines = blank = 0
    carry = b""
    while block := handle.read(block_size):
        data = carry + block
        cut = data.rfind(b"\n") + 1  # count whole lines only; the rest waits for the next block
        whole_lines, blank_lines = count_lines(memoryview(data)[:cut])
        lines, blank, carry = lines + whole_lines, blank + blank_lines, data[cut:]
    whole_lines, blank_lines = count_lines(carry)
    return lines + whole_lines, blank + blank_lines


def _describe(landing_file: LandingFile) -> tuple:
    path = landing_file.path
    reason, detail = landing_file.rejected_reason, landing_file.rejected_detail
    if reason is None:
        try:
            stat = os.stat(path)
            if is_import(landing_file):
                # records as the adapter reads them (CSV rows without the header, Parquet rows)
                lines, blank = len(imports.import_records(path)[1]), 0
            elif landing_file.layout == "logs":
                # one event per file, possibly pretty-printed: an empty file is the only blank one
                lines, blank = (1, 0) if stat.st_size else (0, 1)
            else:
                opener = gzip.open if is_gzip(path) else open
                with opener(path, "rb") as handle:
                    lines, blank = count_lines_in(handle)
        except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            reason, detail = UNREADABLE_FILE, _unreadable_detail(path, error)
        except (UnicodeDecodeError, pa.ArrowException) as error:  # an import that is not UTF-8 or not Parquet
            reason, detail = UNREADABLE_FILE, f"cannot read as {landing_file.layout[len(IMPORT_LAYOUT):]}: {error}"
    if reason is not None:
        # one record for the whole file: whatever lines it holds (or yielded before a break) are
        # not read, so the raw count is 1. lstat: a link out of the landing zone is not followed.
        stat = os.lstat(path)
        lines, blank = 1, 0
    return (landing_file.partition_date, path, landing_file.layout, stat.st_size,
            stat.st_mtime_ns, lines, blank, reason, detail)


def _unreadable_detail(path: str, error: BaseException) -> str:
    """Why a landing file cannot be read, for its quarantine record: for a gzip file, how far its
    stream decompresses (N = bytes of decompressed data) and what breaks it."""
    if not is_gzip(path) or not isinstance(error, (EOFError, zlib.error, gzip.BadGzipFile)):
        return f"cannot read: {getattr(error, 'strerror', None) or error}"
    magic = b"\x1f\x8b"
    with open(path, "rb") as handle:
        if handle.read(2) != magic:
            return "not a gzip file (no gzip header)"
        handle.seek(0)
        # a second pass, on this failure path only: block by block, output bounded, not kept
        produced, stream, pending = 0, zlib.decompressobj(wbits=31), b""
        while True:
            if not pending and not (pending := handle.read(1 << 20)):
                if stream.eof or not (rest := stream.decompress(b"", 1 << 24)):
                    break  # the input is used up and zlib holds no more output
                produced += len(rest)
                continue
            if stream.eof:  # after a member: another member, zero padding (accepted) or garbage
                pending = pending.lstrip(b"\x00")
                if not pending:
                    continue
                if not pending.startswith(magic):
                    return f"bytes that are not gzip after {produced} bytes"
                stream = zlib.decompressobj(wbits=31)
            try:
                produced += len(stream.decompress(pending, 1 << 24))
            except zlib.error as corrupt:
                return f"corrupt gzip stream after {produced} bytes: {corrupt}"
            pending = stream.unused_data if stream.eof else stream.unconsumed_tail
        if not stream.eof:
            return f"truncated gzip stream after {produced} bytes"
    return f"unreadable gzip stream: {error}"


def inventory(files: list[LandingFile]) -> pa.Table:
    """The raw layer's record of landing files (``LANDED_FILE_SCHEMA``): size and modification time
    as a fingerprint, and the lines each holds.

    NDJSON batches are counted in a few threads (reads, decompression and numpy release the GIL);
    one-event files only need a stat each, which is quicker in one thread than handed around.
    """
    batches = [f for f in files if f.layout != "logs"]
    with ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 1) + 1)) as pool:
        rows = list(pool.map(_describe, batches))
    rows.extend(_describe(f) for f in files if f.layout == "logs")
    columns = list(zip(*rows)) if rows else [[] for _ in LANDED_FILE_SCHEMA]
    return pa.table([pa.array(c, f.type) for c, f in zip(columns, LANDED_FILE_SCHEMA)], schema=LANDED_FILE_SCHEMA)


def _ndjson_lines_polars(paths: list[str]) -> pl.DataFrame:
    """(source_file, raw_line, line_number) of NDJSON files through Polars' multi-threaded CSV
    reader used as a line splitter: one column, no quoting, blank lines as nulls. Raises when a file
    needs the careful path: invalid UTF-8, or a byte Polars would take as a column separator (never
    present in valid JSON, whose strings must escape control characters)."""
    frame = pl.scan_csv(
        paths, has_header=False, separator="\x1f", quote_char=None, new_columns=["raw_line"],
        schema={"raw_line": pl.String}, include_file_paths="source_file", row_index_name="row",
        glob=False,  # paths are files, not patterns: "batch[1].ndjson" globbed silently reads nothing
    ).collect()
    first_row = pl.col("row").min().over("source_file")
    return frame.select("source_file", "raw_line", line_number=(pl.col("row") - first_row + 1).cast(pl.Int32))


def _lines_careful(landing_file: LandingFile) -> list[tuple[int, str, bool, bytes | None]]:
    """(line number, text, invalid encoding, the delivered bytes of an invalid line) for every
    non-blank line of an NDJSON file, decoding line by line."""
    data = _read_bytes(landing_file.path)
    chunks = data.split(b"\n")
    if chunks and not chunks[-1]:
        chunks.pop()  # the empty string after the final newline is not a line
    result = []
    for number, chunk in enumerate(chunks, start=1):
        if _is_blank(chunk):
            continue
        result.append((number, *_decode(chunk.removesuffix(b"\r"))))
    return result


class LandingFileChanged(RuntimeError):
    """A landing file differs from what the raw layer registered (or is gone)."""

    def __init__(self, files: list[LandingFile]):
        days_text = ", ".join(sorted({str(f.partition_date) for f in files}))
        examples = ", ".join(sorted(f.path for f in files)[:3])
        super().__init__(
            f"{len(files)} landing file(s) changed or disappeared since raw_events registered them "
            f"(e.g. {examples}). Re-materialize raw_events for {days_text}, then clean_events (a file "
            "gone on purpose: raw_events with config drop_missing_inputs: true, or shopverse backfill "
            "--drop-missing-inputs)."
        )


class LandingFilesGone(gone_inputs.InputsGone):
    """Landing files raw_events registered for a run's window that the landing zone no longer has."""

    def __init__(self, gone: dict[str, int], landing_root: Path, start: date, end: date):
        super().__init__("raw_events", "landing file", f"the landing zone {landing_root}",
                         "$SHOPVERSE_LANDING_DIR (or the landing_zone resource's path)", "lines", gone, start, end)


def gone_files(con, files: list[LandingFile], start: date, end: date) -> dict[str, int]:
    """The landing files raw_events registered for [start, end) that are not among ``files`` (nor
    moved or renamed to one of them: ``gone_inputs``): {path: lines registered}. Re-registering the
    window from ``files`` would drop them, and cleaning the events they held."""
    from shopverse_platform.lib.warehouse.tables import schema_if_exists  # local: no DuckDB import here

    if "size_bytes" not in dict(schema_if_exists(con, "raw_events") or ()):
        return {}  # nothing registered yet, or the verbatim layout before the registry (migrated first)
    rows = con.execute(load_sql(__file__, "raw_events_registered"), {"start": start, "end": end}).fetchall()
    # a landing file is named by its layout folder, day folder and file name: every day has a batch-0001.ndjson
    absent = gone_inputs.gone({path: (size, modified_ns) for path, size, modified_ns, _ in rows},
                              [f.path for f in files], name_parts=3)
    lines = {path: count for path, _, _, count in rows}
    return {path: lines[path] for path in absent}


class LandingFileUnreadable(RuntimeError):
    """A landing file that ``raw_events`` did not register as unreadable cannot be read."""

    def __init__(self, landing_file: LandingFile, error: BaseException):
        super().__init__(
            f"landing file {landing_file.path} of {landing_file.partition_date} cannot be read: "
            f"{type(error).__name__}: {error}. Re-materialize raw_events for {landing_file.partition_date} "
            f"(it registers an unreadable file as one quarantine record), then clean_events."
        )


def _unchanged(landing_file: LandingFile, stat: os.stat_result) -> bool:
    return landing_file.size_bytes is None or (stat.st_size, stat.st_mtime_ns) == (
        landing_file.size_bytes, landing_file.modified_ns)


def _check_unchanged(files: list[LandingFile]) -> None:
    changed = []
    for landing_file in files:
        try:
            if not _unchanged(landing_file, os.stat(landing_file.path)):
                changed.append(landing_file)
        except FileNotFoundError:
            changed.append(landing_file)
    if changed:
        raise LandingFileChanged(changed)


def _read_one_event_files(files: list[LandingFile]) -> list[tuple]:
    """Rows of ``EVENT_LINE_SCHEMA`` for one-event files: each file whole, as one line.

    Plain os.open/fstat/read: a Python file object per file costs more than the read itself at
    this layout's file counts, and fstat checks the fingerprint without a second path lookup.
    """
    rows, changed = [], []
    for landing_file in files:
        try:
            fd = os.open(landing_file.path, os.O_RDONLY)
        except FileNotFoundError:
            changed.append(landing_file)
            continue
        try:
            stat = os.fstat(fd)
            data = os.read(fd, stat.st_size + 1)
        finally:
            os.close(fd)
        if not _unchanged(landing_file, stat) or len(data) != stat.st_size:
            changed.append(landing_file)
        elif data:  # an empty file is a blank line: the raw layer counted it as one
            rows.append((landing_file.partition_date, landing_file.path, 1, *_decode(data)))
    if changed:
        raise LandingFileChanged(changed)
    return rows


def read_lines(files: list[LandingFile]) -> pa.Table:
    """The non-blank lines of the given landing files as one Arrow table (``EVENT_LINE_SCHEMA``).

    NDJSON batches go through Polars (about 3M lines/s here); a file Polars cannot split cleanly
    (invalid UTF-8, control bytes) is read line by line in Python so that only its bad lines are
    flagged. One-event files are read whole: each is one line, possibly pretty-printed JSON. A
    registered file (with a fingerprint) that changed since raises ``LandingFileChanged``; a file
    that cannot be read raises ``LandingFileUnreadable``, naming it. Files registered with a
    ``rejected_reason`` are not read: each is one quarantine record, written from the registry.
    """
    files = [f for f in files if f.rejected_reason is None]
    day_of = {f.path: f.partition_date for f in files}
    parts: list[pa.Table] = []
    ndjson = [f for f in files if f.layout == "ndjson"]
    parts.extend(_read_import_files([f for f in files if is_import(f)]))
    careful: list[LandingFile] = []
    _check_unchanged(ndjson)
    if ndjson:
        # OSError: a broken gzip stream (Polars decompresses .gz itself); found file by file below
        try:
            frames = [_ndjson_lines_polars([f.path for f in ndjson])]
        except (pl.exceptions.PolarsError, UnicodeDecodeError, OSError):
            frames = []
            for landing_file in ndjson:  # find the files that need the careful path
                try:
                    frames.append(_ndjson_lines_polars([landing_file.path]))
                except (pl.exceptions.PolarsError, UnicodeDecodeError, OSError):
                    careful.append(landing_file)
        for frame in frames:
            kept = frame.filter(pl.col("raw_line").is_not_null()).with_columns(
                partition_date=pl.col("source_file").replace_strict(day_of, return_dtype=pl.Date),
                encoding_error=pl.lit(False), raw_bytes=pl.lit(None, dtype=pl.Binary),
                source_line=pl.lit(None, dtype=pl.String), import_reason=pl.lit(None, dtype=pl.String),
                import_detail=pl.lit(None, dtype=pl.String),
            )
            # the oldest Arrow types: large strings (see EVENT_LINE_SCHEMA), converted by Polars
            # (~5x faster than pyarrow's cast from string views); the cast narrows the null columns
            arrow = kept.select(EVENT_LINE_SCHEMA.names).to_arrow(compat_level=pl.CompatLevel.oldest())
            parts.append(arrow.cast(EVENT_LINE_SCHEMA))
    rows: list[tuple] = []
    for landing_file in careful:
        try:
            lines = _lines_careful(landing_file)
        except (OSError, EOFError, zlib.error) as error:
            raise LandingFileUnreadable(landing_file, error) from error
        rows.extend((landing_file.partition_date, landing_file.path, *line) for line in lines)
    rows.extend(_read_one_event_files([f for f in files if f.layout == "logs"]))
    if rows:
        columns = list(zip(*rows))
        columns += [[None] * len(rows)] * (len(EVENT_LINE_SCHEMA) - len(columns))  # not imports: no source_line...
        parts.append(pa.table([pa.array(c, f.type) for c, f in zip(columns, EVENT_LINE_SCHEMA)], schema=EVENT_LINE_SCHEMA))
    return pa.concat_tables(parts) if parts else EVENT_LINE_SCHEMA.empty_table()


def _read_import_files(files: list[LandingFile]) -> list[pa.Table]:
    """Import files through their adapter: one line per source record, numbered as in the file, its
    raw_line our event JSON (what cleaning judges) and source_line the record as sent; a record no
    event maps carries the adapter's reason and detail instead. The fingerprint is checked first."""
    _check_unchanged(files)
    tables = []
    for landing_file in files:
        source, sources_file = _import_source(landing_file)
        try:
            records, numbers = imports.import_records(landing_file.path)
            mapped = convert(source, records, load_sources(sources_file))
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, pa.ArrowException, UnknownSource) as error:
            raise LandingFileUnreadable(landing_file, error) from error
        if landing_file.path.lower().removesuffix(".gz").endswith(".csv"):
            # the file's lines, header first; each record as the line it starts on
            sent = [records[n - 1] for n in numbers]
        else:  # NDJSON lines as sent, Parquet rows as JSON
            sent = [imports.source_line(r) for r in records]
        if len(sent) != len(mapped):
            raise LandingFileUnreadable(landing_file, ValueError(
                f"{len(mapped)} records mapped from {len(sent)} read: the file does not split into records"))
        rejected = [isinstance(m, Rejection) for m in mapped]
        columns = {
            "partition_date": [landing_file.partition_date] * len(mapped),
            "source_file": [landing_file.path] * len(mapped),
            "line_number": numbers,
            "raw_line": [s if r else orjson.dumps(m).decode() for m, s, r in zip(mapped, sent, rejected)],
            "encoding_error": [False] * len(mapped),
            "raw_bytes": [None] * len(mapped),
            "source_line": sent,
            "import_reason": [m.reason if r else None for m, r in zip(mapped, rejected)],
            "import_detail": [m.detail if r else None for m, r in zip(mapped, rejected)],
        }
        tables.append(pa.table([pa.array(columns[f.name], f.type) for f in EVENT_LINE_SCHEMA], schema=EVENT_LINE_SCHEMA))
    return tables


def migrate_verbatim_raw_events(con, events_dir: Path, logs_dir: Path) -> int:
    """Turn a ``raw_events`` table of the earlier layout (one row per line, verbatim) into the file
    registry, by registering the landing files of every day it held; returns those days' count
    (0 when there was nothing to migrate). Done once, on the first run after an upgrade, so that
    cleaning can still re-run every day ingested before."""
    from shopverse_platform.lib.warehouse.tables import (  # local: keeps this module DuckDB-free at import
        schema_if_exists,
        transaction,
    )

    if "raw_line" not in dict(schema_if_exists(con, "raw_events") or ()):
        return 0
    held = [day for (day,) in con.execute(load_sql(__file__, "raw_events_days")).fetchall()]
    files = [f for day in held for f in event_files(events_dir, logs_dir, day, day + timedelta(days=1))]
    con.register("_registry", inventory(files))
    try:
        con.execute(load_sql(__file__, "raw_events_registry"))
    finally:
        con.unregister("_registry")
    with transaction(con):
        con.execute(load_sql(__file__, "drop_verbatim_raw_events"))
        con.execute(load_sql(__file__, "rename_raw_events_registry"))
    return len(held)


def registered_files(rows: Iterable[tuple]) -> list[LandingFile]:
    """Landing files from raw-layer rows (partition_date, source_file, layout, size_bytes,
    modified_ns[, rejected_reason]), carrying their registered fingerprint.

    Landing files are immutable once registered: cleaning must read the lines that were counted,
    so ``read_lines`` fails on a file replaced or removed since, naming the days to re-ingest. A
    file registered with a ``rejected_reason`` is not read (nor checked): its quarantine record
    comes from the registry.
    """
    return [LandingFile(path, day, layout, size, modified_ns, *rest) for day, path, layout, size, modified_ns, *rest in rows]


def add_registry_columns(con) -> None:
    """Give a ``raw_events`` registry written before ``rejected_reason``/``rejected_detail`` existed
    those columns (NULL: every file it registered was read), so that cleaning can select them
    before ``raw_events`` runs again. Nothing to do without a registry."""
    from shopverse_platform.lib.warehouse.tables import (  # local: keeps this module DuckDB-free at import
        add_new_columns,
        table_exists,
    )

    if table_exists(con, "raw_events"):
        con.register("_registry_shape", LANDED_FILE_SCHEMA.empty_table())
        try:  # the migration raw_events' own replace_date_range does on its next run
            add_new_columns(con, "raw_events", "SELECT * FROM _registry_shape", {})
        finally:
            con.unregister("_registry_shape")


def day_chunks(files: list[LandingFile], start: date, end: date, max_bytes: int) -> list[tuple[date, date, list[LandingFile]]]:
    """Split the days [start, end) into consecutive runs holding at most ``max_bytes`` of
    registered landing files each (a single day may exceed it), as (first day, day after the last,
    files) in delivery order. The runs tile the window, days without files included."""
    by_day: dict[date, list[LandingFile]] = {}
    for landing_file in files:
        by_day.setdefault(landing_file.partition_date, []).append(landing_file)
    chunks: list[tuple[date, date, list[LandingFile]]] = []
    first, current, current_bytes = start, [], 0
    for day in days(start, end):
        day_files = by_day.get(day, [])
        day_bytes = sum(f.size_bytes or 0 for f in day_files)
        if current and current_bytes + day_bytes > max_bytes:
            chunks.append((first, day, current))
            first, current, current_bytes = day, [], 0
        current.extend(day_files)
        current_bytes += day_bytes
    if first < end:
        chunks.append((first, end, current))
    return chunks


def appended_files(files: list[LandingFile], registered: Iterable[tuple[str, int, int, str | None]]) -> list[LandingFile] | None:
    """The files of one day's listing ``files`` that the raw layer has not registered yet, when the
    day only grew by appending: every registered file (source_file, size_bytes, modified_ns,
    rejected_reason) is still listed with the same fingerprint, and every new file sorts after all
    of them by path (the collector's batch names sort by creation time). None otherwise (a file
    changed, gone, or new but sorting before an old one; nothing registered yet): the day is then
    rebuilt whole. Under that condition the day's rows with the new files appended are the rows a
    full rebuild writes: the deduplication order is (day, file, line), so the new lines come after
    every old one, and the old files' rows do not change."""
    known = {path: (size, modified_ns, reason) for path, size, modified_ns, reason in registered}
    if not known:
        return None
    listed = {f.path for f in files}
    if not listed.issuperset(known):
        return None
    last_known = max(known)
    new = [f for f in files if f.path not in known]
    if any(f.path <= last_known for f in new):
        return None
    for path, (size, modified_ns, reason) in known.items():
        try:  # a file registered as not read was fingerprinted without following a link (``_describe``)
            stat = os.lstat(path) if reason is not None else os.stat(path)
        except OSError:
            return None
        if (stat.st_size, stat.st_mtime_ns) != (size, modified_ns):
            return None
    return new


def check_registered_unchanged(files: list[LandingFile]) -> None:
    """Raise ``LandingFileChanged`` when a registered file that is read (no ``rejected_reason``)
    differs from its fingerprint: what ``read_lines`` checks, for the files a run does not read
    again (the earlier files of a day that only grew) but whose lines it relies on."""
    _check_unchanged([f for f in files if f.rejected_reason is None])
