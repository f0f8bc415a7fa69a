"""`shopverse lineage replay|status`: send buffered OpenLineage events, see where events go.

Wired into the `shopverse` command by ``add_lineage_commands(subparsers)``.

    shopverse lineage status                      # destination, buffered and sent counts
    shopverse lineage replay                      # send the buffer to $OPENLINEAGE_URL, each event once
    shopverse lineage replay --url http://127.0.0.1:5000
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from shopverse_platform.cli.arguments import add_command
from shopverse_platform.lib.lineage.emitter import LineageEmitter, LineageSettings
from shopverse_platform.lib.lineage.transport import (
    DOWN_MARKER,
    EVENTS_FILE,
    LineageBuffer,
    locked,
)


def add_lineage_commands(subparsers: argparse._SubParsersAction) -> None:
    lineage = add_command(
        subparsers, "lineage", "OpenLineage events: replay the local buffer to Marquez, show status",
        "Every asset run emits OpenLineage events. When the backend (Marquez) cannot be reached they are kept in a "
        "local buffer; `replay` sends them, oldest first, each once; `status` says where events go and how many wait.",
    )
    commands = lineage.add_subparsers(dest="lineage_command", required=True)

    replay = add_command(commands, "replay", "send buffered events to the backend, oldest first, each once")
    _common_arguments(replay)
    replay.set_defaults(func=cmd_replay)

    status = add_command(commands, "status", "where events go, and how many wait in the buffer")
    _common_arguments(status)
    status.set_defaults(func=cmd_status)


def _common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=None, help="backend base URL (default: $OPENLINEAGE_URL)")
    parser.add_argument("--directory", default=None, help="lineage directory (default: <data>/lineage)")


def _settings(args: argparse.Namespace) -> LineageSettings:
    # Replay may happen long after the outage: do not wait for the back-off window to pass.
    return LineageSettings.resolve(url=args.url, directory=args.directory, retry_after_seconds=0)


def cmd_replay(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if not settings.url:
        print("nothing to replay to: set OPENLINEAGE_URL or pass --url")
        return 2
    result = LineageEmitter(settings).replay()
    print(
        f"replayed to {settings.url}: {result.sent} sent, {result.already_sent} already sent (skipped), "
        f"{result.remaining} still buffered"
    )
    if result.error:
        print(f"  stopped at: {result.error}")
    return 0 if not result.remaining else 1


def cmd_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    buffer = LineageBuffer(settings.directory)
    with locked(settings.directory):
        pending = len(buffer.pending())
        sent = len(buffer.sent_keys())
    events_file = settings.directory / EVENTS_FILE
    written = sum(1 for line in events_file.open() if line.strip()) if events_file.exists() else 0
    print(f"destination:  {settings.destination}")
    print(f"job namespace: {settings.namespace}")
    print(f"buffered:     {pending} event(s) waiting for replay")
    print(f"replayed:     {sent} event(s) sent from the buffer so far")
    print(f"local file:   {written} event(s) in {events_file}")
    marker = settings.directory / DOWN_MARKER
    if marker.exists():
        try:
            until = datetime.fromtimestamp(float(marker.read_text()), tz=timezone.utc)
            if until > datetime.now(timezone.utc):
                print(f"backend:      marked unreachable until {until:%Y-%m-%d %H:%M:%S} UTC (events go to the buffer)")
        except ValueError:
            pass
    return 0
