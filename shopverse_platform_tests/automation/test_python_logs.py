"""The shipped dagster.yaml puts a step's wait for a lake's write turn in the run's event log (the
Dagster UI's run view), not only in its raw stderr: the write turns' logger is a managed Python
logger (lib/warehouse/write_turns.py logs a wait of a second or more, as a warning). And it leaves
the steps' own ``context.log`` at every level: a ``python_log_level`` there is also the level of
every step's ``context.log``, and WARNING (session 27 to 29) dropped every step's info lines."""

import logging
import shutil

import dagster as dg

from shopverse_platform.lib.paths import PROJECT_ROOT
from shopverse_platform.lib.warehouse import write_turns


@dg.asset
def queued_writer(context: dg.AssetExecutionContext) -> None:
    context.log.info("the step's own info line")
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
    assert logged == [(logging.INFO, "queued_writer", "the step's own info line"),
                      (logging.WARNING, "queued_writer", "waited 15.2 s for the write turn of table quarantine, "
                                                         "held by PID 4321 (quarantine) (another process's transaction)")]


def test_an_instance_made_with_an_earlier_shipped_dagster_yaml_gets_the_current_one(tmp_path, monkeypatch):
    """An embedded instance keeps the dagster.yaml it was made with: one the project shipped before,
    unedited (its digest in ``SHIPPED_BEFORE``), is brought up to date; one its user edited is kept."""
    import hashlib

    from shopverse_platform.cli import instance

    current = (PROJECT_ROOT / "dagster.yaml").read_bytes()
    assert hashlib.sha256(current).hexdigest() not in instance.SHIPPED_BEFORE
    shipped = current.replace(b"python_logs:\n", b"python_logs:\n  python_log_level: WARNING\n")  # as it once was
    monkeypatch.setattr(instance, "SHIPPED_BEFORE", frozenset({hashlib.sha256(shipped).hexdigest()}))
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_bytes(shipped)
    instance.prepare_embedded_home(home)
    assert (home / "dagster.yaml").read_bytes() == current
    edited = shipped + b"# mine\n"
    (home / "dagster.yaml").write_bytes(edited)
    instance.prepare_embedded_home(home)
    assert (home / "dagster.yaml").read_bytes() == edited
