"""A writing lake connection's reads share transactions: consecutive reads run in one, a read group.

Every DuckLake transaction asks its catalog for the lake's snapshot and the files of each table it
reads: on a SQLite catalog a ``count(*)`` of a small table in a transaction of its own is 17 catalog
queries (SQLite's tables described again, each catalog table scanned whole), 5.5 ms against 0.2 ms
on the DuckDB file, and a statement outside an explicit transaction is a transaction of its own. A
metric day runs ~170 statements, most of them reads (a day's rows staged, checks, row counts), and
paid that floor each time. Nine reads in one transaction took 32 ms against 69 ms each in its own.

:class:`ReadGroups` wraps a writing lake connection: a statement that only reads, run outside an
explicit transaction, opens a transaction (the group) or joins the open one; the group is committed
before anything else runs (a write, a schema change, DDL, an explicit ``BEGIN``, a checkpoint) and
when the connection closes, so every write still runs as before, in its own transaction and in the
lake's write turn (``write_turns``), and reads after a write see it. A group only ever holds reads,
so its commit writes nothing and meets no other process's; a statement failing in it rolls it back
(DuckDB refuses a failed transaction's next statements) and loses nothing. Reads in a group see the
lake as it was at the group's first read: another process's commit meanwhile shows in the next
group, which begins at the first read after a write or once a group is a second old.

Temp tables and views count as reads: creating, filling or dropping one (``CREATE TEMP TABLE``,
``INSERT INTO temp.`` / ``DROP TABLE temp.``) writes nothing to the lake, and steps stage their rows
in them. A temp table created in a group that then fails goes with the group's rollback, as with
any transaction; the statement's error is raised as it would be.

What counts as a read is DuckDB's own parse of the text (``duckdb.extract_statements``, cached by
text): SELECT (with PRAGMA, DESCRIBE, SHOW, SUMMARIZE, which DuckDB parses as SELECT), EXPLAIN and
the temp writes above.
SET, RESET and USE run wherever they are (in a group or not) and neither open nor close one. Any
other statement, and any connection method other than binding a table and fetching a result,
closes the group first. ``$SHOPVERSE_LAKE_READ_GROUPS=0`` turns the groups off.

Measured on the metric day (bench/lake_statements.py --read-groups, bench/RESULTS.md): the catalog's
transactions 100 -> 28 and its queries 3,284 -> 2,218; 2.28 -> 2.14 s against the file's 1.66 s. Most
of the catalog's queries are per table scanned (its files, their statistics), which DuckLake 1.5.5
asks again in every statement, group or not.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Iterator

import duckdb

from shopverse_platform.lib.warehouse.switches import switched_on

log = logging.getLogger(__name__)

READ_GROUPS_VARIABLE = "SHOPVERSE_LAKE_READ_GROUPS"
# A group older than this ends at its next read: a step that reads, computes for a while in Python
# and reads again sees what other processes committed meanwhile, and SQLite's write-ahead log is
# not held back behind an old snapshot for long. Steps read in bursts well under a second.
GROUP_MAX_SECONDS = 1.0

_READ = "read"
_NEUTRAL = "neutral"  # SET, RESET, USE: a setting, in a group or not
_BEGIN = "begin"
_END = "end"  # COMMIT, ROLLBACK, ABORT, END
_OTHER = "other"

_WORD = re.compile(rb'"[^"]*"|\w+|\S')
_READ_TYPES = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_NEUTRAL_TYPES = {duckdb.StatementType.SET, duckdb.StatementType.VARIABLE_SET}
# The connection's methods that read the result of the last statement or bind a name: they run in
# the group as they find it. Any other method (executemany, sql, register, append, ...) closes it.
_RESULT_METHODS = frozenset({
    "fetchone", "fetchall", "fetchmany", "fetchdf", "df", "fetchnumpy", "fetch_df", "fetch_df_chunk",
    "arrow", "fetch_arrow_table", "fetch_record_batch", "pl", "description", "rowcount",
})


def read_groups_enabled(environ: dict[str, str] | None = None) -> bool:
    """Whether a writing lake connection groups its reads: unless $SHOPVERSE_LAKE_READ_GROUPS is 0
    (or false, no)."""
    return switched_on(READ_GROUPS_VARIABLE, True, environ)


@functools.lru_cache(maxsize=4096)
def statement_kind(sql: str) -> str:
    """What ``sql`` (one statement or several) does to a read group: ``read`` when every statement
    in it only reads, ``begin``/``end`` for a transaction's bounds, ``neutral`` for settings,
    ``other`` for anything else (and for a text DuckDB cannot parse: it fails on its own)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error:
        return _OTHER
    kinds = {_kind(statement) for statement in statements}
    if len(kinds) != 1:
        return _READ if kinds <= {_READ, _NEUTRAL} and kinds else _OTHER
    return kinds.pop()


def _kind(statement: duckdb.Statement) -> str:
    if statement.type in _READ_TYPES or _writes_temp_only(statement):
        return _READ
    if statement.type in _NEUTRAL_TYPES:
        return _NEUTRAL
    if statement.type == duckdb.StatementType.TRANSACTION:
        return _BEGIN if _first_words(statement)[:1] in (["begin"], ["start"]) else _END
    return _OTHER


def _first_words(statement: duckdb.Statement, count: int = 8) -> list[str]:
    """The first ``count`` words of ``statement`` as DuckDB tokenizes it, comments left out (DuckDB
    1.5 keeps the comments before a statement in its text), lower case, quotes taken off."""
    text = statement.query.encode()  # the tokenizer's offsets count bytes
    starts = [start for start, kind in duckdb.tokenize(statement.query) if kind != duckdb.token_type.comment][:count]
    return [_WORD.match(text, start).group().decode().strip('"').lower() for start in starts]


def _writes_temp_only(statement: duckdb.Statement) -> bool:
    """A temp table or view created (CREATE [OR REPLACE] TEMP ...), or one named ``temp.`` dropped
    or inserted into: a write of this connection's own, in memory, that commits nothing to the lake.
    Read by DuckDB's tokens, comments left out."""
    if statement.type not in (duckdb.StatementType.CREATE, duckdb.StatementType.DROP, duckdb.StatementType.INSERT):
        return False
    words = _first_words(statement)
    if statement.type == duckdb.StatementType.CREATE:
        words = words[1:]
        if words[:2] == ["or", "replace"]:
            words = words[2:]
        return bool(words) and words[0] in ("temp", "temporary")
    # DROP TABLE|VIEW [IF EXISTS] temp. ... ; INSERT INTO temp. ...
    words = [word for word in words[2:] if word not in ("if", "exists")]
    return len(words) >= 2 and words[0] == "temp" and words[1] == "."


class ReadGroups:
    """A writing lake connection whose reads outside explicit transactions share transactions (see
    the module's docstring). Everything else is the connection's own."""

    def __init__(self, con: duckdb.DuckDBPyConnection, max_age: float | None = None) -> None:
        self.__wrapped__ = con  # what takes a lake's write turns (lib/warehouse/write_turns.py)
        self._con = con
        self.max_age = GROUP_MAX_SECONDS if max_age is None else max_age  # seconds a group serves reads
        self._opened: float | None = None  # when the open group began; None: no group open
        self._explicit = False  # inside the caller's own BEGIN ... COMMIT

    def execute(self, sql, *args, **kwargs):
        kind = statement_kind(str(sql))
        if kind == _READ:
            self._read(lambda: self._con.execute(sql, *args, **kwargs))
            return self
        if kind == _NEUTRAL:
            self._con.execute(sql, *args, **kwargs)
            return self
        self.close_group()
        if kind == _END:
            self._explicit = False  # a COMMIT that fails has ended the transaction too
        self._con.execute(sql, *args, **kwargs)
        if kind == _BEGIN:
            self._explicit = True
        return self

    def table(self, name: str) -> duckdb.DuckDBPyRelation:
        """A table bound by name (``tables.table_exists``, ``table_schema``): a read, in the group."""
        return self._read(lambda: self._con.table(name))

    def begin(self):
        return self.execute("BEGIN TRANSACTION")

    def commit(self):
        return self.execute("COMMIT")

    def rollback(self):
        return self.execute("ROLLBACK")

    def close_group(self) -> None:
        """End the open read group, if any: what comes next sees the lake as it is now. The group
        held only reads, so a commit that fails (a statement in it failed in a way DuckDB let pass
        to here) loses nothing: it is rolled back."""
        if self._opened is None:
            return
        self._opened = None
        try:
            self._con.execute("COMMIT")
        except duckdb.Error as error:
            log.debug("a read group's commit failed, rolled back: %s", error)
            quiet_rollback(self._con)

    def close(self) -> None:
        try:
            self.close_group()
        finally:
            self._con.close()

    def __enter__(self) -> ReadGroups:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()  # as a DuckDB connection's own ``with`` does

    def _read(self, run):
        if self._explicit:
            return run()
        if self._opened is not None and time.monotonic() - self._opened > self.max_age:
            self.close_group()  # another process's commits show within a group's age
        if self._opened is None:
            self._con.execute("BEGIN TRANSACTION")
            self._opened = time.monotonic()
        try:
            return run()
        except duckdb.Error:
            if self._aborted():
                # A statement that failed in execution leaves the transaction refusing the next
                # ones (a name that does not bind does not): the group ends, rolled back (it held
                # only reads and temp tables), so the caller's next statement starts afresh.
                self._opened = None
                quiet_rollback(self._con)
            raise

    def _aborted(self) -> bool:
        try:
            self._con.execute("SELECT 1")
        except duckdb.Error:
            return True
        return False

    def __getattr__(self, name: str):
        if name not in _RESULT_METHODS:
            self.close_group()
        return getattr(self._con, name)


def quiet_rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back whatever transaction is open, if any, where there is nothing to lose (a group of
    reads, a priming whose commit failed). ``transactions.rollback`` is the one for a writer's
    transaction: there an error other than "no transaction" must surface."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass  # no transaction left to roll back


def unwrapped(con: object) -> Iterator[object]:
    """``con``, then what it wraps, and so on: wrappers of a connection (a step's statement log, the
    read groups, a bench's timer) name what they wrap ``__wrapped__``, Python's convention. A few
    deep at most."""
    for _ in range(8):
        if con is None:
            return
        yield con
        con = getattr(con, "__wrapped__", None)


def end_read_group(con: object) -> None:
    """End the read group of ``con``, or of the connection it wraps, if one is open: what comes
    next sees the lake as it is now."""
    groups = next((layer for layer in unwrapped(con) if isinstance(layer, ReadGroups)), None)
    if groups is not None:
        groups.close_group()
