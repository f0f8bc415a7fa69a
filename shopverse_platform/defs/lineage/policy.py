"""The global lineage policy: every asset's compute emits OpenLineage events, applied once.

`with_openlineage(defs)` is called by definitions.py on the whole code location. It rebuilds each
materializable asset's op with the same name, inputs, outputs, config, tags and retry policy, and a
compute function that wraps the original: START when the compute begins, COMPLETE / FAIL / ABORT
when it ends. Asset authors write nothing; an asset added under defs/ tomorrow is instrumented the
moment it is loaded.

Why here and not in the event log or a sensor (docs/lineage.md has the long version): the compute
function is the one place that runs in every launch path (in-process `materialize` and
`execute_in_process`, the CLI, and the run workers and step processes the webserver and daemon
launch, which all load this code location), at the moment the step runs, with the asset graph and
the step's resources at hand. An event-log storage wrapper sees the events too, but not the graph,
and it lives in instance settings that in-process and ephemeral instances do not read.

The wrapper needs a few Dagster internals (the function Dagster uses to turn an `@asset` function
into a compute function, and the rebuild Dagster does when it subsets an asset). They all live in
`dagster_internals.py`, which pins the Dagster version they were verified with; this module uses
only Dagster's public API besides that one.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator

import dagster as dg

from shopverse_platform.defs.automation.range_metadata import detail_once_per_range
from shopverse_platform.defs.lineage import dagster_internals as internals
from shopverse_platform.defs.lineage.observer import StepLineage
from shopverse_platform.defs.lineage.resources import OpenLineageResource
from shopverse_platform.lib.lineage.source import source_location

LINEAGE_KEY = "lineage"
WAREHOUSE_KEY = "warehouse"
INSTRUMENTED_TAG = "shopverse/lineage"


def with_openlineage(defs: dg.Definitions) -> dg.Definitions:
    """The code location with every materializable asset instrumented (idempotent)."""
    assets = [instrument(a) if isinstance(a, dg.AssetsDefinition) else a for a in defs.assets or []]
    instrumented = internals.with_assets(defs, assets)
    if LINEAGE_KEY not in (defs.resources or {}):
        instrumented = instrumented.with_resources({LINEAGE_KEY: OpenLineageResource()})
    return instrumented


def is_instrumented(assets_def: dg.AssetsDefinition) -> bool:
    node = assets_def.node_def
    return isinstance(node, dg.OpDefinition) and node.tags.get(INSTRUMENTED_TAG) == "openlineage"


def instrument(assets_def: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """The same asset(s), with a compute function that reports to OpenLineage."""
    if not assets_def.is_executable or not assets_def.keys or is_instrumented(assets_def):
        return assets_def
    op = assets_def.node_def
    if not isinstance(op, dg.OpDefinition):
        # Graph-backed assets run several ops per asset; none exists in this project yet.
        # test_policy.py fails if one appears uninstrumented, so it cannot slip through unnoticed.
        return assets_def
    core = internals.compute_core(op)
    source = source_location(internals.user_function(op))

    def compute(context, inputs):
        results = core(context, inputs)
        if inspect.isasyncgen(results):
            return _observe_async(StepLineage(context, source), results, context)
        return _observe(StepLineage(context, source), results, context)

    compute.__signature__ = inspect.Signature([
        inspect.Parameter(
            "context", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=internals.context_annotation(op)
        ),
        inspect.Parameter("inputs", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    ])

    wrapped_op = dg.OpDefinition(
        compute_fn=compute,
        name=op.name,
        ins={d.name: dg.In.from_definition(d) for d in op.input_defs},
        outs={d.name: dg.Out.from_definition(d) for d in op.output_defs},
        description=op.description,
        config_schema=op.config_schema,
        required_resource_keys=set(op.required_resource_keys) | {LINEAGE_KEY, WAREHOUSE_KEY},
        tags={**op.tags, INSTRUMENTED_TAG: "openlineage"},
        code_version=internals.code_version(op),
        retry_policy=op.retry_policy,
        pool=op.pool,
    )
    return internals.with_node(assets_def, wrapped_op)


def _observe(step: StepLineage, results: Iterator | None, context) -> Iterator:
    # The observer reads each result whole; what Dagster records of a range run's result keeps its
    # table- and statement-level detail on one partition (defs/automation/range_metadata.py).
    step.start()
    try:
        for item in results or ():
            step.observe(item)
            yield detail_once_per_range(context, item)
    except GeneratorExit:
        step.abandoned()
        raise
    except BaseException as error:
        step.fail(error)
        raise
    step.complete()


async def _observe_async(step: StepLineage, results: AsyncIterator, context) -> AsyncIterator:
    step.start()
    try:
        async for item in results:
            step.observe(item)
            yield detail_once_per_range(context, item)
    except GeneratorExit:
        step.abandoned()
        raise
    except BaseException as error:
        step.fail(error)
        raise
    step.complete()
