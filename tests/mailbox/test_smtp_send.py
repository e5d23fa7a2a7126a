"""SmtpSender against a real aiosmtpd sink on loopback (tests/fixtures/smtp_sink.py)."""

from __future__ import annotations

import logging
import socket
from email.message import EmailMessage

import pytest

from invitegw.domain.addresses import NamedAddress
from invitegw.errors import AddressError, ConfigError, DeliveryError, TransientDeliveryError
from invitegw.mailbox.mime.compose import header_address
from invitegw.mailbox.mime.envelope import envelope_of
from invitegw.mailbox.transport.netutil import pick_free_port
from invitegw.mailbox.transport.smtp_send import SmtpRelayConfig, SmtpSender, TlsMode
from tests.fixtures.smtp_sink import SmtpSink


def _message(n: int = 1, to: str = "alice@example.org", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Calendar <calendar@example.com>"
    msg["To"] = to
    msg["Subject"] = f"Invitation {n}"
    msg["Message-ID"] = f"<msg-{n}@example.com>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    # Several lines and a lone dot: the wire format must be CRLF and dot-stuffed.
    msg.set_content(f"Line one of {n}.\n.\nLine three.\n")
    return msg


def _plain(sink: SmtpSink, **kwargs: object) -> SmtpSender:
    config = SmtpRelayConfig(sink.host, sink.port, tls=TlsMode.NONE, timeout=5)
    return SmtpSender(config, **kwargs)  # type: ignore[arg-type]


def test_batch_reuses_one_connection(smtp_sink: SmtpSink) -> None:
    sender = _plain(smtp_sink)
    with sender.session() as session:
        results = [session.send(_message(n)) for n in range(1, 6)]
    received = smtp_sink.wait_for(5)
    assert smtp_sink.connections == 1
    assert session.connections == 1
    assert {m.connection for m in received} == {1}
    assert [r.message_id for r in results] == [f"<msg-{n}@example.com>" for n in range(1, 6)]
    assert all(r.code == 250 and r.accepted == ("alice@example.org",) for r in results)
    assert results[0].reply.startswith("2.0.0 OK queued as sink-")


def test_one_send_per_call_opens_its_own_connection(smtp_sink: SmtpSink) -> None:
    sender = _plain(smtp_sink)
    sender.send(_message(1))
    sender.send(_message(2))
    smtp_sink.wait_for(2)
    assert smtp_sink.connections == 2


def test_wire_bytes_are_crlf_and_the_body_survives(smtp_sink: SmtpSink) -> None:
    _plain(smtp_sink).send(_message(7))
    (received,) = smtp_sink.wait_for(1)
    assert b"\r\n" in received.raw
    assert b"\n" not in received.raw.replace(b"\r\n", b""), "bare LF on the wire"
    assert b"Line one of 7.\r\n.\r\nLine three.\r\n" in received.raw
    assert received.mail_from == "calendar@example.com"
    assert received.rcpt_tos == ("alice@example.org",)


def test_bcc_is_a_recipient_but_not_a_header(smtp_sink: SmtpSink) -> None:
    msg = _message(1, Bcc="hidden@example.org")
    _plain(smtp_sink).send(msg)
    (received,) = smtp_sink.wait_for(1)
    assert received.rcpt_tos == ("alice@example.org", "hidden@example.org")
    assert b"hidden@example.org" not in received.raw
    assert msg["Bcc"] == "hidden@example.org", "the caller's message is unchanged"


def test_one_refused_recipient_does_not_stop_the_others(smtp_sink: SmtpSink) -> None:
    msg = _message(1, to="alice@example.org, bounce@example.org, bob@example.org")
    result = _plain(smtp_sink).send(msg)
    (received,) = smtp_sink.wait_for(1)
    assert received.rcpt_tos == ("alice@example.org", "bob@example.org")
    assert result.accepted == ("alice@example.org", "bob@example.org")
    error = result.refused["bounce@example.org"]
    assert type(error) is DeliveryError
    assert (error.code, error.recipient) == (550, "bounce@example.org")


def test_permanent_refusal_of_the_only_recipient_raises(smtp_sink: SmtpSink) -> None:
    with pytest.raises(DeliveryError) as caught:
        _plain(smtp_sink).send(_message(1, to="bounce@example.org"))
    assert type(caught.value) is DeliveryError
    assert caught.value.code == 550
    assert caught.value.recipient == "bounce@example.org"
    assert smtp_sink.messages == []


def test_temporary_refusal_is_transient(smtp_sink: SmtpSink) -> None:
    with pytest.raises(TransientDeliveryError) as caught:
        _plain(smtp_sink).send(_message(1, to="later@example.org"))
    assert caught.value.code == 451
    assert caught.value.recipient == "later@example.org"


def test_session_goes_on_after_a_refusal(smtp_sink: SmtpSink) -> None:
    with _plain(smtp_sink).session() as session:
        with pytest.raises(DeliveryError):
            session.send(_message(1, to="bounce@example.org"))
        session.send(_message(2))
    assert [m.rcpt_tos for m in smtp_sink.wait_for(1)] == [("alice@example.org",)]
    assert smtp_sink.connections == 1


def test_server_down_is_transient() -> None:
    config = SmtpRelayConfig("127.0.0.1", pick_free_port(), tls=TlsMode.NONE, timeout=2)
    with pytest.raises(TransientDeliveryError, match="connection failed"):
        SmtpSender(config).send(_message())


def test_server_that_never_greets_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        config = SmtpRelayConfig(
            "127.0.0.1", silent.getsockname()[1], tls=TlsMode.NONE, timeout=0.3
        )
        with pytest.raises(TransientDeliveryError):
            SmtpSender(config).send(_message())


def test_dropped_connection_mid_batch_reconnects(smtp_sink: SmtpSink) -> None:
    smtp_sink.drop_after(2)
    with _plain(smtp_sink).session() as session:
        for n in range(1, 5):
            session.send(_message(n))
    received = smtp_sink.wait_for(4)
    assert smtp_sink.drops == 1
    assert smtp_sink.connections == 2
    assert session.connections == 2
    assert [m.connection for m in received] == [1, 1, 2, 2]
    assert len({m.raw for m in received}) == 4, "no message sent twice"


def test_starttls_with_auth(make_smtp_sink) -> None:
    sink = make_smtp_sink(starttls=True, auth=True)
    config = SmtpRelayConfig(
        sink.host, sink.port, tls=TlsMode.STARTTLS, username=sink.user, timeout=5
    )
    sender = SmtpSender(config, password=sink.password, ssl_context=sink.client_context())
    with sender.session() as session:
        session.send(_message(1))
        session.send(_message(2))
    received = sink.wait_for(2)
    assert all(m.tls and m.login == sink.user for m in received)
    assert sink.connections == 1


def test_implicit_tls_with_auth(make_smtp_sink) -> None:
    sink = make_smtp_sink(implicit_tls=True, auth=True)
    config = SmtpRelayConfig(sink.host, sink.port, tls=TlsMode.TLS, username=sink.user, timeout=5)
    SmtpSender(config, password=sink.password, ssl_context=sink.client_context()).send(_message())
    (received,) = sink.wait_for(1)
    assert received.tls
    assert received.login == sink.user


def test_wrong_password_is_transient_and_never_logged(
    make_smtp_sink, caplog: pytest.LogCaptureFixture
) -> None:
    sink = make_smtp_sink(starttls=True, auth=True)
    config = SmtpRelayConfig(sink.host, sink.port, username=sink.user, timeout=5)
    sender = SmtpSender(config, password="wrong-pass-91", ssl_context=sink.client_context())
    with caplog.at_level(logging.DEBUG), pytest.raises(TransientDeliveryError) as caught:
        sender.send(_message())
    assert caught.value.code == 535
    assert "wrong-pass-91" not in caplog.text
    assert "wrong-pass-91" not in repr(sender)
    assert sink.messages == []


def test_untrusted_certificate_is_transient(make_smtp_sink) -> None:
    sink = make_smtp_sink(starttls=True, auth=True)
    config = SmtpRelayConfig(sink.host, sink.port, username=sink.user, timeout=5)
    # The system's trust store does not know the test CA.
    with pytest.raises(TransientDeliveryError, match="TLS"):
        SmtpSender(config, password=sink.password).send(_message())


def test_starttls_is_never_skipped(smtp_sink: SmtpSink) -> None:
    config = SmtpRelayConfig(smtp_sink.host, smtp_sink.port, tls=TlsMode.STARTTLS, timeout=5)
    with pytest.raises(TransientDeliveryError, match="extension"):
        SmtpSender(config).send(_message())
    assert smtp_sink.messages == []


def test_rate_limit_spaces_messages_with_the_injected_clock(smtp_sink: SmtpSink) -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    config = SmtpRelayConfig(
        smtp_sink.host, smtp_sink.port, tls=TlsMode.NONE, timeout=5, rate_limit=4
    )
    sender = SmtpSender(config, clock=lambda: now[0], sleep=sleep)
    with sender.session() as session:
        session.send(_message(1))
        session.send(_message(2))
        now[0] += 0.1  # the caller spent some time between messages
        session.send(_message(3))
    assert slept == [0.25, pytest.approx(0.15)]
    smtp_sink.wait_for(3)


def test_one_info_line_per_message(smtp_sink: SmtpSink, caplog: pytest.LogCaptureFixture) -> None:
    logger = "invitegw.mailbox.transport.smtp_send"
    with caplog.at_level(logging.INFO, logger=logger), _plain(smtp_sink).session() as session:
        session.send(_message(1))
        session.send(_message(2))
    lines = [r for r in caplog.records if r.name == "invitegw.mailbox.transport.smtp_send"]
    assert [r.levelno for r in lines] == [logging.INFO, logging.INFO]
    assert "<msg-1@example.com>" in lines[0].getMessage()
    assert "code=250" in lines[1].getMessage()


def test_send_bytes_sends_exactly_what_it_is_given(smtp_sink: SmtpSink) -> None:
    raw = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: raw\r\n\r\nbody\r\n"
    with _plain(smtp_sink).session() as session:
        result = session.send_bytes(raw, mail_from="", rcpt_to=["b@example.org"])
    (received,) = smtp_sink.wait_for(1)
    assert received.raw == raw
    assert received.mail_from == "<>"
    assert result.accepted == ("b@example.org",)


@pytest.mark.parametrize(
    "address",
    ["evil@example.org>\r\nRCPT TO:<x@example.org", "no-at-sign", "a b@example.org", "@x"],
)
def test_unusable_envelope_addresses_are_refused(smtp_sink: SmtpSink, address: str) -> None:
    with pytest.raises(AddressError), _plain(smtp_sink).session() as session:
        session.send_bytes(b"x\r\n", mail_from="a@example.com", rcpt_to=[address])
    assert smtp_sink.connections == 0


def test_envelope_of_uses_sender_and_all_recipient_headers() -> None:
    msg = _message(1, to="A <a@example.org>, b@example.org", Cc="B@example.org, c@example.org")
    msg["Sender"] = "relay@example.com"
    assert envelope_of(msg) == (
        "relay@example.com",
        ["a@example.org", "b@example.org", "c@example.org"],
    )
    del msg["To"], msg["Cc"]
    with pytest.raises(AddressError):
        envelope_of(msg)


def test_config_refuses_clear_text_auth_and_missing_password() -> None:
    with pytest.raises(ConfigError, match="clear-text"):
        SmtpRelayConfig("relay.example.com", 25, tls=TlsMode.NONE, username="u")
    with pytest.raises(ConfigError, match="password"):
        SmtpSender(SmtpRelayConfig("relay.example.com", username="u"))
    with pytest.raises(ConfigError):
        SmtpRelayConfig("relay.example.com", 0)
    with pytest.raises(ConfigError):
        SmtpRelayConfig("relay.example.com", rate_limit=0)


def test_non_ascii_address_goes_out_with_smtputf8(smtp_sink: SmtpSink) -> None:
    result = _plain(smtp_sink).send(_message(1, to="Jörg <jörg@example.org>"))
    (received,) = smtp_sink.wait_for(1)
    assert received.rcpt_tos == ("jörg@example.org",)
    assert "jörg@example.org".encode() in received.raw
    assert result.accepted == ("jörg@example.org",)


def test_an_idn_domain_goes_out_as_a_labels_without_smtputf8(make_smtp_sink) -> None:
    sink = make_smtp_sink(smtputf8=False)  # the relay of issue 15: no SMTPUTF8
    # The To header as the gateway composes it (compose.header_address).
    to = str(header_address(NamedAddress(name="X", address="x@bücher.de")))
    assert to == "X <x@xn--bcher-kva.de>"
    message = _message(1, to=to)
    result = _plain(sink).send(message, rcpt_to=["x@bücher.de"])
    (received,) = sink.wait_for(1)
    assert received.rcpt_tos == ("x@xn--bcher-kva.de",)
    assert result.accepted == ("x@xn--bcher-kva.de",)
    assert received.raw.isascii()  # the To header too: no UTF-8 needed anywhere
    assert b"To: X <x@xn--bcher-kva.de>" in received.raw


def test_only_a_non_ascii_local_part_needs_smtputf8(make_smtp_sink) -> None:
    sink = make_smtp_sink(smtputf8=False)
    with pytest.raises(DeliveryError, match="relay lacks SMTPUTF8"):
        _plain(sink).send(_message(1, to="jörg@bücher.de"))
    assert sink.messages == []


def test_message_over_the_relay_size_limit_is_permanent(make_smtp_sink) -> None:
    sink = make_smtp_sink(data_size_limit=100)
    with pytest.raises(DeliveryError) as caught:
        _plain(sink).send(_message(1))
    assert type(caught.value) is DeliveryError
    assert caught.value.code == 552
