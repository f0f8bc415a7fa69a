"""Formats, declared sources (``landing/sources.toml``) and ``convert``."""

from __future__ import annotations

import csv
import functools
import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shopverse_platform.lib.ingestion.adapters import csv_clickstream as csv_adapter
from shopverse_platform.lib.ingestion.adapters.common import MALFORMED_JSON, EventIds, Rejection
from shopverse_platform.lib.ingestion.adapters.ga4 import ga4_bigquery
from shopverse_platform.lib.ingestion.adapters.legacy import legacy_actions, legacy_data

# format name -> the function mapping one record
FORMATS = {
    "ga4_bigquery": ga4_bigquery,
    "legacy_actions": legacy_actions,
    "legacy_data": legacy_data,
    "csv_clickstream": None,  # needs its source's column mapping: see _mapper
}


class UnknownSource(ValueError):
    """Neither a built-in format nor a source declared in sources.toml."""


@dataclass(frozen=True)
class SourceConfig:
    """One import source: its format and, for CSV, the column mapping (see docs/events.md)."""

    name: str
    format: str
    timezone: str = "UTC"  # IANA name: the shop's zone for times without an offset
    currency: str | None = None  # ISO 4217 of prices; None: the platform default (GBP)
    columns: dict = field(default_factory=dict)
    event_types: dict = field(default_factory=dict)
    time_format: str | None = None


def load_sources(path: Path | None) -> dict[str, SourceConfig]:
    """The sources declared in ``landing/sources.toml`` (none when the file is absent). A wrong
    declaration (unknown format, unknown time zone) raises ValueError naming the source."""
    if path is None or not Path(path).is_file():
        return {}
    declared = tomllib.loads(Path(path).read_text("utf-8")).get("sources", {})
    sources = {}
    for name, spec in declared.items():
        fmt = spec.get("format")
        if fmt not in FORMATS:
            raise ValueError(f"{path}: source {name!r} has format {fmt!r}, not one of {', '.join(FORMATS)}")
        tz_name = spec.get("timezone", "UTC")
        try:
            ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"{path}: source {name!r} has timezone {tz_name!r}, not an IANA time zone") from error
        sources[name] = SourceConfig(name, fmt, tz_name, spec.get("currency"), dict(spec.get("columns", {})),
                                     dict(spec.get("event_types", {})), spec.get("time_format"))
    return sources


def resolve(format_or_source: str, sources: dict[str, SourceConfig] | None = None) -> SourceConfig:
    """The configuration of a built-in format name (defaults) or a declared source."""
    if sources and format_or_source in sources:
        return sources[format_or_source]
    if format_or_source in FORMATS:
        return SourceConfig(format_or_source, format_or_source)
    raise UnknownSource(f"{format_or_source!r} is neither an import format ({', '.join(FORMATS)}) "
                        f"nor a source declared in landing/sources.toml")


def _mapper(config: SourceConfig):
    if config.format == "csv_clickstream":
        return functools.partial(
            csv_adapter.csv_clickstream,
            columns={**csv_adapter.DEFAULT_COLUMNS, **config.columns},
            event_types=config.event_types or csv_adapter.DEFAULT_EVENT_TYPES,
            time_format=config.time_format or csv_adapter.DEFAULT_TIME_FORMAT,
            source=config.name,
        )
    return FORMATS[config.format]


def records_of(config: SourceConfig, lines_or_records: Iterable) -> list[dict | Rejection]:
    """Source records from text lines (NDJSON; CSV with its header first) or already-parsed dicts."""
    items = list(lines_or_records)
    if not items or isinstance(items[0], dict):
        return items
    if config.format == "csv_clickstream":
        return list(csv.DictReader(items))
    records: list[dict | Rejection] = []
    for line in items:
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, TypeError):
            record = None
        records.append(record if isinstance(record, dict)
                       else Rejection(MALFORMED_JSON, f"{config.format}: the line is not a JSON object"))
    return records


def convert(format_or_source: str, lines_or_records: Iterable,
            sources: dict[str, SourceConfig] | None = None) -> list[dict | Rejection]:
    """Our events (dicts of docs/events.md) or a ``Rejection`` for each source record, in order.

    ``lines_or_records``: NDJSON lines, CSV lines (header first) or parsed records (dicts, e.g.
    Parquet rows). Derived event ids count identical records within this call (see ``EventIds``):
    call it once per file.
    """
    config = resolve(format_or_source, sources)
    mapper, ids = _mapper(config), EventIds()
    return [record if isinstance(record, Rejection) else mapper(record, ids, config.timezone, config.currency)
            for record in records_of(config, lines_or_records)]


def sniff_format(first_line: str) -> str | None:
    """The import format a file's first line betrays, or None (then it is read as our events)."""
    try:
        record = json.loads(first_line)
    except (json.JSONDecodeError, TypeError):
        return None
    if not isinstance(record, dict):
        return None
    if "event_timestamp" in record and "user_pseudo_id" in record:
        return "ga4_bigquery"
    if "action" in record and "customer_id" in record:
        return "legacy_actions"
    if "event_id" not in record and "event_type" in record and isinstance(record.get("data"), dict):
        return "legacy_data"
    return None
