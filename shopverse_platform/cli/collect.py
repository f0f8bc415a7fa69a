"""`shopverse collect`: the HTTP event collector (lib/ingestion/collector) served by uvicorn.

    shopverse collect                          # http://127.0.0.1:8070, landing zone of $SHOPVERSE_DATA_DIR
    SHOPVERSE_COLLECTOR_WRITE_KEYS=k1,k2 shopverse collect --host 0.0.0.0 --access-log

One process, one event loop: the landing writer group-commits every request's events, so more
workers would only add files. SIGTERM or Ctrl-C publishes the open files before exiting.
"""

from __future__ import annotations

import argparse
import logging
import sys

from shopverse_platform.cli.arguments import HelpFormatter, UsageError, add_command, check_port_free, port
from shopverse_platform.lib.ingestion.collector.settings import DEFAULT_PORT, VARIABLES, CollectorSettings, SettingsError


def _settings(args: argparse.Namespace) -> CollectorSettings:
    try:
        return CollectorSettings.from_env(host=args.host, port=args.port, access_log=args.access_log)
    except SettingsError as error:
        raise UsageError(str(error)) from None


def _check(args: argparse.Namespace) -> None:
    settings = _settings(args)
    check_port_free(settings.host, settings.port, "--port or $SHOPVERSE_COLLECTOR_PORT")
    try:
        settings.events_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create the landing folder {settings.events_dir}: {error}") from None


def cmd_collect(args: argparse.Namespace) -> int:
    import uvicorn

    from shopverse_platform.lib.cleaning.event_validation import validate_event
    from shopverse_platform.lib.ingestion.collector.app import create_app

    settings = _settings(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    keys = f"{len(settings.write_keys)} write keys" if settings.write_keys else "open (no write keys)"
    print(f"collector on http://{settings.host}:{settings.port}  -> {settings.events_dir}  ({keys}; "
          f"files published every {settings.roll_seconds:g}s or {settings.roll_megabytes:g} MB)", file=sys.stderr, flush=True)
    uvicorn.run(create_app(settings, validate_event), host=settings.host, port=settings.port, access_log=settings.access_log,
                log_level="info", loop="uvloop", http="httptools", timeout_graceful_shutdown=10)
    return 0


class _HelpWithTable(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults after each option, and the description's table of variables kept as written."""


def add_collect_command(subparsers: argparse._SubParsersAction) -> None:
    """Register `collect` on the `shopverse` command's sub-parsers."""
    environment = "\n".join(f"  {name:<42} {meaning} (default: {default})" for name, default, meaning in VARIABLES)
    collect = add_command(
        subparsers, "collect", "serve the HTTP event collector (POST /v1/events, GA4 /mp/collect) into the landing zone",
        "Accept shop events over HTTP, validate each with the cleaning rules, and append the valid ones to the\n"
        "landing zone (events/YYYY-MM-DD/collector-*.ndjson), acknowledged only once fsynced.\n"
        "Configured by environment variables:\n" + environment,
    )
    collect.formatter_class = _HelpWithTable
    collect.add_argument("--host", default=None, help="address to listen on (default: $SHOPVERSE_COLLECTOR_HOST, else 127.0.0.1)")
    collect.add_argument("--port", type=port, default=None,
                         help=f"port to listen on (default: $SHOPVERSE_COLLECTOR_PORT, else {DEFAULT_PORT})")
    collect.add_argument("--access-log", action="store_true", help="log every request (uvicorn's access log)")
    collect.set_defaults(func=cmd_collect, check=_check)
