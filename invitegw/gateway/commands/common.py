"""What every command group shares: the settings named by ``--config``."""

from __future__ import annotations

import argparse
import os

from invitegw.gateway.config import Settings, load_settings

__all__ = ["settings_for"]


def settings_for(args: argparse.Namespace) -> Settings:
    """The settings named by the global ``--config`` option and the environment.

    Parameters:
        args: the parsed command line.

    Returns:
        The validated settings.

    Raises:
        ConfigError: the configuration is invalid.
    """
    return load_settings(getattr(args, "config", None), os.environ)
