"""Writing the simulator's landing zone: event files, reference data, faults and ground truth.

Part of the traffic simulator (``lib/simulator``, whose ``simulate`` is the entry point and whose
docstring describes the files).  The simulator generates clean events and hands them over one
UTC day at a time; ``LandingWriter`` stamps their ids and local times, mixes in the deliberately
bad lines (``FAULT_KINDS``) and re-delivered duplicates, and writes the day as NDJSON batches
and/or the old one-file-per-event ``logs`` layout.  It also writes the catalogue and customer
CSVs and, at the end, ``ground_truth/anomalies.json`` with what was injected.  Faults draw from
their own random stream, so that changing the fault rate changes nothing but the injected lines.
"""

from __future__ import annotations

import csv
import gzip as gzip_module
import hashlib
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson

from shopverse_platform.lib.simulator.population import (
    AGE_GROUPS,
    COUNTRIES,
    CURRENCY,
    SOURCES,
    _PopulationMixin,
    uuid_from_hex,
    uuid_like,
)

FAULT_KINDS = ("malformed_json", "unknown_event_type", "invalid_price", "future_timestamp",
               "schema_violation", "duplicate_event")
UNKNOWN_EVENT_NAMES = ("add_to_wishlist", "video_start", "select_promotion", "page_veiw", "share")
OFFSET_TEXT = {m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}" for _, m, _ in COUNTRIES}


class LandingWriter:
    """The files of one run under ``root``, and the counts of what went into them.

    ``files`` lists, in writing order, every file written -- except the ``logs`` layout, listed by
    day folder.  ``events``/``legacy_events`` count the valid events written, ``fault_counts`` the
    injected lines by kind.  ``rng_ids`` is shared with the simulator (one stream of ids for the
    whole run); ``rng_faults`` is only used here.
    """

    def __init__(self, root: Path, start: date, days: int, *, gzip: bool, layout: str,
                 faults: float, batch_size: int, rng_ids: np.random.Generator,
                 rng_faults: np.random.Generator) -> None:
        self.root, self.start, self.days = root, start, days
        self.gzip, self.layout, self.fault_rate, self.batch_size = gzip, layout, faults, batch_size
        self.rng_ids, self.rng_faults = rng_ids, rng_faults
        self.redeliveries: dict[int, list[bytes]] = {}  # day index -> duplicates delivered then
        self.malformed_pretty: dict[bytes, tuple[str, bytes]] = {}  # ndjson line -> logs file
        self.fault_counts = dict.fromkeys(FAULT_KINDS, 0)
        self.events = self.legacy_events = 0
        self.files: list[Path] = []

    def clear_days(self) -> None:
        """The run owns its window's day folders: start them empty."""
        for d in range(self.days):
            day = self.start + timedelta(days=d)
            for folder in (self.root / "events" / day.isoformat(), self.root / "logs" / day.strftime("%Y%m%d")):
                shutil.rmtree(folder, ignore_errors=True)

    # ------------------------------------------------------------------------------ faults
    def _inject_faults(self, d: int, events: list[dict], lines: list[bytes]) -> tuple[list, list]:
        """Mix bad lines into the day's lines; return (regular lines, re-delivered duplicates)."""
        rng, n = self.rng_faults, len(lines)
        redelivered = self.redeliveries.pop(d, [])
        if not self.fault_rate or not n:
            return lines, redelivered
        counts = rng.binomial(n, self.fault_rate / len(FAULT_KINDS), len(FAULT_KINDS)).tolist()
        bad = [line for kind, count in zip(FAULT_KINDS, counts[:-1])
               for line in self._faulty_lines(kind, count, events)]
        positions = rng.integers(0, n + 1, len(bad)).tolist()  # bad lines land anywhere in the day
        regular, previous = [], 0
        for k in np.argsort(positions, kind="stable").tolist():
            regular.extend(lines[previous:positions[k]])
            regular.append(bad[k])
            previous = positions[k]
        regular.extend(lines[previous:])
        # duplicates: exact copies in a later batch of the same day, ~30 % in the next day's folder
        picks = np.sort(rng.choice(n, min(counts[-1], n), replace=False)).tolist()
        to_next = ((rng.random(len(picks)) < .3) & (d + 1 < self.days)).tolist()
        redelivered += [lines[i] for i, later in zip(picks, to_next) if not later]
        self.redeliveries.setdefault(d + 1, []).extend(lines[i] for i, later in zip(picks, to_next) if later)
        self.fault_counts["duplicate_event"] += len(picks)
        return regular, redelivered

    def _faulty_lines(self, kind: str, count: int, events: list[dict]) -> list[bytes]:
        """``count`` copies of the day's events, each with a fresh event_id and exactly one defect."""
        rng, pool = self.rng_faults, range(len(events))
        if count and kind == "unknown_event_type":  # only new-tracker events: one defect, not two
            pool = [i for i, e in enumerate(events) if "event_name" in e]
        elif count and kind == "invalid_price":  # a purchase, or an item event turned into one
            pool = ([i for i, e in enumerate(events) if e.get("event_name") == "purchase"]
                    or [i for i, e in enumerate(events) if "items" in e])
        if not count or not pool:
            return []
        out = []
        for i, event_id in zip(rng.integers(0, len(pool), count).tolist(), uuid_like(rng, count)):
            event = dict(events[pool[i]], event_id=event_id)
            if kind == "malformed_json":  # a truncated object, as from a crashed writer
                line, pretty = orjson.dumps(event), orjson.dumps(event, option=orjson.OPT_INDENT_2)
                cut = rng.uniform(.3, .9)
                out.append(line[: int(len(line) * cut)])
                if self.layout != "ndjson":
                    self.malformed_pretty[out[-1]] = (event_id, pretty[: int(len(pretty) * cut)])
                continue
            if kind == "unknown_event_type":
                event["event_name"] = UNKNOWN_EVENT_NAMES[rng.integers(len(UNKNOWN_EVENT_NAMES))]
            elif kind == "invalid_price":
                items = [dict(item) for item in event["items"]]
                items[rng.integers(len(items))]["price"] *= -1
                event.update(event_name="purchase", page="/checkout/confirmation", items=items,
                             value=round(sum(abs(it["price"]) * it["quantity"] for it in items), 2),
                             currency=CURRENCY, transaction_id=f"ORD-{rng.integers(60_000_000, 99_999_999)}")
            elif kind == "future_timestamp":  # a device clock years ahead
                stamp = datetime.fromisoformat(event["event_time"])
                stamp += timedelta(days=365 * int(rng.integers(2, 6)) + int(rng.integers(0, 365)))
                event["event_time"] = stamp.isoformat(timespec="milliseconds" if stamp.microsecond else "seconds")
            else:  # schema_violation
                del event["event_id"]
            out.append(orjson.dumps(event))
        self.fault_counts[kind] += len(out)
        return out

    # ------------------------------------------------------------------------------ output
    def write_day(self, d: int, queued: list[tuple]) -> None:
        """Stamp ids and local times on the day's events (vectorised), add faults, write files.

        ``queued`` holds the day's ``(t_ms, offset_min, precise, event)`` in generation order."""
        queued.sort(key=lambda q: q[0])  # stable: ties keep generation order
        n, events = len(queued), [q[3] for q in queued]
        if n:
            t = np.fromiter((q[0] for q in queued), np.int64, n)
            offsets = np.fromiter((q[1] for q in queued), np.int64, n)
            local = (t + offsets * 60_000).astype("datetime64[ms]")
            stamps = np.datetime_as_string(local, unit="s").tolist()
            precise = [k for k, q in enumerate(queued) if q[2]]  # bots: millisecond resolution
            for k, stamp in zip(precise, np.datetime_as_string(local[precise], unit="ms").tolist()):
                stamps[k] = stamp
            for event, event_id, stamp, q in zip(events, uuid_like(self.rng_ids, n), stamps, queued):
                event["event_id"], event["event_time"] = event_id, stamp + OFFSET_TEXT[q[1]]
        self.events += n
        self.legacy_events += sum("event_type" in event for event in events)
        regular, redelivered = self._inject_faults(d, events, [orjson.dumps(e) for e in events])
        day = self.start + timedelta(days=d)
        if self.layout != "logs":
            self._write_ndjson(self.root / "events" / day.isoformat(), regular, redelivered)
        if self.layout != "ndjson" and (regular or redelivered):
            folder = self.root / "logs" / day.strftime("%Y%m%d")
            self._write_logs(folder, regular + redelivered)
            self.files.append(folder)
        self.malformed_pretty.clear()

    def _write_ndjson(self, folder: Path, regular: list[bytes], redelivered: list[bytes]) -> None:
        size = self.batch_size
        # re-deliveries always start a new batch file, like a collector retrying an upload
        batches = [part[i:i + size] for part in (regular, redelivered) for i in range(0, len(part), size)]
        if batches:
            folder.mkdir(parents=True, exist_ok=True)
        for number, batch in enumerate(batches, 1):
            data, path = b"\n".join(batch) + b"\n", folder / f"batch-{number:04d}.ndjson"
            if self.gzip:  # mtime=0 and no file name in the header keep the bytes reproducible
                data, path = gzip_module.compress(data, compresslevel=6, mtime=0), path.with_name(path.name + ".gz")
            path.write_bytes(data)
            self.files.append(path)

    def _write_logs(self, folder: Path, lines: list[bytes]) -> None:
        """The classic layout: one pretty-printed JSON document per line, named by event_id."""
        folder.mkdir(parents=True, exist_ok=True)
        seen: dict[str, int] = {}
        for line in lines:
            if line in self.malformed_pretty:
                event_id, body = self.malformed_pretty[line]
            else:
                event = orjson.loads(line)
                body = orjson.dumps(event, option=orjson.OPT_INDENT_2)
                # no event_id (schema fault): name the file after its content instead
                event_id = event.get("event_id") or uuid_from_hex(hashlib.md5(line).hexdigest())
            copies = seen[event_id] = seen.get(event_id, 0) + 1
            name = f"{event_id}.json" if copies == 1 else f"{event_id}-redelivery{copies - 1}.json"
            (folder / name).write_bytes(body)

    def write_reference_data(self, world: _PopulationMixin) -> None:
        """``catalogue/products.csv`` and ``customers/customers.csv`` (registered visitors only)."""
        self._write_csv(self.root / "catalogue" / "products.csv",
                        ("product_id", "product_name", "category", "price"), world.products)
        registered = np.flatnonzero(world.registered).tolist()
        self._write_csv(self.root / "customers" / "customers.csv",
                        ("user_id", "age_group", "country", "signup_date", "acquisition_channel"),
                        ((world.user_ids[u], AGE_GROUPS[world.age[u]][0], COUNTRIES[world.country[u]][0],
                          (self.start + timedelta(days=int(world.signup_day[u]))).isoformat(),
                          SOURCES[world.channel[u]][0]) for u in registered))

    def _write_csv(self, path: Path, header: tuple[str, ...], rows) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        self.files.append(path)

    def write_ground_truth(self, *, seed: int, users: int, spike: dict, large_orders: list[dict],
                           bots: dict, sessions: int, orders: int, revenue: float,
                           refunds: int) -> Path:
        """``ground_truth/anomalies.json``: what the run injected, plus its totals."""
        path = self.root / "ground_truth" / "anomalies.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        truth = {
            "seed": seed, "start": self.start.isoformat(), "days": self.days, "users": users,
            "layout": self.layout, "gzip": self.gzip,
            "traffic_spike": spike, "large_orders": large_orders, "bots": bots,
            "faults": self.fault_counts,
            "totals": {"events": self.events, "sessions": sessions,
                       "legacy_events": self.legacy_events, "orders": orders,
                       "revenue": round(revenue, 2), "refunds": refunds},
            "notes": "future_timestamp lines and next-day duplicate re-deliveries sit in the folder of "
                     "the day they were delivered; every other line's folder is its UTC event date",
        }
        path.write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2) + b"\n")
        self.files.append(path)
        return path
