"""The SMTP listener, driven by stdlib smtplib as the client (real loopback sockets)."""

from __future__ import annotations

import smtplib
import socket
import threading
from collections.abc import Iterator

import pytest

from invitegw.errors import ConfigError
from invitegw.mailbox.transport.smtp_receive import ListenerConfig, ListenerServer, RecipientFilter

ADDRESSES = ("crm@example.com", "Sales@Example.com")
RAW = (
    b"From: Ann <ann@example.org>\r\n"
    b"To: crm@example.com\r\n"
    b"Subject: Fwd: Invitation\r\n"
    b"Message-ID: <fwd-1@example.org>\r\n"
    b"\r\n"
    b"..a line that starts with a dot\r\n"
    b"\xc3\xa9t\xc3\xa9 8-bit body\r\n"
)


class Spool:
    """Stores in memory; fails on demand (a real implementation, not a mock)."""

    def __init__(self) -> None:
        self.stored: list[tuple[bytes, str, list[str]]] = []
        self.fail = False
        self.notified = threading.Event()

    def __call__(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> None:
        if self.fail:
            raise OSError("disk full")
        self.stored.append((raw, mail_from, rcpt_tos))


@pytest.fixture
def spool() -> Spool:
    return Spool()


@pytest.fixture
def listener(spool: Spool) -> Iterator[ListenerServer]:
    config = ListenerConfig(ADDRESSES, port=0, max_message_size=4096, max_recipients=3)
    with ListenerServer(config, spool, notify=spool.notified.set) as server:
        yield server


def _client(listener: ListenerServer) -> smtplib.SMTP:
    return smtplib.SMTP(listener.host, listener.port, timeout=5)


def test_accepted_message_is_spooled_byte_for_byte(listener: ListenerServer, spool: Spool) -> None:
    with _client(listener) as client:
        refused = client.sendmail("ann@example.org", ["crm@example.com"], RAW)
        code, _ = client.noop()
    assert refused == {}
    assert code == 250
    # smtplib dot-stuffs the ".." line to "..." and the listener undoes it (RFC 5321
    # section 4.5.2): what is stored is exactly what the client meant to send.
    assert spool.stored == [(RAW, "ann@example.org", ["crm@example.com"])]
    assert spool.notified.is_set()


def test_reply_is_250_with_enhanced_code(listener: ListenerServer) -> None:
    with _client(listener) as client:
        client.ehlo()
        assert client.mail("ann@example.org")[0] == 250
        assert client.rcpt("crm@example.com") == (250, b"2.1.5 OK")
        assert client.data(RAW) == (250, b"2.0.0 OK: queued")


@pytest.mark.parametrize(
    "address",
    ["crm@example.com", "CRM@EXAMPLE.COM", "crm+t8k2q@example.com", "sales+x@example.com"],
)
def test_our_addresses_and_plus_variants_are_accepted(
    listener: ListenerServer, spool: Spool, address: str
) -> None:
    with _client(listener) as client:
        client.sendmail("ann@example.org", [address], RAW)
    assert spool.stored[0][2] == [address]


@pytest.mark.parametrize(
    "address", ["other@example.com", "crm@example.org", "crmx@example.com", "+t@example.com"]
)
def test_unknown_recipient_is_refused_with_550(
    listener: ListenerServer, spool: Spool, address: str
) -> None:
    with _client(listener) as client, pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        client.sendmail("ann@example.org", [address], RAW)
    code, text = caught.value.recipients[address]
    assert code == 550
    assert text.startswith(b"5.1.1")
    assert spool.stored == []


def test_known_and_unknown_recipients_in_one_message(
    listener: ListenerServer, spool: Spool
) -> None:
    with _client(listener) as client:
        refused = client.sendmail("ann@example.org", ["crm@example.com", "x@example.com"], RAW)
    assert list(refused) == ["x@example.com"]
    assert spool.stored[0][2] == ["crm@example.com"]


def test_too_many_recipients_get_452(listener: ListenerServer, spool: Spool) -> None:
    rcpts = ["crm@example.com", "crm+a@example.com", "crm+b@example.com", "crm+c@example.com"]
    with _client(listener) as client:
        refused = client.sendmail("ann@example.org", rcpts, RAW)
    assert refused["crm+c@example.com"][0] == 452
    assert spool.stored[0][2] == rcpts[:3]


def test_oversized_message_announced_with_size_gets_552(
    listener: ListenerServer, spool: Spool
) -> None:
    big = RAW + b"x" * 5000 + b"\r\n"
    with _client(listener) as client, pytest.raises(smtplib.SMTPSenderRefused) as caught:
        client.sendmail("ann@example.org", ["crm@example.com"], big)  # sends SIZE=
    assert caught.value.smtp_code == 552
    assert caught.value.smtp_error.startswith(b"5.3.4")
    assert spool.stored == []


def test_oversized_message_without_size_gets_552_after_data(
    listener: ListenerServer, spool: Spool
) -> None:
    big = RAW + (b"y" * 70 + b"\r\n") * 80
    with _client(listener) as client:
        client.ehlo()
        client.mail("ann@example.org")
        client.rcpt("crm@example.com")
        code, text = client.data(big)
        assert client.noop()[0] == 250, "the session goes on after the refusal"
    assert (code, text[:5]) == (552, b"5.3.4")
    assert spool.stored == []


def test_spool_failure_answers_451_so_the_sender_retries(
    listener: ListenerServer, spool: Spool
) -> None:
    spool.fail = True
    with _client(listener) as client, pytest.raises(smtplib.SMTPDataError) as caught:
        client.sendmail("ann@example.org", ["crm@example.com"], RAW)
    assert caught.value.smtp_code == 451
    assert caught.value.smtp_error.startswith(b"4.3.0")
    assert not spool.notified.is_set()


def test_stop_frees_the_port(spool: Spool) -> None:
    server = ListenerServer(ListenerConfig(ADDRESSES, port=0), spool)
    server.start()
    port = server.port
    assert port > 0
    server.stop()
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=1),
    ):
        pass


def test_port_in_use_is_a_config_error(spool: Spool) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        config = ListenerConfig(ADDRESSES, port=taken.getsockname()[1])
        with pytest.raises(ConfigError, match="cannot serve"):
            ListenerServer(config, spool).start()


def test_config_and_filter_validation() -> None:
    with pytest.raises(ConfigError):
        ListenerConfig(())
    with pytest.raises(ConfigError):
        ListenerConfig(("not-an-address",))
    with pytest.raises(ConfigError):
        ListenerConfig(ADDRESSES, max_message_size=0)
    accepts = RecipientFilter(["a@example.com"]).accepts
    assert accepts("A+tok@EXAMPLE.com")
    assert accepts("a+tok+more@example.com")
    assert not accepts("a+@example.com")
    assert not accepts("a-tok@example.com")
    assert not accepts("a b@example.com")
    assert not accepts("")
    # A calendar whose reply tokens use another separator (token_separator = "-").
    dashed = RecipientFilter(["sales@example.com", "x.y@example.com"], ["+", "-"]).accepts
    assert dashed("sales-k3x9@example.com")
    assert dashed("sales+k3x9@example.com")
    assert dashed("x.y-k3@example.com")
    assert not dashed("sales_k3x9@example.com")
    assert not dashed("other-k3x9@example.com")
