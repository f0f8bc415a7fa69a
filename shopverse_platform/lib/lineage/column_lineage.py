"""Column lineage derived from the SELECT that builds a table, parsed by DuckDB itself.

DuckDB's ``json_serialize_sql`` returns the parsed statement as JSON, so no SQL parser is added to
the project and the dialect is exactly the warehouse's. The walk below resolves every output column
of the SELECT to the base-table columns it is computed from, through aliases, joins, CTEs and
subqueries in FROM, UNION branches and ``*``:

- DIRECT / IDENTITY     the column is copied (``SELECT c`` or ``SELECT t.c AS d``)
- DIRECT / TRANSFORMATION   computed from columns (``a * b``, ``CASE ...``, ``date_trunc(...)``)
- DIRECT / AGGREGATION  an aggregate over columns (``sum(amount)``, ``count(DISTINCT customer_id)``)
- INDIRECT / FILTER, JOIN, GROUP_BY  columns that shape the whole result (WHERE, ON, GROUP BY):
  reported once for the dataset, as OpenLineage's ColumnLineage facet allows.

A script is accepted too: each ``CREATE [TEMP] TABLE|VIEW name AS SELECT`` defines ``name`` for the
statements after it (like a CTE), and the last statement is the one that builds the table. So a
metric computed from a temp table of the run's events is still traced back to ``clean_events``.

What cannot be resolved (a table function, a column nobody declares) is left out rather than
guessed. ``columns_of(table)`` supplies the warehouse schema for ``*`` and unqualified columns.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import duckdb

IDENTITY, TRANSFORMATION, AGGREGATION = "IDENTITY", "TRANSFORMATION", "AGGREGATION"
_RANK = {IDENTITY: 0, TRANSFORMATION: 1, AGGREGATION: 2}

AGGREGATES = frozenset(
    """sum count count_star avg mean min max median mode quantile quantile_cont quantile_disc
    approx_count_distinct approx_quantile string_agg group_concat list array_agg first last any_value
    arg_max arg_min argmax argmin max_by min_by stddev stddev_pop stddev_samp variance var_pop var_samp
    bool_and bool_or bit_and bit_or bit_xor product fsum sumkahan kahan_sum histogram entropy kurtosis
    skewness corr covar_pop covar_samp regr_slope regr_intercept favg bitstring_agg""".split()
)

# CREATE TABLE x AS / INSERT INTO x [BY NAME] in front of the SELECT: only the SELECT is analysed.
_DDL_PREFIX = re.compile(
    r"^\s*(?:create\s+(?:or\s+replace\s+)?(?:temp\w*\s+)?(?:table|view)\s+(?P<created>\S+)\s+as"
    r"|insert\s+(?:or\s+replace\s+)?into\s+(?P<inserted>\S+)(?:\s+by\s+(?:name|position))?(?:\s*\([^)]*\))?)\s+",
    re.IGNORECASE,
)

ColumnsOf = Callable[[str], "list[str] | None"]

# Key of a SELECT column DuckDB names after its expression text (``SELECT 0``): nothing stable to
# report, but it holds its place, so the branches of a UNION still line up by position.
_UNNAMED = "\x00"


@dataclass(frozen=True, order=True)
class SourceColumn:
    table: str  # "main.clean_order_lines"
    column: str
    subtype: str = IDENTITY  # for DIRECT: IDENTITY | TRANSFORMATION | AGGREGATION; INDIRECT: FILTER | JOIN | GROUP_BY


@dataclass
class SqlLineage:
    columns: dict[str, list[SourceColumn]] = field(default_factory=dict)  # output column -> DIRECT sources
    indirect: list[SourceColumn] = field(default_factory=list)  # dataset-wide INDIRECT sources

    @property
    def tables(self) -> set[str]:
        return {s.table for sources in self.columns.values() for s in sources} | {s.table for s in self.indirect}

    def restricted_to(self, tables: set[str]) -> SqlLineage:
        """Only sources in ``tables`` (e.g. those the warehouse really has, not a dropped temp table)."""
        keep = {t.lower() for t in tables}
        columns = {c: [s for s in srcs if s.table.lower() in keep] for c, srcs in self.columns.items()}
        return SqlLineage(
            columns={c: srcs for c, srcs in columns.items() if srcs},
            indirect=[s for s in self.indirect if s.table.lower() in keep],
        )


class ColumnLineageError(ValueError):
    """The SQL could not be parsed (DuckDB's message is kept)."""


_parsers = threading.local()


@functools.lru_cache(maxsize=2048)
def _serialized(select_sql: str) -> str:
    """DuckDB's JSON parse tree of a statement. One in-memory connection per thread (opening one
    cost ~20 ms a statement), and the same text is parsed once: a daily run's asset and its lineage
    observer, and every day of a backfill, hand over the same statements."""
    con = getattr(_parsers, "con", None)
    if con is None:
        con = _parsers.con = duckdb.connect()
    return con.execute("SELECT json_serialize_sql(?)", [select_sql]).fetchone()[0]


def parse(sql: str) -> dict:
    """DuckDB's parse tree of one SELECT (a CREATE TABLE AS / INSERT prefix is stripped first)."""
    select_sql = _DDL_PREFIX.sub("", sql.strip().rstrip(";"), count=1)
    tree = json.loads(_serialized(select_sql))  # a fresh dict each call: callers may change it
    if tree.get("error"):
        raise ColumnLineageError(tree.get("error_message") or "DuckDB could not parse the SQL")
    node = tree["statements"][0]["node"]
    _normalise(node)
    return node


def _normalise(node: object) -> None:
    """The parse tree in the shape DuckDB 2.0 serialises, whichever DuckDB parsed it, so the walk
    below reads one shape. DuckDB 1.5 (its DuckLake extension exists only for 1.5.x) differs in
    the two places the walk reads:

    - a CTE's query: 1.5 ``{"query": {"node": ...}}``, 2.0 ``{"query_node": ...}``;
    - a string constant: 1.5 ``{"value": {"type": {"id": "VARCHAR"}, "value": "re"}}``,
      2.0 ``{"literal": {"kind": "STRING", "text": "re"}}`` (other constants are not read).

    Everything else the walk reads (``function_name``, ``column_names``, set operations' ``left``/
    ``right`` or ``children``, ...) is the same in both or already handled by the walk. Changes
    ``node`` in place."""
    if isinstance(node, list):
        for item in node:
            _normalise(item)
    elif isinstance(node, dict):
        for entry in (node.get("cte_map") or {}).get("map") or []:
            cte = entry.get("value") or {}
            if "query_node" not in cte and isinstance(cte.get("query"), dict):
                cte["query_node"] = cte.pop("query")["node"]  # 1.5
        value = node.get("value")
        if (node.get("class") == "CONSTANT" and node.get("literal") is None and isinstance(value, dict)
                and (value.get("type") or {}).get("id") == "VARCHAR" and not value.get("is_null")):
            node["literal"] = {"kind": "STRING", "text": value["value"]}  # a 1.5 string constant
        for child in node.values():
            _normalise(child)


def statements(sql: str) -> list[tuple[str | None, str]]:
    """(name the statement creates or None, its text), in order."""
    return [(created, text) for created, _, text in _statements(sql)]


def _statements(sql: str) -> list[tuple[str | None, str | None, str]]:
    """(name the statement creates, name it inserts into, its text), in order; names bare, lowercase."""
    result = []
    for text in _statement_texts(sql):
        match = _DDL_PREFIX.match(text)
        created = _bare(match.group("created")) if match and match.group("created") else None
        inserted = _bare(match.group("inserted")) if match and match.group("inserted") else None
        result.append((created, inserted, text))
    return result


def _statement_texts(sql: str) -> list[str]:
    """The statements of a script, each from its first token to its semicolon, checked by DuckDB's parser.

    Split on DuckDB's own tokens (strings, quoted names and comments stay whole), not by one
    ``extract_statements`` over the script, which differs between versions: DuckDB 1.5 refuses a
    script that binds ``?`` in one statement and ``$name`` in another ("Mixing named and positional
    parameters is not supported yet"), as a recorded run does (``table_exists`` then a loaded SQL
    file), and its texts begin after the previous semicolon, so with the comment a SQL file starts
    with, which hides the CREATE or INSERT in front; 2.0's begin at the first token. Each statement
    alone is still handed to ``extract_statements``: SQL DuckDB cannot parse fails here, naming why."""
    data = sql.encode()  # the tokenizer's offsets count bytes
    try:
        tokens = duckdb.tokenize(sql)
    except duckdb.Error as error:
        raise ColumnLineageError(str(error)) from error
    texts: list[str] = []
    start: int | None = None
    for offset, kind in tokens:
        if kind == duckdb.token_type.comment:  # 2.0 lists comments, 1.5 does not
            continue
        if start is None:
            start = offset
        if kind == duckdb.token_type.operator and data[offset:offset + 1] == b";":
            texts.append(data[start:offset + 1].decode())
            start = None
    if start is not None:
        texts.append(data[start:].decode())
    checked = []
    for text in texts:
        try:
            if duckdb.extract_statements(text):  # a lone ";" is no statement
                checked.append(text)
        except duckdb.Error as error:
            raise ColumnLineageError(str(error)) from error
    return checked


def _bare(name: str) -> str:
    return name.split(".")[-1].strip('"').lower()


def column_lineage(sql: str, columns_of: ColumnsOf = lambda table: None, target: str | None = None) -> SqlLineage:
    """Output column -> the base-table columns it is computed from, plus dataset-wide INDIRECT ones.

    The statement analysed is the last one, or with ``target`` the last one that creates or inserts
    into that table (statements after it, such as a check query, are not what builds it); a
    script without such a statement ends with the bare SELECT that builds it."""
    # The built table's own columns, when known: the names a COLUMNS(...) selection the text
    # cannot decide (a lambda over a bound list) really gave, since COLUMNS keeps the names.
    built = columns_of(f"main.{_bare(target)}") if target is not None else None
    walker = _Walker(columns_of, {c.lower() for c in built or []})
    defined: dict[str, _Derived] = {}
    parts = _statements(sql)
    if target is not None:
        writes = [i for i, (created, inserted, _) in enumerate(parts) if _bare(target) in (created, inserted)]
        if writes:
            parts = parts[: writes[-1] + 1]
    parts = [(created, text) for created, _, text in parts]
    if not parts:
        raise ColumnLineageError("no SQL statement")
    derived = _Derived({})
    for index, (created, text) in enumerate(parts):
        is_last = index == len(parts) - 1
        if not is_last and not created:
            continue  # DROP, SET, ...: no relation for later statements
        derived = walker.query(parse(text), ctes=defined)
        if created:
            defined[created] = derived
    return SqlLineage(
        columns={name: sorted(set(sources)) for name, sources in derived.columns.items()
                 if sources and not name.startswith(_UNNAMED)},
        indirect=sorted(set(walker.indirect)),
    )


@dataclass
class _Derived:
    """A relation produced inside the query (CTE, subquery, the SELECT itself): ordered columns."""

    columns: dict[str, list[SourceColumn]]


@dataclass
class _Table:
    name: str  # "main.x"


class _Walker:
    def __init__(self, columns_of: ColumnsOf, built_columns: set[str] | None = None) -> None:
        self.columns_of = columns_of
        self.built_columns = built_columns or set()  # lowercase names of the table being built
        self.indirect: list[SourceColumn] = []

    def add_indirect(self, sources: list[SourceColumn]) -> None:
        self.indirect.extend(sources)

    # ---------------------------------------------------------------- query nodes
    def query(self, node: dict, ctes: dict[str, _Derived]) -> _Derived:
        ctes = dict(ctes)
        for entry in (node.get("cte_map") or {}).get("map", []):
            ctes[entry["key"].lower()] = self.query(entry["value"]["query_node"], ctes)
        kind = node.get("type")
        if kind == "SELECT_NODE":
            return self.select(node, ctes)
        if kind == "SET_OPERATION_NODE":
            return self.set_operation(node, ctes)
        if kind == "CTE_NODE":  # older DuckDB shape
            ctes[node["ctename"].lower()] = self.query(node["query"], ctes)
            return self.query(node["child"], ctes)
        return _Derived({})

    def set_operation(self, node: dict, ctes: dict[str, _Derived]) -> _Derived:
        branches = node.get("children") or [node.get("left"), node.get("right")]
        results = [self.query(child, ctes) for child in branches if child]
        if not results:
            return _Derived({})
        if node.get("setop_type") == "UNION_BY_NAME":  # matches columns by name, in order of appearance
            by_name: dict[str, list[SourceColumn]] = {}
            for result in results:
                for name, sources in result.columns.items():
                    key = next((k for k in by_name if k.lower() == name.lower()), name)
                    by_name.setdefault(key, []).extend(sources)
            return _Derived(by_name)
        names = list(results[0].columns)
        merged: dict[str, list[SourceColumn]] = {name: [] for name in names}
        for result in results:  # UNION matches columns by position
            for name, sources in zip(names, result.columns.values()):
                merged[name].extend(sources)
        return _Derived(merged)

    def select(self, node: dict, ctes: dict[str, _Derived]) -> _Derived:
        scope: list[tuple[str, _Table | _Derived]] = []
        self.from_clause(node.get("from_table"), ctes, scope)
        for clause, subtype in (("where_clause", "FILTER"), ("having", "FILTER"), ("qualify", "FILTER")):
            self.add_indirect(self.expression_sources(node.get(clause), scope, subtype))
        for expression in node.get("group_expressions") or []:
            self.add_indirect(self.expression_sources(expression, scope, "GROUP_BY"))
        columns: dict[str, list[SourceColumn]] = {}
        for position, expression in enumerate(node.get("select_list") or []):
            if expression.get("class") == "STAR":
                columns.update(self.expand_star(expression, scope))
                continue
            star = _columns_star(expression)
            if star is not None:  # f(COLUMNS(...)): one column per selected column, named after it
                subtype = _subtype(expression)
                others = self.expression_sources(_without(expression, star), scope, subtype)
                for name, sources in self.expand_star(star, scope).items():
                    columns[name] = [SourceColumn(s.table, s.column, _stronger(s.subtype, subtype))
                                     for s in sources] + others
                continue
            name = expression.get("alias") or (
                expression["column_names"][-1] if expression.get("class") == "COLUMN_REF" else None
            )
            if not name:  # DuckDB names it after the expression text; kept for its position only
                name = f"{_UNNAMED}{position}"
            columns[name] = self.expression_sources(expression, scope, _subtype(expression))
        return _Derived(columns)

    # ---------------------------------------------------------------- FROM
    def from_clause(self, node: dict | None, ctes: dict[str, _Derived], scope: list) -> None:
        if not node:
            return
        kind = node.get("type")
        if kind == "BASE_TABLE":
            table = node["table_name"]
            alias = (node.get("alias") or table).lower()
            if not node.get("schema_name") and table.lower() in ctes:
                scope.append((alias, ctes[table.lower()]))
            else:
                scope.append((alias, _Table(f"{node.get('schema_name') or 'main'}.{table}")))
        elif kind == "JOIN":
            self.from_clause(node.get("left"), ctes, scope)
            self.from_clause(node.get("right"), ctes, scope)
            self.add_indirect(self.expression_sources(node.get("condition"), scope, "JOIN"))
            for column in node.get("using_columns") or []:  # the key of both sides
                for alias, relation in scope:
                    if self.has_column(relation, column):
                        self.add_indirect(self.resolve([alias, column], scope, "JOIN"))
        elif kind == "SUBQUERY":
            derived = self.query(node["subquery"]["node"], ctes)
            scope.append(((node.get("alias") or "").lower(), derived))
        # TABLE_FUNCTION (read_csv, range, ...) and EMPTY: no warehouse table behind them

    # ---------------------------------------------------------------- expressions
    def expression_sources(self, node: object, scope: list, subtype: str) -> list[SourceColumn]:
        sources: list[SourceColumn] = []
        for ref in _column_refs(node):
            sources.extend(self.resolve(ref, scope, subtype))
        return sources

    def resolve(self, names: list[str], scope: list, subtype: str) -> list[SourceColumn]:
        column = names[-1]
        if len(names) > 1:
            qualifier = names[-2].lower()
            candidates = [rel for alias, rel in scope if alias == qualifier or _table_matches(rel, qualifier)]
        else:
            candidates = [rel for _, rel in scope if self.has_column(rel, column)]
            if not candidates and len(scope) == 1 and self.columns_unknown(scope[0][1]):
                candidates = [scope[0][1]]  # the only table in FROM, its schema unknown
        if len(candidates) != 1:
            return []  # ambiguous or unknown: leave it out rather than guess
        relation = candidates[0]
        if isinstance(relation, _Table):
            return [SourceColumn(relation.name, column, subtype)]
        derived = _lookup(relation.columns, column)
        if derived is None:
            return []
        # A column computed in a CTE and aggregated again keeps the strongest transformation.
        return [SourceColumn(s.table, s.column, _stronger(s.subtype, subtype)) for s in derived]

    def has_column(self, relation: _Table | _Derived, column: str) -> bool:
        if isinstance(relation, _Derived):
            return _lookup(relation.columns, column) is not None
        known = self.columns_of(relation.name)
        return known is not None and column.lower() in {c.lower() for c in known}

    def columns_unknown(self, relation: _Table | _Derived) -> bool:
        return isinstance(relation, _Table) and self.columns_of(relation.name) is None

    def expand_star(self, node: dict, scope: list) -> dict[str, list[SourceColumn]]:
        qualifier = (node.get("relation_name") or "").lower()
        excluded = {_last(e).lower() for e in node.get("exclude_list") or []}
        selected = self.column_selection(node)
        columns: dict[str, list[SourceColumn]] = {}
        for alias, relation in scope:
            if qualifier and alias != qualifier and not _table_matches(relation, qualifier):
                continue
            if isinstance(relation, _Derived):
                names = list(relation.columns)
            else:
                names = self.columns_of(relation.name) or []
            for name in names:
                if name.lower() in excluded or not selected(name):
                    continue
                sources = (
                    [SourceColumn(relation.name, name, IDENTITY)]
                    if isinstance(relation, _Table)
                    else list(relation.columns[name])
                )
                columns[name] = sources
        return columns

    def column_selection(self, star: dict) -> Callable[[str], bool]:
        """Which columns a ``*`` or ``COLUMNS(...)`` keeps: all (``*``, ``COLUMNS(*)``), those its
        regular expression finds (``COLUMNS('re')``: a partial match, as DuckDB's), or, for a
        selection decided at run time (a lambda over a bound list), those the built table has."""
        selector = star.get("expr") if star.get("columns") else None
        if selector is None:
            return lambda name: True
        literal = selector.get("literal") if selector.get("class") == "CONSTANT" else None
        if isinstance(literal, dict) and literal.get("kind") == "STRING":
            try:
                pattern = re.compile(literal["text"])
            except re.error:
                pass  # RE2 syntax Python lacks: decided as below
            else:
                return lambda name: pattern.search(name) is not None
        return lambda name: name.lower() in self.built_columns


def _columns_star(node: object) -> dict | None:
    """The ``COLUMNS(...)`` star inside an expression (``CAST(COLUMNS(...) AS DOUBLE)``), if any."""
    if isinstance(node, dict):
        if node.get("class") == "STAR":
            return node if node.get("columns") else None
        if node.get("class") == "SUBQUERY":
            return None
        values = node.values()
    elif isinstance(node, list):
        values = node
    else:
        return None
    for value in values:
        found = _columns_star(value)
        if found is not None:
            return found
    return None


def _without(node: object, part: dict) -> object:
    """``node`` with the subtree ``part`` (by identity) left out."""
    if node is part:
        return None
    if isinstance(node, dict):
        return {key: _without(value, part) for key, value in node.items()}
    if isinstance(node, list):
        return [_without(value, part) for value in node]
    return node


def _column_refs(node: object, bound: frozenset[str] = frozenset()) -> Iterator[list[str]]:
    """Every column reference in an expression tree, not descending into subqueries and skipping
    lambda parameters (``list_reduce(l, (acc, x) -> acc + x)``: acc and x are not columns)."""
    if isinstance(node, dict):
        kind = node.get("class")
        if kind == "COLUMN_REF":
            if not (len(node["column_names"]) == 1 and node["column_names"][0].lower() in bound):
                yield node["column_names"]
            return
        if kind == "SUBQUERY":
            return
        if kind == "LAMBDA":
            params = frozenset(ref[-1].lower() for ref in _column_refs(node.get("lhs")))
            yield from _column_refs(node.get("expr"), bound | params)
            return
        for value in node.values():
            yield from _column_refs(value, bound)
    elif isinstance(node, list):
        for item in node:
            yield from _column_refs(item, bound)


def _subtype(expression: dict) -> str:
    if expression.get("class") == "COLUMN_REF":
        return IDENTITY
    return AGGREGATION if _has_aggregate(expression) else TRANSFORMATION


def _has_aggregate(node: object) -> bool:
    if isinstance(node, dict):
        if node.get("class") in ("FUNCTION", "WINDOW") and str(node.get("function_name", "")).lower() in AGGREGATES:
            return True
        if node.get("class") == "SUBQUERY":
            return False
        return any(_has_aggregate(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_aggregate(v) for v in node)
    return False


def _stronger(a: str, b: str) -> str:
    if a not in _RANK or b not in _RANK:
        return b if b not in _RANK else a  # INDIRECT subtypes win over DIRECT ones
    return a if _RANK[a] >= _RANK[b] else b


def _lookup(columns: dict[str, list[SourceColumn]], name: str) -> list[SourceColumn] | None:
    for key, value in columns.items():
        if key.lower() == name.lower():
            return value
    return None


def _table_matches(relation: object, qualifier: str) -> bool:
    return isinstance(relation, _Table) and relation.name.lower().split(".")[-1] == qualifier


def _last(expression: object) -> str:
    if isinstance(expression, dict):
        return (expression.get("column_names") or [""])[-1]
    return str(expression)
