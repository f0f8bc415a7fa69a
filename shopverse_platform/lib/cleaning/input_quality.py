"""Input-quality gates: is what came in today fit to build metrics on?

The reconciliation (raw = clean + quarantined + duplicates) proves nothing was lost; it does not
say whether what arrived was any good. A feed whose lines are all quarantined reconciles perfectly
and, without a gate, gives a green run and a report of "£0.00, no anomalies". So, per source and
day, ``input_quality`` records lines received, accepted, rejected by reason and duplicates, and
judges them:

- the rejected share, overall and per reason: above ``warn_share`` (1 %) a warning, above
  ``fail_share`` (20 %) a failure, which blocks the metrics downstream (a blocking check);
- a file that could not be read at all (one quarantine row, however many lines it held): its lines
  are lost and how many is unknown, so never "ok": an order export (days of orders in one file)
  fails, an event file (one batch of many a day) warns;
- the volume against the median of the same weekday over the previous weeks: beyond
  ``volume_factor`` (3×) either way, a warning (a drop is often a broken tracker, a spike a replay).

Thresholds come from environment variables, read when a run evaluates the gate (README,
"Configuration"): ``SHOPVERSE_QUALITY_WARN_SHARE``, ``SHOPVERSE_QUALITY_FAIL_SHARE``,
``SHOPVERSE_QUALITY_REASON_SHARES`` (``reason=warn/fail`` pairs, comma-separated),
``SHOPVERSE_QUALITY_VOLUME_FACTOR``, ``SHOPVERSE_QUALITY_VOLUME_WEEKS``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

import duckdb

from shopverse_platform.lib.ingestion.adapters import sniff_format
from shopverse_platform.lib.warehouse.sql import load_sql, table
from shopverse_platform.lib.warehouse.tables import create_table_if_missing, table_exists, transaction

class Source(NamedTuple):
    raw_table: str
    raw_lines_by_day: str  # .sql beside this module
    raw_first_day: str  # .sql beside this module
    clean_table: str
    duplicate_reason: str
    unreadable_reason: str  # a whole file that could not be read: one quarantine row, never judged as one line
    unreadable_fails: bool  # such a file fails the day (else it warns): input_quality_rows.sql


SOURCES: dict[str, Source] = {
    "events": Source("raw_events", "raw_event_lines_by_day", "raw_events_first_day", "clean_events",
                     duplicate_reason="duplicate_event", unreadable_reason="unreadable_file", unreadable_fails=False),
    "orders": Source("raw_orders", "raw_order_lines_by_day", "raw_orders_first_day", "clean_order_lines",
                     duplicate_reason="duplicate_line", unreadable_reason="unreadable_export", unreadable_fails=True),
}


def _share(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a share between 0 and 1 (e.g. 0.05 for 5 %), got {text!r}") from None
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be a share between 0 and 1 (e.g. 0.05 for 5 %), got {text!r}")
    return value


@dataclass(frozen=True)
class QualityGates:
    warn_share: float = 0.01
    fail_share: float = 0.20
    # reason code -> (warn share, fail share), for reasons judged apart from the overall pair
    reason_shares: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    volume_factor: float = 3.0
    volume_weeks: int = 4
    # a failure needs this many rejected lines: one bad line of a three-line day only warns
    min_rejected: int = 10

    def __post_init__(self) -> None:
        if self.warn_share > self.fail_share:
            raise ValueError(f"the warning share ({self.warn_share}) must not exceed the failure share ({self.fail_share})")
        if self.volume_factor <= 1:
            raise ValueError(f"SHOPVERSE_QUALITY_VOLUME_FACTOR must be above 1, got {self.volume_factor}")
        if self.volume_weeks < 2:
            raise ValueError(f"SHOPVERSE_QUALITY_VOLUME_WEEKS must be at least 2, got {self.volume_weeks}")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> QualityGates:
        """The gates configured by ``SHOPVERSE_QUALITY_*`` variables (module docstring), defaults otherwise."""
        values: dict[str, object] = {}
        if "SHOPVERSE_QUALITY_WARN_SHARE" in environ:
            values["warn_share"] = _share("SHOPVERSE_QUALITY_WARN_SHARE", environ["SHOPVERSE_QUALITY_WARN_SHARE"])
        if "SHOPVERSE_QUALITY_FAIL_SHARE" in environ:
            values["fail_share"] = _share("SHOPVERSE_QUALITY_FAIL_SHARE", environ["SHOPVERSE_QUALITY_FAIL_SHARE"])
        if environ.get("SHOPVERSE_QUALITY_REASON_SHARES", "").strip():
            pairs = {}
            for item in environ["SHOPVERSE_QUALITY_REASON_SHARES"].split(","):
                reason, _, thresholds = item.strip().partition("=")
                warn, _, fail = thresholds.partition("/")
                if not reason or not fail:
                    raise ValueError("SHOPVERSE_QUALITY_REASON_SHARES takes reason=warn/fail pairs separated by commas "
                                     f"(e.g. future_timestamp=0.05/0.5), got {item.strip()!r}")
                name = f"SHOPVERSE_QUALITY_REASON_SHARES ({reason})"
                pairs[reason] = (_share(name, warn), _share(name, fail))
            values["reason_shares"] = pairs
        for key, name, kind in (("volume_factor", "SHOPVERSE_QUALITY_VOLUME_FACTOR", float),
                                ("volume_weeks", "SHOPVERSE_QUALITY_VOLUME_WEEKS", int)):
            if name in environ:
                try:
                    values[key] = kind(environ[name])
                except ValueError:
                    raise ValueError(f"{name} must be a number, got {environ[name]!r}") from None
        return cls(**values)

    def params(self) -> dict[str, object]:
        reasons = sorted(self.reason_shares)
        return {
            "warn_share": self.warn_share, "fail_share": self.fail_share,
            "reason_names": reasons,
            "reason_warn": [self.reason_shares[r][0] for r in reasons],
            "reason_fail": [self.reason_shares[r][1] for r in reasons],
            "volume_factor": self.volume_factor, "volume_weeks": self.volume_weeks,
            "min_rejected": self.min_rejected,
        }


def write_input_quality(con: duckdb.DuckDBPyConnection, source: str, start: date, end: date,
                        gates: QualityGates) -> list[dict]:
    """Replace the ``input_quality`` rows of ``source`` for [start, end) and return them (one per
    day, as dicts). Reads the raw, clean and quarantine tables the cleaning step just wrote."""
    spec = SOURCES[source]
    create_table_if_missing(con, "input_quality", load_sql(__file__, "input_quality_ddl"))
    window = {"source": source, "start": start, "end": end}
    if not (table_exists(con, spec.raw_table) and table_exists(con, spec.clean_table)):
        return []
    query = load_sql(__file__, "input_quality_rows", raw_by_day=load_sql(__file__, spec.raw_lines_by_day),
                     raw_first_day=load_sql(__file__, spec.raw_first_day), clean=table(spec.clean_table))
    params = {**window, **gates.params(), "duplicate_reason": spec.duplicate_reason,
              "unreadable_reason": spec.unreadable_reason, "unreadable_fails": spec.unreadable_fails,
              "history_start": start - timedelta(days=7 * gates.volume_weeks)}
    with transaction(con, writes=("input_quality",)):
        con.execute(load_sql(__file__, "delete_input_quality"), window)
        con.execute(f"INSERT INTO input_quality BY NAME {query}", params)
    cursor = con.execute(
        "SELECT * FROM input_quality WHERE source = $source AND partition_date >= $start AND partition_date < $end "
        "ORDER BY partition_date", window)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def foreign_formats(con: duckdb.DuckDBPyConnection, start: date, end: date) -> list[tuple[date, str]]:
    """Event files of the window whose rejected lines are another tool's export (GA4 BigQuery rows,
    an older tool's shape): for each, its day and what to do about it, in one line. Such a file is
    quarantined line by line as schema_violation (the rules are ours); its adapter reads it from
    imports/<format>/."""
    if not table_exists(con, "quarantine"):
        return []
    hints = []
    for source_file, day, first_line in con.execute(load_sql(__file__, "foreign_formats"),
                                                    {"start": start, "end": end}).fetchall():
        found = sniff_format(first_line)
        if found:
            hints.append((day, f"{source_file} looks like a {found} export: move it to "
                               f"imports/{found}/{day}/ in the landing zone and its records are mapped (docs/events.md, "
                               "\"Importing other tools' exports\")"))
    return hints


def record_hints(con: duckdb.DuckDBPyConnection, hints: list[tuple[date, str]]) -> None:
    """Put each hint first among its day's input-quality findings for events, so the daily report's
    data-quality line (which shows the first findings) says what to do with the file."""
    for day, hint in hints:
        con.execute(load_sql(__file__, "prepend_finding"), {"day": day, "finding": hint})


def gate_outcome(rows: list[dict]) -> tuple[str, dict[str, object]]:
    """The gate's verdict over a window's rows: ('ok' | 'warn' | 'fail', metadata for the check).

    The metadata says what to look at: the days judged, and each finding with its day."""
    status = "ok"
    for row in rows:
        if row["status"] == "fail" or (row["status"] == "warn" and status == "ok"):
            status = row["status"]
    findings = [f"{row['partition_date']}: {finding}" for row in rows for finding in (row["findings"] or [])]
    metadata: dict[str, object] = {
        "days": len(rows),
        "lines_received": sum(r["lines_received"] for r in rows),
        "lines_accepted": sum(r["lines_accepted"] for r in rows),
        "lines_rejected": sum(r["lines_rejected"] for r in rows),
        "duplicates": sum(r["duplicates"] for r in rows),
        "days_failed": [str(r["partition_date"]) for r in rows if r["status"] == "fail"],
        "days_warned": [str(r["partition_date"]) for r in rows if r["status"] == "warn"],
        "findings": findings[:50],
    }
    flagged = [row for row in rows if row["status"] == status and status != "ok"]
    if flagged:
        # the flagged day with the most rejected lines (the first on a tie): a day flagged for its
        # volume alone has no rejected line to look at
        worst = max(flagged, key=lambda row: row["lines_rejected"])
        day = worst["partition_date"]
        metadata["what_to_look_at"] = (
            f"shopverse sql \"SELECT reason_code, reason_detail, source_file, line_number FROM quarantine "
            f"WHERE partition_date = DATE '{day}' AND reason_code <> '{SOURCES[worst['source']].duplicate_reason}'\" "
            f"— the rejected lines of {day} and why; the table input_quality holds the per-day counts."
            if worst["lines_rejected"] else
            f"shopverse sql \"SELECT * FROM input_quality WHERE partition_date = DATE '{day}'\" — {day} is flagged "
            "for its volume against the usual (no line rejected): is a feed missing, or replayed?"
        )
    return status, metadata
