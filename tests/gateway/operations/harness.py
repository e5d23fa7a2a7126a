"""A deployment for the operations tests: one worker on a real database, Dovecot and a sink.

:class:`Deployment` writes an ``invitegw.toml`` (the test's database, the sink as relay,
mailbox ``sales`` on a Dovecot of the test's own, short heartbeats), builds the gateway
and the scheduler ``serve`` would run, with the operational services attached, and can
call the CLI (``status``) on the same configuration. ``private_dovecot`` is a Dovecot the
tests may stop and start (the session's is shared, so it is never stopped).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from invitegw.crm_adapter.builtin.admin import SqlCrmAdmin
from invitegw.domain.records import EntityType
from invitegw.gateway.bootstrap import Gateway, build_gateway, build_scheduler, inbound_parts
from invitegw.gateway.cli import main
from invitegw.gateway.config import Settings, load_settings
from invitegw.gateway.inbound.imap_service import MailboxService
from invitegw.gateway.operations import Operations, attach_operations
from invitegw.gateway.storage import Store
from invitegw.mailbox.transport.imap_values import WatchEvent
from tests.fixtures.dovecot import DovecotServer, ImapUser, _start_server

WAIT = 30.0
PASSWORD_VAR = "INVITEGW_MAILBOXES__SALES__PASSWORD"


@pytest.fixture(scope="module")
def private_dovecot_server() -> Iterator[DovecotServer]:
    """A Dovecot of this module's own: tests stop and start it."""
    server = _start_server()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def private_dovecot(private_dovecot_server: DovecotServer) -> Iterator[DovecotServer]:
    """The module's Dovecot, running again after each test that stopped it."""
    yield private_dovecot_server
    if private_dovecot_server.pid is None:
        private_dovecot_server.start()


def config_text(
    store: Store,
    data_dir: Path,
    *,
    smtp_port: int,
    dovecot: DovecotServer | None = None,
    user: ImapUser | None = None,
    owner: str = "olga@example.com",
    stall: str = "2s",
    extra: str = "",
) -> str:
    """An ``invitegw.toml`` for the deployment."""
    url = store.engine.url.render_as_string(hide_password=False)
    text = (
        f'data_dir = "{data_dir}"\n'
        f'[database]\nurl = "{url}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
        '[[calendars]]\nname = "sales"\naddress = "sales@example.com"\n'
        'time_zone = "Europe/Warsaw"\n'
        '[worker]\nid = "worker-1"\nheartbeat = "1s"\nlease_duration = "5s"\n'
        f'stall_timeout = "{stall}"\n'
    )
    if dovecot is not None and user is not None:
        text += (
            f'[[mailboxes]]\nname = "sales"\nhost = "{dovecot.host}"\nport = {dovecot.port}\n'
            f'username = "{user.name}"\nowner = "{owner}"\ntls = "none"\n'
            'poll_interval = "30s"\n'
        )
    return text + extra


class Deployment:
    """One worker as ``invitegw serve`` assembles it, on the test's parts."""

    def __init__(
        self,
        store: Store,
        tmp_path: Path,
        *,
        smtp_port: int,
        dovecot: DovecotServer | None = None,
        extra: str = "",
        env: dict[str, str] | None = None,
        stall: str = "2s",
        pipeline: Any = None,
    ) -> None:
        self.store = store
        self.dovecot = dovecot
        self.user = dovecot.add_user() if dovecot is not None else None
        self.env = dict(env or {})
        if self.user is not None:
            self.env[PASSWORD_VAR] = self.user.password
        self.config = tmp_path / "invitegw.toml"
        self.config.write_text(
            config_text(
                store,
                tmp_path / "data",
                smtp_port=smtp_port,
                dovecot=dovecot,
                user=self.user,
                stall=stall,
                extra=extra,
            )
        )
        self.settings: Settings = load_settings(self.config, self.env)
        self.gateway: Gateway = build_gateway(self.settings, store=store)
        if pipeline is not None:
            inbound_parts(self.gateway, pipeline=pipeline)
        self.scheduler = build_scheduler(self.gateway)
        self.ops: Operations = attach_operations(self.scheduler, env=self.env)
        self.started = False

    @property
    def http_url(self) -> str:
        """The HTTP server's base URL (``[http] listen`` must be set)."""
        assert self.ops.http is not None
        return self.ops.http.url

    def seed(self) -> None:
        """Olga and Carl (staff), Gina (a contact of Acme) in the built-in CRM."""
        with self.store.session() as session:
            crm = SqlCrmAdmin(session)
            crm.add_party(EntityType.USER, ["olga@example.com"], name="Olga Organizer")
            crm.add_party(EntityType.USER, ["carl@example.com"], name="Carl Colleague")
            crm.add_party(EntityType.CONTACT, ["gina@example.org"], name="Gina", account="Acme")

    @property
    def mailbox(self) -> MailboxService:
        """The watcher service of mailbox ``sales``."""
        return inbound_parts(self.gateway).watchers[0]

    def start(self) -> None:
        """Start everything; with a mailbox, wait until its watcher IDLEs."""
        if self.store.is_sqlite:
            # As an operator would: the database readable by its owner only (status
            # reports a wider file as a problem).
            path = Path(str(self.store.engine.url.database))
            for companion in path.parent.glob(path.name + "*"):
                companion.chmod(0o600)
        self.scheduler.start()
        self.started = True
        if self.dovecot is not None:
            service = self.mailbox
            assert service.wait_until(lambda s: s.holding, WAIT)
            assert service.events.wait_for(WatchEvent.IDLE, 1, WAIT)
        self.ops.monitor.write_heartbeat()

    def stop(self) -> None:
        """Stop as ``serve`` does on SIGTERM."""
        if self.started:
            self.ops.stopping()
            self.scheduler.shutdown(timeout=10)
            self.started = False

    def close(self) -> None:
        """Stop and release the gateway (the store is the fixture's)."""
        self.stop()
        self.ops.close()

    def cli(self, *args: str, config: Path | None = None) -> tuple[int, str]:
        """Run ``invitegw --config <config> <args>`` in this process: (exit code, stdout)."""
        out = io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            for name, value in self.env.items():
                patch.setenv(name, value)
            with redirect_stdout(out):
                code = main(["--config", str(config or self.config), *args])
        return code, out.getvalue()

    def status(self, config: Path | None = None) -> tuple[int, dict[str, Any]]:
        """``invitegw status --json``: (exit code, the object)."""
        code, out = self.cli("status", "--json", config=config)
        return code, json.loads(out)
