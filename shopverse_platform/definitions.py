"""The code location: everything under ``defs/``, assembled once, then global policies applied."""

from pathlib import Path

import dagster as dg

from shopverse_platform.defs.lineage.policy import with_openlineage


@dg.definitions
def defs() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    # Global lineage policy (docs/lineage.md): every asset's compute emits OpenLineage
    # START / COMPLETE / FAIL / ABORT events, whatever launches it; asset authors add nothing.
    return with_openlineage(loaded)
