"""What ``invitegw serve`` runs: periodic jobs (APScheduler 3) and long-running services.

The gateway's work is **jobs** (idempotent passes run at an interval: poll the CRM feed,
send due reminders, flush the outbox, drain the mailboxes and the spool) and **services**
(things that run until stopped: the IMAP watchers, the SMTP listener, the HTTP server).
They are objects: the composition root builds them from the assembled parts
(:func:`invitegw.gateway.bootstrap.build_scheduler`) and hands them to the scheduler, which
knows nothing of what they do.

:class:`GatewayScheduler` runs them: :meth:`~GatewayScheduler.run_once` runs every job
once in its order and returns (``serve --once``, cron, tests); :meth:`~GatewayScheduler.start`
starts the services and an APScheduler ``BackgroundScheduler`` (every job at once, then at
its interval, never two runs of one job at a time); :meth:`~GatewayScheduler.shutdown`
sets the stop event (jobs finish what is in flight: the dispatcher its current message)
and waits for them. Every job is safe to run in several workers at once (leases, SKIP
LOCKED), so APScheduler keeps no shared job store.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from invitegw.errors import GatewayError

if TYPE_CHECKING:  # the composition root imports the scheduler's types, not the reverse
    from apscheduler.schedulers.background import BackgroundScheduler

    from invitegw.gateway.bootstrap import Gateway

__all__ = [
    "GatewayScheduler",
    "Job",
    "JobOutcome",
    "Runtime",
    "Service",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    """A periodic, idempotent pass.

    ``run`` receives the stop event (check it between units of work) and returns a report
    for the log. ``order`` places it in ``serve --once`` (lower first): producers (the feed,
    reminders) before the outbox flush that sends what they queued.
    """

    name: str
    interval: dt.timedelta
    run: Callable[[threading.Event], object]
    order: int = 50


class Service(Protocol):
    """Something that runs until stopped (a listener, a watcher)."""

    name: str

    def start(self) -> None:
        """Start in the background and return."""
        ...

    def stop(self, timeout: float) -> None:
        """Stop, waiting at most ``timeout`` seconds for work in flight."""
        ...


@dataclass
class Runtime:
    """What a serving process shares: its gateway, the stop event, a way to wake a job."""

    gateway: Gateway
    stop: threading.Event = field(default_factory=threading.Event)
    _wake: Callable[[str], None] | None = None

    def wake(self, job: str) -> None:
        """Run job ``job`` as soon as possible (e.g. flush the outbox after a poll queued mail).

        Parameters:
            job: the job's name.
        """
        if self._wake is not None:
            self._wake(job)


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """How one run of a job ended."""

    name: str
    ok: bool
    result: object = None
    error: str | None = None


class GatewayScheduler:
    """Runs the registered jobs and services (see the module docstring).

    Parameters:
        runtime: the gateway and stop event the jobs share.
        jobs: the jobs.
        services: the services.
    """

    def __init__(
        self, runtime: Runtime, *, jobs: Sequence[Job], services: Sequence[Service]
    ) -> None:
        self.runtime = runtime
        runtime._wake = self._wake
        self.jobs = sorted(jobs, key=lambda j: j.order)
        self.services: list[Service] = list(services)
        self._scheduler: BackgroundScheduler | None = None

    def _run(self, job: Job) -> JobOutcome:
        """One run of a job; our errors are logged, never raised into the scheduler."""
        try:
            result = job.run(self.runtime.stop)
        except GatewayError as exc:
            logger.warning("job %s failed: %s", job.name, exc)
            return JobOutcome(job.name, ok=False, error=str(exc))
        except Exception as exc:  # a bug: log it with its traceback, keep the worker up
            logger.exception("job %s crashed", job.name)
            return JobOutcome(job.name, ok=False, error=f"{type(exc).__name__}: {exc}")
        logger.debug("job %s: %s", job.name, result)
        return JobOutcome(job.name, ok=True, result=result)

    def run_once(self) -> list[JobOutcome]:
        """Run every job once, in order (``serve --once``).

        Returns:
            Each job's outcome.
        """
        outcomes = []
        for job in self.jobs:
            if self.runtime.stop.is_set():
                break
            outcomes.append(self._run(job))
        return outcomes

    def start(self) -> None:
        """Start the services and the periodic jobs (each runs at once, then at its interval)."""
        # APScheduler is loaded by `serve`, not by every command that builds a gateway.
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        for service in self.services:
            logger.info("starting %s", service.name)
            service.start()
        scheduler = BackgroundScheduler(timezone=dt.UTC)
        now = dt.datetime.now(dt.UTC)
        for job in self.jobs:
            scheduler.add_job(
                self._run,
                IntervalTrigger(seconds=job.interval.total_seconds(), timezone=dt.UTC),
                args=[job],
                id=job.name,
                name=job.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                next_run_time=now,
            )
        scheduler.start()
        self._scheduler = scheduler
        logger.info(
            "serving: %s", ", ".join(f"{j.name} every {j.interval}" for j in self.jobs) or "-"
        )

    def _wake(self, name: str) -> None:
        scheduler = self._scheduler
        if scheduler is not None and scheduler.get_job(name) is not None:
            scheduler.modify_job(name, next_run_time=dt.datetime.now(dt.UTC))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the stop event is set (or ``timeout`` seconds pass).

        Returns:
            True when stopped.
        """
        return self.runtime.stop.wait(timeout)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop: no new runs, jobs in flight finish their current unit, services stop.

        Parameters:
            timeout: seconds each service may take to stop.
        """
        self.runtime.stop.set()
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        for service in reversed(self.services):
            logger.info("stopping %s", service.name)
            service.stop(timeout)
