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

The wrapper uses one Dagster-internal helper, `create_op_compute_wrapper`, the function Dagster
itself uses to turn an `@asset` function into the `(context, inputs) -> iterator` form of a
compute function, so the original function is called exactly as Dagster would call it (context,
config, resources, inputs). Dagster is pinned (1.13.27) and test_policy.py pins this behaviour.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator

import dagster as dg
from dagster._core.definitions.decorators.op_decorator import DecoratedOpFunction
from dagster._core.execution.plan.compute_generator import create_op_compute_wrapper
from dagster._record import copy as copy_record

from shopverse_platform.defs.lineage.observer import StepLineage
from shopverse_platform.defs.lineage.resources import OpenLineageResource
from shopverse_platform.lib.lineage.source import source_location

LINEAGE_KEY = "lineage"
WAREHOUSE_KEY = "warehouse"
INSTRUMENTED_TAG = "shopverse/lineage"


def with_openlineage(defs: dg.Definitions) -> dg.Definitions:
    """The code location with every materializable asset instrumented (idempotent)."""
    assets = [instrument(a) if isinstance(a, dg.AssetsDefinition) else a for a in defs.assets or []]
    instrumented = copy_record(defs, assets=assets)  # what Definitions.map_asset_specs does
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
    original = op.compute_fn
    core = create_op_compute_wrapper(op) if isinstance(original, DecoratedOpFunction) else original
    source = source_location(original.decorated_fn if isinstance(original, DecoratedOpFunction) else original)

    def compute(context, inputs):
        results = core(context, inputs)
        if inspect.isasyncgen(results):
            return _observe_async(StepLineage(context, source), results)
        return _observe(StepLineage(context, source), results)

    compute.__signature__ = inspect.Signature([
        inspect.Parameter(
            "context", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=_context_annotation(original)
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
        code_version=op._version,  # noqa: SLF001 - as OpDefinition.with_replaced_properties does
        retry_policy=op.retry_policy,
        pool=op.pool,
    )
    # The same rebuild Dagster performs when it subsets an asset: every attribute kept, node swapped.
    return assets_def.__class__.dagster_internal_init(
        **{**assets_def.get_attributes_dict(), "node_def": wrapped_op}
    )


def _context_annotation(original: object) -> object:
    """Dagster picks the context class from the compute function's annotation: keep the original's
    (resolved, in case its module uses ``from __future__ import annotations``)."""
    if not isinstance(original, DecoratedOpFunction) or not original.has_context_arg():
        return inspect.Parameter.empty
    try:
        first = next(iter(inspect.signature(original.decorated_fn, eval_str=True).parameters.values()))
    except Exception:  # noqa: BLE001 - an unresolvable string: let Dagster choose by step type
        return inspect.Parameter.empty
    if first.annotation in (dg.AssetExecutionContext, dg.OpExecutionContext):
        return first.annotation
    return inspect.Parameter.empty


def _observe(step: StepLineage, results: Iterator | None) -> Iterator:
    step.start()
    try:
        for item in results or ():
            step.observe(item)
            yield item
    except GeneratorExit:
        step.abandoned()
        raise
    except BaseException as error:
        step.fail(error)
        raise
    step.complete()


async def _observe_async(step: StepLineage, results: AsyncIterator) -> AsyncIterator:
    step.start()
    try:
        async for item in results:
            step.observe(item)
            yield item
    except GeneratorExit:
        step.abandoned()
        raise
    except BaseException as error:
        step.fail(error)
        raise
    step.complete()
