"""`shopverse sql`: read-only queries on the warehouse, one-shot or at a prompt, without holding it."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb

from shopverse_platform.cli.main import main
from shopverse_platform.lib.paths import PROJECT_ROOT


def _warehouse(tmp_path):
    path = tmp_path / "data" / "warehouse" / "shopverse.duckdb"
    path.parent.mkdir(parents=True)
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE daily_sales AS SELECT DATE '2026-11-09' + CAST(i AS INTEGER) AS sales_date, "
                "10.5 * i AS net_revenue FROM range(5) t(i)")
    con.execute("COMMENT ON COLUMN daily_sales.net_revenue IS 'revenue after cancellations'")
    con.close()
    return path


def test_a_query_prints_its_rows_and_writes_are_refused(tmp_path, capsys):
    path = _warehouse(tmp_path)
    assert main(["sql", "SELECT sales_date, net_revenue FROM daily_sales ORDER BY sales_date DESC", "--max-rows", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["sales_date", "net_revenue"]
    assert out[2].split() == ["2026-11-13", "42.0"] and out[3].split() == ["2026-11-12", "31.5"]
    assert out[4] == "(2 rows, more not shown: --max-rows)"

    assert main(["sql", "DELETE FROM daily_sales"]) == 1
    assert capsys.readouterr().out.startswith("error: ")
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT count(*) FROM daily_sales").fetchone()[0] == 5  # nothing was deleted
    con.close()


def test_the_prompt_lists_tables_and_columns_and_does_not_hold_the_file(tmp_path):
    path = _warehouse(tmp_path)
    shell = subprocess.Popen(
        [sys.executable, "-m", "shopverse_platform.cli.main", "sql"], cwd=PROJECT_ROOT, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "SHOPVERSE_DATA_DIR": str(tmp_path / "data")},
    )
    shell.stdin.write(".tables\n.schema daily_sales\nSELECT sum(net_revenue) AS total\n  FROM daily_sales;\n")
    shell.stdin.flush()
    seen = []
    while sum(line.startswith("(") and " row" in line for line in seen) < 3:  # .tables, .schema, the query
        line = shell.stdout.readline()
        assert line, "the prompt ended early: " + "".join(seen) + shell.stderr.read()
        seen.append(line)
    first = "".join(seen)
    assert "daily_sales" in first and "revenue after cancellations" in first and "105.0" in first  # 10.5 * (0+1+2+3+4)

    # The prompt waits for input and holds nothing: a writer opens the warehouse at once.
    writer = duckdb.connect(str(path))
    writer.execute("INSERT INTO daily_sales VALUES (DATE '2026-11-20', 1.0)")
    writer.close()
    out, err = shell.communicate("SELECT sum(net_revenue) AS total FROM daily_sales;\n.quit\n", timeout=120)
    assert shell.returncode == 0, err
    assert "106.0" in out  # the next query sees the write


def test_the_prompts_dot_commands_work_as_the_one_query(tmp_path, capsys):
    """Found using the platform: `shopverse sql ".schema quarantine"` answered a DuckDB parser error
    (the dot commands were the prompt's only)."""
    _warehouse(tmp_path)
    assert main(["sql", ".schema daily_sales"]) == 0
    out = capsys.readouterr().out
    assert "net_revenue" in out and "revenue after cancellations" in out and "(2 rows)" in out
    assert main(["sql", ".tables"]) == 0
    assert "daily_sales" in capsys.readouterr().out
    assert main(["sql", ".nonsense"]) == 1
    assert ".tables | .schema TABLE" in capsys.readouterr().out


def test_output_cut_short_by_its_reader_ends_quietly(tmp_path):
    """Found using the platform: `shopverse sql ... | head` printed a BrokenPipeError traceback once
    head had its lines. A reader that goes away ends the command as SIGPIPE ends one: status 141,
    nothing on stderr."""
    _warehouse(tmp_path)
    command = subprocess.Popen(
        [sys.executable, "-m", "shopverse_platform.cli.main", "sql", "SELECT * FROM range(200000)", "--max-rows", "200000"],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "SHOPVERSE_DATA_DIR": str(tmp_path / "data")},
    )
    assert command.stdout.readline().split() == [b"range"]
    command.stdout.close()  # as head does once it has its lines
    err = command.stderr.read().decode()
    assert command.wait(timeout=120) == 141, err
    assert err == ""
