"""Inputs the raw layer recorded that a rerun no longer finds: what rebuilding their days would drop.

A raw asset rebuilds its window from the input files present now (landing files, order exports).
A file deleted, or a path set wrong for one run (a shell without ``$SHOPVERSE_ORDER_EXPORTS`` or
``$SHOPVERSE_LANDING_DIR``), would otherwise turn days of data into none, in a green run. The raw
assets ask this module first and fail naming what is gone, unless the run says to drop it.

A file moved to another folder (the path pointed there) or renamed in place is the same input,
read again from its new path: one present with the recorded name and size, or with the recorded
size and modification time, stands for it. "Name" is as many trailing parts of the path as identify
a file where it lives: a landing file's day folder is part of it (``events/2024-03-05/batch-0001.ndjson``:
every day has a ``batch-0001.ndjson``), an export's name is its file name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path


def gone(recorded: Mapping[str, tuple[int, int]], present: Iterable[str], name_parts: int = 1) -> list[str]:
    """The recorded inputs (path -> (size in bytes, modification time in ns)) that no present path
    is or stands for, sorted; ``name_parts``: the trailing parts of a path that name the file. The
    present files are looked at (stat) only when a recorded path is not among them."""
    present = list(present)
    absent = sorted(set(recorded) - set(present))
    if not absent:
        return []
    prints = {}
    for path in present:
        try:
            stat = os.stat(path)
        except OSError:
            continue
        prints[path] = (stat.st_size, stat.st_mtime_ns)
    def name(path: str) -> tuple[str, ...]:
        return Path(path).parts[-name_parts:]

    by_name = {(name(path), size) for path, (size, _) in prints.items()}
    by_print = set(prints.values())
    return [path for path in absent
            if (name(path), recorded[path][0]) not in by_name and tuple(recorded[path]) not in by_print]


def described(lines: Mapping[str, int], shown: int = 5) -> str:
    """``path (N lines), ...`` for the first ``shown`` inputs, and how many more."""
    listed = ", ".join(f"{path} ({count:,} lines)" for path, count in sorted(lines.items())[:shown])
    return listed + (f" and {len(lines) - shown} more" if len(lines) > shown else "")


class InputsGone(RuntimeError):
    """Input files a raw asset built a run's days from that are not where it reads them any more."""

    def __init__(self, asset: str, kind: str, location: str, setting: str, unit: str,
                 gone: Mapping[str, int], start: date, end: date):
        self.gone = dict(gone)
        super().__init__(
            f"{asset} {start}..{end}: {len(self.gone)} {kind}(s) these days were built from "
            f"{'are' if len(self.gone) > 1 else 'is'} not in {location} any more: {described(self.gone)}. "
            f"Rebuilding the days without them would drop {sum(self.gone.values()):,} {unit}, so nothing was "
            f"changed. Put them back, or point {setting} at where they are now; to drop them on purpose, rerun "
            f"the days with {asset}'s config drop_missing_inputs: true (shopverse backfill --drop-missing-inputs, "
            "or the Launchpad).")
