"""``invitegw check-config``: validate the configuration and show it, secrets redacted."""

from __future__ import annotations

import argparse
import sys

from invitegw.gateway.commands.common import Subparsers, config_file, settings_for

__all__ = ["register"]


def register(subparsers: Subparsers) -> None:
    """Add ``check-config``."""
    parser = subparsers.add_parser(
        "check-config", help="validate the configuration and print it (secrets redacted)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object (source, settings)"
    )
    parser.set_defaults(func=_check_config)


def _check_config(args: argparse.Namespace) -> int:
    from invitegw.gateway.commands.terminal import for_terminal, for_terminal_lines
    from invitegw.gateway.config import dump_settings
    from invitegw.gateway.permissions import permission_warnings

    settings = settings_for(args, creates_database=False)
    source = config_file(args)
    if getattr(args, "json", False):
        import tomllib

        from invitegw.gateway.commands.output import json_line

        # The redacted TOML read back: the same keys and values people see, as JSON.
        values = tomllib.loads(dump_settings(settings))
        sys.stdout.write(json_line({"source": source, "settings": values}))
        for warning in permission_warnings(settings):
            print(f"invitegw: warning: {for_terminal(warning)}", file=sys.stderr)
        return 0
    where = for_terminal(source) if source else "built-in defaults"
    print(f"# invitegw configuration: {where}, plus the environment")
    print(for_terminal_lines(dump_settings(settings)), end="")
    for warning in permission_warnings(settings):
        print(f"invitegw: warning: {for_terminal(warning)}", file=sys.stderr)
    return 0
