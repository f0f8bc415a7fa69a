"""Import files in the landing zone: ``imports/<source>/YYYY-MM-DD/<files>``, listed and read.

Read by ``raw_events``/``clean_events`` through lib/ingestion/landing.py: ``import_files`` lists a day's
import files with the source that picks their adapter, or a rejection when the folder names no
format or declared source (one record, never silence); ``import_records`` reads a file into the
records ``convert`` takes and counts them the way the reconciliation will (NDJSON: non-blank
lines; CSV: rows after the header; Parquet: rows).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from shopverse_platform.lib.ingestion.adapters.registry import FORMATS, SourceConfig

IMPORT_SUFFIXES = (".ndjson", ".jsonl", ".json", ".csv", ".parquet", ".ndjson.gz", ".jsonl.gz", ".json.gz", ".csv.gz")


@dataclass(frozen=True)
class ImportFile:
    path: str
    partition_date: date
    source: str  # the folder name: a format or a declared source
    rejected_detail: str | None = None  # set when the file cannot be imported (read nothing)


def import_files(imports_dir: Path, start: date, end: date, sources: dict[str, SourceConfig]) -> list[ImportFile]:
    """The files of ``imports/<source>/<day>/`` for the days in [start, end), sorted by source and name."""
    found: list[ImportFile] = []
    if not imports_dir.is_dir():
        return found
    for source_dir in sorted(p for p in imports_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        source = source_dir.name
        known = source in FORMATS or source in sources
        for offset in range((end - start).days):
            day = start + timedelta(days=offset)
            folder = source_dir / day.isoformat()
            if not folder.is_dir():
                continue
            for path in sorted(p for p in folder.iterdir() if not p.name.startswith((".", "~"))):
                detail = None
                if not known:
                    detail = (f"{path.name}: import folder {source!r} is neither an import format "
                              f"({', '.join(FORMATS)}) nor a source declared in landing/sources.toml")
                elif not path.is_file() or not path.name.lower().endswith(IMPORT_SUFFIXES):
                    detail = f"{path.name}: not an import file (.ndjson, .jsonl, .json, .csv, .parquet; text ones optionally .gz)"
                found.append(ImportFile(str(path), day, source, detail))
    return found


def import_records(path: str) -> tuple[list, list[int]]:
    """(records for ``convert``, their line numbers in the file): NDJSON lines as text (blank ones
    left out), CSV lines as text with the header first (line numbers of the data rows), Parquet rows
    as dicts (row numbers from 1)."""
    lowered = path.lower()
    if lowered.endswith(".parquet"):
        import pyarrow.parquet as pq  # local: only Parquet imports need it

        rows = pq.read_table(path).to_pylist()
        return rows, list(range(1, len(rows) + 1))
    opener = gzip.open if lowered.endswith(".gz") else open
    with opener(path, "rb") as handle:
        text = handle.read().decode("utf-8")
    if lowered.removesuffix(".gz").endswith(".csv"):
        lines = text.splitlines()
        # a quoted field may span lines: count records the way csv reads them
        numbers, reader = [], csv.reader(io.StringIO(text))
        next(reader, None)
        before = reader.line_num
        for row in reader:
            if row:  # csv.DictReader skips blank rows too: no record, no number
                numbers.append(before + 1)  # the line the record starts on
            before = reader.line_num
        return lines, numbers
    kept = [(n, line) for n, line in enumerate(text.split("\n"), start=1) if line.strip("\r")]
    return [line.rstrip("\r") for _, line in kept], [n for n, _ in kept]


def source_line(record: object) -> str:
    """A record as the quarantine keeps it: a text line as sent, a Parquet row as JSON."""
    return record if isinstance(record, str) else json.dumps(record, default=str, ensure_ascii=False)
