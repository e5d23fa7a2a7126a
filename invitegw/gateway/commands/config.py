"""``invitegw check-config``: validate the configuration and show it, secrets redacted."""

from __future__ import annotations

import argparse
import os

from invitegw.gateway.commands.common import settings_for
from invitegw.gateway.config import dump_settings, resolve_config_path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``check-config``."""
    parser = subparsers.add_parser(
        "check-config", help="validate the configuration and print it (secrets redacted)"
    )
    parser.set_defaults(func=_check_config)


def _check_config(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    source = resolve_config_path(getattr(args, "config", None), os.environ)
    print(f"# invitegw configuration: {source or 'built-in defaults'}, plus the environment")
    print(dump_settings(settings), end="")
    return 0
