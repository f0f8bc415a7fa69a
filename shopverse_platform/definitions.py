"""The code location: everything under ``defs/``, assembled once, then global policies applied."""

from pathlib import Path

import dagster as dg

from shopverse_platform.defs.automation.policies import apply_automation_policies
from shopverse_platform.defs.lineage.policy import with_openlineage
from shopverse_platform.defs.partitions import with_first_day
from shopverse_platform.lib.automation.settings import automation_settings, first_day


# Set by the forkserver of a run's step processes (cli/step_processes.py), which builds the
# definitions once before it forks each step's process: a step's process then finds them built,
# where each one built them again (0.35 s, 0.8 s under load: most of a step process's time between
# its start and its resources, 26 times in a daily run with --workers).
prebuilt: dg.Definitions | None = None


@dg.definitions
def defs() -> dg.Definitions:
    return prebuilt if prebuilt is not None else build_definitions()


def build_definitions() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    # Global lineage policy (docs/lineage.md): every asset's compute emits OpenLineage
    # START / COMPLETE / FAIL / ABORT events, whatever launches it; asset authors add nothing.
    # Global automation policy (docs/operations.md): freshness on the daily/weekly tables and an
    # eager condition for unpartitioned assets that does not wait for every partition back to the first day.
    # automation.toml is read here, once per process, like the schedules and sensors that use it;
    # so is the first day: the daily and weekly partitions start where the shop's data starts.
    return apply_automation_policies(with_first_day(with_openlineage(loaded), first_day()), automation_settings())
