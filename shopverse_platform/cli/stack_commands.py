"""`shopverse up` / `shopverse down` and `prod_local.sh start|stop|status`: the stack's commands.

`python -m shopverse_platform.cli.stack_commands up|down|prod ACTION`; the `shopverse` command
registers `up` and `down` through ``add_stack_commands``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from shopverse_platform.cli.arguments import add_command, check_data_dir_writable, port
from shopverse_platform.cli.stack import (
    Stack,
    prod_home,
    prod_stack,
    start,
    status,
    stop,
    up_stack,
    write_state,
)
from shopverse_platform.cli.supervisor import (
    StackError,
    Supervisor,
    rss_mib,
    start_time,
)
from shopverse_platform.lib import paths


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):  # noqa: ARG001
    raise _Stop(signal.Signals(signum).name)


def print_urls(state: dict) -> None:
    print("\nShopVerse stack is up:")
    for label, url in state["urls"].items():
        print(f"  {label:<13} {url}")


def serve(stack: Stack, detach: bool = False) -> int:
    """Start ``stack``, print its URLs, then either return (detach) or stay in the foreground until
    Ctrl-C, SIGTERM (`shopverse down`) or a service dying, and stop everything it started."""
    if not stack.marquez.url:
        print(f"Marquez: not started ({stack.marquez.reason})")
    # Restored on the way out: ignored signals are inherited by every process started after, and a
    # caller that goes on (a test calling main) left SIGTERM ignored in the lake keepers it started.
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    for sig in previous:
        signal.signal(sig, _raise_stop)
    try:
        state = start(stack)
        print_urls(state)
        if detach:
            print(f"Started in {state['startup_seconds']}s; `shopverse down` stops it (state: {stack.home}).")
            return 0
        state["supervisor"] = [os.getpid(), start_time(os.getpid())]
        write_state(stack.home, state)
        print(f"Started in {state['startup_seconds']}s. Ctrl-C or `shopverse down` stops everything.", flush=True)
        supervisor = Supervisor(stack.home)
        while True:  # a service that dies takes the stack down with it, rather than half-working
            time.sleep(2)
            dead = [s for s in stack.services if not supervisor.record(s.name)]
            if dead:
                print(f"{dead[0].label} stopped unexpectedly:\n{supervisor.log_tail(dead[0].name)}", file=sys.stderr)
                return 1
    except _Stop as reason:
        print(f"\n{reason}: stopping", flush=True)
        return 0
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        if not detach:
            for sig in previous:  # a second Ctrl-C must not abort the clean-up
                signal.signal(sig, signal.SIG_IGN)
            stop(stack.home)
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: one set outside Python


def cmd_up(args: argparse.Namespace) -> int:
    return serve(up_stack(args.dagster_port, args.mlflow_port, marquez=not args.no_marquez), detach=args.detach)


def cmd_down(args: argparse.Namespace) -> int:  # noqa: ARG001
    stop(paths.data_dir() / "stack")
    return 0


def add_stack_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `up` and `down` on the `shopverse` command's sub-parsers."""
    up = add_command(subparsers, "up", "start the Dagster UI and daemon, the MLflow UI and Marquez (if configured)",
                     "Start the Dagster webserver and daemon on the local instance, the MLflow UI on the local store "
                     "(or use the configured server) and Marquez when configured; Ctrl-C or `shopverse down` stops "
                     "everything it started, by PID.")
    up.add_argument("--dagster-port", type=port, default=None, help="default: $SHOPVERSE_DAGSTER_PORT, else 3000")
    up.add_argument("--mlflow-port", type=port, default=None, help="default: $SHOPVERSE_MLFLOW_PORT, else 5050")
    up.add_argument("--no-marquez", action="store_true", help="do not start Marquez even if it is installed")
    up.add_argument("--detach", action="store_true", help="return once everything is healthy; stop with `shopverse down`")
    up.set_defaults(func=cmd_up, check=lambda args: check_data_dir_writable())
    down = add_command(subparsers, "down", "stop what `shopverse up` started")
    down.set_defaults(func=cmd_down)


def cmd_prod(args: argparse.Namespace) -> int:
    home = prod_home(os.environ)  # stop and status need nothing else: not even settings start would refuse
    if args.action == "stop":
        stop(home)
        return 0
    if args.action == "status":
        pids = status(home)
        if not pids:
            print(f"not started (no state in {home})")
        for name, pid in pids.items():
            print(f"{name:<16} {'running, pid %d, rss %.0f MiB' % (pid, rss_mib(pid)) if pid else 'stopped'}")
        return 0 if pids and all(pids.values()) else 3
    try:
        stack = prod_stack()
    except StackError as error:
        print(f"prod_local: {error}", file=sys.stderr)
        return 1
    if not stack.marquez.url:
        print(f"Marquez: not started ({stack.marquez.reason})")
    try:
        state = start(stack)
    except StackError as error:
        print(f"prod_local: {error}", file=sys.stderr)
        return 1
    print_urls(state)
    print(f"Started in {state['startup_seconds']}s (state: {stack.home}).")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shopverse_platform.cli.stack_commands", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    add_stack_commands(sub)
    prod = sub.add_parser("prod", help="the production configuration as local processes")
    prod.add_argument("action", choices=["start", "stop", "status"])
    prod.set_defaults(func=cmd_prod)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
