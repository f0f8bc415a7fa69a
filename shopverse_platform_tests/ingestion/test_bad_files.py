"""Bad landing files are isolated, not contagious: an unreadable file, a file that is not an event
file, or a symbolic link leading out of the landing zone becomes one quarantine record naming the
file, with the reason; the rest of the window is cleaned normally and the reconciliation holds. A
file that could not be read at all also makes the input-quality gate warn, naming it: its lines
are lost and how many is unknown."""

from __future__ import annotations

import gzip
import json
import os
from datetime import date

import dagster as dg
import pytest

from shopverse_platform.defs.cleaning.assets import clean_events
from shopverse_platform.defs.ingestion.assets import raw_events
from shopverse_platform.lib.automation import landing_scan
from shopverse_platform.lib.ingestion import landing
from shopverse_platform_tests.conftest import materialize_range

D1, D2 = date(2024, 3, 5), date(2024, 3, 6)


def _line(event_id: str, day: str = "2024-03-05") -> str:
    return json.dumps({"event_id": event_id, "event_name": "page_view", "event_time": f"{day}T10:00:00Z",
                       "anonymous_id": "dev-a", "page": "/"})


def _run(resources, start: str = "2024-03-05", end: str = "2024-03-06", unreadable: bool = False):
    """Raw and clean events over the days; the reconciliation's (passed, raw, unaccounted). With
    ``unreadable``, a file of the window could not be read at all: the input-quality gate warns
    naming it, however small a share its one quarantine row is (its lines are unknown)."""
    result = materialize_range([raw_events, clean_events], resources, start, end, raise_on_error=False)
    assert result.success, [e.event_specific_data for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    gate = next(c for c in result.get_asset_check_evaluations() if c.check_name == "clean_events_input_quality")
    findings = gate.metadata["findings"].value
    assert any("could not be read at all (unreadable_file)" in f for f in findings) == unreadable, findings
    if unreadable:
        assert not gate.passed and gate.severity == dg.AssetCheckSeverity.WARN
    checks = {c.check_name: (c.passed, c.metadata["raw"].value, c.metadata["unaccounted"].value)
              for c in result.get_asset_check_evaluations() if c.check_name.endswith("_reconciles_with_raw")}
    return checks["clean_events_reconciles_with_raw"]


def _quarantine(query, landing_dir) -> list[tuple]:
    rows = query("SELECT source, partition_date, source_file, line_number, reason_code, reason_detail, record_key, raw_line "
                 "FROM quarantine ORDER BY ALL")
    root = str(landing_dir) + os.sep
    return [(r[1], r[2].removeprefix(root), *r[3:]) for r in rows if r[0] == "events"]


def _clean(query) -> list[tuple]:
    return query("SELECT event_id, partition_date, source_file, line_number FROM clean_events ORDER BY event_id")


def _tables(query) -> tuple:
    return (query("SELECT * FROM raw_events ORDER BY source_file"),
            query("SELECT * EXCLUDE (session_id) FROM clean_events ORDER BY event_id"),
            query("SELECT * FROM quarantine ORDER BY ALL"))


def _rerun_is_identical(resources, query, reconciliation, unreadable: bool = False) -> None:
    before = _tables(query)
    assert _run(resources, unreadable=unreadable) == reconciliation
    assert _tables(query) == before


# ------------------------------------------------------------------------------ unreadable files
def test_a_truncated_or_fake_gzip_is_one_quarantine_record_and_the_window_proceeds(landing_dir, resources, query):
    day1, day2 = landing_dir / "events" / "2024-03-05", landing_dir / "events" / "2024-03-06"
    day1.mkdir(parents=True)
    day2.mkdir(parents=True)
    (day1 / "a-good.ndjson").write_text(_line("g1") + "\n" + _line("g2") + "\n")
    payload = (_line("b1") + "\n" + _line("b2") + "\n").encode()
    # the 8-byte trailer (CRC and length) cut off: every byte of payload decompresses, then the stream ends
    (day1 / "b-broken.ndjson.gz").write_bytes(gzip.compress(payload)[:-8])
    (day1 / "c-plain.ndjson.gz").write_text(_line("p1") + "\n")  # not gzip at all
    (day2 / "d-good.ndjson").write_text(_line("g3", "2024-03-06") + "\n")

    reconciliation = _run(resources, unreadable=True)

    # the whole broken file is one record: the two lines it yielded before the break are not read
    assert _quarantine(query, landing_dir) == [
        (D1, "events/2024-03-05/b-broken.ndjson.gz", None, "unreadable_file",
         f"truncated gzip stream after {len(payload)} bytes", None, None),
        (D1, "events/2024-03-05/c-plain.ndjson.gz", None, "unreadable_file", "not a gzip file (no gzip header)", None, None),
    ]
    assert _clean(query) == [
        ("g1", D1, str(day1 / "a-good.ndjson"), 1),
        ("g2", D1, str(day1 / "a-good.ndjson"), 2),
        ("g3", D2, str(day2 / "d-good.ndjson"), 1),
    ]
    assert reconciliation == (True, 5, 0)  # 3 clean lines + 2 unreadable files
    registry = query("SELECT source_file, line_count, blank_lines, rejected_reason FROM raw_events ORDER BY 1")
    assert [(r[0].rsplit("/", 1)[1], *r[1:]) for r in registry] == [
        ("a-good.ndjson", 2, 0, None),
        ("b-broken.ndjson.gz", 1, 0, "unreadable_file"),
        ("c-plain.ndjson.gz", 1, 0, "unreadable_file"),
        ("d-good.ndjson", 1, 0, None),
    ]
    _rerun_is_identical(resources, query, reconciliation, unreadable=True)


def test_a_corrupt_gzip_names_the_zlib_error(landing_dir, resources, query):
    day1 = landing_dir / "events" / "2024-03-05"
    day1.mkdir(parents=True)
    compressed = bytearray(gzip.compress(((_line("x1") + "\n") * 50).encode()))
    compressed[10:20] = b"\xff" * 10  # the deflate data right after the 10-byte header garbled
    (day1 / "corrupt.ndjson.gz").write_bytes(bytes(compressed))
    (day1 / "good.ndjson").write_text(_line("g1") + "\n")
    assert _run(resources, end="2024-03-05", unreadable=True) == (True, 2, 0)
    [(day, name, line, reason, detail, key, raw)] = _quarantine(query, landing_dir)
    assert (day, name, line, reason, key, raw) == (D1, "events/2024-03-05/corrupt.ndjson.gz", None, "unreadable_file", None, None)
    assert detail.startswith("corrupt gzip stream after 0 bytes: Error -3 while decompressing data")
    assert [r[0] for r in _clean(query)] == ["g1"]


def test_an_unregistered_unreadable_file_fails_reading_with_its_name(landing_dir):
    day1 = landing_dir / "events" / "2024-03-05"
    day1.mkdir(parents=True)
    (day1 / "good.ndjson").write_text(_line("g1") + "\n")
    broken = day1 / "broken.ndjson.gz"
    broken.write_bytes(gzip.compress(b'{"a": 1}\n')[:-8])
    files = [landing.LandingFile(str(day1 / "good.ndjson"), D1, "ndjson"), landing.LandingFile(str(broken), D1, "ndjson")]
    with pytest.raises(landing.LandingFileUnreadable, match="broken.ndjson.gz"):
        landing.read_lines(files)


# ------------------------------------------------------------------------------ not event files
def test_files_that_are_not_event_files_are_each_one_quarantine_record(landing_dir, resources, query):
    day1 = landing_dir / "events" / "2024-03-05"
    day1.mkdir(parents=True)
    (day1 / "good.ndjson").write_text(_line("g1") + "\n")
    (day1 / ".late.ndjson").write_text(_line("g3") + "\n")  # hidden, but named as events: read
    for name in ("notes.txt", "export.csv", "events.parquet"):
        (day1 / name).write_text("not events")
    (day1 / "old").mkdir()
    (day1 / "old" / "batch.ndjson").write_text(_line("o1") + "\n")
    for litter in (".DS_Store", "batch.ndjson~", "Thumbs.db", "~$report.xlsx", "desktop.ini"):  # skipped
        (day1 / litter).write_text("litter")
    logs = landing_dir / "logs" / "20240305"
    logs.mkdir(parents=True)
    (logs / "e2.json").write_text(json.dumps(json.loads(_line("g2")), indent=2))
    (logs / "readme.md").write_text("# the logs")
    (logs / ".hidden").write_text("litter")

    reconciliation = _run(resources, end="2024-03-05")

    batch_rule = "not an event file (a batch folder holds .ndjson, .jsonl or .json files, optionally .gz)"
    assert _quarantine(query, landing_dir) == [
        (D1, "events/2024-03-05/events.parquet", None, "not_an_event_file", f"events.parquet: {batch_rule}", None, None),
        (D1, "events/2024-03-05/export.csv", None, "not_an_event_file", f"export.csv: {batch_rule}", None, None),
        (D1, "events/2024-03-05/notes.txt", None, "not_an_event_file", f"notes.txt: {batch_rule}", None, None),
        (D1, "events/2024-03-05/old", None, "not_an_event_file", "old: a folder, not read (landing day folders are flat)", None, None),
        (D1, "logs/20240305/readme.md", None, "not_an_event_file",
         "readme.md: not an event file (a logs folder holds one .json file per event)", None, None),
    ]
    assert [r[0] for r in _clean(query)] == ["g1", "g2", "g3"]
    assert reconciliation == (True, 8, 0)  # 3 clean lines + 5 records
    _rerun_is_identical(resources, query, reconciliation)


# ------------------------------------------------------------------------------ symbolic links
def test_a_symlink_out_of_the_landing_zone_is_not_read(landing_dir, resources, query, tmp_path):
    outside = tmp_path / "outside"
    (outside / "day").mkdir(parents=True)
    (outside / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n")
    (outside / "evt.json").write_text(_line("s1"))
    (outside / "day" / "batch.ndjson").write_text(_line("s2", "2024-03-06") + "\n")
    day1 = landing_dir / "events" / "2024-03-05"
    day1.mkdir(parents=True)
    (day1 / "good.ndjson").write_text(_line("g1") + "\n")
    (day1 / "passwd.ndjson").symlink_to(outside / "passwd")
    (day1 / "up.ndjson").symlink_to(os.path.join("..", "..", "..", "outside", "passwd"))  # relative, climbing out
    (day1 / "z-copy.ndjson").symlink_to("good.ndjson")  # inside the landing zone: followed
    (landing_dir / "events" / "2024-03-06").symlink_to(outside / "day", target_is_directory=True)
    logs = landing_dir / "logs" / "20240305"
    logs.mkdir(parents=True)
    (logs / "evil.json").symlink_to(outside / "evt.json")

    reconciliation = _run(resources)

    def out(name: str) -> str:
        return f"{name}: a symbolic link leading outside the landing zone, not read"

    assert _quarantine(query, landing_dir) == [
        (D1, "events/2024-03-05/passwd.ndjson", None, "symlink_outside_landing", out("passwd.ndjson"), None, None),
        (D1, "events/2024-03-05/up.ndjson", None, "symlink_outside_landing", out("up.ndjson"), None, None),
        (D1, "events/2024-03-05/z-copy.ndjson", 1, "duplicate_event", "event_id g1 already delivered", "g1", _line("g1")),
        (D1, "logs/20240305/evil.json", None, "symlink_outside_landing", out("evil.json"), None, None),
        (D2, "events/2024-03-06", None, "symlink_outside_landing", out("2024-03-06"), None, None),
    ]
    assert _clean(query) == [("g1", D1, str(day1 / "good.ndjson"), 1)]
    assert reconciliation == (True, 6, 0)  # g1, its copy, and 4 links out
    assert query("SELECT count(*) FROM quarantine WHERE raw_line LIKE '%root:%' OR reason_detail LIKE '%root:%'") == [(0,)]
    _rerun_is_identical(resources, query, reconciliation)


def test_the_sensor_sees_a_file_that_is_not_an_event_file_but_not_litter(landing_dir):
    day1 = landing_dir / "events" / "2024-03-05"
    day1.mkdir(parents=True)
    (day1 / "good.ndjson").write_text(_line("g1") + "\n")
    old = os.stat(day1 / "good.ndjson").st_mtime + 10_000
    before = landing_scan.scan(landing_dir, None, now=old, settle_seconds=0).days[D1]
    (day1 / ".DS_Store").write_text("litter")
    assert landing_scan.scan(landing_dir, None, now=old, settle_seconds=0).days[D1] == before
    (day1 / "notes.txt").write_text("a note")  # registered (and quarantined) by raw_events: the day changed
    after = landing_scan.scan(landing_dir, None, now=old, settle_seconds=0).days[D1]
    assert after != before and after.count == before.count + 1


def test_a_dangling_link_is_unreadable_and_a_repointed_link_fails_cleaning_naming_it(landing_dir, resources, query, tmp_path):
    day1 = landing_dir / "events" / "2024-03-05"
    day1.mkdir(parents=True)
    (day1 / "good.ndjson").write_text(_line("g1") + "\n")
    (day1 / "other.ndjson").write_text(_line("g2") + "\n")
    (day1 / "gone.ndjson").symlink_to("missing.ndjson")  # inside the landing zone, leading nowhere
    (day1 / "x-link.ndjson").symlink_to("other.ndjson")  # inside: read, its event a duplicate
    assert _run(resources, end="2024-03-05", unreadable=True) == (True, 4, 0)
    assert _quarantine(query, landing_dir) == [
        (D1, "events/2024-03-05/gone.ndjson", None, "unreadable_file",
         "gone.ndjson: a symbolic link leading nowhere (its target is missing)", None, None),
        (D1, "events/2024-03-05/x-link.ndjson", 1, "duplicate_event", "event_id g2 already delivered", "g2", _line("g2")),
    ]
    # re-pointed out of the landing zone after raw_events registered it: cleaning refuses, naming it
    (tmp_path / "secret").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (day1 / "x-link.ndjson").unlink()
    (day1 / "x-link.ndjson").symlink_to(tmp_path / "secret")
    result = materialize_range([clean_events], resources, "2024-03-05", "2024-03-05", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.cause.message
    assert "LandingFileChanged" in message and "x-link.ndjson" in message and "root:" not in message
    assert query("SELECT count(*) FROM quarantine WHERE raw_line LIKE '%root:%'") == [(0,)]


def test_a_registry_from_before_the_rejected_columns_still_cleans_and_gains_them(landing_dir, resources, query, warehouse):
    day1 = landing_dir / "events" / "2024-03-05"
    day1.mkdir(parents=True)
    (day1 / "good.ndjson").write_text(_line("g1") + "\n")
    assert materialize_range([raw_events], resources, "2024-03-05", "2024-03-05").success
    with warehouse.connect() as con:  # the registry as the previous release wrote it
        con.execute("ALTER TABLE raw_events DROP COLUMN rejected_reason")
        con.execute("ALTER TABLE raw_events DROP COLUMN rejected_detail")
    (day1 / "notes.txt").write_text("arrived after the day was registered")
    result = materialize_range([clean_events], resources, "2024-03-05", "2024-03-05")
    assert result.success
    assert query("SELECT source_file, rejected_reason, rejected_detail FROM raw_events") == [(str(day1 / "good.ndjson"), None, None)]
    assert [r[0] for r in _clean(query)] == ["g1"] and _quarantine(query, landing_dir) == []
    assert _run(resources, end="2024-03-05") == (True, 2, 0)  # the day re-registered: the note is seen
    assert [r[3] for r in _quarantine(query, landing_dir)] == ["not_an_event_file"]


def test_an_events_folder_on_another_disk_is_the_landing_zone_too(landing_dir, resources, query, tmp_path):
    """events/ itself a link to another disk (a common deployment): links among its files stay
    inside the landing zone; one leaving it still is not read."""
    disk = tmp_path / "disk" / "events"
    (disk / "2024-03-05").mkdir(parents=True)
    (disk / "2024-03-05" / "good.ndjson").write_text(_line("g1") + "\n")
    (disk / "2024-03-05" / "z-copy.ndjson").symlink_to(disk / "2024-03-05" / "good.ndjson")  # absolute, on that disk
    (tmp_path / "secret").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (disk / "2024-03-05" / "secret.ndjson").symlink_to(tmp_path / "secret")
    (landing_dir / "events").symlink_to(disk, target_is_directory=True)
    assert _run(resources, end="2024-03-05") == (True, 3, 0)
    assert [r[:5] for r in _quarantine(query, landing_dir)] == [
        (D1, "events/2024-03-05/secret.ndjson", None, "symlink_outside_landing",
         "secret.ndjson: a symbolic link leading outside the landing zone, not read"),
        (D1, "events/2024-03-05/z-copy.ndjson", 1, "duplicate_event", "event_id g1 already delivered"),
    ]
    assert [r[0] for r in _clean(query)] == ["g1"]
