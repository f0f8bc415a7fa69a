"""What the ``shopverse`` command accepts, checked before any work starts.

Every mistake a user can make on the command line or in the environment it reads gets one line
on stderr that says what is wrong and what to do, and exit code 2, before anything is simulated,
built or started: bad or reversed dates, non-positive counts, a fault rate outside [0, 1), a port
outside 1-65535, an unwritable data directory, a configured source path that does not exist.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from shopverse_platform.lib import paths


class UsageError(Exception):
    """A mistake found after parsing (a range, the environment); ``main`` prints it in one line, exit 2."""


class CommandLine(argparse.ArgumentParser):
    """argparse with one-line errors: the message and where to look, not the whole usage block."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """A command's description with its examples one per line, and every option's default after its
    help; an option whose default depends on the environment or the date says it in its own words
    ("default: yesterday, UTC") and gets no "(default: None)". A flag (no argument: ``--no-weekly``)
    has no default worth showing: "(default: True)" after "skip the weekly job" read as if it were
    skipped by default."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        """Prose paragraphs wrapped to the terminal's width; a paragraph with indented lines (the
        docstrings' examples) kept line by line: argparse's own filling ran them into one."""
        paragraphs = textwrap.dedent(text).strip().split("\n\n")
        return "\n\n".join(
            "\n".join(indent + line for line in paragraph.splitlines())
            if any(line.startswith(" ") for line in paragraph.splitlines())
            else textwrap.fill(" ".join(paragraph.split()), width, initial_indent=indent, subsequent_indent=indent)
            for paragraph in paragraphs)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or action.nargs == 0 or "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class OverviewFormatter(argparse.RawDescriptionHelpFormatter):
    """The top-level page: its description (the module docstring) as written."""


def add_command(subparsers: argparse._SubParsersAction, name: str, summary: str, description: str | None = None,
                **kwargs) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` has a description and every option's default."""
    return subparsers.add_parser(name, help=summary, description=description or summary,
                                 formatter_class=HelpFormatter, **kwargs)


def yesterday() -> date:
    return datetime.now(timezone.utc).date() - timedelta(days=1)


def iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from error


def _number(value: str, parse: type, what: str, within: Callable[[float], bool], rule: str):
    try:
        number = parse(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not {what}: {value!r}") from error
    if not within(number):
        raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
    return number


def positive_int(value: str) -> int:
    return _number(value, int, "a whole number", lambda n: n >= 1, "1 or more")


def fraction(value: str) -> float:
    return _number(value, float, "a number", lambda n: 0 <= n < 1, "at least 0 and below 1 (a share of lines)")


def port(value: str) -> int:
    return _number(value, int, "a port number", lambda n: 1 <= n <= 65535, "between 1 and 65535")


def check_range(first: date, last: date, first_option: str, last_option: str) -> None:
    if last < first:
        raise UsageError(f"{last_option} {last} is before {first_option} {first}: the range ends before it starts")


def check_data_dir_writable() -> Path:
    """The data directory ($SHOPVERSE_DATA_DIR, else data/) exists or can be made, and takes files."""
    directory = paths.data_dir()
    where = "$SHOPVERSE_DATA_DIR" if os.environ.get("SHOPVERSE_DATA_DIR") else "the data directory"
    probe = directory / f".shopverse-write-test-{os.getpid()}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise UsageError(f"{where} {directory} is not writable ({error.strerror or error}): "
                         f"point SHOPVERSE_DATA_DIR at a directory you can write") from None
    return directory


def check_configured_path(variable: str, what: str) -> None:
    """A path the user configured in ``variable`` must exist (a typo used to read nothing, green)."""
    configured = os.environ.get(variable)
    if configured and not Path(configured).exists():
        raise UsageError(f"${variable} is {configured}, which does not exist: fix the path to {what}, or unset it")


def check_currency_settings() -> None:
    """The currency variables and the exchange-rate file they name are usable, before a run starts
    (the run would stop at order_lines with the same message, after building everything upstream)."""
    # imported here: parsing arguments (and --help) stays free of DuckDB
    from shopverse_platform.lib.metrics.currencies import CurrencySettings, read_rates

    try:
        settings = CurrencySettings.from_environment()
        if settings.exchange_rates is not None:
            read_rates(settings.exchange_rates)
    except ValueError as error:
        raise UsageError(str(error)) from None


def check_port_free(host: str, port_number: int, choice: str) -> None:
    """No other program listens on ``host:port_number`` (a server started on it anyway logged the
    failed bind and went on, or exited with a traceback); ``choice``: what picks another port."""
    from shopverse_platform.cli.readiness import port_free

    if not port_free(port_number, host):
        raise UsageError(f"port {port_number} on {host} is in use by another program: choose another with {choice}")


def run_checked(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a subcommand's checks (``args.check``), then the command; a UsageError is one line, exit 2."""
    try:
        check = getattr(args, "check", None)
        if check is not None:
            check(args)
        return command(args)
    except UsageError as error:
        print(f"shopverse {args.command}: {error}", file=sys.stderr)
        return 2
    except ValueError as error:
        # imported here, on the error only: parsing arguments (and --help) stays free of DuckDB
        from shopverse_platform.lib.warehouse.lake import LakeConfigurationError

        if not isinstance(error, LakeConfigurationError):
            raise
        # the warehouse setting names a lake that cannot be opened as it is: the environment's mistake
        print(f"shopverse {args.command}: {error}", file=sys.stderr)
        return 2


# Which daily reports `run` and `backfill` write: the last day's (default), every day's, or none.
# Weekly reports are always written by the weekly job; any day's can be built later with
# `shopverse report --build`.
REPORT_CHOICES = ("latest", "all", "none")
