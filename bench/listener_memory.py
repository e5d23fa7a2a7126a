"""The SMTP listener's memory while clients hold unfinished DATA transfers, and after.

A child process runs ``ListenerServer`` on loopback (its spool keeps nothing); this
process opens ``--connections`` sessions, each sending ``--size`` bytes of DATA without
the final dot, then reads the child's RSS (``VmRSS``, ``/proc``), closes every session,
and reads it again once the listener has seen them go. Connections refused with ``421``
are counted. ``--source DIR`` runs the listener from another checkout (the figures
before a change). A benchmark, not a test: it prints figures. Usage::

    .venv/bin/python bench/listener_memory.py [--connections 40] [--size 25000000]
        [--limits MAX PER_IP] [--source DIR]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_CHILD = """
import sys, tempfile, threading
sys.path.insert(0, {source!r})
from invitegw.mailbox.transport.smtp_receive import ListenerConfig, ListenerServer
extra = {extra!r}
config = ListenerConfig(("crm@example.com",), port=0, max_message_size=30_000_000, **extra)
with ListenerServer(config, lambda raw, mail_from, rcpt_tos: None) as server:
    print(server.port, flush=True)
    sys.stdin.read()  # until the parent closes it
"""


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reply(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _open_data(port: int, size: int) -> socket.socket | None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    if not _reply(sock).startswith(b"220"):
        sock.close()
        return None
    for command in (b"HELO bench\r\n", b"MAIL FROM:<a@example.org>\r\n"):
        sock.sendall(command)
        _reply(sock)
    sock.sendall(b"RCPT TO:<crm@example.com>\r\n")
    _reply(sock)
    sock.sendall(b"DATA\r\n")
    _reply(sock)
    line = b"x" * 76 + b"\r\n"
    chunk = line * 10_000
    sent = 0
    while sent < size:
        sock.sendall(chunk)
        sent += len(chunk)
    return sock


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--connections", type=int, default=40)
    parser.add_argument("--size", type=int, default=25_000_000)
    parser.add_argument("--source", default=str(ROOT), help="checkout to run the listener from")
    parser.add_argument(
        "--limits",
        type=int,
        nargs=2,
        metavar=("MAX", "PER_IP"),
        help="max_connections and max_connections_per_ip (default: the listener's)",
    )
    args = parser.parse_args()
    extra = (
        {"max_connections": args.limits[0], "max_connections_per_ip": args.limits[1]}
        if args.limits
        else {}
    )
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(source=args.source, extra=extra)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        idle = _rss_mib(child.pid)
        sockets, refused = [], 0
        for _ in range(args.connections):
            sock = _open_data(port, args.size)
            if sock is None:
                refused += 1
            else:
                sockets.append(sock)
        time.sleep(1.0)  # let the listener read what is in flight (a figure, not a test)
        holding = _rss_mib(child.pid)
        for sock in sockets:
            sock.close()
        time.sleep(2.0)
        after = _rss_mib(child.pid)
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=30)
    print(f"listener from {args.source}")
    print(f"{args.connections} connections x {args.size / 1e6:.0f} MB of unfinished DATA")
    print(f"  refused with 421:  {refused}")
    print(f"  RSS idle:          {idle:7.0f} MiB")
    print(f"  RSS holding them:  {holding:7.0f} MiB")
    print(f"  RSS after closing: {after:7.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
