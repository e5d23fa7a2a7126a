"""What every command group shares: the settings named by ``--config``, the parser type.

Light at import (the standard library only): the configuration loader is imported when a
handler asks for the settings.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from invitegw.gateway.config import Settings

__all__ = ["Subparsers", "config_file", "settings_for"]

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def settings_for(args: argparse.Namespace) -> Settings:
    """The settings named by the global ``--config`` option and the environment.

    Parameters:
        args: the parsed command line.

    Returns:
        The validated settings.

    Raises:
        ConfigError: the configuration is invalid.
    """
    from invitegw.gateway.config import load_settings

    return load_settings(getattr(args, "config", None), os.environ)


def config_file(args: argparse.Namespace) -> str | None:
    """The configuration file in use (``--config``, ``$INVITEGW_CONFIG``, ``./invitegw.toml``).

    Parameters:
        args: the parsed command line.

    Returns:
        Its path, or None when the built-in defaults (the embedded setup) are in use.

    Raises:
        ConfigError: a file named explicitly does not exist.
    """
    from invitegw.gateway.config import resolve_config_path

    path = resolve_config_path(getattr(args, "config", None), os.environ)
    return None if path is None else str(path)
