"""A gateway on the fake vtiger as ``serve`` runs it, with ``POST /hooks/vtiger`` on.

:class:`HookedGateway` writes the configuration an operator would (vtiger adapter, the
SMTP sink as relay, ``[http] listen`` on a free loopback port, the hook's secret and the
access key in the environment, a poll interval of an hour so that only the hook can make
an invitation go out quickly), builds the scheduler and the operational services
(:func:`~invitegw.gateway.operations.attach_operations`) and starts them. The poll job's
first run, at start, is awaited (:attr:`HookedGateway.first_poll`) before the test saves
anything in vtiger, so what is sent after it was sent because of the hook.

Used by ``test_hook.py`` and by ``bench/hook_latency.py``.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import httpx

from invitegw.gateway.bootstrap import build_gateway, build_scheduler
from invitegw.gateway.config import load_settings
from invitegw.gateway.operations import attach_operations
from invitegw.gateway.outbound.jobs import POLL_JOB
from invitegw.gateway.scheduler import Job
from invitegw.gateway.storage import Store
from tests.crm_adapter.vtiger.conftest import ACCESS_KEY

__all__ = ["SECRET", "HookedGateway"]

SECRET = "hook-secret-0123456789abcdef"
WAIT = 30.0


def _signalling(job: Job, done: threading.Event) -> Job:
    inner = job.run

    def run(stop: threading.Event) -> object:
        try:
            return inner(stop)
        finally:
            done.set()

    return dataclasses.replace(job, run=run)


class HookedGateway:
    """One worker on the fake vtiger with the hook on (see the module docstring).

    Parameters:
        store: the gateway's database (migrated).
        folder: where the configuration and data folder go.
        smtp_port: the sink's port.
        vtiger_url: the fake vtiger's URL.
        debounce: ``[hooks] debounce``.
    """

    def __init__(
        self, store: Store, folder: Path, smtp_port: int, vtiger_url: str, debounce: str = "0s"
    ) -> None:
        url = store.engine.url.render_as_string(hide_password=False)
        config = folder / "invitegw.toml"
        config.write_text(
            f'data_dir = "{folder / "data"}"\n'
            f'[database]\nurl = "{url}"\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
            '[[calendars]]\nname = "sales"\naddress = "sales@example.com"\n'
            'time_zone = "Europe/Warsaw"\n'
            '[outbound]\npoll_interval = "1h"\nflush_interval = "1h"\n'
            '[http]\nlisten = "127.0.0.1:0"\n'
            f'[hooks]\ndebounce = "{debounce}"\n'
            f'[crm]\nadapter = "vtiger"\n[crm.vtiger]\nurl = "{vtiger_url}"\n'
            'username = "admin"\ntimeout = 5\n'
        )
        self.env = {
            "INVITEGW_CRM__VTIGER__ACCESS_KEY": ACCESS_KEY,
            "INVITEGW_HOOKS__VTIGER_SECRET": SECRET,
        }
        self.gateway = build_gateway(load_settings(config, self.env), store=store)
        self.scheduler = build_scheduler(self.gateway)
        self.first_poll = threading.Event()
        self.scheduler.jobs = [
            _signalling(j, self.first_poll) if j.name == POLL_JOB else j
            for j in self.scheduler.jobs
        ]
        self.ops = attach_operations(self.scheduler, env=self.env)
        self.client = httpx.Client(timeout=WAIT)

    @property
    def hook_url(self) -> str:
        """The hook's URL."""
        assert self.ops.http is not None
        return self.ops.http.url + "/hooks/vtiger"

    def start(self) -> None:
        """Start, and wait until the poll job's first run has ended."""
        self.scheduler.start()
        assert self.first_poll.wait(WAIT), "the first poll did not end"

    def post(self, record: str, *, secret: str = SECRET) -> httpx.Response:
        """What vtiger's workflow sends: the record id and the secret, as a form."""
        return self.client.post(self.hook_url, data={"record": record, "secret": secret})

    def close(self) -> None:
        """Stop as ``serve`` does, and release the gateway (the store is the caller's)."""
        self.client.close()
        self.ops.stopping()
        self.scheduler.shutdown(timeout=10)
        self.ops.close()
        self.gateway.close()
