"""The collector's configuration, from ``SHOPVERSE_COLLECTOR_*`` environment variables.

Every value is checked here, once, so that a bad one stops the collector at start with one line
naming the variable (``SettingsError``) instead of failing on the first request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shopverse_platform.lib import paths

DEFAULT_PORT = 8070  # free among the stack's ports (Dagster 3000, MLflow 5050, Marquez 5000, reports 8090)
DEFAULT_HOST = "127.0.0.1"

# (variable, default, meaning) as the README and `shopverse collect --help` show them
VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("SHOPVERSE_COLLECTOR_HOST", DEFAULT_HOST, "address to listen on"),
    ("SHOPVERSE_COLLECTOR_PORT", str(DEFAULT_PORT), "port to listen on"),
    ("SHOPVERSE_COLLECTOR_MAX_BODY_BYTES", str(1024 * 1024), "largest request body in bytes, also after gzip decompression; 413 above"),
    ("SHOPVERSE_COLLECTOR_MAX_EVENTS_PER_BATCH", "500", "most events in one request; 413 above"),
    ("SHOPVERSE_COLLECTOR_WRITE_KEYS", "unset", "comma-separated write keys (unset: any client may send)"),
    ("SHOPVERSE_COLLECTOR_RATE_LIMIT", "unset", "events per second per write key, 429 above (unset: no limit)"),
    ("SHOPVERSE_COLLECTOR_ROLL_SECONDS", "30", "seconds before the file being written is published"),
    ("SHOPVERSE_COLLECTOR_ROLL_MEGABYTES", "64", "size at which the file being written is published"),
    ("SHOPVERSE_COLLECTOR_CORS_ORIGINS", "*", "comma-separated origins allowed to send from a browser"),
)


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names it."""


@dataclass(frozen=True)
class CollectorSettings:
    landing_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_body_bytes: int = 1024 * 1024
    max_events_per_batch: int = 500
    write_keys: frozenset[str] | None = None  # None: open
    rate_limit: float | None = None  # events/s per key; None: off
    roll_seconds: float = 30.0
    roll_megabytes: float = 64.0
    cors_origins: tuple[str, ...] = ("*",)
    access_log: bool = False

    @property
    def events_dir(self) -> Path:
        return self.landing_dir / "events"

    @property
    def roll_bytes(self) -> int:
        return int(self.roll_megabytes * 1024 * 1024)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> CollectorSettings:
        """Read the environment (``os.environ`` by default); ``overrides`` (CLI flags) win when not None."""
        env = os.environ if env is None else env

        def number(name: str, default: float, kind: type = int, minimum: float = 1) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(f"{name} must be {'a whole number' if kind is int else 'a number'}, got {raw!r}") from None
            if not value >= minimum or value != value or value in (float("inf"),):
                raise SettingsError(f"{name} must be at least {minimum:g}, got {raw!r}")
            return value

        port = number("SHOPVERSE_COLLECTOR_PORT", DEFAULT_PORT)
        if port > 65535:
            raise SettingsError(f"SHOPVERSE_COLLECTOR_PORT must be a port number (1-65535), got {port}")
        keys_raw = env.get("SHOPVERSE_COLLECTOR_WRITE_KEYS", "").strip()
        keys = frozenset(k.strip() for k in keys_raw.split(",") if k.strip()) if keys_raw else None
        if keys_raw and not keys:
            raise SettingsError(f"SHOPVERSE_COLLECTOR_WRITE_KEYS holds no key: {keys_raw!r}")
        rate = number("SHOPVERSE_COLLECTOR_RATE_LIMIT", 0, float, minimum=0.001) if env.get("SHOPVERSE_COLLECTOR_RATE_LIMIT", "").strip() else None
        origins = tuple(o.strip() for o in env.get("SHOPVERSE_COLLECTOR_CORS_ORIGINS", "*").split(",") if o.strip()) or ("*",)
        landing = env.get("SHOPVERSE_LANDING_DIR") or None
        values: dict[str, object] = {
            "landing_dir": Path(landing) if landing else paths.default_landing_dir(),
            "host": env.get("SHOPVERSE_COLLECTOR_HOST", "").strip() or DEFAULT_HOST,
            "port": int(port),
            "max_body_bytes": int(number("SHOPVERSE_COLLECTOR_MAX_BODY_BYTES", 1024 * 1024)),
            "max_events_per_batch": int(number("SHOPVERSE_COLLECTOR_MAX_EVENTS_PER_BATCH", 500)),
            "write_keys": keys,
            "rate_limit": rate,
            "roll_seconds": number("SHOPVERSE_COLLECTOR_ROLL_SECONDS", 30.0, float, minimum=0.01),
            "roll_megabytes": number("SHOPVERSE_COLLECTOR_ROLL_MEGABYTES", 64.0, float, minimum=0.000001),
            "cors_origins": origins,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
