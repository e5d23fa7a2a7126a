"""The process monitor: jobs tracked and watched for progress, counter probes, heartbeats.

A manual monotonic clock decides when a loop counts as stuck; the jobs run for real (in
threads) and block on events the test controls.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from pathlib import Path

from invitegw.gateway.bootstrap import build_gateway
from invitegw.gateway.config import Settings, WorkerSettings
from invitegw.gateway.monitor import CounterProbe, ProcessMonitor
from invitegw.gateway.scheduler import Job
from invitegw.gateway.storage import Store, WorkerHeartbeat


class Clock:
    """A manual monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _monitor(store: Store, tmp_path: Path, clock: Clock) -> ProcessMonitor:
    settings = Settings(
        data_dir=tmp_path,
        worker=WorkerSettings(id="w-mon", stall_timeout=dt.timedelta(seconds=30)),
    )
    return ProcessMonitor(build_gateway(settings, store=store), clock=clock)


def test_a_job_is_stuck_only_when_it_stops_looking_at_its_stop_event(
    store: Store, tmp_path: Path
) -> None:
    clock = Clock()
    monitor = _monitor(store, tmp_path, clock)
    looked = threading.Event()
    release = threading.Event()
    finished = threading.Event()

    def work(stop: threading.Event) -> str:
        stop.is_set()  # a unit of work done
        looked.set()
        release.wait(30)  # then a unit that never ends (until the test says)
        finished.set()
        return "done"

    (job,) = monitor.track_jobs([Job("sync", dt.timedelta(seconds=10), work)])
    assert monitor.stalled() == []
    runner = threading.Thread(target=job.run, args=(threading.Event(),))
    runner.start()
    assert looked.wait(10)
    clock.now += 10 + 30  # the interval plus the stall bound: not yet
    assert monitor.stalled() == []
    clock.now += 1
    (stall,) = monitor.stalled()
    assert stall.name == "job:sync"
    assert "no progress for 41 s" in str(stall)
    release.set()
    runner.join(10)
    assert finished.is_set()
    assert monitor.stalled() == []  # it ended: the next run is owed within the interval
    state = monitor.jobs["sync"].to_json()
    assert state["runs"] == 1
    assert state["last_ok"] is not None
    assert state["last_error"] is None


def test_a_failed_run_is_recorded_and_a_counter_probe_follows_its_counter(
    store: Store, tmp_path: Path
) -> None:
    clock = Clock()
    monitor = _monitor(store, tmp_path, clock)

    def broken(_stop: threading.Event) -> None:
        raise RuntimeError("boom\nsecond line")

    (job,) = monitor.track_jobs([Job("broken", dt.timedelta(seconds=5), broken)])
    with contextlib.suppress(RuntimeError):
        job.run(threading.Event())
    assert monitor.jobs["broken"].to_json()["last_error"] == "RuntimeError: boom"

    monitor = _monitor(store, tmp_path, clock)  # a fresh one: the failed job is owed a run
    steps = [0]
    live = [True]
    monitor.add_probe(CounterProbe("loop", lambda: steps[0], lambda: live[0], 5.0, clock))
    assert monitor.stalled() == []
    clock.now += 36
    assert [s.name for s in monitor.stalled()] == ["loop"]
    steps[0] += 1  # a step: progress again
    assert monitor.stalled() == []
    clock.now += 100
    live[0] = False  # stopped loops are not watched
    assert monitor.stalled() == []


def test_the_heartbeat_row_holds_the_snapshot(store: Store, tmp_path: Path) -> None:
    monitor = _monitor(store, tmp_path, Clock())
    monitor.add_view(lambda: {"listener": {"up": True}})
    monitor.write_heartbeat()
    monitor.write_heartbeat(stopped=True)
    with store.session() as session:
        row = session.get(WorkerHeartbeat, "w-mon")
        assert row is not None
        assert row.stopped_at is not None
        assert row.mode == "serve"
        assert row.state == {"jobs": {}, "stalled": [], "listener": {"up": True}}


def test_token_refreshes_are_counted_per_account(store: Store, tmp_path: Path) -> None:
    import sys

    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from invitegw.gateway.config import load_settings
    from invitegw.gateway.http.app import metrics_registry
    from invitegw.gateway.mailauth import mailbox_login

    config = tmp_path / "invitegw.toml"
    script = tmp_path / "token.py"
    script.write_text('print("token-abc")\n')
    command = f"{sys.executable} {script}"
    config.write_text(
        '[http]\nlisten = "127.0.0.1:0"\n'
        '[[mailboxes]]\nname = "shared"\nhost = "imap.example.com"\nusername = "s@example.com"\n'
        'owner = "olga@example.com"\nauth = "oauth2"\n'
        f"[mailboxes.oauth2]\nprovider = \"command\"\ntoken_command = '{command}'\n"
    )
    gateway = build_gateway(load_settings(config, {}, cwd=tmp_path), store=store)
    login = mailbox_login(gateway, gateway.settings.mailboxes[0])
    assert login.tokens.get() == "token-abc"  # type: ignore[union-attr]
    login.tokens.invalidate("token-abc")  # type: ignore[union-attr]
    login.tokens.get()  # type: ignore[union-attr]
    text = generate_latest(metrics_registry(gateway)).decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("invitegw_token_refreshes_total", (("account", "imap:shared"),))] == 2
    assert "token-abc" not in text
