"""`shopverse warehouse reader-sql`: the SQL with which a DuckDB client outside the platform (a
notebook, the DuckDB CLI, a BI tool) reads the warehouse, read-only. Run here in a plain DuckDB
process of its own, as such a client would, beside the platform writing the same lake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from shopverse_platform.cli.main import build_parser, main
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.warehouse import lake
from shopverse_platform_tests.automation.test_celery_workers import lake_catalogued_in_postgres  # noqa: F401 (fixture)
from shopverse_platform_tests.warehouse.test_object_storage import BUCKET, s3_bucket  # noqa: F401 (fixture)

# A client that knows nothing of the platform: plain duckdb, the printed SQL, then one line of JSON
# per query read from stdin, answered on stdout.
CLIENT = textwrap.dedent("""
    import json, sys
    import duckdb
    con = duckdb.connect()
    con.execute(open(sys.argv[1]).read())
    print(json.dumps("ready"), flush=True)
    for line in sys.stdin:
        try:
            answer = [list(row) for row in con.execute(json.loads(line)).fetchall()]
        except duckdb.Error as error:
            answer = "error: " + str(error).splitlines()[0]
        print(json.dumps(answer, default=str), flush=True)
""")


class Client:
    """A DuckDB process of its own that ran the reader SQL and keeps its connection open."""

    def __init__(self, sql_file, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", CLIENT, str(sql_file)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        first = self.process.stdout.readline()
        if json.loads(first or "null") != "ready":
            self.process.kill()
            raise AssertionError(f"the client did not attach: {self.process.stderr.read()}")

    def ask(self, query: str):
        self.process.stdin.write(json.dumps(query) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _reader_sql(capsys) -> str:
    assert main(["warehouse", "reader-sql"]) == 0
    return capsys.readouterr().out


def _write_days(setting: str, days: list[tuple[str, int]], replace: bool = False) -> None:
    """Rows of (day, orders) through the platform's own connection: one commit."""
    with Warehouse(path=setting).connect() as con:
        con.execute("CREATE TABLE IF NOT EXISTS daily_orders (day DATE, orders INTEGER)")
        con.execute("BEGIN TRANSACTION")
        if replace:
            con.execute("DELETE FROM daily_orders")
        con.executemany("INSERT INTO daily_orders VALUES (?, ?)", days)
        con.execute("COMMIT")


@pytest.fixture
def embedded_lake(tmp_path, monkeypatch):
    setting = f"ducklake:sqlite:{tmp_path / 'lake' / 'shopverse.sqlite'}"
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", setting)
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH", raising=False)
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_NAME", raising=False)
    yield setting
    lake.release_instances()


def test_a_client_reads_the_lake_with_the_printed_sql_beside_a_run_writing_it(embedded_lake, tmp_path, capsys):
    _write_days(embedded_lake, [("2026-11-01", 3), ("2026-11-02", 5)])
    sql = _reader_sql(capsys)
    assert "(READ_ONLY)" in sql and "USE \"shopverse\";" in sql
    (tmp_path / "reader.sql").write_text(sql)

    client = Client(tmp_path / "reader.sql")
    try:
        total = "SELECT count(*), sum(orders) FROM daily_orders"
        assert client.ask(total) == [[2, 8]]
        assert client.ask("SELECT current_database()") == [["shopverse"]]
        # read-only: the client cannot write past the runs' write turns
        assert client.ask("DELETE FROM daily_orders").startswith("error: Invalid Input Error: Cannot execute statement")
        # the client still attached, the platform rewrites the table in one commit: no wait, no lock error
        _write_days(embedded_lake, [("2026-11-01", 4), ("2026-11-02", 5), ("2026-11-03", 7)], replace=True)
        assert client.ask(total) == [[3, 16]]  # the new commit, whole
    finally:
        client.close()
    with Warehouse(path=embedded_lake).connect(read_only=True) as con:
        assert con.execute("SELECT count(*), sum(orders) FROM daily_orders").fetchall() == [(3, 16)]


@pytest.mark.services
def test_a_client_reads_a_lake_catalogued_in_postgresql_with_its_own_password(lake_catalogued_in_postgres, tmp_path, capsys):
    """The production stack's layout: the printed SQL names no password; the client's PGPASSWORD serves."""
    _write_days(lake_catalogued_in_postgres, [("2026-11-01", 3), ("2026-11-02", 5)])
    sql = _reader_sql(capsys)
    assert "password=" not in sql and "postgres_scanner.duckdb_extension" in sql and "PGPASSWORD" in sql
    (tmp_path / "reader.sql").write_text(sql)
    client = Client(tmp_path / "reader.sql", env={**os.environ, "PGPASSWORD": "shopverse"})
    try:
        assert client.ask("SELECT count(*), sum(orders) FROM daily_orders") == [[2, 8]]
    finally:
        client.close()
    with pytest.raises(AssertionError, match="password"):  # without it, libpq has none to give
        Client(tmp_path / "reader.sql", env={k: v for k, v in os.environ.items() if k != "PGPASSWORD"})


@pytest.mark.services
def test_a_shell_without_the_catalogs_password_gets_one_line_saying_so(lake_catalogued_in_postgres, monkeypatch, capsys):
    """The production stack passes the password as PGPASSWORD; a shell without it gets libpq's reason
    and where the password comes from, exit 2, not an IOException's traceback."""
    _write_days(lake_catalogued_in_postgres, [("2026-11-01", 3)])
    lake.release_instances()
    without_password = " ".join(part for part in lake_catalogued_in_postgres.split() if not part.startswith("password="))
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", without_password)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", "/nonexistent")
    assert main(["sql", "SELECT sum(orders) FROM daily_orders"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("shopverse sql: the lake's catalog cannot be reached: PostgreSQL dbname=shopverse_lake")
    assert "no password supplied" in err and "$PGPASSWORD or ~/.pgpass" in err and err.count("\n") == 1
    monkeypatch.setenv("PGPASSWORD", "shopverse")
    assert main(["sql", "SELECT sum(orders) FROM daily_orders"]) == 0
    assert "3" in capsys.readouterr().out


@pytest.mark.services
def test_a_client_reads_a_lake_on_object_storage_with_its_own_keys(s3_bucket, tmp_path, monkeypatch, capsys):
    """The printed SQL holds no key: the client's AWS credential chain (here its key variables) signs."""
    setting = f"ducklake:sqlite:{tmp_path / 'lake' / 'shopverse.sqlite'}"
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", setting)
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE_DATA_PATH", f"s3://{BUCKET}/reader/")
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_NAME", raising=False)
    with Warehouse(path=setting).connect() as con:
        con.execute("CREATE TABLE days AS SELECT range AS day FROM range(10000)")
    sql = _reader_sql(capsys)
    statements = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in sql and "KEY_ID" not in statements
    assert "httpfs.duckdb_extension" in sql and "PROVIDER credential_chain" in sql
    (tmp_path / "reader.sql").write_text(sql)
    client = Client(tmp_path / "reader.sql", env={**os.environ, "AWS_EC2_METADATA_DISABLED": "true"})
    try:
        assert client.ask("SELECT count(*), sum(day) FROM days") == [[10000, 9999 * 10000 // 2]]
    finally:
        client.close()
    # a client without keys of its own is refused by the store
    keyless = {k: v for k, v in os.environ.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    keyless.update({"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none"),
                    "AWS_EC2_METADATA_DISABLED": "true"})
    with pytest.raises(AssertionError):
        Client(tmp_path / "reader.sql", env=keyless).ask("SELECT count(*) FROM days")


def test_a_client_reads_a_duckdb_file_and_is_told_to_let_it_go(tmp_path, monkeypatch, capsys):
    setting = str(tmp_path / "shopverse.duckdb")
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", setting)
    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_NAME", raising=False)
    _write_days(setting, [("2026-11-01", 3)])
    assert main(["warehouse", "info"]) == 0
    assert "readers       shopverse warehouse reader-sql" in capsys.readouterr().out  # where a user finds it
    sql = _reader_sql(capsys)
    assert "USE memory; DETACH \"shopverse\";" in sql  # a default database is detached only after USE
    (tmp_path / "reader.sql").write_text(sql)
    client = Client(tmp_path / "reader.sql")
    try:
        assert client.ask("SELECT sum(orders) FROM daily_orders") == [[3]]
        assert client.ask("USE memory; DETACH \"shopverse\";") == []
    finally:
        client.close()


def test_no_warehouse_yet_is_one_line_and_status_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", f"ducklake:sqlite:{tmp_path / 'none.sqlite'}")
    assert main(["warehouse", "reader-sql"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("no warehouse at DuckLake sqlite:") and err.count("\n") == 1


def test_no_secret_is_printed_for_a_postgresql_catalog_or_object_storage():
    keys = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEY", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value", "AWS_SESSION_TOKEN": "t0ken",
            "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:8333"}
    conninfo = lake.LakeLocation("postgres", "dbname=lake host=db user=shop password=hunter2", "s3://bucket/lake/")
    uri = lake.LakeLocation("postgres", "postgresql://shop:hunter2@db:5432/lake", "s3://bucket/lake/")
    for location in (conninfo, uri):
        statements = lake.reader_statements(location, "shopverse", "s3://bucket/lake/", environ=keys)
        text = "\n".join(statements)
        for secret in ("hunter2", "AKIAEXAMPLEKEY", "s3cr3t-value", "t0ken"):
            assert secret not in text
        assert [s.rsplit("/", 1)[-1] for s in statements[:4]] == [
            "ducklake.duckdb_extension'", "postgres_scanner.duckdb_extension'", "httpfs.duckdb_extension'", "aws.duckdb_extension'"]
        secret_statement = statements[4]
        assert "PROVIDER credential_chain" in secret_statement and "REGION 'eu-west-1'" in secret_statement
        assert "ENDPOINT '127.0.0.1:8333'" in secret_statement and "USE_SSL false" in secret_statement
        assert statements[-2].endswith('AS "shopverse" (READ_ONLY)') and statements[-1] == 'USE "shopverse"'
    assert "'ducklake:postgres:dbname=lake host=db user=shop'" in lake.reader_statements(conninfo, "s", "/data/")[-2]
    assert "'ducklake:postgres:postgresql://shop@db:5432/lake'" in lake.reader_statements(uri, "s", "/data/")[-2]
    # a local data path: no object-storage extension, no secret
    assert len(lake.reader_statements(conninfo, "s", "/data/")) == 4


def test_help_pages_keep_their_examples_one_per_line():
    commands = build_parser()._subparsers._group_actions[0].choices  # argparse has no public accessor
    text = commands["warehouse"].format_help()
    assert "\n    shopverse warehouse reader-sql       # the SQL" in text
    assert "\n        --to ducklake:postgres:" in text  # the continued example, its backslash kept
    prose = [line for line in commands["run"].format_help().splitlines() if line.startswith("Build every asset")]
    assert prose and len(prose[0]) <= 100  # prose is still wrapped
