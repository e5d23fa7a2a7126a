"""What one ``serve`` process knows about itself, and the heartbeat row that tells the others.

- :class:`ProcessMonitor` collects the **loops that do work** (each scheduler job, each
  IMAP watcher, the IMAP supervisors, the spool worker, the heartbeat itself) as probes.
  A probe says when its loop last made progress and how long it may now wait on purpose;
  :meth:`ProcessMonitor.stalled` names every live loop past that wait by more than
  ``worker.stall_timeout`` (the systemd watchdog stops pinging then: :mod:`.systemd`).
- Jobs are tracked by wrapping them (:meth:`ProcessMonitor.track_jobs`): each run's start,
  end, outcome and error, and progress each time the job looks at its stop event (which it
  does between units of work), so a long but moving outbox flush is not "stuck".
- :meth:`ProcessMonitor.snapshot` is this process's view that no table holds (mailbox
  connections, last IDLE, last error, messages waiting, the listener, each job's last
  run); :class:`HeartbeatService` writes it to ``worker_heartbeats`` every
  ``worker.heartbeat``, so ``invitegw status`` on any host sees every worker.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from invitegw import __version__
from invitegw.errors import GatewayError, StorageError
from invitegw.gateway.bootstrap import Gateway
from invitegw.gateway.scheduler import Job
from invitegw.gateway.storage import WorkerHeartbeat
from invitegw.mailbox.transport.imap_values import WatchEvent

__all__ = [
    "CounterProbe",
    "HeartbeatService",
    "JobState",
    "LoopProbe",
    "ProcessMonitor",
    "Stall",
    "iso",
    "process_monitor",
]

logger = logging.getLogger(__name__)


def iso(value: float | dt.datetime | None) -> str | None:
    """A wall-clock time (``time.time()`` seconds or an aware datetime) as ISO 8601 UTC."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    return dt.datetime.fromtimestamp(value, dt.UTC).isoformat(timespec="seconds")


class LoopProbe(Protocol):
    """A loop that does work, as the watchdog sees it."""

    name: str

    def progress(self) -> tuple[float, float] | None:
        """(monotonic time of the last progress, seconds it may now wait), or ``None``.

        ``None``: the loop is not running now (not started, stopped, lease not held).
        """
        ...


@dataclass(frozen=True, slots=True)
class Stall:
    """A live loop past its wait by more than the stall timeout."""

    name: str
    seconds: float  # since its last progress

    def __str__(self) -> str:
        return f"{self.name} (no progress for {self.seconds:.0f} s)"


class CounterProbe:
    """A loop known by a counter it bumps at each step (a supervisor, the spool worker).

    Parameters:
        name: the loop's name.
        counter: reads the counter.
        live: whether the loop runs now.
        within: how long a step may take to come, waits included (its interval).
        clock: monotonic seconds.
    """

    def __init__(
        self,
        name: str,
        counter: Callable[[], int],
        live: Callable[[], bool],
        within: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._counter = counter
        self._live = live
        self._within = within
        self._clock = clock
        self._seen: tuple[int, float] | None = None

    def progress(self) -> tuple[float, float] | None:
        """See :class:`LoopProbe`."""
        if not self._live():
            self._seen = None
            return None
        value = self._counter()
        if self._seen is None or self._seen[0] != value:
            self._seen = (value, self._clock())
        return self._seen[1], self._within


@dataclass
class JobState:
    """One job's runs in this process."""

    name: str
    interval: float
    runs: int = 0
    failures: int = 0
    last_start: float | None = None  # wall clock
    last_end: float | None = None
    last_ok: float | None = None
    last_error: str | None = None
    running: bool = False
    # Monotonic: the last progress (a start, an end, a look at the stop event).
    tick: float = field(default_factory=time.monotonic)

    def to_json(self) -> dict[str, Any]:
        """The state as the heartbeat stores it."""
        return {
            "runs": self.runs,
            "failures": self.failures,
            "running": self.running,
            "last_start": iso(self.last_start),
            "last_end": iso(self.last_end),
            "last_ok": iso(self.last_ok),
            "last_error": self.last_error,
        }


class _TickingStop(threading.Event):
    """The runtime's stop event as one job sees it: each look at it is progress."""

    def __init__(self, stop: threading.Event, state: JobState, clock: Callable[[], float]) -> None:
        super().__init__()
        self._stop = stop
        self._state = state
        self._clock = clock

    def is_set(self) -> bool:
        self._state.tick = self._clock()
        return self._stop.is_set()

    def set(self) -> None:
        self._stop.set()

    def clear(self) -> None:
        self._stop.clear()

    def wait(self, timeout: float | None = None) -> bool:
        self._state.tick = self._clock()
        return self._stop.wait(timeout)


class _JobProbe:
    def __init__(self, state: JobState) -> None:
        self.name = f"job:{state.name}"
        self._state = state

    def progress(self) -> tuple[float, float] | None:
        state = self._state
        # Between runs the scheduler owes the next one within the interval; during a run
        # the job looks at its stop event between units of work, a unit (one CRM batch
        # of a first sync) being allowed as long as an interval on top of the stall bound.
        return state.tick, state.interval


class ProcessMonitor:
    """This process's loops, jobs and view of itself (see the module docstring).

    Parameters:
        gateway: the gateway (settings, store, clock, worker id).
        clock: monotonic seconds.
    """

    def __init__(self, gateway: Gateway, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.gateway = gateway
        self.started_at = gateway.clock()
        self.stall_timeout = gateway.settings.worker.stall_timeout.total_seconds()
        self._clock = clock
        self._lock = threading.Lock()
        self._probes: list[LoopProbe] = []
        self.jobs: dict[str, JobState] = {}
        self._views: list[Callable[[], dict[str, Any]]] = []

    def add_probe(self, probe: LoopProbe) -> None:
        """Watch ``probe``'s loop from now on."""
        with self._lock:
            self._probes.append(probe)

    def add_view(self, view: Callable[[], dict[str, Any]]) -> None:
        """Merge what ``view()`` returns into every :meth:`snapshot` (mailboxes, listener)."""
        with self._lock:
            self._views.append(view)

    def track_jobs(self, jobs: Sequence[Job]) -> list[Job]:
        """The same jobs, each run recorded here and watched for progress.

        Parameters:
            jobs: the scheduler's jobs.

        Returns:
            Wrapped jobs (same names, intervals and order).
        """
        return [self._track(job) for job in jobs]

    def _track(self, job: Job) -> Job:
        state = JobState(job.name, job.interval.total_seconds(), tick=self._clock())
        with self._lock:
            self.jobs[job.name] = state
        self.add_probe(_JobProbe(state))
        inner = job.run

        def run(stop: threading.Event) -> object:
            state.running, state.runs = True, state.runs + 1
            state.last_start, state.tick = time.time(), self._clock()
            try:
                result = inner(_TickingStop(stop, state, self._clock))
            except BaseException as exc:
                state.failures += 1
                state.last_error = _one_line(exc)
                raise
            else:
                state.last_ok, state.last_error = time.time(), None
                return result
            finally:
                state.running, state.last_end, state.tick = False, time.time(), self._clock()

        return dataclasses.replace(job, run=run)

    def stalled(self) -> list[Stall]:
        """Every live loop past its own wait by more than ``worker.stall_timeout``.

        Returns:
            The stuck loops (empty when all is well).
        """
        now = self._clock()
        with self._lock:
            probes = list(self._probes)
        stuck = []
        for probe in probes:
            seen = probe.progress()
            if seen is None:
                continue
            at, within = seen
            if now - at > within + self.stall_timeout:
                stuck.append(Stall(probe.name, now - at))
        return stuck

    def snapshot(self) -> dict[str, Any]:
        """This process's view for the heartbeat row (plain JSON values).

        Returns:
            ``jobs``, ``stalled``, and what the views add (``mailboxes``, ``listener`` ...).
        """
        with self._lock:
            jobs = {name: state.to_json() for name, state in self.jobs.items()}
            views = list(self._views)
        state: dict[str, Any] = {"jobs": jobs, "stalled": [str(s) for s in self.stalled()]}
        for view in views:
            try:
                state.update(view())
            except Exception:  # a view's bug must not stop the heartbeat
                logger.exception("a health view failed")
        return state

    def write_heartbeat(self, *, mode: str = "serve", stopped: bool = False) -> None:
        """Write this worker's row (insert or update) with the current snapshot.

        Parameters:
            mode: ``serve`` (a long-running process) or ``once`` (``serve --once``).
            stopped: the process is stopping cleanly (``status`` then does not call it
                down).

        Raises:
            StorageError: the database failed.
        """
        gateway = self.gateway
        now = gateway.clock()
        state = self.snapshot()
        with gateway.store.session() as session:
            row = session.get(WorkerHeartbeat, gateway.worker)
            if row is None:
                row = WorkerHeartbeat(worker=gateway.worker, started_at=self.started_at)
                session.add(row)
            row.host = socket.gethostname()[:255]
            row.pid = os.getpid()
            row.version = __version__
            row.mode = mode
            row.started_at = self.started_at
            row.heartbeat_at = now
            row.stopped_at = now if stopped else None
            row.state = state


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:500] if not isinstance(exc, GatewayError) else text


class HeartbeatService:
    """Writes the heartbeat row at start, every ``worker.heartbeat`` and at a clean stop.

    Parameters:
        monitor: the process monitor.
    """

    name = "heartbeat"

    def __init__(self, monitor: ProcessMonitor) -> None:
        self.monitor = monitor
        self.interval = monitor.gateway.settings.worker.heartbeat.total_seconds()
        self.beats = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        monitor.add_probe(
            CounterProbe(
                "heartbeat", lambda: self.beats, lambda: self.running, within=self.interval
            )
        )

    @property
    def running(self) -> bool:
        """Whether the heartbeat thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Write the first row now, then keep writing in a thread."""
        self._stop.clear()
        self._beat()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread and record the clean stop."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
        try:
            self.monitor.write_heartbeat(stopped=True)
        except StorageError as exc:
            logger.warning("recording the stop in the heartbeat failed: %s", exc)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._beat()

    def _beat(self) -> None:
        try:
            self.monitor.write_heartbeat()
        except StorageError as exc:
            logger.warning("writing the heartbeat failed: %s", exc)
        except Exception:  # a bug: keep beating (the watchdog sees the rest)
            logger.exception("writing the heartbeat crashed")
        self.beats += 1


def process_monitor(gateway: Gateway) -> ProcessMonitor:
    """The gateway's process monitor, made at the first call.

    Parameters:
        gateway: the gateway.

    Returns:
        The monitor (kept as ``gateway.monitor``).
    """
    if gateway.monitor is None:
        gateway.monitor = ProcessMonitor(gateway)
    return gateway.monitor


def watcher_view(events: Any, *, holding: bool) -> dict[str, Any]:
    """One mailbox watcher's state for the heartbeat, from its ``WatcherEvents``.

    Parameters:
        events: the watcher's events (``WatcherEvents``).
        holding: whether this worker holds the mailbox's lease (its watcher runs).

    Returns:
        ``connected``, ``last_idle``, ``last_drain``, ``last_connected``, ``last_error``,
        ``waiting``.
    """
    connected_at = events.last(WatchEvent.CONNECTED)
    lost = max(
        (events.last(e) or 0.0 for e in (WatchEvent.DISCONNECTED, WatchEvent.STOPPED)),
        default=0.0,
    )
    return {
        "holding": holding,
        "connected": bool(holding and connected_at is not None and connected_at >= lost),
        "last_connected": iso(connected_at),
        "last_idle": iso(events.last(WatchEvent.IDLE)),
        "last_drain": iso(events.last(WatchEvent.POLLED)),
        "last_error": events.last_error,
        "waiting": int(events.waiting),
    }
