"""Use case: check one mailbox as its watcher will (``mailbox check``, the console's button).

:func:`check_mailbox` connects with the mailbox's TLS and login (password or OAuth 2.0),
lists the folders, reads IDLE/MOVE/UIDPLUS and counts what waits; missing processed or
quarantine folders are created only when ``create`` says so (the console never creates
them: it passes nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from invitegw.errors import ConfigError

if TYPE_CHECKING:
    from invitegw.gateway.config import MailboxSettings, Settings
    from invitegw.mailbox.transport.imap_probe import ImapProbe

__all__ = ["check_mailbox", "find_mailbox"]


def find_mailbox(settings: Settings, name: str) -> MailboxSettings:
    """The ``[[mailboxes]]`` entry named ``name``.

    Raises:
        ConfigError: none of that name (the configured ones are named).
    """
    for mailbox in settings.mailboxes:
        if mailbox.name == name:
            return mailbox
    known = ", ".join(m.name for m in settings.mailboxes) or "none"
    raise ConfigError(f"mailboxes: no mailbox named {name!r} (configured: {known})")


def check_mailbox(
    settings: Settings,
    mailbox: MailboxSettings,
    *,
    create: Callable[[list[str]], bool] | None = None,
) -> ImapProbe:
    """Try ``mailbox`` as the watcher will (see the module docstring).

    Parameters:
        settings: the configuration (``limits.message_bytes``).
        mailbox: the mailbox.
        create: asked whether to create missing folders (default: never).

    Returns:
        The probe: each step, and the one-line error of the first that failed.
    """
    from invitegw.gateway.inbound.imap_source import imap_account, watch_config
    from invitegw.gateway.mailauth import mailbox_login
    from invitegw.mailbox.transport.imap_probe import ImapProbe, probe_mailbox
    from invitegw.mailbox.transport.oauth.health import AuthHealth

    where = f"mailboxes[{mailbox.name}]"
    try:
        # A registry of its own: a check is no news for a running gateway's reporters.
        login = mailbox_login(None, mailbox, health=AuthHealth())
    except ConfigError as exc:
        return ImapProbe(mailbox.name).fail("settings", str(exc))
    config = watch_config(mailbox, max_message_size=settings.limits.message_bytes)
    return probe_mailbox(
        imap_account(mailbox),
        login,
        config,
        where=where,
        create=create if create is not None else (lambda _missing: False),
    )
