"""SeaweedFS (an S3-compatible object store, Apache-2.0) as a process on loopback: the S3 server of
the object-storage lake tests and of `bench/lake_statements.py --object-store`. Its `weed` is built
by `scripts/services/install.sh seaweedfs` (`make test` does it)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shopverse_platform_tests.conftest import free_ports, stop_process_group

# where scripts/services/install.sh builds it: $SEAWEEDFS_HOME, else $SHOPVERSE_SERVICES_HOME/seaweedfs
SERVICES_HOME = Path(os.environ.get("SHOPVERSE_SERVICES_HOME") or Path(__file__).resolve().parents[1] / ".services")
WEED = Path(os.environ.get("SEAWEEDFS_HOME") or SERVICES_HOME / "seaweedfs") / "bin" / "weed"
REGION = "us-east-1"


@contextmanager
def s3_server(workdir: Path, identities: dict[str, str], bucket: str) -> Iterator[str]:
    """A SeaweedFS server (master, volume server, filer, S3 gateway) on free loopback ports, its data
    under ``workdir``, in a session of its own and stopped by its PID; it knows ``identities``
    (access key: secret key) and refuses any other key or a wrong secret. Yields its S3 endpoint
    once ``bucket`` exists in it (created with the first identity)."""
    import boto3

    config = workdir / "seaweedfs-s3.json"
    config.write_text(json.dumps({"identities": [
        {"name": key, "credentials": [{"accessKey": key, "secretKey": secret}],
         "actions": ["Admin", "Read", "Write", "List", "Tagging"]} for key, secret in identities.items()]}))
    master, volume, filer, s3, *grpc = free_ports(8)
    data = workdir / "seaweedfs"
    data.mkdir()
    log = workdir / "seaweedfs.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(WEED), "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             f"-master.port={master}", f"-master.port.grpc={grpc[0]}", "-master.volumeSizeLimitMB=256",
             "-master.telemetry=false", f"-volume.port={volume}", f"-volume.port.grpc={grpc[1]}",
             "-volume.preStopSeconds=0", "-filer", f"-filer.port={filer}", f"-filer.port.grpc={grpc[2]}",
             "-s3", f"-s3.port={s3}", f"-s3.port.grpc={grpc[3]}", "-s3.port.iceberg=0", "-s3.port.lance=0",
             f"-s3.config={config}"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        key = next(iter(identities))
        client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                              aws_access_key_id=key, aws_secret_access_key=identities[key])
        deadline = time.monotonic() + 90
        while True:  # the S3 gateway answers once its filer and volume server are up
            try:
                client.create_bucket(Bucket=bucket)
                break
            except Exception:  # noqa: BLE001 (not up yet: refused, or the filer not ready)
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError(f"SeaweedFS did not start:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.5)
        yield endpoint
    finally:
        stop_process_group(server, timeout=30)
