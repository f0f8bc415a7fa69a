"""`shopverse sql`: read the warehouse, from the command line or an interactive prompt.

    shopverse sql "SELECT * FROM daily_sales ORDER BY sales_date DESC LIMIT 7"
    shopverse sql ".schema daily_sales"   # or .tables: the prompt's dot commands work here too
    shopverse sql                       # a prompt: SQL ending in ';', .tables, .schema TABLE, .quit

Read-only. Each query opens the warehouse, runs and closes it, so a prompt left open never holds the
file: DuckDB admits no reader beside a writing process, and a query asked while a run writes waits
for it (one line says for whom) instead of making the run fail.
"""

from __future__ import annotations

import argparse
import sys

import duckdb

from shopverse_platform.cli.arguments import add_command, positive_int

PROMPT, CONTINUE = "shopverse> ", "      ...> "


def add_sql_commands(subparsers: argparse._SubParsersAction) -> None:
    sql = add_command(subparsers, "sql", "query the warehouse, read-only (a prompt without a query)", __doc__)
    sql.add_argument("query", nargs="?", default=None, help="the SQL to run (default: an interactive prompt)")
    sql.add_argument("--max-rows", type=positive_int, default=40, help="rows shown of a result")
    sql.set_defaults(func=cmd_sql)


def _warehouse():
    from shopverse_platform.defs.resources import Warehouse

    return Warehouse()


def run_query(query: str, max_rows: int, params: list | None = None, out=print) -> bool:
    """Run one statement read-only and print its result; False (and one line) if it fails."""
    warehouse = _warehouse()
    if not warehouse.exists():
        out(f"no warehouse at {warehouse.describe()} yet: build one with `shopverse run`")
        return False
    with warehouse.connect(read_only=True) as con:
        try:
            cursor = con.execute(query, params or [])
            if cursor.description is None:  # a statement without a result
                out("ok")
                return True
            columns = [column[0] for column in cursor.description]
            rows = cursor.fetchmany(max_rows + 1)
        except duckdb.Error as error:
            out(f"error: {str(error).splitlines()[0]}")
            return False
    shown = rows[:max_rows]
    widths = [max([len(str(c))] + [len(_cell(r[i])) for r in shown]) for i, c in enumerate(columns)]
    out("  ".join(str(c).ljust(w) for c, w in zip(columns, widths)))
    out("  ".join("-" * w for w in widths))
    for row in shown:
        out("  ".join(_cell(v).ljust(w) for v, w in zip(row, widths)))
    out(f"({len(shown)} row{'s' if len(shown) != 1 else ''}{', more not shown: --max-rows' if len(rows) > max_rows else ''})")
    return True


def _cell(value: object) -> str:
    return "NULL" if value is None else str(value)


DOT_USAGE = ".tables | .schema TABLE | .quit  (SQL ends with ';')"


def _dot(line: str, max_rows: int) -> bool:
    """A dot command, at the prompt or as the one query (`shopverse sql .tables`); False, with one
    line, when it failed or is not one."""
    words = line.split()
    if words[0] == ".tables":
        return run_query("SELECT table_name, estimated_size AS approx_rows FROM duckdb_tables() "
                         "WHERE database_name = current_database() AND schema_name = 'main' ORDER BY table_name",
                         max_rows=1000)
    if words[0] == ".schema" and len(words) == 2:
        return run_query("SELECT column_name, data_type, comment FROM duckdb_columns() WHERE database_name = current_database() "
                         "AND schema_name = 'main' AND table_name = ? ORDER BY column_index", max_rows=1000, params=[words[1]])
    print(DOT_USAGE)
    return False


def _command(line: str, max_rows: int) -> bool:
    """The prompt's dot commands; False for .quit."""
    if line.split()[0] in (".quit", ".exit"):
        return False
    _dot(line, max_rows)
    return True


def cmd_sql(args: argparse.Namespace) -> int:
    if args.query is not None:
        ran = _dot(args.query.strip(), args.max_rows) if args.query.strip().startswith(".") else run_query(args.query, args.max_rows)
        return 0 if ran else 1
    print(f"read-only SQL on {_warehouse().describe()}; .tables, .schema TABLE, .quit; SQL ends with ';'")
    buffer: list[str] = []
    while True:
        try:
            line = input(CONTINUE if buffer else PROMPT)
        except EOFError:
            print()
            return 0
        if not buffer and line.strip().startswith("."):
            if not _command(line.strip(), args.max_rows):
                return 0
            continue
        buffer.append(line)
        if line.rstrip().endswith(";"):
            run_query("\n".join(buffer), args.max_rows)
            buffer.clear()


if __name__ == "__main__":  # pragma: no cover - `shopverse sql` is the entry point
    sys.exit(cmd_sql(argparse.Namespace(query=None, max_rows=40)))
