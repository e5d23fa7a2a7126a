"""IDLE sees a message that arrived between the last SEARCH and the IDLE command.

Dovecot reports such a message as soon as IDLE starts, often in the same read as its
``+ idling`` continuation. imaplib reads that read into its buffer, and imapclient's
``idle_check`` only polls the socket: without the connection looking at what is already
buffered (and at what imaplib filed away while IDLE started), the watcher would sleep
on a message it already holds until the next poll. Both plain and TLS sessions.
"""

from __future__ import annotations

import pytest

from invitegw.mailbox.transport.imap_client import ImapAccount, ImapConnection, ImapSecurity
from tests.fixtures.dovecot import DovecotServer, ImapUser
from tests.mailbox.test_imap_watch import account_for, mail

pytestmark = pytest.mark.dovecot

ROUNDS = 5


def _account(dovecot: DovecotServer, user: ImapUser, security: ImapSecurity) -> ImapAccount:
    port = dovecot.tls_port if security is ImapSecurity.TLS else dovecot.port
    return account_for(dovecot, user, port=port, security=security)


@pytest.mark.parametrize("security", list(ImapSecurity))
def test_idle_reports_a_message_that_arrived_before_idle_started(
    dovecot: DovecotServer, imap_user: ImapUser, security: ImapSecurity
) -> None:
    account = _account(dovecot, imap_user, security)
    connection = ImapConnection.connect(
        account, imap_user.password, ssl_context=dovecot.client_context()
    )
    try:
        connection.select("INBOX")
        for n in range(ROUNDS):
            connection.noop()
            before = connection.uids_after(0)
            dovecot.append(imap_user, mail(n))  # after the SEARCH, before IDLE
            connection.idle_start()
            try:
                result = connection.idle_wait(10.0)
            finally:
                connection.idle_done()
            assert result.changed, f"round {n}: IDLE did not report the new message"
            assert len(connection.uids_after(0)) == len(before) + 1
    finally:
        connection.close()
