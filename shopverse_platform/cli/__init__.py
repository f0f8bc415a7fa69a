"""Operator tooling, outside the pipeline: the ``shopverse`` command (``main``), backfills and
reports from the command line, lineage replay, and the local stacks of processes (``stack``,
``supervisor``, ``readiness``). It imports ``defs`` and ``lib``; neither imports it."""
