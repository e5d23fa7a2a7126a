"""Small socket helpers shared by the SMTP listener, the local SMTP sink and the test fixtures."""

from __future__ import annotations

import socket

__all__ = ["pick_free_port"]


def pick_free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that is free right now.

    aiosmtpd's ``Controller(port=0)`` cannot report the port the kernel chose (it connects to
    the configured port to check the server is up), so callers bind to a port picked here.
    Another process could take the port between this call and the bind; on loopback that
    race is rare and shows as a clear "address in use" error.

    Parameters:
        host: the address to bind to.

    Returns:
        A port number.

    Raises:
        OSError: ``host`` cannot be bound at all.
    """
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
