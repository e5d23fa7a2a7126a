"""The watcher's pure parts: folder rules, outcomes, configuration, checkpoint, events."""

from __future__ import annotations

import threading

import pytest

from invitegw.errors import ConfigError
from invitegw.mailbox.transport.imap_client import ImapAccount, folder_refusal
from invitegw.mailbox.transport.imap_values import (
    MemoryCheckpoint,
    Outcome,
    OutcomeKind,
    WatchConfig,
    WatcherEvents,
    WatchEvent,
)


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("Sent", ()),
        ("Gesendet", (b"\\Sent",)),
        ("INBOX/Trash", ()),
        ("INBOX.Deleted Items", ()),
        ("[Gmail]/Spam", (b"\\HasNoChildren", b"\\Junk")),
        ("[Gmail]/All Mail", (b"\\All",)),
        ("Drafts", ()),
        ("Junk E-mail", ()),
        ("Papierkorb", ("\\Trash",)),
    ],
)
def test_forbidden_folders(name: str, flags: tuple[bytes | str, ...]) -> None:
    reason = folder_refusal(name, flags)
    assert reason is not None
    assert name in reason


@pytest.mark.parametrize("name", ["INBOX", "Invitations", "INBOX/Sent to CRM", "Processed"])
def test_ordinary_folders_may_be_watched(name: str) -> None:
    assert folder_refusal(name, (b"\\HasNoChildren",)) is None


def test_outcomes() -> None:
    assert Outcome.processed().kind is OutcomeKind.PROCESSED
    quarantined = Outcome.quarantine("forwarder is not staff")
    assert (quarantined.kind, quarantined.reason) == (
        OutcomeKind.QUARANTINE,
        "forwarder is not staff",
    )
    assert Outcome.retry().kind is OutcomeKind.RETRY
    with pytest.raises(ValueError, match="reason"):
        Outcome.quarantine("")


@pytest.mark.parametrize(
    "overrides",
    [
        {"processed_folder": "INBOX"},
        {"quarantine_folder": "Processed"},
        {"idle_timeout": 29 * 60},
        {"batch_size": 0},
        {"retry_delay": 0},
        {"backoff_max": 0.1, "backoff_initial": 1.0},
        {"name": ""},
    ],
)
def test_watch_config_refuses_bad_values(overrides: dict[str, object]) -> None:
    values: dict[str, object] = {"name": "sales"}
    values.update(overrides)
    with pytest.raises(ConfigError):
        WatchConfig(**values)  # type: ignore[arg-type]


def test_account_refuses_bad_values() -> None:
    with pytest.raises(ConfigError):
        ImapAccount("", "user")
    with pytest.raises(ConfigError):
        ImapAccount("imap.example.com", "user", port=70000)


def test_memory_checkpoint() -> None:
    checkpoint = MemoryCheckpoint()
    assert checkpoint.load("sales") is None
    checkpoint.save("sales", 7, 42)
    assert checkpoint.load("sales") == (7, 42)
    assert checkpoint.load("support") is None


def test_events_wait_for_counts_across_threads() -> None:
    events = WatcherEvents()
    assert not events.wait_for(WatchEvent.BATCH, 1, timeout=0.01)
    worker = threading.Thread(
        target=lambda: [events.fire(WatchEvent.BATCH, batch_size=n) for n in (2, 1)]
    )
    worker.start()
    assert events.wait_for(WatchEvent.BATCH, 2, timeout=5)
    worker.join()
    assert events.count(WatchEvent.BATCH) == 2
    assert events.batch_sizes == [2, 1]
