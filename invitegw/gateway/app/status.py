"""``invitegw status``: is the deployment healthy? One report, from the database, any host.

:func:`deployment_status` reads what every worker shares (schema revision, leases, the
outbox, the quarantine, the spool, each worker's heartbeat row with its own view: mailbox
connections, last IDLE, the listener, each job's last run) and asks the CRM whether it
answers. The verdict:

- **down** (exit 2): the database cannot be reached, its schema is older than this code,
  or no worker is alive (no ``serve`` heartbeat within three heartbeats, no ``serve
  --once`` run within :data:`ONCE_WINDOW`);
- **degraded** (exit 1): anything an operator must look at: the CRM unreachable or not
  polled successfully for three poll intervals, a mailbox nobody watches or whose watcher
  is disconnected, the listener down, a dead outbox message, a message waiting over
  :data:`PENDING_LIMIT`, a stuck loop, refused credentials, a data folder others can read;
- **healthy** (exit 0) otherwise.

It also says where the first start stands (:class:`FirstStartStatus`: the baseline taken
or not, when, how many meetings it adopted; the meetings the send switch holds). Neither
is a problem: a baseline not taken yet is what a new installation has, and a held meeting
is the switch's safe default, which its log explains.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from invitegw.errors import GatewayError
from invitegw.gateway.app.crm import check_crm
from invitegw.gateway.app.status_report import (
    CrmStatus,
    FirstStartStatus,
    Health,
    MailboxStatus,
    StatusReport,
    WorkerStatus,
    quarantine_cause,
)
from invitegw.gateway.bootstrap import open_settings_store, utc_now
from invitegw.gateway.config import Settings
from invitegw.gateway.outbound.first_start import (
    BASELINE_CURSOR,
    held_by_switch,
    parse_marker,
)
from invitegw.gateway.permissions import permission_warnings
from invitegw.gateway.storage import Store, WorkerHeartbeat, get_cursor, schema_status
from invitegw.gateway.storage import health as queries

__all__ = [
    "ONCE_WINDOW",
    "PENDING_LIMIT",
    "CrmStatus",
    "FirstStartStatus",
    "Health",
    "MailboxStatus",
    "StatusReport",
    "WorkerStatus",
    "crm_reachable",
    "deployment_status",
    "job_last",
    "quarantine_cause",
    "worker_alive",
]

ONCE_WINDOW = dt.timedelta(minutes=15)
"""How long a ``serve --once`` run (cron) keeps the deployment "up"."""
PENDING_LIMIT = dt.timedelta(hours=1)
"""An outbox message waiting longer than this makes the deployment degraded."""
POLL_JOB = "crm-poll"
MAILBOX_JOB = "inbound-mailboxes"


def worker_alive(row: WorkerHeartbeat, settings: Settings, now: dt.datetime) -> bool:
    """Whether a heartbeat row stands for a live worker (see the module docstring).

    Parameters:
        row: the row.
        settings: ``worker.heartbeat``.
        now: the current time.

    Returns:
        True for a running ``serve`` or a recent ``serve --once``.
    """
    if row.mode == "once":
        return now - row.heartbeat_at <= ONCE_WINDOW
    return row.stopped_at is None and now - row.heartbeat_at <= 3 * settings.worker.heartbeat


def deployment_status(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    check_crm: bool = True,
) -> StatusReport:
    """Look at the whole deployment (see the module docstring).

    Parameters:
        settings: the configuration (mailboxes, listener, intervals, CRM).
        store: the database (default: the configured one, opened and closed here).
        clock: the current time.
        check_crm: ask the CRM whether it answers (its adapter's check).

    Returns:
        The report; a database that cannot be reached is reported, not raised.
    """
    now = clock()
    owned = store is None
    embedded = settings.data_dir / "invitegw.sqlite3"
    if owned and settings.embedded_database and not embedded.exists():
        # Reading must not create it (SQLite would, empty, wherever status was run).
        problem = f"database: none at {embedded} yet (`invitegw serve` creates it)"
        return StatusReport(Health.DOWN, (problem,), now)
    try:
        db = store if store is not None else open_settings_store(settings)
    except GatewayError as exc:
        return StatusReport(Health.DOWN, (f"database: {exc}",), now)
    try:
        return _Survey(settings, db, now, check_crm).run()
    finally:
        if owned:
            db.dispose()


class _Survey:
    """One status run: gathers sections and problems."""

    def __init__(self, settings: Settings, store: Store, now: dt.datetime, check: bool) -> None:
        self.settings = settings
        self.store = store
        self.now = now
        self.check = check
        self.down: list[str] = []
        self.degraded: list[str] = []

    def run(self) -> StatusReport:
        try:
            status = schema_status(self.store)
        except GatewayError as exc:
            return StatusReport(Health.DOWN, (f"database: {exc}",), self.now)
        schema = {"current": status.current, "head": status.head, "up_to_date": status.up_to_date}
        if not status.up_to_date:
            self.down.append(
                f"database schema at {status.current or '(empty)'}, this code needs "
                f"{status.head}: run `invitegw db upgrade`"
            )
            return self._report(schema=schema)
        try:
            with self.store.session() as session:
                sections = self._read(session)
        except GatewayError as exc:
            self.down.append(f"database: {exc}")
            return self._report(schema=schema)
        sections["crm"] = self._crm(sections.pop("poll"))
        return self._report(schema=schema, warnings=self._warnings(), **sections)

    def _report(self, **sections: Any) -> StatusReport:
        health = Health.DOWN if self.down else Health.DEGRADED if self.degraded else Health.HEALTHY
        problems = tuple(self.down + self.degraded)
        return StatusReport(health, problems, self.now, **sections)

    def _read(self, session: Session) -> dict[str, Any]:
        rows = queries.workers(session)
        alive = [r for r in rows if worker_alive(r, self.settings, self.now)]
        workers = tuple(self._worker(r, r in alive) for r in rows)
        if not alive:
            self.down.append("no worker is alive: start `invitegw serve` (or run it from cron)")
        for worker in workers:
            if worker.alive and worker.stalled:
                self.degraded.append(f"worker {worker.worker}: stuck {', '.join(worker.stalled)}")
        return {
            "workers": workers,
            "mailboxes": self._mailboxes(session, alive),
            "listener": self._listener(session, alive),
            "outbox": self._outbox(session),
            "quarantine": self._quarantine(session),
            "reminders": self._reminders(session, alive),
            "first_start": self._first_start(session),
            "poll": job_last(alive, POLL_JOB),
        }

    def _worker(self, row: WorkerHeartbeat, alive: bool) -> WorkerStatus:
        state = row.state or {}
        return WorkerStatus(
            worker=row.worker,
            host=row.host,
            pid=row.pid,
            version=row.version,
            mode=row.mode,
            started_at=row.started_at,
            heartbeat_at=row.heartbeat_at,
            stopped_at=row.stopped_at,
            alive=alive,
            stalled=tuple(str(s) for s in state.get("stalled") or ()),
        )

    def _mailboxes(
        self, session: Session, alive: list[WorkerHeartbeat]
    ) -> tuple[MailboxStatus, ...]:
        names = [m.name for m in self.settings.mailboxes]
        leases = queries.leases(session, "imap:")
        last = queries.last_processed(session, names)
        by_worker = {r.worker: r for r in alive}
        drained_once = job_last(alive, MAILBOX_JOB, mode="once")
        out = []
        for name in names:
            lease = leases.get(f"imap:{name}")
            holder = lease.holder if lease is not None and lease.expires_at > self.now else None
            row = by_worker.get(holder) if holder else None
            view = ((row.state or {}).get("mailboxes") or {}).get(name, {}) if row else {}
            auth = ((row.state or {}).get("auth") or {}).get(f"imap:{name}") if row else None
            status = MailboxStatus(
                name=name,
                connected=bool(view.get("connected")),
                lease_holder=holder,
                last_idle=view.get("last_idle"),
                last_drain=view.get("last_drain"),
                last_message=last.get(name),
                waiting=view.get("waiting"),
                last_error=view.get("last_error"),
                auth_error=_auth_error(auth),
            )
            out.append(status)
            if status.auth_error:
                self.degraded.append(f"mailbox {name}: credentials refused: {status.auth_error}")
            elif not status.connected and not (drained_once and drained_once[1] is None):
                why = status.last_error or (
                    "no worker holds it" if holder is None else "disconnected"
                )
                self.degraded.append(f"mailbox {name}: not connected ({why})")
        return tuple(out)

    def _listener(self, session: Session, alive: list[WorkerHeartbeat]) -> dict[str, Any]:
        listener = self.settings.listener
        up = [r.worker for r in alive if ((r.state or {}).get("listener") or {}).get("up")]
        info: dict[str, Any] = {
            "enabled": listener.enabled,
            "address": f"{listener.host}:{listener.port}",
            "up_on": up,
            "spool_waiting": queries.spool_waiting(session),
        }
        serving = [r for r in alive if r.mode == "serve"]
        if listener.enabled and serving and not up:
            self.degraded.append(f"SMTP listener ({info['address']}) is not up on any worker")
        return info

    def _outbox(self, session: Session) -> dict[str, Any]:
        figures = queries.outbox_figures(session)
        age = self.now - figures.oldest_pending if figures.oldest_pending else None
        if figures.dead:
            self.degraded.append(
                f"outbox: {figures.dead} dead message(s): see `invitegw outbox list --state dead`"
            )
        if age is not None and age > PENDING_LIMIT:
            self.degraded.append(f"outbox: a message has waited {_span(age)} to be sent")
        return {
            "by_state": figures.by_state,
            "dead": figures.dead,
            "waiting": figures.waiting,
            "oldest_pending": figures.oldest_pending,
            "oldest_pending_seconds": int(age.total_seconds()) if age is not None else None,
        }

    def _quarantine(self, session: Session) -> dict[str, Any]:
        figures = queries.quarantine_figures(session)
        causes: dict[str, int] = {}
        for reason, count in figures.reasons.items():
            cause = quarantine_cause(reason)
            causes[cause] = causes.get(cause, 0) + count
        return {"count": figures.count, "bytes": figures.size, "by_cause": causes}

    def _reminders(self, session: Session, alive: list[WorkerHeartbeat]) -> dict[str, Any]:
        waiting = queries.outbox_figures(session).reminders_waiting
        last = job_last(alive, "reminders")
        return {"queued": waiting, "last_run": last[0] if last else None}

    def _first_start(self, session: Session) -> FirstStartStatus:
        marker = parse_marker(get_cursor(session, BASELINE_CURSOR))
        held, named = held_by_switch(session, self.now)
        return FirstStartStatus(
            baseline=marker.state.value,
            started_at=marker.started_at,
            taken_at=marker.taken_at,
            adopted=marker.adopted,
            held=held,
            held_meetings=named,
        )

    def _crm(self, poll: tuple[str | None, str | None] | None) -> CrmStatus:
        settings = self.settings
        reachable: bool | None = None
        detail = "not checked"
        if self.check:
            reachable, detail = crm_reachable(settings, self.store)
            if not reachable:
                self.degraded.append(f"CRM ({settings.crm.adapter}) unreachable: {detail}")
        last_ok = _parse(poll[0]) if poll else None
        error = poll[1] if poll else None
        limit = 3 * settings.outbound.poll_interval
        late = last_ok is not None and self.now - last_ok > limit
        # A poll that never succeeded counts once it has failed (the first may be running).
        if late or (last_ok is None and error is not None):
            when = f"last at {last_ok:%Y-%m-%d %H:%M:%S} UTC" if last_ok else "never"
            self.degraded.append(
                f"CRM poll has not succeeded for over {_span(limit)} ({when})"
                + (f": {error}" if error else "")
            )
        return CrmStatus(settings.crm.adapter, reachable, detail, last_ok, error)

    def _warnings(self) -> tuple[str, ...]:
        found = tuple(permission_warnings(self.settings))
        self.degraded.extend(found)
        return found


def crm_reachable(settings: Settings, store: Store) -> tuple[bool, str]:
    """Whether the configured CRM answers, by its adapter's own check (``crm check``).

    Parameters:
        settings: the configuration.
        store: the gateway's database (unused: the check opens its own, for a CRM there).

    Returns:
        (answers, one line: what was found or why not).
    """
    del store  # the use case opens what it needs
    try:
        result = check_crm(settings)
    except GatewayError as exc:
        return False, str(exc)
    except Exception as exc:  # an adapter's bug: report it, do not crash status
        return False, f"{type(exc).__name__}: {exc}"
    first = result.text.strip().splitlines()
    line = first[-1] if not result.ok and first else (first[0] if first else "")
    return result.ok, line


def job_last(
    alive: list[WorkerHeartbeat], job: str, *, mode: str | None = None
) -> tuple[str | None, str | None] | None:
    """(latest ``last_ok``, its worker's ``last_error``) of ``job`` among live workers.

    Parameters:
        alive: the live workers' heartbeat rows.
        job: the job's name.
        mode: only workers in this mode (``once``).

    Returns:
        ISO times and error text from the heartbeat states, or ``None`` when no live
        worker runs the job.
    """
    best: tuple[str | None, str | None] | None = None
    for row in alive:
        if mode is not None and row.mode != mode:
            continue
        state = ((row.state or {}).get("jobs") or {}).get(job)
        if not isinstance(state, dict):
            continue
        candidate = (state.get("last_ok"), state.get("last_error"))
        if best is None or (candidate[0] or "") > (best[0] or ""):
            best = candidate
    return best


def _auth_error(auth: object) -> str | None:
    """The refusal recorded for an account (the OAuth health view), if it is refused."""
    if isinstance(auth, dict) and auth.get("ok") is False:
        return str(auth.get("message") or "refused")
    return None


def _parse(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _span(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
