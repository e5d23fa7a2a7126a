"""What every command group shares: the settings named by ``--config``, the parser type.

Light at import (the standard library only): the configuration loader is imported when a
handler asks for the settings.

A command about to create the embedded database (no ``[database] url``, no file at
``data_dir`` yet) says so on stderr first, with the folder it will use: run from the wrong
folder, it would otherwise leave a ``data/`` there without a word.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from invitegw.gateway.config import Settings

__all__ = ["Subparsers", "config_file", "database_exists", "settings_for"]

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def settings_for(args: argparse.Namespace, *, creates_database: bool = True) -> Settings:
    """The settings named by the global ``--config`` option and the environment.

    Parameters:
        args: the parsed command line.
        creates_database: the command opens the database (so a missing embedded one is
            created, and said so first).

    Returns:
        The validated settings.

    Raises:
        ConfigError: the configuration is invalid.
    """
    from invitegw.gateway.config import load_settings

    settings = load_settings(getattr(args, "config", None), os.environ)
    if creates_database and not getattr(args, "dry_run", False) and not database_exists(settings):
        print(
            f"invitegw: creating the embedded database in {settings.data_dir} "
            "(no [database] url; --config or INVITEGW_DATA_DIR choose another place)",
            file=sys.stderr,
        )
    return settings


def database_exists(settings: Settings) -> bool:
    """Whether the configured database exists (a server database always counts as existing).

    Parameters:
        settings: the configuration.

    Returns:
        False only for the embedded SQLite database whose file is not there yet.
    """
    if not settings.embedded_database:
        return True
    return (settings.data_dir / "invitegw.sqlite3").exists()


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
