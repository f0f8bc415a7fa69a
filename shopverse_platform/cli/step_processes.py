"""What a step's own process needs imported, imported once: the module the forkserver of
``shopverse backfill --workers N`` preloads (Dagster's multiprocess executor, ``preload_modules``)
before it forks each step's process.

Dagster preloads the job's module only when the executor's config names no preload list, and
``start_method: {forkserver: {}}`` counts as naming an empty one: the forkserver then preloaded
Dagster's executor module alone, and each step's process imported the code location (its asset
modules, the OpenLineage client, MLflow's, DuckDB's) and the instance's storage classes afresh: in
a 3-day backfill with 2 workers, 53 of the 97 s its 26 step processes ran went to imports (py-spy).
Naming this module, imported in the forkserver, makes every fork start with them loaded, and with
the definitions built (``build_definitions``).

A process has one forkserver (Python's multiprocessing starts it at the first run that needs it),
and every step's process forked from it has the environment and the definitions of that moment:
within one `shopverse backfill` (its daily, weekly and report runs) or one run worker they are the
same. A process that runs several such runs under different settings (a test suite) runs them in
processes of their own.
"""

from __future__ import annotations

import importlib
import os
import pkgutil

import shopverse_platform.defs as defs_package
from shopverse_platform import definitions  # the code location's module and what it imports
from shopverse_platform.defs.lineage.dagster_internals import instance_class_modules


def preload() -> list[str]:
    """Import every module of ``defs/`` (what loading the code location imports) and the
    instance's storage modules; the names imported."""
    names = [module.name for module in pkgutil.walk_packages(defs_package.__path__, defs_package.__name__ + ".")]
    if os.environ.get("DAGSTER_HOME"):
        names += instance_class_modules(os.environ["DAGSTER_HOME"])
    for name in names:
        importlib.import_module(name)
    return names


def build_definitions() -> None:
    """Build the code location's definitions here, once, for every step's process forked from this
    one (``definitions.prebuilt``): reconstructing the run's job, each built them again. A build
    that fails is left to each step's process, which reports it as its own error."""
    try:
        definitions.prebuilt = definitions.build_definitions()
        definitions.prebuilt.get_repository_def()  # the jobs and the asset graph, resolved once too
    except Exception:  # noqa: BLE001 (the step processes build them again and fail with the cause)
        definitions.prebuilt = None


preload()
build_definitions()
