"""A DuckLake whose data path is on object storage (issue 16): `s3://bucket/prefix/` reached through
DuckDB's httpfs with a secret from the AWS variables. The store is SeaweedFS, an S3-compatible
object store, run as a process on loopback (built by scripts/services/install.sh seaweedfs); it
checks each request's signature against the keys it knows. The tables equal a DuckDB-file build;
the Parquet files are objects in the bucket, none on the local disk; maintenance deletes the
objects no snapshot needs; the lake is read back without the data-path setting (its catalog knows
it)."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import date, timedelta

import duckdb
import pytest

from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.simulator.traffic import simulate
from shopverse_platform.lib.warehouse import lake
from shopverse_platform_tests import seaweedfs
from shopverse_platform_tests.conftest import free_port
from shopverse_platform_tests.warehouse.test_ducklake import _command, assert_same_tables, snapshot

FIRST = date(2026, 11, 9)
LAST = FIRST + timedelta(days=2)
BUCKET = "shopverse-lake"


def test_object_store_secret_from_the_aws_variables():
    statement = lake.object_store_secret({"AWS_ACCESS_KEY_ID": "AKIA'x", "AWS_SECRET_ACCESS_KEY": "s",
                                          "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9000"})
    assert "KEY_ID 'AKIA''x'" in statement and "REGION 'eu-west-1'" in statement  # quoted, not spliced raw
    assert "ENDPOINT '127.0.0.1:9000'" in statement and "URL_STYLE 'path'" in statement and "USE_SSL false" in statement
    aws = lake.object_store_secret({"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"})
    assert "ENDPOINT" not in aws and "SESSION_TOKEN 't'" in aws and "REGION 'us-east-1'" in aws
    # no key pair: the AWS credential chain (a profile, a pod or instance role), a profile named
    chain = lake.object_store_secret({"AWS_PROFILE": "lake's", "AWS_REGION": "eu-west-1"})
    assert "PROVIDER credential_chain" in chain and "PROFILE 'lake''s'" in chain and "KEY_ID" not in chain
    assert lake.uses_credential_chain({"AWS_ACCESS_KEY_ID": "k"}) and not lake.uses_credential_chain(
        {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"})
    # a local data path needs neither httpfs nor credentials
    local = lake.parse_location("ducklake:sqlite:/tmp/x/shopverse.sqlite")
    assert not lake.use_object_store(None, local, {})


def test_an_aws_profile_set_for_something_else_does_not_stop_a_lake_whose_data_path_is_unknown(tmp_path, monkeypatch):
    # a PostgreSQL lake's data path is in its catalog; a profile the chain cannot resolve only means
    # no secret, not an error (a lake on s3:// would then fail to attach with DuckDB's message)
    existing = lake.parse_location("ducklake:postgres:dbname=lake host=127.0.0.1")
    assert existing.attach_data_path() is None
    con = duckdb.connect()
    # the aws extension reads the process's environment, not the mapping given to decide
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    environ = {"AWS_PROFILE": "elsewhere", "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
               "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true"}
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert lake.use_object_store(con, existing, environ) is False
    # with the data path on s3:// the same environment is an error naming what to set
    on_s3 = lake.parse_location("ducklake:postgres:dbname=lake host=127.0.0.1", "s3://bucket/lake/")
    with pytest.raises(lake.LakeConfigurationError, match="credential chain found no credentials"):
        lake.use_object_store(con, on_s3, environ)


def test_a_new_sqlite_lake_is_attached_with_its_default_data_path_until_its_catalog_exists(tmp_path):
    catalog = tmp_path / "shopverse.sqlite"
    location = lake.parse_location(f"ducklake:sqlite:{catalog}")
    assert location.attach_data_path() == f"{tmp_path / 'shopverse.files'}/"
    # another process starting on the same new lake has created the file, not yet the catalog:
    # attaching without the data path would fail ("data_path is not set"), so it is still given
    probe = duckdb.connect(config=lake.extension_loading_settings())
    lake.load_extensions(probe, "sqlite")
    assert lake.use_write_ahead_log(catalog, probe) is True
    assert lake.journal_mode(probe, catalog) == "wal"
    probe.close()
    assert catalog.exists() and location.attach_data_path() == f"{tmp_path / 'shopverse.files'}/"
    with Warehouse(path=f"ducklake:sqlite:{catalog}").connect() as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    lake.release_instances()
    assert location.attach_data_path() is None  # the catalog's own from now on


# The S3 identities the server knows, by access key: those the tests sign with (their keys, a
# profile's, a role's). Any other key, or a wrong secret, is refused: the tests' objects got there
# with the credentials each test meant DuckDB to use.
IDENTITIES = {"shopverse": "not-a-secret", "from-the-profile": "not-a-secret", "from-the-role": "not-a-secret"}


@pytest.fixture
def s3_bucket(tmp_path, monkeypatch):
    """SeaweedFS's S3 server on loopback (shopverse_platform_tests/seaweedfs.py), a bucket in it, and
    the AWS variables pointing at it; yields a client of the bucket."""
    boto3 = pytest.importorskip("boto3")
    if not seaweedfs.WEED.exists():
        pytest.skip(f"no SeaweedFS at {seaweedfs.WEED}: run scripts/services/install.sh seaweedfs")
    try:
        with seaweedfs.s3_server(tmp_path, IDENTITIES, BUCKET) as endpoint:
            for name, value in (("AWS_ACCESS_KEY_ID", "shopverse"), ("AWS_SECRET_ACCESS_KEY", IDENTITIES["shopverse"]),
                                ("AWS_REGION", seaweedfs.REGION), ("AWS_ENDPOINT_URL", endpoint)):
                monkeypatch.setenv(name, value)
            yield boto3.client("s3", endpoint_url=endpoint, region_name=seaweedfs.REGION,
                               aws_access_key_id="shopverse", aws_secret_access_key=IDENTITIES["shopverse"])
    finally:
        lake.release_instances()


@pytest.mark.services
def test_the_s3_server_refuses_a_wrong_secret(s3_bucket):
    """The store the lake tests write to checks signatures, so their objects prove the keys."""
    import boto3
    from botocore.exceptions import ClientError

    stranger = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=seaweedfs.REGION,
                            aws_access_key_id="shopverse", aws_secret_access_key="wrong")
    with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
        stranger.list_objects_v2(Bucket=BUCKET)
    assert _objects(s3_bucket) == []  # the right key reads the (empty) bucket


def _objects(client) -> list[str]:
    return [item["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for item in page.get("Contents", [])]


@pytest.mark.services
def test_without_keys_the_lake_reaches_object_storage_through_the_aws_credential_chain(s3_bucket, tmp_path, monkeypatch):
    # the keys in a profile file only, as ~/.aws/credentials holds them (a task or pod role: the
    # test after this one)
    credentials = tmp_path / "credentials"
    credentials.write_text("[lake]\naws_access_key_id = from-the-profile\naws_secret_access_key = not-a-secret\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata lookup on this machine
    monkeypatch.setenv("AWS_PROFILE", "lake")
    setting = f"ducklake:sqlite:{tmp_path / 'lake' / 'shopverse.sqlite'}"
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE_DATA_PATH", f"s3://{BUCKET}/chain/")
    with Warehouse(path=setting).connect() as con:
        con.execute("CREATE TABLE days AS SELECT range AS day FROM range(10000)")  # past data inlining: a file
        secret = con.execute("SELECT secret_string FROM duckdb_secrets() WHERE name = ?", [lake.OBJECT_STORE_SECRET]).fetchone()[0]
    assert "provider=credential_chain" in secret and "key_id=from-the-profile" in secret
    assert any(key.startswith("chain/") and key.endswith(".parquet") for key in _objects(s3_bucket))
    lake.release_instances()
    with Warehouse(path=setting).connect(read_only=True) as con:
        assert con.execute("SELECT sum(day) FROM days").fetchone()[0] == 9999 * 10000 // 2
    # and nothing in the chain: a clear error naming what to set
    lake.release_instances()
    credentials.write_text("")
    with pytest.raises(lake.LakeConfigurationError, match="credential chain found no credentials"):
        with Warehouse(path=setting).connect() as con:
            pass


@pytest.mark.services
def test_a_role_from_the_container_credentials_endpoint_reaches_the_lake(s3_bucket, tmp_path, monkeypatch):
    # An ECS task role and an EKS Pod Identity hand their short-lived credentials out the same way:
    # an HTTP endpoint named by AWS_CONTAINER_CREDENTIALS_FULL_URI, asked with the token of
    # AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE. The agent is played here by a loopback server (it
    # cannot run outside AWS); the AWS SDK inside DuckDB's aws extension asks it, and the lake's
    # Parquet goes to the S3 server signed with those credentials. No key pair, no profile.
    import http.server
    import threading

    asked: list[tuple[str, str | None]] = []

    class Agent(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            asked.append((self.path, self.headers.get("Authorization")))
            body = json.dumps({"AccessKeyId": "from-the-role", "SecretAccessKey": "not-a-secret",
                               "Token": "session-token", "Expiration": "2099-01-01T00:00:00Z",
                               "RoleArn": "arn:aws:iam::123456789012:role/shopverse-lake"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    agent = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Agent)
    threading.Thread(target=agent.serve_forever, daemon=True).start()
    try:
        token = tmp_path / "token"
        token.write_text("pod-identity-token")
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.delenv(name)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"http://127.0.0.1:{agent.server_port}/v1/credentials")
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token))
        setting = f"ducklake:sqlite:{tmp_path / 'lake' / 'shopverse.sqlite'}"
        monkeypatch.setenv("SHOPVERSE_WAREHOUSE_DATA_PATH", f"s3://{BUCKET}/role/")
        with Warehouse(path=setting).connect() as con:
            con.execute("CREATE TABLE days AS SELECT range AS day FROM range(10000)")  # past data inlining: a file
            secret = con.execute("SELECT secret_string FROM duckdb_secrets() WHERE name = ?",
                                 [lake.OBJECT_STORE_SECRET]).fetchone()[0]
        assert "provider=credential_chain" in secret and "key_id=from-the-role" in secret
        assert ("/v1/credentials", "pod-identity-token") in asked
        assert any(key.startswith("role/") and key.endswith(".parquet") for key in _objects(s3_bucket))
        lake.release_instances()
        with Warehouse(path=setting).connect(read_only=True) as con:
            assert con.execute("SELECT sum(day) FROM days").fetchone()[0] == 9999 * 10000 // 2
    finally:
        agent.shutdown()
        agent.server_close()


@pytest.mark.services
def test_a_lake_on_object_storage_builds_the_same_tables_and_keeps_no_local_data(s3_bucket, tmp_path, monkeypatch, capsys):
    simulate(tmp_path / "landing", users=60, days=(LAST - FIRST).days + 1, start=FIRST, seed=13, faults=0.002)
    monkeypatch.setenv("SHOPVERSE_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE_DATA_PATH", f"s3://{BUCKET}/warehouse/")
    setting = f"ducklake:sqlite:{tmp_path / 'lake' / 'shopverse.sqlite'}"
    backfill = ("backfill", "--start", FIRST.isoformat(), "--end", LAST.isoformat(), "--select", "*", "--reports", "none")
    assert f"daily_job {FIRST}..{LAST}: ok" in _command(monkeypatch, capsys, setting, *backfill)
    written = _objects(s3_bucket)
    assert any(key.startswith("warehouse/") and key.endswith(".parquet") for key in written), written
    assert not list(tmp_path.rglob("*.parquet")), "a lake on object storage keeps no data on the local disk"

    monkeypatch.delenv("SHOPVERSE_WAREHOUSE_DATA_PATH")  # the file knows nothing of it; the lake's catalog does
    file = str(tmp_path / "file" / "shopverse.duckdb")
    _command(monkeypatch, capsys, file, *backfill)
    assert_same_tables(snapshot(setting), snapshot(file))

    # a rerun of the last day rewrites its partitions; maintenance then drops the objects of the old snapshots
    _command(monkeypatch, capsys, setting, "backfill", "--start", LAST.isoformat(), "--end", LAST.isoformat(),
             "--select", "*", "--reports", "none")
    before = set(_objects(s3_bucket))
    time.sleep(1.1)
    out = _command(monkeypatch, capsys, setting, "warehouse", "maintain", "--keep", "1 second")
    assert re.search(r"^  snapshots\s+[\d,]+ -> 1$", out, re.M), out
    time.sleep(1.1)  # the files of the snapshots just expired go at the next maintenance
    _command(monkeypatch, capsys, setting, "warehouse", "maintain", "--keep", "1 second")
    # the objects of the replaced versions (the tables the rerun rewrote) are gone from the bucket;
    # maintenance also writes new, merged objects, so the count alone says nothing
    deleted = before - set(_objects(s3_bucket))
    assert any(key.startswith("warehouse/main/") and key.endswith(".parquet") for key in deleted), sorted(deleted)
    assert_same_tables(snapshot(setting), snapshot(file))
    assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
