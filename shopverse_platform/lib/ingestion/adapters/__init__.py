"""Importers for other tools' event exports: each turns a source's records into OUR event JSON.

The clean layer sees one schema (docs/events.md): an adapter only renames and reshapes, and the
mapped events go through the normal cleaning rules (lib/cleaning/parsed_events.sql). A record an
adapter cannot map (an ``abandon`` action, a ``user_signup``, an unknown type, a missing required
source field) becomes a ``Rejection`` with reason ``unmappable_event`` and a detail naming the
format and what is missing: never dropped silently. Plain code, no warehouse: the HTTP collector
can call ``convert`` for ``POST /v1/import/<format>``. See docs/events.md "Importing other tools'
exports".
"""

from shopverse_platform.lib.ingestion.adapters.registry import (
    FORMATS,
    Rejection,
    SourceConfig,
    convert,
    load_sources,
    sniff_format,
)

__all__ = ["FORMATS", "Rejection", "SourceConfig", "convert", "load_sources", "sniff_format"]
