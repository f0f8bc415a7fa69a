"""`shopverse warehouse`: the warehouse's layout.

    shopverse warehouse                  # which layout and where (the same as `shopverse warehouse info`)
    shopverse warehouse migrate          # the DuckDB file into a DuckLake beside it (data/warehouse/shopverse.sqlite)
    shopverse warehouse migrate --to ducklake:postgres:"dbname=shopverse host=db" --data-path s3://bucket/lake/
    shopverse warehouse migrate --from ducklake:sqlite:data/warehouse/shopverse.sqlite \\
        --to ducklake:postgres:"dbname=shopverse host=db" --data-path s3://bucket/lake/   # a lake into another
    shopverse warehouse check            # a lake's catalog passes SQLite's integrity check, its files are there
    shopverse warehouse reader-sql       # the SQL a notebook, the DuckDB CLI or a BI tool runs to read it, read-only
    shopverse warehouse keep-catalog-open  # a SQLite lake's catalog held open (`shopverse up` runs it)
    shopverse warehouse maintain         # a lake's old snapshots expired, small files merged (weekly, e.g. from cron)

A DuckDB file admits one process at a time; a DuckLake (Parquet data and a catalog in SQLite or
PostgreSQL) admits runs writing at once and readers beside them (docs/scaling.md, "Many writers
and readers"). `migrate` copies every table in one transaction, then says the setting to use:
SHOPVERSE_WAREHOUSE=<the lake>. The source is left as it was. From a lake: the embedded lake's
catalog moved to PostgreSQL (and its data to object storage) when a shop outgrows one machine, or a
lake made by an older version rebuilt; the new lake needs a data path of its own.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from shopverse_platform.cli.arguments import add_command


def add_warehouse_commands(subparsers: argparse._SubParsersAction) -> None:
    warehouse = add_command(subparsers, "warehouse", "the warehouse's layout: where it is, and migrating a DuckDB file to a DuckLake",
                            __doc__)
    warehouse.set_defaults(func=cmd_info)
    actions = warehouse.add_subparsers(dest="action", metavar="ACTION")
    info = add_command(actions, "info", "which layout the warehouse has, and where")
    info.set_defaults(func=cmd_info)
    migrate = add_command(actions, "migrate", "copy a DuckDB-file warehouse, or a DuckLake, into a new DuckLake, "
                                              "in one transaction")
    migrate.add_argument("--from", dest="source", default=None,
                         help="the DuckDB file, or a lake (default: $SHOPVERSE_WAREHOUSE, else "
                              "data/warehouse/shopverse.duckdb)")
    migrate.add_argument("--to", dest="target", default=None,
                         help="the new lake: ducklake:sqlite:<catalog file> or ducklake:postgres:<conninfo> "
                              "(default from a file: ducklake:sqlite:<the file's folder>/<its name>.sqlite; "
                              "from a lake: required)")
    migrate.add_argument("--data-path", default=None,
                         help="the lake's data path (default: $SHOPVERSE_WAREHOUSE_DATA_PATH, else <catalog>.files/ beside a SQLite catalog)")
    migrate.set_defaults(func=cmd_migrate)
    check = add_command(actions, "check", "whether a DuckLake is whole: its SQLite catalog passes SQLite's integrity "
                                          "check, and every file its current snapshot names is there")
    check.set_defaults(func=cmd_check)
    reader = add_command(actions, "reader-sql",
                         "print the SQL with which a DuckDB client (a notebook, the DuckDB CLI, a BI tool) reads the "
                         "warehouse, read-only", READER_SQL_HELP)
    reader.set_defaults(func=cmd_reader_sql)
    keeper = add_command(actions, "keep-catalog-open",
                         "hold a SQLite lake's catalog open until stopped, so that no run's connection is its last "
                         "(readers otherwise stall a second now and then; `shopverse up` runs it)")
    keeper.set_defaults(func=cmd_keep_catalog_open)
    maintain = add_command(actions, "maintain", "a DuckLake's maintenance: old snapshots expired, small files merged, unused files deleted")
    maintain.add_argument("--keep", default="7 days",
                          help="how far back time travel must still reach (older snapshots are expired)")
    maintain.set_defaults(func=cmd_maintain)


def cmd_info(args: argparse.Namespace) -> int:
    from shopverse_platform.defs.resources import Warehouse

    from shopverse_platform.lib.warehouse.lake import footprint

    warehouse = Warehouse()
    location = warehouse.lake()
    layout = "" if location is not None else "DuckDB file: "  # a lake's description names it
    if not warehouse.exists():
        print(f"{layout}{warehouse.describe()}  (not created yet)")
        return 0
    print(f"{layout}{warehouse.describe()}")
    with warehouse.connect(read_only=True) as con:
        tables = con.execute("SELECT table_name, estimated_size FROM duckdb_tables() "
                             "WHERE database_name = current_database()").fetchall()
        print(f"  tables        {len(tables)} ({sum(size or 0 for _, size in tables):,} rows, estimated)")
        if location is not None:
            lake = footprint(con)
            print(f"  snapshots     {lake.snapshots:,} (shopverse warehouse maintain expires the old ones)")
            print(f"  data files    {lake.data_files:,}, {lake.data_bytes / 2**20:,.1f} MB")
            print(f"  write turns   {describe_turns(location, [name for name, _ in tables])}")
        else:
            print(f"  file size     {warehouse.resolved_path().stat().st_size / 2**20:,.1f} MB")
    print("  readers       shopverse warehouse reader-sql: the SQL with which a notebook, the DuckDB CLI or a BI tool "
          "reads it")
    return 0


def describe_turns(location, tables: list[str]) -> str:
    """Who holds the lake's write turns and who waits (lib/warehouse/write_turns.py), in one line."""
    from shopverse_platform.lib.warehouse.write_turns import turn_holders

    holders = turn_holders(location.turns_catalog(), tables)
    held = [str(holder) for holder in holders if not holder.waiting]
    waiting = [str(holder) for holder in holders if holder.waiting]
    if not holders:
        return "none held (no transaction writing now)"
    return (f"held by {', '.join(held) or 'none'}" + (f"; waiting: {', '.join(waiting)}" if waiting else "")
            + " (a waiter is a transaction queued behind another process's)")


def cmd_migrate(args: argparse.Namespace) -> int:
    from shopverse_platform.defs.resources import Warehouse
    from shopverse_platform.lib.warehouse.lake import parse_location
    from shopverse_platform.lib.warehouse.migrate import (MigrationRefused, migrate_file_to_lake, migrate_lake_to_lake,
                                                          refuse_shared_data_path)

    source = Warehouse(path=args.source) if args.source else Warehouse()
    source_lake = source.lake()
    if source_lake is not None:  # its data are where its catalog says: a data path setting is the new lake's
        source_lake = parse_location(source.setting(), None)
    if source_lake is not None and not args.target:
        print(f"the warehouse is a DuckLake ({source.describe()}): --to names the new lake to copy it into "
              "(ducklake:postgres:<conninfo> to move its catalog to PostgreSQL, say)")
        return 2
    target_setting = args.target or f"ducklake:sqlite:{source.resolved_path().with_suffix('.sqlite')}"
    target = Warehouse(path=target_setting, data_path=args.data_path, name=source.lineage_name())
    try:
        target_lake = target.lake()
        if target_lake is None:
            print(f"--to {target_setting!r} is not a DuckLake (ducklake:sqlite:<file> or ducklake:postgres:<conninfo>)")
            return 2
    except ValueError as error:
        print(error)
        return 2
    print(f"migrating {source.describe()}\n       to {target.describe()}")
    started = time.perf_counter()
    try:
        if source_lake is not None:  # refused before the new lake's catalog is created
            refuse_shared_data_path(source_lake, target_lake)
        with target.connect() as con:
            tables = (migrate_lake_to_lake(source_lake, target_lake, con) if source_lake is not None
                      else migrate_file_to_lake(source.resolved_path(), con))
    except MigrationRefused as error:
        print(f"refused: {error}")
        return 1
    print(f"{len(tables)} tables, {sum(t.rows for t in tables):,} rows in {time.perf_counter() - started:.1f}s, one transaction.")
    data_path = args.data_path or os.environ.get("SHOPVERSE_WAREHOUSE_DATA_PATH")
    print("\nUse it from now on (every command, the UI, the daemon):\n"
          f"  export SHOPVERSE_WAREHOUSE='{target_setting}'"
          + (f"\n  export SHOPVERSE_WAREHOUSE_DATA_PATH='{data_path}'" if data_path else "")
          + (f"\n  export SHOPVERSE_WAREHOUSE_NAME='{source.lineage_name()}'  # the same nodes in Marquez"
             if target.lake().stem() != source.lineage_name() else "")
          + f"\n{source.describe() if source_lake is not None else f'The DuckDB file {source.describe()}'} "
            "was left as it was; delete it once the new lake is in use.")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from shopverse_platform.defs.resources import Warehouse
    from shopverse_platform.lib.warehouse.integrity import check_lake
    from shopverse_platform.lib.warehouse.lake import parse_location

    warehouse = Warehouse()
    location = warehouse.lake()
    if location is None:
        print(f"{warehouse.describe()} is a DuckDB file: DuckDB checksums its blocks as it reads them; nothing to check here")
        return 0
    if not warehouse.exists():
        print(f"no warehouse at {warehouse.describe()} yet")
        return 1
    # its data are where its catalog says: a data path setting (a new lake's) is not asked
    result = check_lake(parse_location(warehouse.setting(), None))
    print(warehouse.describe())
    if not result.catalog_checked:
        print("  catalog       PostgreSQL: its integrity is the server's")
    elif result.catalog_problems:
        print("  catalog       damaged (SQLite's integrity_check):")
        for problem in result.catalog_problems[:20]:
            print(f"    {problem}")
        print("  the lake was not loaded; docs/operations.md, troubleshooting, says what to do")
        return 1
    else:
        print("  catalog       ok (SQLite's integrity_check)")
    present = result.files_listed - len(result.files_missing) - result.files_not_checked
    print(f"  files         {present:,} of {result.files_listed:,} present"
          + (f", {result.files_not_checked:,} on object storage not checked" if result.files_not_checked else ""))
    for path in result.files_missing[:20]:
        print(f"    missing: {path}")
    return 0 if result.whole else 1


READER_SQL_HELP = """Prints SQL statements that attach the warehouse read-only in a DuckDB client of the
platform's DuckDB version, for reading it outside the platform's commands:

    shopverse warehouse reader-sql > reader.sql && duckdb -init reader.sql      # the DuckDB CLI
    con = duckdb.connect(); con.execute(open("reader.sql").read())               # a notebook
    (a BI tool: the statements as its DuckDB connection's init SQL)

On a DuckLake the reader never blocks a run and sees whole commits only. Nothing secret is printed: a
PostgreSQL catalog's password comes from the client's PGPASSWORD or ~/.pgpass, object storage's keys from
the client's AWS credential chain (its AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile or a role).
On a DuckDB file, a client holding the file attached makes every run wait for it (and fail after a
minute): query and DETACH, or read with `shopverse sql`, or move to a lake (`shopverse warehouse migrate`)."""


def cmd_reader_sql(args: argparse.Namespace) -> int:
    import duckdb

    from shopverse_platform.defs.resources import Warehouse
    from shopverse_platform.lib.warehouse.lake import (
        quoted_identifier,
        reader_extensions,
        reader_statements,
        string_literal,
    )

    warehouse = Warehouse()
    location, alias = warehouse.lake(), warehouse.lineage_name()
    if location is not None:
        # read from the catalog, it also says whether the lake exists: one probe attach (exists() is another)
        data_path = location.stored_data_path()
        missing = data_path is None
    else:
        missing = not warehouse.resolved_path().exists()
    if missing:
        print(f"no warehouse at {warehouse.describe()} yet: build one with `shopverse run`", file=sys.stderr)
        return 1
    header = [f"-- {warehouse.describe() if location is not None else f'the DuckDB file {warehouse.describe()}'}, "
              f"read-only, in a DuckDB {duckdb.__version__} client"]
    if location is None:
        header.append("-- a DuckDB file admits no run beside a client holding it: detach it when done "
                      f"(USE memory; DETACH {quoted_identifier(alias)};), or runs wait for it and fail after a minute")
        statements = [f"ATTACH {string_literal(str(warehouse.resolved_path()))} AS {quoted_identifier(alias)} (READ_ONLY)",
                      f"USE {quoted_identifier(alias)}"]
    else:
        header.append("-- a reader never blocks a run and sees whole commits only; the extensions are this install's files "
                      "(a client elsewhere, with network access: "
                      + " ".join(f"INSTALL {name}; LOAD {name};" for name in reader_extensions(location, data_path))
                      + " instead)")
        if location.catalog_kind == "postgres":
            header.append("-- the catalog's password: the client's PGPASSWORD or ~/.pgpass")
        if data_path.startswith("s3://"):
            header.append("-- object storage: the client's AWS credential chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                          "a profile or a role)")
        statements = reader_statements(location, alias, data_path)
    print("\n".join(header + [f"{statement};" for statement in statements]))
    return 0


def cmd_keep_catalog_open(args: argparse.Namespace) -> int:
    import signal
    import threading

    from shopverse_platform.defs.resources import Warehouse
    from shopverse_platform.lib.warehouse.catalog_keeper import keep_open

    warehouse = Warehouse()
    location = warehouse.lake()
    catalog = location.catalog_file() if location is not None else None
    if catalog is None:
        print(f"{warehouse.describe()} has no SQLite catalog: nothing to keep open")
        return 0
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"keeping {catalog} open until stopped (waiting for it to be created if need be)", flush=True)
    keep_open(catalog, stop, report=lambda message: print(message, flush=True))
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    from shopverse_platform.defs.resources import Warehouse
    from shopverse_platform.lib.warehouse.lake import maintain

    warehouse = Warehouse()
    if warehouse.lake() is None:
        print(f"{warehouse.describe()} is a DuckDB file: it reclaims space by itself; nothing to do")
        return 0
    if not warehouse.exists():
        print(f"no warehouse at {warehouse.describe()} yet")
        return 1
    started = time.perf_counter()
    with warehouse.connect() as con:
        before, after = maintain(con, args.keep)
    print(f"{warehouse.describe()}: maintained in {time.perf_counter() - started:.1f}s, snapshots older than {args.keep} expired\n"
          f"  snapshots   {before.snapshots:>8,} -> {after.snapshots:,}\n"
          f"  data files  {before.data_files:>8,} -> {after.data_files:,}\n"
          f"  data        {before.data_bytes / 1e6:>8,.1f} -> {after.data_bytes / 1e6:,.1f} MB")
    return 0
