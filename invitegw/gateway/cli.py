"""The ``invitegw`` command line.

Each command group lives in a module of :mod:`invitegw.gateway.commands` that exposes
``register(subparsers)``; it adds its sub-commands and sets ``func`` on each, a callable
taking the parsed arguments and returning the exit code. The groups are imported here,
statically, and are light: at import they need only :mod:`argparse` and the standard
library. Each handler imports what it runs (SQLAlchemy, the CRM, the mail transports, the
templates, the demo) when it is called, so ``invitegw --help`` and a command's usage
error cost no more than Python's own start (``tests/test_cli.py`` checks what loads).

Exit codes: 0 success, 1 a handled error (one clear line on stderr), 2 a usage error.
A :class:`~invitegw.errors.GatewayError` never reaches the user as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

from invitegw import __version__
from invitegw.errors import GatewayError
from invitegw.gateway.commands import (
    admin,
    config,
    crm,
    db,
    demo,
    ics,
    inbound,
    mailcheck,
    outbound,
    outbox,
    prune,
    serve,
    status,
)

__all__ = ["COMMAND_GROUPS", "CommandGroup", "build_parser", "main"]

logger = logging.getLogger(__name__)


class CommandGroup(Protocol):
    """A module of commands: it adds its sub-commands to the parser."""

    def register(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add the group's sub-commands."""


# Command groups, in the order `invitegw --help` lists them.
COMMAND_GROUPS: tuple[CommandGroup, ...] = (
    demo,
    serve,
    status,
    prune,
    outbox,
    outbound,
    inbound,
    ics,
    db,
    crm,
    mailcheck,
    admin,
    config,
)


Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every command group registered."""
    parser = argparse.ArgumentParser(
        prog="invitegw",
        description="Email and iCalendar invitation gateway between a CRM and mail clients.",
    )
    parser.add_argument("--version", action="version", version=f"invitegw {__version__}")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="TOML configuration file (else $INVITEGW_CONFIG, else ./invitegw.toml)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(subparsers)
    return parser


def _configure_logging(verbosity: int) -> None:
    from invitegw.gateway.commands.terminal import install_log_filter

    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_filter()  # URL credentials redacted, control characters escaped


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Handler | None = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    _configure_logging(args.verbose)
    try:
        return func(args)
    except GatewayError as exc:
        from invitegw.gateway.commands.terminal import for_terminal

        print(f"invitegw: error: {for_terminal(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("invitegw: interrupted", file=sys.stderr)
        return 130
