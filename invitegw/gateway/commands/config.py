"""``invitegw check-config``: validate the configuration and show it, secrets redacted."""

from __future__ import annotations

import argparse

from invitegw.gateway.commands.common import Subparsers, config_file, settings_for

__all__ = ["register"]


def register(subparsers: Subparsers) -> None:
    """Add ``check-config``."""
    parser = subparsers.add_parser(
        "check-config", help="validate the configuration and print it (secrets redacted)"
    )
    parser.set_defaults(func=_check_config)


def _check_config(args: argparse.Namespace) -> int:
    from invitegw.gateway.config import dump_settings

    settings = settings_for(args)
    source = config_file(args)
    print(f"# invitegw configuration: {source or 'built-in defaults'}, plus the environment")
    print(dump_settings(settings), end="")
    return 0
