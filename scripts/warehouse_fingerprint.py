"""Fingerprint every table and column of a DuckDB warehouse, and compare two fingerprints.

    .venv/bin/python scripts/warehouse_fingerprint.py data/warehouse/shopverse.duckdb > after.json
    .venv/bin/python scripts/warehouse_fingerprint.py --compare before.json after.json

A column's fingerprint does not depend on row order: the row count, the count of NULLs and an
order-free sum of value hashes. Floating-point values are rounded to 9 significant digits first,
because a parallel aggregation may add in another order and change the last bits. Run-specific
columns (MLflow run ids, model versions, timestamps of when a row was written) differ by nature on
every build; ``--compare`` lists every difference and the reader judges those.
"""

from __future__ import annotations

import argparse
import json
import sys

import duckdb

FLOATS = {"DOUBLE", "FLOAT", "REAL"}


def _column_expression(name: str, dtype: str) -> str:
    quoted = '"' + name.replace('"', '""') + '"'
    if dtype in FLOATS:
        # 9 significant digits: the same value computed in another order still hashes the same.
        return f"CASE WHEN {quoted} IS NULL OR isnan({quoted}) OR isinf({quoted}) THEN CAST({quoted} AS VARCHAR) " \
               f"ELSE printf('%.9g', {quoted}) END"
    return quoted


def fingerprint(path: str) -> dict[str, dict]:
    con = duckdb.connect(path, read_only=True)
    tables = [t for (t,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE' "
        "ORDER BY table_name").fetchall()]
    result: dict[str, dict] = {}
    for name in tables:
        columns = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' "
            "AND table_name = ? ORDER BY ordinal_position", [name]).fetchall()
        quoted_table = '"' + name.replace('"', '""') + '"'
        selects = ["count(*)"]
        for column, dtype in columns:
            expression = _column_expression(column, dtype)
            selects.append(f"count(*) FILTER (WHERE {expression} IS NULL)")
            selects.append(f"CAST(sum(CAST(hash({expression}) AS HUGEINT)) AS VARCHAR)")
        values = con.execute(f"SELECT {', '.join(selects)} FROM {quoted_table}").fetchall()[0]
        result[name] = {
            "rows": values[0],
            "columns": {
                column: {"type": dtype, "nulls": values[1 + 2 * i], "hash": values[2 + 2 * i]}
                for i, (column, dtype) in enumerate(columns)
            },
        }
    con.close()
    return result


def compare(before: dict, after: dict) -> list[str]:
    differences = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            differences.append(f"{name}: table missing after")
            continue
        if name not in before:
            differences.append(f"{name}: table new after")
            continue
        if before[name]["rows"] != after[name]["rows"]:
            differences.append(f"{name}: rows {before[name]['rows']} -> {after[name]['rows']}")
        b_cols, a_cols = before[name]["columns"], after[name]["columns"]
        for column in sorted(set(b_cols) | set(a_cols)):
            if b_cols.get(column) != a_cols.get(column):
                differences.append(f"{name}.{column}: {b_cols.get(column)} -> {a_cols.get(column)}")
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="a warehouse file; with --compare, two fingerprint JSON files")
    parser.add_argument("--compare", action="store_true", help="compare two fingerprints; exit 1 if they differ")
    args = parser.parse_args(argv)
    if args.compare:
        before, after = (json.loads(open(p).read()) for p in args.paths)
        differences = compare(before, after)
        print("\n".join(differences) if differences else f"identical: {len(after)} tables")
        return 1 if differences else 0
    json.dump(fingerprint(args.paths[0]), sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
