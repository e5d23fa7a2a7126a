"""``python -m invitegw``: the command-line interface."""

from __future__ import annotations

import sys

from invitegw.gateway.cli import main

if __name__ == "__main__":
    sys.exit(main())
