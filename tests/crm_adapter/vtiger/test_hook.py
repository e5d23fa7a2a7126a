"""``POST /hooks/vtiger`` against the fake vtiger and the SMTP sink, as ``serve`` runs it.

A meeting saved in vtiger after the worker's first poll goes out as soon as the workflow
calls the hook, although the next poll is an hour away: the poll job ran once. The secret
is checked (wrong or missing: 401), only POST is accepted, the record id is validated,
and calls for one record within the debounce are handled once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from invitegw.gateway.http.hooks import RecordPoller
from invitegw.gateway.outbound.jobs import POLL_JOB
from invitegw.gateway.storage import Store
from tests.crm_adapter.vtiger.conftest import Seeder
from tests.crm_adapter.vtiger.hook_harness import WAIT, HookedGateway
from tests.crm_adapter.vtiger.replay_server import FakeVtigerServer
from tests.fixtures.smtp_sink import SmtpSink


@pytest.fixture
def hooked(
    store: Store, tmp_path: Path, smtp_sink: SmtpSink, server: FakeVtigerServer
) -> Iterator[HookedGateway]:
    made = HookedGateway(store, tmp_path, smtp_sink.port, server.url)
    made.start()
    try:
        yield made
    finally:
        made.close()


def test_a_save_in_vtiger_goes_out_through_the_hook_without_a_poll(
    hooked: HookedGateway, seed: Seeder, smtp_sink: SmtpSink
) -> None:
    anna = seed.contact("Anna", "Nowak", "anna.nowak@example.org")
    meeting = seed.event(
        "Contract review", "2030-01-15 09:00:00", "2030-01-15 10:00:00", contacts=[anna]
    )
    answer = hooked.post(meeting)
    assert answer.status_code == 202
    assert answer.json() == {"accepted": meeting}
    received = smtp_sink.wait_for(2, timeout=WAIT)
    assert {r.lower() for m in received for r in m.rcpt_tos} == {
        "anna.nowak@example.org",
        "admin@example.test",
    }
    monitor = hooked.ops.monitor
    assert monitor.jobs[POLL_JOB].runs == 1  # the start's poll only: the hook sent it


def test_the_hook_refuses_a_wrong_secret_a_get_and_a_bad_record(
    hooked: HookedGateway, seed: Seeder, smtp_sink: SmtpSink
) -> None:
    anna = seed.contact("Anna", "Nowak", "anna.nowak@example.org")
    meeting = seed.event("Review", contacts=[anna])
    assert hooked.post(meeting, secret="guess").status_code == 401
    assert hooked.post(meeting, secret="").status_code == 401
    assert hooked.client.get(hooked.hook_url).status_code == 405
    assert hooked.post("12; DROP TABLE").status_code == 400
    as_json = hooked.client.post(
        hooked.hook_url,
        json={"record": meeting},
        headers={"X-Invitegw-Secret": "hook-secret-0123456789abcdef"},
    )
    assert as_json.status_code == 202
    smtp_sink.wait_for(2, timeout=WAIT)


def test_hits_for_one_record_within_the_debounce_are_handled_once() -> None:
    handled: list[str] = []
    done = threading.Event()

    def handle(record: str) -> None:
        handled.append(record)
        if len(handled) == 2:
            done.set()

    poller = RecordPoller(handle, debounce=0.0)
    for _ in range(5):  # before the thread starts: all five land in the same window
        assert poller.hit("18x1")
    assert poller.hit("18x2")
    poller.start()
    try:
        assert done.wait(WAIT)
    finally:
        poller.stop(WAIT)
    assert sorted(handled) == ["18x1", "18x2"]
