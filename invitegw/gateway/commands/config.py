"""``invitegw check-config``: validate the configuration and show it, secrets redacted."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib

from invitegw.gateway.commands.common import settings_for
from invitegw.gateway.commands.terminal import for_terminal, for_terminal_lines
from invitegw.gateway.config import dump_settings, resolve_config_path
from invitegw.gateway.permissions import permission_warnings

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``check-config``."""
    parser = subparsers.add_parser(
        "check-config", help="validate the configuration and print it (secrets redacted)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object (source, settings)"
    )
    parser.set_defaults(func=_check_config)


def _check_config(args: argparse.Namespace) -> int:
    settings = settings_for(args, creates_database=False)
    source = resolve_config_path(getattr(args, "config", None), os.environ)
    if getattr(args, "json", False):
        # The redacted TOML read back: the same keys and values people see, as JSON.
        values = tomllib.loads(dump_settings(settings))
        print(json.dumps({"source": str(source) if source else None, "settings": values}))
        for warning in permission_warnings(settings):
            print(f"invitegw: warning: {for_terminal(warning)}", file=sys.stderr)
        return 0
    where = for_terminal(source) if source else "built-in defaults"
    print(f"# invitegw configuration: {where}, plus the environment")
    print(for_terminal_lines(dump_settings(settings)), end="")
    for warning in permission_warnings(settings):
        print(f"invitegw: warning: {for_terminal(warning)}", file=sys.stderr)
    return 0
