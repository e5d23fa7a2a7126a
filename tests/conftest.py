"""Shared fixtures: a clean environment for every test, and the third-party corpus.

Servers (Dovecot, aiosmtpd, PostgreSQL) are started by fixtures in ``tests/fixtures/`` and
made available here as they are added: ``dovecot``, ``dovecot_nomove`` and ``imap_user``
(``tests/fixtures/dovecot.py``), ``smtp_sink`` and ``make_smtp_sink``
(``tests/fixtures/smtp_sink.py``), ``tls_ca`` (``tests/fixtures/tls.py``), ``postgres_url``
and friends (``tests/fixtures/postgres.py``), ``store``, ``empty_store`` and
``database_url`` on SQLite and PostgreSQL (``tests/fixtures/database.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Order matters: a plugin module must be registered before another one imports it.
pytest_plugins = [
    "tests.fixtures.icaljs",
    "tests.fixtures.browser",
    "tests.fixtures.tls",
    "tests.fixtures.oauth_server",
    "tests.fixtures.dovecot",
    "tests.fixtures.smtp_sink",
    "tests.fixtures.postgres",
    "tests.fixtures.database",
]

# "ci" (the default): the same examples on every run of the same code, so a red CI is
# the change's doing; "explore": fresh random examples each run, to hunt for new ones
# (HYPOTHESIS_PROFILE=explore make test); "dev": fewer examples, quicker.
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Variables that would send a test's traffic off this machine, or change what the gateway
# reads as its configuration.
_CLEARED_PREFIXES = ("INVITEGW_",)
_CLEARED_NAMES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)
# Test-infrastructure variables that survive the cleaning.
_KEPT = (
    "INVITEGW_CORPUS",
    "INVITEGW_VTIGER_RECORDINGS",
    "INVITEGW_TEST_POSTGRES_URL",
    "INVITEGW_SCREENSHOTS",
)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No proxy or INVITEGW_* setting leaks from the developer's shell into a test."""
    for name in list(os.environ):
        if name in _KEPT:
            continue
        if name.startswith(_CLEARED_PREFIXES) or name in _CLEARED_NAMES:
            monkeypatch.delenv(name, raising=False)
    return


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The third-party corpus folder ($INVITEGW_CORPUS), or skip with the reason."""
    value = os.environ.get("INVITEGW_CORPUS")
    if not value:
        pytest.skip("INVITEGW_CORPUS is not set (make test sets it when ../shared/corpus exists)")
    path = Path(value)
    if not (path / "MANIFEST.tsv").is_file():
        pytest.skip(f"INVITEGW_CORPUS={value} has no MANIFEST.tsv")
    return path
