"""The warehouse's on/off environment variables, read one way: ``0``, ``false``, ``no`` say off and
``1``, ``true``, ``yes`` on (any case, spaces around ignored); unset or anything else keeps the default."""

from __future__ import annotations

import os
from collections.abc import Mapping

_OFF = ("0", "false", "no")
_ON = ("1", "true", "yes")


def switched_on(variable: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``variable`` (in ``environ``, else this process's environment) turns its switch on."""
    value = (os.environ if environ is None else environ).get(variable, "").strip().lower()
    return (value not in _OFF) if default else (value in _ON)
