"""The SMTP listener's limits: connections in all and per client, DATA spooled to disk.

Real loopback sockets; the second client address is 127.0.0.2 (the whole 127/8 range is
loopback on Linux). What a test waits for is a reply or a file, never a sleep.
"""

from __future__ import annotations

import os
import resource
import signal
import smtplib
import socket
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from invitegw.mailbox.transport.smtp_receive import ListenerConfig, ListenerServer
from tests.mailbox.test_smtp_receive import ADDRESSES, RAW, Spool


def _connect(server: ListenerServer, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(
        (server.host, server.port), timeout=5, source_address=(source, 0)
    )
    return sock


def _greeting(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[ListenerServer, Spool, Path]]:
    spool = Spool()
    folder = tmp_path / "incoming"
    folder.mkdir(mode=0o700)
    config = ListenerConfig(
        ADDRESSES,
        port=0,
        max_connections=3,
        max_connections_per_ip=2,
        spool_threshold=1024,
        spool_dir=folder,
        max_message_size=5 * 1024 * 1024,
    )
    with ListenerServer(config, spool) as server:
        yield server, spool, folder


def test_beyond_the_per_client_limit_a_connection_gets_421(limited) -> None:
    server, _, _ = limited
    first, second = _connect(server), _connect(server)
    try:
        assert _greeting(first).startswith(b"220")
        assert _greeting(second).startswith(b"220")
        third = _connect(server)
        reply = _greeting(third)
        assert reply.startswith(b"421 4.7.0"), reply
        assert third.recv(1024) == b""  # and closed
        third.close()
        # Another client address still gets in.
        other = _connect(server, source="127.0.0.2")
        assert _greeting(other).startswith(b"220")
        # Beyond the total: 421 whoever asks.
        fourth = _connect(server, source="127.0.0.3")
        assert _greeting(fourth).startswith(b"421 4.7.0")
        fourth.close()
        other.close()
    finally:
        first.close()
        second.close()


def test_a_closed_session_gives_its_slot_back(limited) -> None:
    server, spool, _ = limited
    for _round in range(3):  # more sessions in a row than the limit allows at once
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.sendmail("ann@example.org", ["crm@example.com"], RAW)
    assert len(spool.stored) == 3
    # Two held open, then closed: the next two get in (the slots come back on close).
    held = [_connect(server), _connect(server)]
    for sock in held:
        assert _greeting(sock).startswith(b"220")
        sock.close()
    greetings: list[bytes] = []

    def admitted() -> bool:  # the server sees the closes on its own time
        with _connect(server) as again:
            greetings.append(_greeting(again))
        return greetings[-1].startswith(b"220")

    _wait(admitted, f"the slots were not given back: {greetings[-1:]}")


def _spooled(folder: Path) -> list[os.stat_result]:
    """The files this process holds open in ``folder`` (the listener runs in a thread of
    ours). TemporaryFile uses O_TMPFILE: the files have no name, only descriptors."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(str(folder)):
                found.append(os.fstat(int(fd)))
        except OSError:
            continue  # closed meanwhile
    return found + [p.stat() for p in folder.iterdir()]


def _wait(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` (the listener's thread acts on its own time), up to 5 s."""
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_an_unfinished_data_waits_on_disk_not_in_memory(limited) -> None:
    server, spool, folder = limited
    sock = _connect(server)
    try:
        assert _greeting(sock).startswith(b"220")
        conversation = [b"EHLO client.example\r\n", b"MAIL FROM:<ann@example.org>\r\n"]
        conversation += [b"RCPT TO:<crm@example.com>\r\n", b"DATA\r\n"]
        for line in conversation:
            sock.sendall(line)
            reply = b""
            while not reply.endswith(b"\r\n") or reply.split(b"\r\n")[-2][3:4] == b"-":
                reply += sock.recv(4096)
        assert reply.startswith(b"354")
        body = b"X" * 70 + b"\r\n"
        # 144 KB, no final dot: the transfer is open. Sent as is, so "..a line" is the
        # dot-stuffed form of ".a line" (RFC 5321 section 4.5.2).
        sock.sendall(RAW + body * 2000)
        _wait(
            lambda: any(f.st_size >= 100_000 for f in _spooled(folder)),
            "the DATA never reached the disk",
        )
        (held,) = _spooled(folder)
        assert stat.S_IMODE(held.st_mode) == 0o600
        sock.sendall(b".\r\n")
        reply = sock.recv(4096)
        assert reply.startswith(b"250"), reply
    finally:
        sock.close()
    (stored, _, _) = spool.stored[0]
    assert stored == RAW.replace(b"\r\n..a line", b"\r\n.a line") + body * 2000
    _wait(lambda: not _spooled(folder), "the spooled DATA file was left behind")


def test_a_connection_lost_mid_data_leaves_no_file(limited) -> None:
    server, spool, folder = limited
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.ehlo()
        client.mail("ann@example.org")
        client.rcpt("crm@example.com")
        client.putcmd("DATA")
        assert client.getreply()[0] == 354
        client.send(b"Y" * 70 * 100 + b"\r\n")  # one line over the 1001 limit: dropped
        client.send(RAW * 200)
        client.close()
    _wait(lambda: not _spooled(folder), "a file of a lost DATA was left behind")
    assert spool.stored == []


def test_a_disk_that_fills_up_during_data_is_a_451_not_a_crash(limited) -> None:
    server, spool, _ = limited
    # A file size limit stands in for a full disk: writes past it fail with EFBIG.
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    try:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo()
            client.mail("ann@example.org")
            client.rcpt("crm@example.com")
            resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))
            try:
                code, reply = client.data(RAW + (b"Z" * 70 + b"\r\n") * 1000)
            finally:
                resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            assert (code, reply) == (
                451,
                b"4.3.0 Temporary failure storing the message, try again later",
            )
            # The session goes on: the next message is stored.
            assert client.sendmail("ann@example.org", ["crm@example.com"], RAW) == {}
    finally:
        signal.signal(signal.SIGXFSZ, old_handler)
    assert len(spool.stored) == 1


def test_limits_must_be_positive() -> None:
    from invitegw.errors import ConfigError

    with pytest.raises(ConfigError):
        ListenerConfig(ADDRESSES, max_connections=0)
    with pytest.raises(ConfigError):
        ListenerConfig(ADDRESSES, max_connections_per_ip=0)
