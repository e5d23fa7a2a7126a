"""``invitegw demo``: the outbound flow end to end on the embedded setup (the first command).

It reads no configuration and sends nothing off this machine (see :mod:`invitegw.demo.run`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from invitegw.gateway.commands.common import Subparsers

__all__ = ["register"]


def register(subparsers: Subparsers) -> None:
    """Add ``demo``."""
    parser = subparsers.add_parser(
        "demo", help="show the gateway at work on a built-in CRM and a local mail sink"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("demo-out"),
        metavar="DIR",
        help="where a new folder of .eml files is made (default: ./demo-out)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path("data") / "demo",
        metavar="DIR",
        help="the demo's own database folder, recreated each run (default: ./data/demo)",
    )
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from invitegw.demo.run import run_demo

    run_demo(args.output, args.data)
    return 0
