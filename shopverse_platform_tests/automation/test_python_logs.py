"""The shipped dagster.yaml puts a step's wait for a lake's write turn in the run's event log (the
Dagster UI's run view), not only in its raw stderr: the write turns' logger is a managed Python
logger at WARNING (lib/warehouse/write_turns.py logs a wait of a second or more)."""

import logging
import shutil

import dagster as dg

from shopverse_platform.lib.paths import PROJECT_ROOT
from shopverse_platform.lib.warehouse import write_turns


@dg.asset
def queued_writer() -> None:
    holders = [write_turns.TurnHolder(4321, False, "quarantine")]
    write_turns._report_wait("the write turn of table quarantine", holders, 15.2)  # what a long wait logs
    write_turns._report_wait("the write turn of table orders", holders, 0.2)  # a short one logs nothing
    write_turns.log.info("an info record of the same logger")


def test_a_long_wait_for_a_write_turn_is_in_the_runs_event_log(tmp_path, monkeypatch):
    home = tmp_path / "shipped_instance"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")  # the settings the project ships
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([queued_writer], instance=instance)
        assert result.success
        logged = [(entry.level, entry.step_key, entry.user_message) for entry in instance.all_logs(result.run_id)
                  if not entry.is_dagster_event]
    assert logged == [(logging.WARNING, "queued_writer", "waited 15.2 s for the write turn of table quarantine, "
                                                         "held by PID 4321 (quarantine) (another process's transaction)")]
