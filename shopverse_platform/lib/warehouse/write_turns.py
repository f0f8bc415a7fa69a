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

On a PostgreSQL catalog the turns are per table. DuckLake there merges the commits of transactions
that change different tables, but one inserting into a table is refused when another that deleted
from (or altered) it committed first, so two replacing rows of one table (each a delete and an
insert) conflict, and the later is done again whole: two writers replacing days of one table
for 20 s committed 105 and 290 times, 25 transactions redone and one given up, the slowest commit
3.8 s; and a step whose transaction cannot be redone in place (the cleaning of events) failed and was
run again by Dagster, its 6.3 s lost (bench/concurrency.py, 2 workers, clean_events and
clean_order_lines both writing ``quarantine``). A transaction that names the tables it writes
(``transactions.transaction(con, writes=...)``; ``replace_date_range``, ``replace_table`` and the
cleaning, dimension and metric steps do) holds a PostgreSQL advisory lock per table
(``pg_advisory_lock`` on a connection of the process's own, keyed by the table's name, taken in name
order so that no two writers each hold a table the other waits for) from before its first statement
to after its commit: 243 and 243 commits, none redone, the slowest 0.24 s (bench/write_turns.py).
Writers of other tables go on beside it; one that names none stays optimistic, as before. The locks
are PostgreSQL's: they go with the connection, so with the process, killed or not, and an operator
sees them in ``pg_locks`` (application name ``shopverse write turns <PID>``), as does
``turn_holders`` (``shopverse warehouse``). A wait of a second or more is logged as a warning
naming the holder, on either catalog.

A turn is taken after the connection's read group (``read_groups``) has ended: a read transaction
left open while waiting for a turn would hold a catalog snapshot another writer may wait on.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shopverse_platform.lib.warehouse.read_groups import end_read_group, unwrapped
from shopverse_platform.lib.warehouse.switches import switched_on

log = logging.getLogger(__name__)

WRITE_TURNS_VARIABLE = "SHOPVERSE_LAKE_WRITE_TURNS"
TURN_SUFFIX = ".write-turn"
# The advisory locks' first key on a PostgreSQL catalog (hashtext of it): the platform's turns, apart
# from any other use of advisory locks in the same database. The second key is the table's name.
TABLE_TURN_NAMESPACE = "shopverse write turn"
# The lock connections' application name: this prefix and the OS process's PID, so that an operator
# (and turn_holders) can tell which process holds or waits for a turn.
LOCK_APPLICATION_NAME = "shopverse write turns"
# A wait for a turn this long or longer is logged as a warning naming who held it: a step that waits
# shows why it is slow (another process's transaction), not only that it is.
WAIT_REPORTED_SECONDS = 1.0
# How soon the catalog's server ends the lock connection of a machine gone without closing it (a
# worker host powered off, a network partition), which releases its turns: TCP keepalive probes
# after 30 s idle, every 10 s, 3 unanswered (~60 s), where the server's default waits ~2 hours
# (the kernel's 7,200 s) while every writer of those tables waits. Per session, so set on the
# platform's own connection; ignored on a Unix-domain socket (no machine in between).
LOCK_CONNECTION_KEEPALIVES = {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}


@dataclass(frozen=True)
class TurnHolder:
    """A process holding or waiting for a write turn."""

    pid: int  # the OS process (on PostgreSQL, as its lock connection's application name says)
    waiting: bool  # False: it holds the turn
    table: str | None = None  # a PostgreSQL lake's table whose turn it is (None: SQLite's one turn, or unknown)

    def __str__(self) -> str:
        return f"PID {self.pid}" + (f" ({self.table})" if self.table else "")


@dataclass(frozen=True)
class PostgresCatalog:
    """A lake's PostgreSQL catalog (its libpq connection string): its writers take turns per table."""

    conninfo: str


# A writing connection to a lake -> its catalog: the SQLite file, or the PostgreSQL catalog. Weak:
# an entry goes with its connection, whoever closes it.
_catalog_of: weakref.WeakKeyDictionary[object, Path | PostgresCatalog] = weakref.WeakKeyDictionary()
# This process's connection to each PostgreSQL catalog for its advisory locks, by (PID, catalog):
# a forked process opens its own (a libpq connection is not shared across fork).
_lock_connections: dict[tuple[int, PostgresCatalog], object] = {}
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


def takes_turns(con: object, catalog: Path | PostgresCatalog) -> None:
    """Record that ``con`` writes to the lake whose catalog is ``catalog`` (a SQLite file, or a
    PostgreSQL catalog): its transactions take turns."""
    _catalog_of[con] = catalog


def catalog_of(con: object) -> Path | PostgresCatalog | None:
    """The catalog whose turns ``con``'s transactions take (None: they take none). ``con``
    may wrap the connection ``lake.connect`` returned, as a step's ``StatementLog`` does: wrappers
    name what they wrap ``__wrapped__`` (``read_groups.unwrapped``), and the turn is the wrapped one's."""
    for layer in unwrapped(con):
        try:
            found = _catalog_of.get(layer)
        except TypeError:  # not weakly referenceable: never recorded
            found = None
        if found is not None:
            return found
    return None


@contextmanager
def write_turn(con: object, writes: Iterable[str] = ()) -> Iterator[bool]:
    """Hold the write turn of ``con``'s lake while the block runs (a transaction, BEGIN to COMMIT),
    ``con``'s read group ended first; ``writes``: the tables the block writes, whose turns it takes
    on a PostgreSQL catalog (a SQLite catalog has one turn for all). Yields whether a turn is held
    (False: a DuckDB file, a reading connection, a PostgreSQL lake's block naming no table, or turns
    switched off)."""
    catalog = catalog_of(con)
    if catalog is not None and turns_enabled():
        end_read_group(con)
    if isinstance(catalog, PostgresCatalog):
        with table_turns(catalog, writes) as held:
            yield held
    else:
        with catalog_turn(catalog) as held:
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
            holders = [holder for holder in turn_holders(catalog) if not holder.waiting]
            started = time.monotonic()
            fcntl.flock(fd, fcntl.LOCK_EX)
            _report_wait(f"the write turn of {catalog}", holders, time.monotonic() - started)
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


@contextmanager
def table_turns(catalog: PostgresCatalog, tables: Iterable[str]) -> Iterator[bool]:
    """Hold the turns of ``tables`` on the PostgreSQL lake whose catalog is ``catalog`` while the
    block runs: one session advisory lock per table, taken in name order (writers of the same tables
    queue; none holds one table while waiting for another that its waiter holds), released in
    reverse. Re-entrant: PostgreSQL counts a session's locks. Yields whether turns are held (False:
    no table named, or turns off)."""
    names = sorted({name.split(".")[-1].strip('"') for name in tables})
    if not names or not turns_enabled():
        yield False
        return
    with _guard:  # threads of this process queue here, as for a SQLite turn
        lock_con, taken = _take_tables(catalog, names)
        try:
            yield True
        finally:
            for name in reversed(taken):
                _advisory_unlock(catalog, lock_con, name)


def _take_tables(catalog: PostgresCatalog, names: list[str]) -> tuple[object, list[str]]:
    """Lock ``names`` in order on this process's lock connection; returns it and the names locked.
    A connection that fails (lost when the server restarted or an operator ended its session) is
    closed, its locks going with it, and every table locked again on a new one, once."""
    import psycopg2

    try:
        return _lock_all(catalog, names)
    except psycopg2.OperationalError as error:
        log.warning("the write-turn connection to the lake's catalog failed, opened again: %s", error)
        return _lock_all(catalog, names)


def _lock_all(catalog: PostgresCatalog, names: list[str]) -> tuple[object, list[str]]:
    import psycopg2

    lock_con = _lock_connection(catalog)
    taken: list[str] = []
    try:
        for name in names:
            _advisory_lock(lock_con, name)
            taken.append(name)
    except psycopg2.OperationalError:
        _lock_connections.pop((os.getpid(), catalog), None)
        lock_con.close()  # a session's advisory locks end with it
        raise
    except BaseException:
        for name in reversed(taken):
            _advisory_unlock(catalog, lock_con, name)
        raise
    return lock_con, taken


def _lock_connection(catalog: PostgresCatalog):
    """This process's connection for ``catalog``'s advisory locks (autocommit: a session lock
    outlives no transaction of its own), opened again when it was lost."""
    import psycopg2  # a dependency of dagster-postgres; imported where a PostgreSQL lake is written

    key = (os.getpid(), catalog)
    lock_con = _lock_connections.get(key)
    if lock_con is None or lock_con.closed:
        lock_con = psycopg2.connect(catalog.conninfo, application_name=f"{LOCK_APPLICATION_NAME} {os.getpid()}")
        lock_con.autocommit = True
        with lock_con.cursor() as cursor:
            for setting, value in LOCK_CONNECTION_KEEPALIVES.items():  # names of this module's own
                cursor.execute(f"SET {setting} = %s", (value,))
        _lock_connections[key] = lock_con
    return lock_con


def _advisory_lock(lock_con, table: str) -> None:
    with lock_con.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s))", (TABLE_TURN_NAMESPACE, table))
        if cursor.fetchone()[0]:
            return
        holders = [holder for holder in _advisory_holders(cursor, [table]) if not holder.waiting]
        started = time.monotonic()
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s), hashtext(%s))", (TABLE_TURN_NAMESPACE, table))
        cursor.fetchone()
        _report_wait(f"the write turn of table {table}", holders, time.monotonic() - started)


def _advisory_unlock(catalog: PostgresCatalog, lock_con, table: str) -> None:
    """Give a table's turn back. A lock connection lost meanwhile took its locks with it (the server
    ends a session's locks with it): it is dropped, and the next turn opens another."""
    import psycopg2

    try:
        with lock_con.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s), hashtext(%s))", (TABLE_TURN_NAMESPACE, table))
            cursor.fetchone()
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:  # gone, and its locks with it
        log.warning("the write-turn connection to the lake's catalog was lost (its turns went with it): %s", error)
        if _lock_connections.get((os.getpid(), catalog)) is lock_con:
            del _lock_connections[(os.getpid(), catalog)]
        lock_con.close()


def release_lock_connections() -> None:
    """Close this process's advisory-lock connections (none of their turns is held after a block)."""
    for key in [key for key in _lock_connections if key[0] == os.getpid()]:
        _lock_connections.pop(key).close()


def _report_wait(turn: str, holders: list[TurnHolder], waited: float) -> None:
    if waited >= WAIT_REPORTED_SECONDS:
        log.warning("waited %.1f s for %s, held by %s (another process's transaction)", waited, turn,
                    ", ".join(map(str, holders)) or "a process gone since")


def turn_holders(catalog: Path | PostgresCatalog, tables: Iterable[str] = ()) -> list[TurnHolder]:
    """The processes holding or waiting for the lake's write turns now. A SQLite lake's: from the
    kernel's list of file locks (``/proc/locks``: Linux; elsewhere none are listed). A PostgreSQL
    lake's: from ``pg_locks``, each turn's table named when it is one of ``tables``."""
    if isinstance(catalog, PostgresCatalog):
        import psycopg2

        probe = psycopg2.connect(catalog.conninfo)
        try:
            with probe.cursor() as cursor:
                return _advisory_holders(cursor, list(tables))
        finally:
            probe.close()
    return _flock_holders(turn_file(catalog))


def _flock_holders(file: Path) -> list[TurnHolder]:
    """``/proc/locks`` lines of ``file``'s flock: ``1: FLOCK  ADVISORY  WRITE <pid> <major>:<minor>:<inode>
    0 EOF`` for the holder, the same after ``->`` for each waiter (device numbers in hex)."""
    try:
        status = file.stat()
        listing = Path("/proc/locks").read_text()
    except OSError:  # no turn file yet (no writer ever), or not Linux
        return []
    device = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
    holders = []
    for line in listing.splitlines():
        fields = line.split()
        waiting = len(fields) > 1 and fields[1] == "->"
        fields = fields[2:] if waiting else fields[1:]
        if len(fields) >= 5 and fields[0] == "FLOCK" and fields[4] == device:
            holders.append(TurnHolder(int(fields[3]), waiting))
    return holders


def _advisory_holders(cursor, tables: list[str]) -> list[TurnHolder]:
    """The platform's advisory locks in the catalog's database, granted and awaited, from
    ``pg_locks``: the lock connections' application name gives the OS process; a lock's second key
    (``objid``, hashtext of the table's name as unsigned) is matched against ``tables``."""
    cursor.execute(
        "SELECT a.application_name, NOT l.granted, t.name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        "LEFT JOIN unnest(%s::text[]) AS t(name) ON l.objid::bigint = (hashtext(t.name)::bigint & 4294967295) "
        "WHERE l.locktype = 'advisory' AND l.objsubid = 2 "
        "AND l.classid::bigint = (hashtext(%s)::bigint & 4294967295) AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY l.granted DESC, a.pid",
        (tables, TABLE_TURN_NAMESPACE))
    holders = []
    for application, waiting, table in cursor.fetchall():
        pid = (application or "").removeprefix(LOCK_APPLICATION_NAME).strip()
        if pid.isdigit():
            holders.append(TurnHolder(int(pid), waiting, table))
    return holders
