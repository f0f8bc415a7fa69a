"""Writers of a lake with a SQLite catalog take turns: one writing transaction at a time, queued.

On a SQLite catalog any two writing transactions that overlap conflict, whatever they write: the
first read of a DuckLake transaction opens SQLite's snapshot of the catalog, and when another
process commits before this one does, SQLite refuses this one's commit ("database is locked", a
stale snapshot), before DuckLake's own conflict check could see that the two changed different
tables. (On PostgreSQL, DuckLake merges such commits: inserts into one table, changes to different
tables.) The platform redid such a transaction after a growing, jittered wait
(``lake.retry_contention``), which let a writer that commits back to back starve another: two
processes replacing a day of their own table in a loop for 20 s committed 610 and 4 times, the
second's transactions done again 19 times and one given up after its 12 attempts (where a step
fails). Taking turns: 329 and 338, none done again, the slowest commit 0.20 s against 7.0 s
(bench/write_turns.py, bench/RESULTS.md).

A turn is an exclusive ``flock`` on ``<catalog>.write-turn``, a file beside the catalog (empty, kept:
removing a lock file races with the next writer opening it), held from before a transaction's
first statement to after its commit or rollback (``transactions.transaction``), and around a
statement that commits a schema change on its own (``transactions.schema_change``: a table created
before the transaction that fills it) and the lake's own commits (``lake.prime_table_statistics``,
``lake.keep_rows_out_of_catalog``). It costs four system calls; a writer waits only while another
process's transaction runs, where before it would have run its own and then failed at the commit. The lock is the operating system's: it goes with the
process that held it, killed or not. BSD ``flock`` locks belong to the open file, not to the
process, so this does not meet the POSIX-lock hazard of opening the catalog itself (see
``lake.sqlite_catalog_created``), and a turn file is never the catalog.

Readers take no turn: a DuckLake read commits nothing. Writers outside the platform (a notebook
writing to the lake) take none either and stay optimistic, as does any other statement that writes
outside an explicit transaction (a column added by a migration of an older warehouse's layout); a
commit of theirs that meets another is still retried. Within a process, turns are re-entrant
(a transaction opened inside another on the same thread would otherwise wait for itself) and the
threads of a process take turns too. ``$SHOPVERSE_LAKE_WRITE_TURNS=0`` turns them off.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shopverse_platform.lib.warehouse.switches import switched_on

log = logging.getLogger(__name__)

WRITE_TURNS_VARIABLE = "SHOPVERSE_LAKE_WRITE_TURNS"
TURN_SUFFIX = ".write-turn"

# A writing connection to a SQLite lake -> its catalog file. Weak: an entry goes with its
# connection, whoever closes it.
_catalog_of: weakref.WeakKeyDictionary[object, Path] = weakref.WeakKeyDictionary()
# The turns held here: (this process's PID, catalog) -> (its open turn file, how many nested
# transactions hold it). By PID: a process forked while a turn was held has not got it.
_held: dict[tuple[int, Path], tuple[int, int]] = {}
_guard = threading.RLock()


def turns_enabled(environ: dict[str, str] | None = None) -> bool:
    """Whether writers take turns: unless $SHOPVERSE_LAKE_WRITE_TURNS is 0 (or false, no)."""
    return switched_on(WRITE_TURNS_VARIABLE, True, environ)


def turn_file(catalog: Path) -> Path:
    """The file whose lock is a SQLite lake's write turn."""
    return catalog.with_name(catalog.name + TURN_SUFFIX)


def takes_turns(con: object, catalog: Path) -> None:
    """Record that ``con`` writes to the SQLite lake whose catalog is ``catalog``: its transactions
    take turns."""
    _catalog_of[con] = catalog


def catalog_of(con: object) -> Path | None:
    """The SQLite catalog whose turns ``con``'s transactions take (None: they take none). ``con``
    may wrap the connection ``lake.connect`` returned, as a step's ``StatementLog`` does: wrappers
    name what they wrap ``__wrapped__`` (Python's convention), and the turn is the wrapped one's."""
    for _ in range(8):  # a few wrappers deep at most
        try:
            found = _catalog_of.get(con)
        except TypeError:  # not weakly referenceable: never recorded
            found = None
        if found is not None:
            return found
        con = getattr(con, "__wrapped__", None)
        if con is None:
            return None
    return None


@contextmanager
def write_turn(con: object) -> Iterator[bool]:
    """Hold the write turn of ``con``'s lake while the block runs (a transaction, BEGIN to COMMIT);
    yields whether a turn is held (False: a DuckDB file, a PostgreSQL lake, a reading connection,
    or turns switched off)."""
    with catalog_turn(catalog_of(con)) as held:
        yield held


@contextmanager
def catalog_turn(catalog: Path | None) -> Iterator[bool]:
    """Hold the write turn of the SQLite lake whose catalog is ``catalog`` while the block runs
    (None: no turn), for a writer that has its catalog, not a connection recorded with it (the
    lake's own bookkeeping in lib/warehouse/lake.py). Yields whether a turn is held."""
    if catalog is None or not turns_enabled():
        yield False
        return
    with _guard:  # threads of this process queue here; the thread holding it may enter again
        _take(catalog)
        try:
            yield True
        finally:
            _give_back(catalog)


def _take(catalog: Path) -> None:
    key = (os.getpid(), catalog)
    held = _held.get(key)
    if held is not None:
        _held[key] = (held[0], held[1] + 1)
        return
    fd = os.open(turn_file(catalog), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.debug("waiting for the write turn of %s", catalog)
            fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    _held[key] = (fd, 1)


def _give_back(catalog: Path) -> None:
    key = (os.getpid(), catalog)
    fd, depth = _held[key]
    if depth > 1:
        _held[key] = (fd, depth - 1)
        return
    del _held[key]
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
