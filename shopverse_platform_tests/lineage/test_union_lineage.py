"""UNION branches line up by position, also past columns without a name; UNION BY NAME by name.

Expectations written by hand from the SQL of each case.
"""

from shopverse_platform.lib.lineage.column_lineage import column_lineage

SCHEMA = {"main.t": ["a", "b"], "main.u": ["x", "y"]}


def _columns(sql: str) -> dict[str, set[tuple[str, str]]]:
    lineage = column_lineage(sql, lambda table: SCHEMA.get(f"main.{table.split('.')[-1]}"))
    return {column: {(s.table, s.column) for s in sources} for column, sources in lineage.columns.items()}


def test_an_unnamed_constant_in_a_later_branch_keeps_its_place():
    # k is 1 or 0 (no column), v is t.a or u.x: the second branch's `0` has no name in DuckDB
    assert _columns("SELECT 1 AS k, a AS v FROM t UNION ALL SELECT 0, x FROM u") == {
        "v": {("main.t", "a"), ("main.u", "x")},
    }


def test_an_unnamed_expression_is_not_reported_but_the_rest_is():
    assert _columns("SELECT a + 1, b FROM t") == {"b": {("main.t", "b")}}


def test_union_by_name_matches_columns_by_name_not_position():
    # branch 2 has only b (= u.x), in the first place; a comes from t alone
    assert _columns("SELECT * FROM (SELECT a, b FROM t) UNION ALL BY NAME SELECT x AS b FROM u") == {
        "a": {("main.t", "a")},
        "b": {("main.t", "b"), ("main.u", "x")},
    }


def test_union_by_name_adds_the_columns_only_a_later_branch_has():
    assert _columns("SELECT a FROM t UNION ALL BY NAME SELECT y AS c, x AS a FROM u") == {
        "a": {("main.t", "a"), ("main.u", "x")},
        "c": {("main.u", "y")},
    }
