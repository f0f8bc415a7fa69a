"""DuckLake: the warehouse layout that admits several writing processes and readers beside them.

A DuckDB file admits one writing process and no reader beside it (``Could not set lock on
file``). A DuckLake keeps the same tables as Parquet files under a data path, and their catalog
(which files make which table at which snapshot) in a database: a SQLite file for the embedded
default (no server), PostgreSQL in production. Every commit is a snapshot; a reader reads the
snapshot that was current when its query started, so it never sees a half-written partition and
never blocks a writer (docs/scaling.md, "Many writers and readers").

The warehouse setting (``$SHOPVERSE_WAREHOUSE``) names a layout by its DuckLake connection string:

- ``ducklake:sqlite:<path>``: catalog in a SQLite file, data in ``<path without suffix>.files/``
  beside it unless ``$SHOPVERSE_WAREHOUSE_DATA_PATH`` says otherwise;
- ``ducklake:postgres:<libpq conninfo>``: catalog in PostgreSQL, data path required;
- anything else: a DuckDB file (the layout before DuckLake).

The data path may be on object storage (``s3://bucket/prefix/``, or any S3-compatible store):
DuckDB's httpfs extension reaches it with a secret made from the standard AWS variables
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``, and
``AWS_ENDPOINT_URL`` for a store other than AWS, e.g. MinIO), or, without a key pair, from the AWS
credential chain (DuckDB's aws extension: profiles, EKS web identity, ECS and EC2 instance roles).

The extensions load from the PyPI packages' paths (``duckdb-extension-ducklake``, the catalog's
scanner, httpfs and aws, pinned with duckdb): ``INSTALL`` fetches from the network, which a locked-down
machine or a container without egress does not have.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

import duckdb

from shopverse_platform.lib.warehouse import read_groups, write_turns
from shopverse_platform.lib.warehouse.switches import switched_on

LAKE_PREFIX = "ducklake:"
# catalog kind -> the DuckDB extension that reads and writes it
CATALOG_EXTENSIONS = {"sqlite": "sqlite_scanner", "postgres": "postgres_scanner"}

T = TypeVar("T")

log = logging.getLogger(__name__)


class LakeConfigurationError(ValueError):
    """A warehouse setting that names a DuckLake DuckLake cannot open (unknown catalog, no data path,
    a catalog that cannot be reached)."""


class CatalogUnreachable(LakeConfigurationError):
    """The lake's PostgreSQL catalog refused the connection or did not answer (no password in this
    environment, a wrong host or port, the server down)."""


# What the postgres extension's ATTACH error starts with when libpq could not connect.
POSTGRES_CONNECT_FAILURE = "Unable to connect to Postgres"


def catalog_unreachable(location: "LakeLocation", error: duckdb.Error) -> CatalogUnreachable:
    """The connection failure ``error`` of a PostgreSQL catalog, in one line: the catalog (its
    password left out), libpq's own reason, and what sets each part."""
    reason = " ".join(str(error).rsplit(" failed: ", 1)[-1].split())
    return CatalogUnreachable(
        f"the lake's catalog cannot be reached: PostgreSQL {location.shown_catalog()}: {reason} "
        "(the password: $PGPASSWORD or ~/.pgpass; the rest: $SHOPVERSE_WAREHOUSE)")


@dataclass(frozen=True)
class LakeLocation:
    """Where a DuckLake warehouse lives: its catalog and its data path."""

    catalog_kind: str  # sqlite | postgres
    catalog: str  # an absolute file path (sqlite) or a libpq connection string (postgres)
    data_path: str | None  # a folder (ending in /) or an object-store prefix (s3://bucket/lake/); None: the catalog's
    # False: the data path is the default beside a SQLite catalog, not a setting; a catalog that
    # exists already knows its own (a lake created on s3:// is read from there without the setting)
    data_path_given: bool = True

    def attach_data_path(self) -> str | None:
        """The data path to attach with: the setting's, or the default for a catalog not created yet;
        None where the existing catalog's own applies."""
        if self.data_path_given or self.data_path is None:
            return self.data_path
        file = self.catalog_file()
        return None if file is not None and sqlite_catalog_created(file) else self.data_path

    @property
    def attach_target(self) -> str:
        return f"{LAKE_PREFIX}{self.catalog_kind}:{self.catalog}"

    def catalog_file(self) -> Path | None:
        return Path(self.catalog) if self.catalog_kind == "sqlite" else None

    def turns_catalog(self) -> Path | write_turns.PostgresCatalog:
        """What its writers' turns are kept by (lib/warehouse/write_turns.py): the SQLite catalog's
        file (one turn for the lake), or the PostgreSQL catalog (a turn per table)."""
        return self.catalog_file() or write_turns.PostgresCatalog(self.catalog)

    def exists(self) -> bool:
        """Whether the lake was created: a SQLite catalog's file exists; a PostgreSQL database holds
        DuckLake's catalog tables (asked with a read-only attach, which creates nothing)."""
        file = self.catalog_file()
        if file is not None:
            return file.exists()
        return self.stored_data_path() is not None

    def stored_data_path(self) -> str | None:
        """The data path an existing lake's catalog records (None: no lake there yet), read through
        a read-only attach of its own, which creates nothing."""
        file = self.catalog_file()
        if file is not None and not file.exists():
            return None
        probe = duckdb.connect(config=extension_loading_settings())
        try:
            attach(probe, self, "probe", read_only=True)
            return probe.execute('SELECT value FROM "__ducklake_metadata_probe".ducklake_metadata '
                                 "WHERE key = 'data_path'").fetchall()[0][0]
        except duckdb.InvalidInputException as error:
            if "does not exist" in str(error):  # a PostgreSQL database without DuckLake's catalog
                return None
            raise
        finally:
            probe.close()

    def shown_catalog(self) -> str:
        """The catalog without a PostgreSQL password (a conninfo's ``password=`` or a URI's
        ``user:password@``), for messages and for SQL handed to other tools, whose libpq takes it
        from ``PGPASSWORD`` or ``~/.pgpass`` instead."""
        if self.catalog_kind == "sqlite":
            return self.catalog
        if "://" in self.catalog:
            uri = urlparse(self.catalog)
            if uri.password is None:
                return self.catalog
            host = uri.netloc.rsplit("@", 1)[1]
            return uri._replace(netloc=f"{uri.username}@{host}" if uri.username else host).geturl()
        return " ".join(part for part in self.catalog.split() if not part.startswith("password="))

    def describe(self) -> str:
        """For messages: the catalog (a PostgreSQL password left out) and the data path."""
        return f"DuckLake {self.catalog_kind}:{self.shown_catalog()} (data {self.data_path or 'where its catalog says'})"

    def stem(self) -> str:
        """A short name: the SQLite file's name without suffix, else the PostgreSQL database's name."""
        file = self.catalog_file()
        if file is not None:
            return file.stem
        for part in self.catalog.split():
            if part.startswith("dbname="):
                return part.split("=", 1)[1]
        return "shopverse"

    def temp_directory(self) -> Path | None:
        """Where a connection spills beyond its memory limit: beside a SQLite catalog, as a DuckDB
        file's ``<file>.tmp``; DuckDB's own default (``.tmp`` in the working directory) otherwise."""
        file = self.catalog_file()
        return file.with_name(file.name + ".tmp") if file is not None else None


# A SQLite catalog is opened in this process only through DuckDB's sqlite extension, never with
# Python's sqlite3: that is another copy of SQLite, and POSIX file locks belong to a process, not
# to a connection, so closing any descriptor of the catalog (or of its -shm) drops every lock the
# process holds on it, those of DuckDB's SQLite connections included; another process may then
# write, or reset the write-ahead log's index, under them. SQLite guards against this within one
# copy of itself only (sqlite.org/howtocorrupt.html, 2.2.1). Found in session 24: a lake written by
# two step processes at once whose catalog had the snapshots' rows in its metadata table. What
# only Python's sqlite3 can do (a journal mode change, which SQLite refuses inside the transaction
# DuckDB's sqlite_query runs in) runs in a process of its own.
_created_catalogs: set[tuple[Path, int, int]] = set()


def sqlite_catalog_created(file: Path) -> bool:
    """Whether ``file`` holds a DuckLake catalog already. Not merely whether it exists: another
    process starting on the same new lake creates the file (WAL mode) a moment before its ATTACH
    writes the catalog, and a lake attached without its data path cannot be created. Read through
    DuckDB's SQLite, in a probe of its own (~17 ms); a catalog found is remembered by its file's
    identity (stat, which opens nothing)."""
    try:
        stat = file.stat()
    except OSError:
        return False
    identity = (file, stat.st_dev, stat.st_ino)
    if identity in _created_catalogs:
        return True
    probe = duckdb.connect(config=extension_loading_settings())
    try:
        probe.execute(f"LOAD {string_literal(extension_path(CATALOG_EXTENSIONS['sqlite']))}")
        found = probe.execute("SELECT count(*) FROM sqlite_scan(?, 'sqlite_master') "
                              "WHERE type = 'table' AND name = 'ducklake_metadata'", [str(file)]).fetchone()[0] > 0
    except duckdb.Error:  # a file another process is creating
        return False
    finally:
        probe.close()
    if found:
        _created_catalogs.add(identity)
    return found


def parse_location(setting: str, data_path: str | None = None) -> LakeLocation | None:
    """The lake a warehouse setting names, or None when it names a DuckDB file."""
    if not setting.startswith(LAKE_PREFIX):
        return None
    kind, _, catalog = setting[len(LAKE_PREFIX):].partition(":")
    if kind not in CATALOG_EXTENSIONS or not catalog:
        raise LakeConfigurationError(
            f"warehouse {setting!r}: expected ducklake:sqlite:<catalog file> or ducklake:postgres:<conninfo> "
            "(a DuckDB-file catalog admits one process, which is what DuckLake is here to avoid)")
    if kind == "sqlite":
        file = Path(catalog).expanduser().resolve()
        catalog = str(file)
        if not data_path:
            return LakeLocation(kind, catalog, str(file.with_suffix("")) + ".files/", data_path_given=False)
    elif not data_path:  # an existing lake's catalog knows its data path; creating one needs it (attach says so)
        return LakeLocation(kind, catalog, None)
    if "://" not in data_path:
        data_path = str(Path(data_path).expanduser().resolve())
    return LakeLocation(kind, catalog, data_path.rstrip("/") + "/")


def extension_path(name: str) -> str:
    """The file of a DuckDB extension installed as the ``duckdb-extension-<name>`` package."""
    package = f"duckdb_extension_{name}"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LakeConfigurationError(
            f"the DuckDB extension {name} is not installed: `uv pip install duckdb-extension-{name.replace('_', '-')}"
            f"=={duckdb.__version__}` (the project's lock has it)")
    found = Path(next(iter(spec.submodule_search_locations))) / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not found.exists():
        raise LakeConfigurationError(f"{found} is missing: duckdb-extension-{name} does not match duckdb {duckdb.__version__}")
    return str(found)


def string_literal(text: str) -> str:
    """``text`` quoted as a standard SQL string literal (single quotes doubled; DuckDB reads no
    backslash escapes in a plain '...' literal, so no text can end it early), for the statements
    that take no bound parameters (DuckDB binds values only in queries): LOAD and ATTACH (a path of
    an installed package, the configured catalog) and COMMENT ON (a column's description)."""
    return "'" + text.replace("'", "''") + "'"


def quoted_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lake_extensions(catalog_kind: str) -> tuple[str, str]:
    """The DuckDB extensions a lake with this kind of catalog needs: DuckLake and the catalog's scanner."""
    return "ducklake", CATALOG_EXTENSIONS[catalog_kind]


def load_extensions(con: duckdb.DuckDBPyConnection, catalog_kind: str) -> None:
    for name in lake_extensions(catalog_kind):
        con.execute(f"LOAD {string_literal(extension_path(name))}")


VERIFY_EXTENSIONS_VARIABLE = "SHOPVERSE_LAKE_VERIFY_EXTENSIONS"


def extension_loading_settings(environ: Mapping[str, str] | None = None) -> dict[str, bool]:
    """The DuckDB settings a lake instance starts with for loading its extensions.

    DuckDB checks an extension's signature on every LOAD: a SHA-256 of the whole file in its own
    code, then RSA. For the two 34 MB extensions of a lake that was ~190 ms of every lake process's
    start (~90 ms each, measured), paid again by every step of a multiprocess or Celery run, each
    a process of its own. The check is there for INSTALL's downloads over plain HTTP (DuckDB pull
    request 4089). These files are not downloaded by DuckDB: they come from PyPI wheels whose hashes
    the project's lock pins and the installer checked, as it did DuckDB's own library beside them,
    which nothing checks again when it is loaded. So a lake instance loads them unchecked, and
    loads nothing else on its own: no extension is autoloaded or autoinstalled (what the platform's
    SQL uses is built into DuckDB's wheel or loaded by path here), so none INSTALLed earlier from
    elsewhere is loaded unchecked. $SHOPVERSE_LAKE_VERIFY_EXTENSIONS=1 keeps DuckDB's check (and
    its defaults) for a deployment whose policy asks for it."""
    if switched_on(VERIFY_EXTENSIONS_VARIABLE, False, environ):
        return {}
    return {"allow_unsigned_extensions": True, "autoload_known_extensions": False, "autoinstall_known_extensions": False}


OBJECT_STORE_SECRET = "shopverse_lake_object_store"


# Variables that point the AWS credential chain somewhere: a profile, a web identity (EKS IRSA), a
# container's credentials endpoint (ECS). With none of them and no keys, an existing lake whose
# catalog alone knows its data path is taken to be on a local or shared folder.
CHAIN_VARIABLES = ("AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                   "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")


def uses_credential_chain(environ: Mapping[str, str]) -> bool:
    """Whether the S3 credentials come from the AWS credential chain (no key pair in ``environ``)."""
    return not (environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"))


def object_store_secret(environ: Mapping[str, str]) -> str:
    """The ``CREATE SECRET`` statement giving httpfs the S3 credentials of ``environ``: the key pair
    of the AWS variables boto3 and the AWS CLI read when both are set, else the AWS SDK's credential
    chain (DuckDB's aws extension: a profile of ~/.aws or ``AWS_SHARED_CREDENTIALS_FILE``, a web
    identity token as on EKS, the ECS or EC2 instance role), resolved when the secret is created.
    ``AWS_ENDPOINT_URL``: an S3-compatible store, addressed by path (``http://`` turns TLS off).
    Values are quoted literals: DDL takes no parameters."""
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    if uses_credential_chain(environ):
        options = ["PROVIDER credential_chain"]
        if environ.get("AWS_PROFILE"):
            options.append(f"PROFILE {string_literal(environ['AWS_PROFILE'])}")
    else:
        options = [f"KEY_ID {string_literal(environ['AWS_ACCESS_KEY_ID'])}", f"SECRET {string_literal(environ['AWS_SECRET_ACCESS_KEY'])}"]
        if environ.get("AWS_SESSION_TOKEN"):
            options.append(f"SESSION_TOKEN {string_literal(environ['AWS_SESSION_TOKEN'])}")
    options.append(f"REGION {string_literal(region)}")
    endpoint = environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        url = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
        options += [f"ENDPOINT {string_literal(url.netloc)}", "URL_STYLE 'path'",
                    f"USE_SSL {'false' if url.scheme == 'http' else 'true'}"]
    return f"CREATE OR REPLACE TEMPORARY SECRET {OBJECT_STORE_SECRET} (TYPE s3, {', '.join(options)})"


def use_object_store(con: duckdb.DuckDBPyConnection, location: LakeLocation,
                     environ: Mapping[str, str] | None = None) -> bool:
    """Load httpfs (and the aws extension for the credential chain) and create the S3 secret when
    the lake's data is on object storage: its data path says ``s3://``, or it is unset (an existing
    PostgreSQL lake knows its own) and AWS credentials are set or pointed at. Whether it did."""
    env = os.environ if environ is None else environ
    data_path = location.attach_data_path()
    pointed_at = env.get("AWS_ACCESS_KEY_ID") or any(env.get(name) for name in CHAIN_VARIABLES)
    if not ((data_path or "").startswith("s3://") or (data_path is None and pointed_at)):
        return False
    con.execute(f"LOAD {string_literal(extension_path('httpfs'))}")
    chain = uses_credential_chain(env)
    if chain:
        con.execute(f"LOAD {string_literal(extension_path('aws'))}")
    try:
        con.execute(object_store_secret(env))
    except duckdb.Error as error:
        if not chain:
            raise
        if data_path is None:
            # only guessed from the variables (an AWS profile set for something else, say): a lake
            # whose catalog names a local folder needs no secret, and one on s3:// fails to attach
            # with DuckDB's own message
            return False
        raise LakeConfigurationError(
            "the lake's data path is on object storage and the AWS credential chain found no credentials: set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE / AWS_SHARED_CREDENTIALS_FILE, or run "
            "with an instance or pod role (and AWS_REGION; AWS_ENDPOINT_URL for MinIO and the like): "
            + " ".join(str(error).split())) from error  # DuckDB's message spans lines: one line here
    return True


# The variables of an S3 key pair: never written into SQL handed to another tool (``reader_statements``).
KEY_PAIR_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def reader_extensions(location: LakeLocation, data_path: str) -> list[str]:
    """The extensions a client reading the lake loads: the lake's, and httpfs and aws for object storage."""
    return [*lake_extensions(location.catalog_kind), *(("httpfs", "aws") if data_path.startswith("s3://") else ())]


def reader_statements(location: LakeLocation, alias: str, data_path: str,
                      environ: Mapping[str, str] | None = None) -> list[str]:
    """The statements with which a DuckDB client of this DuckDB version (the extension files are
    its build) reads the lake as ``alias``, read-only: a notebook's ``duckdb.connect()``, the
    DuckDB CLI, a BI tool's init SQL. ``data_path``: the lake's own, as its catalog records it.

    Nothing secret is written into them: a PostgreSQL password is left out (the client's libpq
    reads ``PGPASSWORD`` or ``~/.pgpass``), and object storage is reached through the AWS credential
    chain of the client (its own ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, or a
    role), with this environment's region and endpoint. A reader never blocks a run and sees
    whole commits only; writing through such a client would bypass the runs' write turns, so the
    lake is attached ``READ_ONLY``."""
    env = os.environ if environ is None else environ
    secret = [object_store_secret({name: value for name, value in env.items() if name not in KEY_PAIR_VARIABLES})
              ] if data_path.startswith("s3://") else []
    target = f"{LAKE_PREFIX}{location.catalog_kind}:{location.shown_catalog()}"
    return ([f"LOAD {string_literal(extension_path(name))}" for name in reader_extensions(location, data_path)] + secret
            + [f"ATTACH {string_literal(target)} AS {quoted_identifier(alias)} (READ_ONLY)",
               f"USE {quoted_identifier(alias)}"])


def attach(con: duckdb.DuckDBPyConnection, location: LakeLocation, alias: str, *, read_only: bool) -> None:
    """Attach the lake as ``alias`` on ``con`` (its extensions loaded first, httpfs and a secret for
    object storage). Creating a lake (a SQLite catalog not there yet) writes its data path into the
    catalog; later attaches read it from there."""
    load_extensions(con, location.catalog_kind)
    use_object_store(con, location)
    options = []
    data_path = location.attach_data_path()
    if data_path is not None:
        options.append(f"DATA_PATH {string_literal(data_path)}")
        if not read_only and "://" not in data_path:
            Path(data_path).mkdir(parents=True, exist_ok=True)
    if read_only:
        options.append("READ_ONLY")
    file = location.catalog_file()
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        if not read_only:
            use_write_ahead_log(file, con)
    try:
        con.execute(f"ATTACH {string_literal(location.attach_target)} AS {quoted_identifier(alias)}"
                    + (f" ({', '.join(options)})" if options else ""))
    except duckdb.Error as error:
        if data_path is None and location.catalog_kind == "postgres" and "DATA_PATH" in str(error):
            raise LakeConfigurationError(
                f"{location.describe()} is new: set $SHOPVERSE_WAREHOUSE_DATA_PATH to where its Parquet files go "
                "(a folder every worker sees, or s3://bucket/prefix/)") from error
        if location.catalog_kind == "postgres" and POSTGRES_CONNECT_FAILURE in str(error):
            raise catalog_unreachable(location, error) from error
        raise
    if not read_only:
        keep_rows_out_of_catalog(con, alias, location.catalog_file())


def inlining_limit(con: duckdb.DuckDBPyConnection, alias: str) -> int | None:
    """The lake's data inlining limit as its catalog records it (None: never chosen, DuckLake's default)."""
    chosen = con.execute("SELECT value FROM ducklake_options(?) WHERE option_name = 'data_inlining_row_limit' "
                         "AND scope = 'GLOBAL'", [alias]).fetchall()
    return int(chosen[0][0]) if chosen else None


def keep_rows_out_of_catalog(con: duckdb.DuckDBPyConnection, alias: str, catalog: Path | None = None) -> bool:
    """Turn DuckLake's data inlining off for a lake that has not chosen (its catalog keeps the
    choice, for every process and tool that writes it). Returns whether it was set now.

    With inlining on (DuckLake 1.5.5's default) every table gets a table of its own in the catalog
    for its small writes, and every read of a table asks the catalog for those rows too. On a SQLite
    catalog each such question opens the catalog file anew and parses its schema, which those tables
    made longer (83 schema entries after the UCI year, 51 of them inlined rows' tables). A lake
    created without it: a catalog query fewer per table read, and the metric day's statements 2.22 ->
    1.15 s on the lake (bench/lake_statements.py, medians of 3; docs/scaling.md, session 23). Tables
    created before keep their inlined rows' table, and their reads the query.

    Called while attaching, which is retried whole on contention: a commit that meets another
    process's (two processes opening a new lake at once) is left to that process or the next one,
    not raised (attaching again would meet the lake attached already)."""
    if inlining_limit(con, alias) is not None:
        return False
    try:
        with write_turns.catalog_turn(catalog):  # a commit: in the lake's turn, as prime_table_statistics
            con.execute("CALL ducklake_set_option(?, 'data_inlining_row_limit', 0)", [alias])
    except duckdb.Error as error:
        if not is_contention(error):
            raise
        log.debug("lake data inlining left to another process: %s", error)
        return False
    return True


# One DuckDB instance per process, lake and mode, opened on first use: loading the two extensions
# and attaching the lake (reading its catalog) took ~190 ms, and a run opens a connection per step,
# check and lineage read (~100 for a day). Each ``connect`` hands out a cursor of it: a connection of
# its own (its own transaction and temp tables), closed by the caller as a DuckDB file's would be.
_instances: dict[tuple, duckdb.DuckDBPyConnection] = {}
_instances_guard = threading.Lock()

# Settings a step changes for its own statements (``SET preserve_insertion_order = false``) are
# global in DuckDB, and on a shared instance they would outlive the step: every connection handed
# out starts from DuckDB's defaults, as a new DuckDB-file connection does.
STEP_SETTINGS = ("preserve_insertion_order",)


CATALOG_PROBE = "__shopverse_catalog_probe"
_TO_WRITE_AHEAD_LOG = ("import sqlite3, sys\n"
                       "connection = sqlite3.connect(sys.argv[1], timeout=30)\n"
                       "connection.execute('PRAGMA journal_mode=WAL')\n"
                       "connection.close()\n")


def catalog_pragma(con: duckdb.DuckDBPyConnection, catalog: Path, pragma: str) -> list[tuple]:
    """The rows of ``PRAGMA <pragma>`` on a SQLite catalog, read through DuckDB's SQLite (``con``
    has the sqlite extension loaded) on a read-only attach of its own."""
    # ATTACH takes no bound parameters: the configured catalog's path, quoted
    con.execute(f"ATTACH {string_literal(str(catalog))} AS {CATALOG_PROBE} (TYPE sqlite, READ_ONLY)")
    try:
        return con.execute(f"SELECT * FROM sqlite_query('{CATALOG_PROBE}', ?)", [f"PRAGMA {pragma}"]).fetchall()
    finally:
        con.execute(f"DETACH {CATALOG_PROBE}")


def journal_mode(con: duckdb.DuckDBPyConnection, catalog: Path) -> str | None:
    """The SQLite catalog's journal mode (``catalog_pragma``); None when there is no file yet."""
    if not catalog.exists():
        return None
    return str(catalog_pragma(con, catalog, "journal_mode")[0][0]).lower()


def use_write_ahead_log(catalog: Path, con: duckdb.DuckDBPyConnection) -> bool:
    """Put a SQLite catalog in WAL mode (kept in the file) unless it is already; whether it was
    changed now. In its default rollback-journal mode a commit locks readers out, and a reader
    beside a run waited up to ~1 s for a query (p95 1,053 ms in bench/concurrency.py); in WAL mode
    readers read the last commit while a writer writes. The change runs in a process of its own
    (Python's sqlite3; see above), ~30 ms, once for a lake's life; it takes the file exclusively and
    may meet another process's hold of it: "database is locked", retried with the attach
    (retry_contention)."""
    if journal_mode(con, catalog) == "wal":
        return False
    done = subprocess.run([sys.executable, "-I", "-c", _TO_WRITE_AHEAD_LOG, str(catalog)],
                          capture_output=True, text=True, timeout=120)
    if done.returncode:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise sqlite3.OperationalError(f"{catalog}: WAL mode not set: {lines[-1]}")
    return True


def _instance_config(location: LakeLocation, config: dict) -> dict:
    config = {**extension_loading_settings(), **config}
    temp = location.temp_directory()
    if temp is not None:
        config.setdefault("temp_directory", str(temp))
    return config


def _instance_key(location: LakeLocation, alias: str, read_only: bool, config: dict) -> tuple:
    return (os.getpid(), location, alias, read_only, tuple(sorted(config.items())))


def connect(location: LakeLocation, alias: str, *, read_only: bool, config: dict) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake attached as ``alias`` and in use, so the platform's
    unqualified SQL reads and writes the lake's tables and ``current_database()`` names it (the
    instance itself is in memory: nothing of the warehouse is in it). Attaching may meet a catalog
    another process is committing to; that is retried like a commit. A writing connection comes
    wrapped in ``read_groups.ReadGroups`` (its reads outside transactions share one) unless
    $SHOPVERSE_LAKE_READ_GROUPS is 0."""
    config = _instance_config(location, config)
    key = _instance_key(location, alias, read_only, config)
    catalog = location.catalog_file()  # a SQLite lake's: kept open beside this process
    with _instances_guard:
        instance = _instances.get(key)
        if instance is None:
            instance = duckdb.connect(config=config)
            try:
                retry_contention(lambda: attach(instance, location, alias, read_only=read_only),
                                 markers=CONTENTION_MARKERS + CREATION_RACE_MARKERS)
            except BaseException:
                instance.close()
                raise
            _instances[key] = instance
            if catalog is not None:
                keep_catalog_open(catalog)
            if not read_only:
                _prime_instance(key, instance, _schema_version(instance, alias))
        con = instance.cursor()
    try:
        for setting in STEP_SETTINGS:
            con.execute(f"RESET {setting}")
        con.execute(f"USE {quoted_identifier(alias)}")
    except BaseException:
        con.close()
        raise
    if not read_only:  # its transactions queue for the catalog (write_turns): all on SQLite, per table on PostgreSQL
        write_turns.takes_turns(con, location.turns_catalog())
    if not read_only and read_groups.read_groups_enabled():
        return read_groups.ReadGroups(con)
    return con


# DuckLake 1.5.5 keeps no statistics for a table that has never held a row, and caches none: every
# statement reading it asks the catalog for the table's statistics once per column it binds (29
# catalog queries for raw_orders), every time. Reading such a table took 51-72 ms against 4-11 ms
# once it had statistics, and a shop without order exports reads its three never-filled order
# tables about ten times a daily run. (Fixed upstream by caching the missing statistics, DuckLake
# pull request 1313, in no build for DuckDB 1.5.) A row inserted and deleted in one transaction gives
# the table its statistics (0 rows) and writes no file: one snapshot per table, once.
_NOT_NULL_FILLER = ("'0'", "'1970-01-01'", "'false'", "'[]'", "'{}'", "'00000000-0000-0000-0000-000000000000'")


def never_filled_tables(con: duckdb.DuckDBPyConnection, alias: str) -> list[str]:
    """The lake's tables (schema ``main``) that have never held a row: no statistics in its catalog."""
    meta = quoted_identifier(f"__ducklake_metadata_{alias}")
    return [name for (name,) in con.execute(
        f"SELECT t.table_name FROM {meta}.ducklake_table t JOIN {meta}.ducklake_schema s USING (schema_id) "
        "WHERE t.end_snapshot IS NULL AND s.end_snapshot IS NULL AND s.schema_name = 'main' "
        f"AND NOT EXISTS (SELECT 1 FROM {meta}.ducklake_table_stats st WHERE st.table_id = t.table_id) "
        "ORDER BY t.table_name").fetchall()]


def prime_table_statistics(con: duckdb.DuckDBPyConnection, alias: str, catalog: Path | None = None) -> list[str]:
    """Give every never-filled table of the lake its statistics (a row inserted and deleted in one
    transaction each; see above); returns the tables primed. Never raises: a table another process
    writes meanwhile (its commit meets ours) or whose columns refuse the filler values is left as
    it is, to be primed by a later process or not at all; only reads of it stay slower.
    ``catalog``: a SQLite lake's catalog, whose write turn each table's priming takes
    (lib/warehouse/write_turns.py): committed beside another process's transaction, it made that
    one's commit fail (two workers on a new lake, session 25)."""
    primed = []
    try:
        tables = never_filled_tables(con, alias)
        inlines = bool(tables) and inlining_limit(con, alias) != 0
    except duckdb.Error as error:  # a catalog this code does not know the layout of: nothing to do
        log.debug("lake statistics: catalog not read: %s", error)
        return primed
    for name in tables:
        target = f"{quoted_identifier(alias)}.main.{quoted_identifier(name)}"
        # in the lake's turn: each table's priming is a commit (two, with the option set)
        with write_turns.catalog_turn(catalog):
            try:
                if not inlines:
                    # without inlining the row would go to a file the DELETE drops before the commit,
                    # which then records no statistics: this table inlines its single-row writes
                    # (one more catalog query per read of it, against the ~30 it saves)
                    con.execute("CALL ducklake_set_option(?, 'data_inlining_row_limit', 1, table_name => ?)", [alias, name])
                con.execute("BEGIN TRANSACTION")
                # in the transaction: a row another process committed since the catalog was read is
                # seen here (and the table left alone); one committed after, DELETE cannot see
                empty = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0] == 0
                if empty:
                    required = con.execute(
                        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? "
                        "AND schema_name = 'main' AND table_name = ? AND NOT is_nullable ORDER BY column_index",
                        [alias, name]).fetchall()
                    if required:  # each NOT NULL column gets the first filler its type takes (types DuckDB named)
                        columns = ", ".join(quoted_identifier(column) for column, _ in required)
                        values = ", ".join("coalesce(" + ", ".join(f"TRY_CAST({v} AS {dtype})" for v in _NOT_NULL_FILLER) + ")"
                                           for _, dtype in required)
                        con.execute(f"INSERT INTO {target} ({columns}) SELECT {values}")
                    else:
                        con.execute(f"INSERT INTO {target} DEFAULT VALUES")
                    con.execute(f"DELETE FROM {target}")
                con.execute("COMMIT")
                if empty:
                    primed.append(name)
            except duckdb.Error as error:
                log.debug("lake statistics: %s left unprimed: %s", name, error)
                read_groups.quiet_rollback(con)
    if primed:
        log.info("lake statistics given to the never-filled tables %s", ", ".join(primed))
    return primed


# The catalog's schema version (DuckLake counts every table created, altered or dropped) when each
# writing instance last primed its never-filled tables: ``prime_new_tables`` primes again only when
# it moved. Read from the catalog's own tables (DuckLake attaches them as
# ``__ducklake_metadata_<alias>``), not through a DuckLake statement, which pays a DuckLake
# transaction (~2.5 ms), nor with Python's sqlite3 (see sqlite_catalog_created).
_primed_at: dict[tuple, int | None] = {}


def _schema_version(instance: duckdb.DuckDBPyConnection, alias: str) -> int | None:
    """The lake's schema version, read from its catalog (None: it cannot be read now)."""
    try:
        with instance.cursor() as con:
            meta = quoted_identifier(f"__ducklake_metadata_{alias}")
            return con.execute(f"SELECT max(schema_version) FROM {meta}.ducklake_snapshot").fetchall()[0][0]
    except duckdb.Error as error:
        log.debug("lake schema version not read: %s", error)
        return None


def _prime_instance(key: tuple, instance: duckdb.DuckDBPyConnection, version: int | None) -> list[str]:
    """Prime the never-filled tables through a writing instance (``key``: its ``_instances`` key)
    and record the schema ``version`` read before it (a table created meanwhile is primed later).
    Called under ``_instances_guard``."""
    with instance.cursor() as con:
        primed = prime_table_statistics(con, key[2], key[1].catalog_file())
    _primed_at[key] = version
    return primed


def prime_new_tables(location: LakeLocation, alias: str, *, config: dict) -> list[str]:
    """After a writing connection closes: when the lake's schema changed since this process's
    instance last primed (a step created tables), give the tables it left empty their statistics
    now, before the next step reads them. Without it a new lake's first run read its own empty
    tables unprimed: the UCI shop's first year-long daily job asked the catalog 2,919 times, 993 of
    them for statistics (1.7 s of catalog queries); with it 2,390 and 447 (0.8 s). Returns the
    tables primed."""
    config = _instance_config(location, config)
    key = _instance_key(location, alias, False, config)
    with _instances_guard:
        instance = _instances.get(key)
        version = _schema_version(instance, alias) if instance is not None else None
        if version is None or version == _primed_at.get(key):
            return []
        return _prime_instance(key, instance, version)


def prime_instances() -> list[str]:
    """Prime the never-filled tables (``prime_table_statistics``) through each of this process's
    writing lake instances, for a process that runs several runs (``shopverse backfill``): the
    tables a run created and left empty after the instance was made (an orders-only shop's event
    tables) were never primed by it, and every statement reading them asked the catalog for their
    statistics per column (a week's segment snapshot of a UCI-shaped shop: 149 catalog queries, 113
    of them statistics, 372-404 ms; primed: 29 and 95-146 ms). Returns the tables primed."""
    with _instances_guard:
        return [name for key, instance in list(_instances.items()) if key[0] == os.getpid() and not key[3]
                for name in _prime_instance(key, instance, _schema_version(instance, key[2]))]


def release_instances() -> None:
    """Close this process's lake instances (tests that remove a lake's files; a migration) and its
    connections for PostgreSQL lakes' write turns, and end the processes keeping catalogs open."""
    with _instances_guard:
        for key in [k for k in _instances if k[0] == os.getpid()]:
            _instances.pop(key).close()
            _primed_at.pop(key, None)
        _created_catalogs.clear()
        end_catalog_keepers()
        write_turns.release_lock_connections()


KEEP_CATALOG_OPEN_VARIABLE = "SHOPVERSE_LAKE_KEEP_CATALOG_OPEN"
# (this process's PID, a SQLite catalog) -> the process keeping it open beside this one
_keepers: dict[tuple[int, Path], subprocess.Popen] = {}


def end_catalog_keepers() -> int:
    """End the processes keeping this process's catalogs open (their connections closed: the last
    one checkpoints the log); how many."""
    ended = 0
    for key in [k for k in _keepers if k[0] == os.getpid()]:
        keeper = _keepers.pop(key)
        keeper.terminate()
        try:
            keeper.wait(timeout=10)
        except subprocess.TimeoutExpired:  # it ends on SIGTERM within half a second; this one did not
            keeper.kill()
            keeper.wait()
        ended += 1
    return ended


def keep_catalog_open(catalog: Path) -> subprocess.Popen | None:
    """Start, once per process and catalog, a process that holds the SQLite catalog open while this
    one lives (lib/warehouse/catalog_keeper.py: without it, each commit's close here was the
    catalog's last connection, and SQLite checkpointed and deleted the log under an exclusive lock
    that stalled readers a second at a time). ~50 ms, once a process. Not started when
    $SHOPVERSE_LAKE_KEEP_CATALOG_OPEN is 0. Called under ``_instances_guard``."""
    if not switched_on(KEEP_CATALOG_OPEN_VARIABLE, True):
        return None
    key = (os.getpid(), catalog)
    keeper = _keepers.get(key)
    if keeper is None or keeper.poll() is not None:
        keeper = _keepers[key] = subprocess.Popen(
            # the environment inherited (PYTHONPATH included): the package is found as this process found it
            [sys.executable, "-m", "shopverse_platform.lib.warehouse.catalog_keeper", str(catalog),
             "--parent", str(os.getpid())],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return keeper


# What a writer meets when another process commits to the same lake at the same moment: a SQLite
# catalog has one writer at a time, and a transaction that read the catalog before another's
# commit is answered "database is locked" at once when it comes to write (SQLite's busy timeout
# does not help a read turned write in WAL mode); DuckLake itself retries a commit whose snapshot
# id was taken (`ducklake_max_retry_count`) and gives up with a "conflict" when the two changed the
# same table in ways it cannot merge (a delete beside an insert). Both leave the transaction
# rolled back, so doing the whole transaction again is safe. The same words from Python's sqlite3,
# which puts a new SQLite catalog in WAL mode before the attach (use_write_ahead_log, in a process
# of its own, its error raised here as sqlite3's): two step
# processes starting on a new lake at once both hold the file shared and want it exclusive, and
# SQLite answers one of them "database is locked" at once, without waiting (CI, session 15).
CONTENTION_ERRORS = (duckdb.Error, sqlite3.OperationalError)
# And a commit whose check against the snapshots committed meanwhile loaded the catalog while another
# process was creating a table: "Failed to load DuckLake - Table entry "order_export_files" does not
# have any columns" (the fast suite, session 17: a step creating raw_events beside one creating
# order_export_files, two step processes on a new lake). It too leaves the transaction rolled back.
CONTENTION_MARKERS = ("database is locked", "database table is locked", "conflict", "does not have any columns")
# What the first attach of a new lake meets when another process creates the same catalog at the
# same moment (two steps of a run's first batch, on two Celery workers): PostgreSQL answers the
# loser's CREATE TABLE with a duplicate pg_type row while the winner's creation is uncommitted, and
# with "relation ... already exists" once it has committed (after the loser looked for a catalog
# and found none). Either way attaching again finds the winner's catalog. Only an attach is retried
# on these: nothing else an attach runs creates a table.
CREATION_RACE_MARKERS = ("duplicate key value violates unique constraint", "already exists")


def is_contention(error: BaseException | None, markers: tuple[str, ...] = CONTENTION_MARKERS) -> bool:
    """Whether ``error``, or the error it was raised while handling, is a commit that met another
    process's (``markers``: what such an error says)."""
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, CONTENTION_ERRORS) and any(marker in str(error).lower() for marker in markers):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def retry_contention(work: Callable[[], T], *, attempts: int = 12, first_wait: float = 0.05, max_wait: float = 3.0,
                     sleep: Callable[[float], None] = time.sleep,
                     markers: tuple[str, ...] = CONTENTION_MARKERS) -> T:
    """Run ``work`` (one whole transaction, or an attach), again after a jittered, growing wait when
    it failed on another process's commit; any other error, or the last attempt's, propagates."""
    for attempt in range(attempts):
        try:
            return work()
        except CONTENTION_ERRORS as error:
            if not is_contention(error, markers) or attempt == attempts - 1:
                raise
            sleep(random.uniform(0.5, 1.0) * min(max_wait, first_wait * 2 ** attempt))
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class LakeFootprint:
    snapshots: int
    data_files: int
    data_bytes: int


def footprint(con: duckdb.DuckDBPyConnection) -> LakeFootprint:
    """Snapshots kept and the data files the current tables are made of (``con`` uses the lake)."""
    snapshots = con.execute("SELECT count(*) FROM ducklake_snapshots(current_database())").fetchall()[0][0]
    tables = [name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()]
    files = size = 0
    for name in tables:
        count, total = con.execute("SELECT count(*), coalesce(sum(data_file_size_bytes), 0) "
                                   "FROM ducklake_list_files(current_database(), ?)", [name]).fetchall()[0]
        files, size = files + count, size + total
    return LakeFootprint(int(snapshots), int(files), int(size))


def maintain(con: duckdb.DuckDBPyConnection, keep: str) -> tuple[LakeFootprint, LakeFootprint]:
    """DuckLake's maintenance in one statement (``CHECKPOINT``): inlined rows flushed to Parquet,
    snapshots older than ``keep`` (an interval, e.g. '7 days': how far back time travel reaches)
    expired, small adjacent files merged, and files no snapshot has used for ``keep`` deleted (the
    files of snapshots expired now go at a later maintenance: a reader that started before may still
    read them). Every daily run replaces partitions, so a lake left alone keeps every version of
    every day."""
    before = footprint(con)
    for option in ("expire_older_than", "delete_older_than"):
        con.execute("CALL ducklake_set_option(current_database(), ?, ?)", [option, keep])
    con.execute("CHECKPOINT")
    # CHECKPOINT expires the old snapshots before it merges the small files, and the merge commits a
    # snapshot of its own: the one before it (the last run's, however old) is not the current one
    # any more but stayed. Expired again now (a lake without inlining has small files to merge
    # after every run: DuckLake's inlined rows used to be flushed before the expiry instead).
    con.execute("CALL ducklake_expire_snapshots(current_database(), older_than => now() - CAST(? AS INTERVAL))", [keep])
    return before, footprint(con)
