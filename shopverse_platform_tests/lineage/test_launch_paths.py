"""Launch paths other than in-process: the Dagster CLI with step subprocesses, and a run launched
through the webserver, dequeued by the daemon and cancelled from the API (`dagster dev`, the same
processes `shopverse ui` starts). Slow (each starts several Python processes), hence marked. The
webserver test starts `dagster dev`, whose daemon and webserver are outside service processes, so it
is also marked ``services``: it runs in `make test`, not in `make test-fast`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import requests

from shopverse_platform.lib import paths
from shopverse_platform_tests.conftest import Command, Finished, free_port, stop_process_group
from shopverse_platform_tests.lineage.support import by_job, read_events, validate_event

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
LOCATION = "shopverse_platform_tests.lineage.location"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


def _events() -> list[dict]:
    return read_events(paths.data_dir() / "lineage" / "events.ndjson")


def _wait(condition, timeout: float, what: str, interval: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.mark.background_command(
    Command([str(BIN / "dagster"), "asset", "materialize", "-m", LOCATION, "--select", "lineage_orders,lineage_revenue"],
            timeout=600))
def test_dagster_cli_run_with_step_subprocesses_emits_from_each_step(background_command: Finished):
    # the command ran in the background with this test's isolated environment, which now points at
    # the data directory and Dagster home it wrote
    result = background_command.result
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Executing step \"lineage_orders\" in subprocess" in result.stderr + result.stdout
    events = _events()
    for job in ("lineage_orders", "lineage_revenue"):
        assert [e["eventType"] for e in by_job(events, job)] == ["START", "COMPLETE"]
    for event in events:
        validate_event(event)
    with dg.DagsterInstance.get() as instance:  # the CLI recorded its run in $DAGSTER_HOME
        [record] = instance.get_run_records()
    assert {e["run"]["facets"]["dagster"]["runId"] for e in events} == {record.dagster_run.run_id}


@pytest.fixture
def dagster_dev():
    """`dagster dev` (webserver + daemon + code server) on a free port, stopped by its process group."""
    home = Path(os.environ["DAGSTER_HOME"])
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # runs queue: the daemon launches them
    port = free_port()
    log = open(home / "dagster_dev.log", "w")
    process = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-m", LOCATION, "-h", "127.0.0.1", "-p", str(port)],
        env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )

    def up() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok
        except requests.RequestException:
            return False

    try:
        _wait(up, 180, "the Dagster webserver")
        from dagster_graphql import DagsterGraphQLClient

        yield DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=60)
    finally:
        # dagster dev shuts its services down on SIGINT
        stop_process_group(process, timeout=60, first_signal=signal.SIGINT)
        log.close()


@pytest.mark.services
def test_a_run_launched_from_the_webserver_emits_and_its_cancellation_is_an_abort(dagster_dev):
    client = dagster_dev
    run_id = client.submit_job_execution("__ASSET_JOB", asset_selection=[["lineage_orders"]])
    status = _wait(lambda: (s := client.get_run_status(run_id).value) in TERMINAL and s, 300, "the first run")
    assert status == "SUCCESS"
    assert [e["eventType"] for e in by_job(_events(), "lineage_orders")] == ["START", "COMPLETE"]

    slow = client.submit_job_execution("__ASSET_JOB", asset_selection=[["lineage_slow"]])
    _wait(lambda: by_job(_events(), "lineage_slow", "START"), 300, "the slow asset's START")
    client.terminate_run(slow)
    status = _wait(lambda: (s := client.get_run_status(slow).value) in TERMINAL and s, 120, "the cancellation")
    assert status == "CANCELED"
    events = _wait(lambda: len(e := by_job(_events(), "lineage_slow")) == 2 and e, 30, "the ABORT event")
    assert [e["eventType"] for e in events] == ["START", "ABORT"]
    assert "interrupted" in events[1]["run"]["facets"]["errorMessage"]["message"]
    assert events[1]["run"]["facets"]["dagster"]["runId"] == slow
    validate_event(events[1])
