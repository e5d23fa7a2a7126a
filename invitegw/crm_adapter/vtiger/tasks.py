"""Tasks the gateway creates from inbound invitations (``Calendar`` records, type Task).

- **Idempotency.** The description carries the marker ``[invitegw:<token>]``
  (:mod:`~invitegw.crm_adapter.vtiger.markers`); ``create_task`` searches for it with
  ``LIKE`` first and returns the task it finds. Should two workers race, the one whose
  task is not the oldest deletes its own and returns the oldest.
- **Links.** ``contact_id`` links a contact, ``parent_id`` an account or lead,
  ``assigned_user_id`` is the owner. vtiger stores a reference to a missing record as
  empty without complaint (file 64), so the party is looked up before the write and the
  stored record is compared with what was sent afterwards.
- **Status.** vtiger has no cancelled task status; ``task_cancelled_status`` (default
  ``Deferred``) stands for it, and vtiger stores whatever value it is given (files 45, 46).
- **Times** go to and come from the server's zone (:mod:`.records`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from invitegw.crm_adapter.vtiger import markers, vtql
from invitegw.crm_adapter.vtiger.client import VtigerClient
from invitegw.crm_adapter.vtiger.options import VtigerOptions
from invitegw.crm_adapter.vtiger.parties import ADDRESS_ID_PREFIX, Directory
from invitegw.crm_adapter.vtiger.records import from_server, to_server
from invitegw.crm_adapter.vtiger.schema import TASKS, Schema
from invitegw.domain.records import EntityType, NewTask, PartyRef, Task, TaskStatus, TaskUpdate
from invitegw.errors import CrmError, CrmNotFoundError

__all__ = ["MAX_LOG_LINES", "TaskStore"]

logger = logging.getLogger(__name__)

MAX_LOG_LINES = 200
_MAX_SUBJECT = 250


def _crm_number(ws_id: str) -> int:
    return vtql.crmid(ws_id)


class TaskStore:
    """Task reads and writes over the webservice."""

    def __init__(
        self, client: VtigerClient, options: VtigerOptions, schema: Schema, directory: Directory
    ) -> None:
        self._client = client
        self._options = options
        self._schema = schema
        self._directory = directory

    # -- reads ---------------------------------------------------------------------------

    def find(self, key: str) -> Task | None:
        """The task created with this idempotency key (the oldest, should there be two)."""
        rows = self._find_rows(key)
        return self._to_task(rows[0]) if rows else None

    def _find_rows(self, key: str) -> list[dict[str, Any]]:
        token = markers.marker_token(key)
        where = f"description LIKE {vtql.like_contains(markers.marker(key))}"
        rows = self._client.query(vtql.select(TASKS, None, where), module=TASKS)
        # LIKE may match more than the marker (wildcards stand in for special characters).
        mine = [
            r for r in rows if markers.parse_block(str(r.get("description") or "")).token == token
        ]
        return sorted(mine, key=lambda r: _crm_number(str(r.get("id"))))

    def get(self, task_id: str) -> Task | None:
        """The task, or ``None`` when it does not exist (or is not a task)."""
        record = self._retrieve(task_id)
        return self._to_task(record) if record is not None else None

    def _retrieve(self, task_id: str) -> dict[str, Any] | None:
        record = self._schema.fetch(task_id, TASKS)
        if record is None or str(record.get("activitytype") or "Task") != "Task":
            return None
        return record

    def _required(self, task_id: str) -> dict[str, Any]:
        record = self._retrieve(task_id)
        if record is None:
            raise CrmNotFoundError(f"vtiger task {task_id} does not exist")
        return record

    # -- writes --------------------------------------------------------------------------

    def create(self, new: NewTask) -> Task:
        """Create the task, or return the one already made with the same key.

        Raises:
            CrmNotFoundError: the owner or the party does not exist.
            CrmError: vtiger refused the task, or did not store the links sent.
        """
        existing = self.find(new.idempotency_key)
        if existing is not None:
            return existing
        if new.owner.type is not EntityType.USER or self._directory.user(new.owner.id) is None:
            raise CrmNotFoundError(f"vtiger task owner {new.owner.id} is not a vtiger user")
        element, extra = self._links(new.party)
        start, end = new.start, new.end
        date_start, time_start = to_server(start, self._options.zone)
        due_date, time_end = to_server(end, self._options.zone) if end else (date_start, "")
        meta = {
            "uid": new.source_uid,
            "organizer": new.organizer_email,
            "recurrence-id": new.recurrence_id,
            "sequence": new.sequence,
            "dates": "date" if not isinstance(start, dt.datetime) else None,
            "end": "none" if end is None else None,
            "party": f"{new.party.type.value}:{new.party.id}" if new.party else None,
        }
        element.update(
            subject=new.title[:_MAX_SUBJECT],
            activitytype="Task",
            taskstatus=self._options.task_open_status,
            date_start=date_start,
            time_start=time_start,
            due_date=due_date,
            time_end=time_end,
            location=new.location,
            description=markers.render_block(new.description, new.idempotency_key, meta),
            assigned_user_id=new.owner.id,
        )
        record = self._client.create(TASKS, element, extra)
        self._verify(record, element)
        return self._settle(new.idempotency_key, record)

    def _links(self, party: PartyRef | None) -> tuple[dict[str, str], dict[str, str]]:
        if party is None or party.type is EntityType.USER or party.id.startswith(ADDRESS_ID_PREFIX):
            return {}, {}
        if self._directory.get(party) is None:
            raise CrmNotFoundError(f"vtiger {party.type.value} {party.id} does not exist")
        if party.type is EntityType.CONTACT:
            # contactidlist takes bare crmids (file 86); the server intval()s each one.
            return {"contact_id": party.id}, {"contactidlist": str(_crm_number(party.id))}
        return {"parent_id": party.id}, {}

    def _verify(self, record: Mapping[str, Any], sent: Mapping[str, str]) -> None:
        for name in ("contact_id", "parent_id", "assigned_user_id"):
            if name in sent and str(record.get(name) or "") != sent[name]:
                raise CrmError(
                    f"vtiger task {record.get('id')}: {name} was sent as {sent[name]} but "
                    f"stored as {record.get(name)!r} (vtiger drops bad references silently)"
                )

    def _settle(self, key: str, record: dict[str, Any]) -> Task:
        rows = self._find_rows(key)
        if rows and str(rows[0].get("id")) != str(record.get("id")):
            # Another worker made the same task first: keep the oldest, remove ours.
            logger.warning(
                "vtiger task %s duplicates %s (same idempotency key): deleting it",
                record.get("id"),
                rows[0].get("id"),
            )
            self._client.call("delete", {"id": str(record["id"])}, post=True, module=TASKS)
            return self._to_task(rows[0])
        return self._to_task(record)

    def update(self, task_id: str, update: TaskUpdate) -> Task:
        """Apply ``update`` with one ``revise`` (tasks have no invitees to lose)."""
        record = self._required(task_id)
        block = markers.parse_block(str(record.get("description") or ""))
        meta = dict(block.meta)
        element: dict[str, str] = {"id": task_id}
        if update.title is not None:
            element["subject"] = update.title[:_MAX_SUBJECT]
        if update.location is not None:
            element["location"] = update.location
        if update.start is not None:
            element["date_start"], element["time_start"] = to_server(
                update.start, self._options.zone
            )
            meta["dates"] = "datetime" if isinstance(update.start, dt.datetime) else "date"
        if update.end is not None:
            element["due_date"], element["time_end"] = to_server(update.end, self._options.zone)
            meta["end"] = "set"
        if update.sequence is not None:
            meta["sequence"] = update.sequence
        description = update.description if update.description is not None else block.description
        if block.token is not None:
            meta.pop("key", None)
            key = str(block.meta.get("key") or block.token)
            element["description"] = markers.render_block(description, key, meta, block.log)
        elif update.description is not None:
            element["description"] = description
        return self._to_task(self._client.revise(element, module=TASKS))

    def set_status(self, task_id: str, status: TaskStatus) -> Task:
        """Set the task's status to the configured vtiger value for ``status``."""
        self._required(task_id)
        value = {
            TaskStatus.OPEN: self._options.task_open_status,
            TaskStatus.CANCELLED: self._options.task_cancelled_status,
            TaskStatus.DONE: self._options.task_done_status,
        }[status]
        record = self._client.revise({"id": task_id, "taskstatus": value}, module=TASKS)
        return self._to_task(record)

    def append_log(self, task_id: str, line: str) -> bool:
        """Append a log line to a gateway task's description; False if not ours or gone."""
        record = self._retrieve(task_id)
        if record is None:
            return False
        block = markers.parse_block(str(record.get("description") or ""))
        if block.token is None:
            return False
        meta = {k: v for k, v in block.meta.items() if k != "key"}
        log = (*block.log, line)[-MAX_LOG_LINES:]
        key = str(block.meta.get("key") or block.token)
        text = markers.render_block(block.description, key, meta, log)
        self._client.revise({"id": task_id, "description": text}, module=TASKS)
        return True

    # -- mapping -------------------------------------------------------------------------

    def _to_task(self, record: Mapping[str, Any]) -> Task:
        zone = self._options.zone
        block = markers.parse_block(str(record.get("description") or ""))
        meta = block.meta
        start: dt.date | dt.datetime = from_server(
            record.get("date_start"), record.get("time_start"), zone
        )
        end: dt.date | dt.datetime | None = None
        if meta.get("end") != "none" and record.get("due_date"):
            end = from_server(record.get("due_date"), record.get("time_end") or "00:00:00", zone)
        if meta.get("dates") == "date" and isinstance(start, dt.datetime):
            start = start.date()
            end = end.date() if isinstance(end, dt.datetime) else end
        status = str(record.get("taskstatus") or "")
        sequence = meta.get("sequence", 0)
        return Task(
            id=str(record.get("id") or ""),
            title=str(record.get("subject") or ""),
            start=start,
            end=end,
            status=self._status(status),
            owner=PartyRef(EntityType.USER, str(record.get("assigned_user_id") or "")),
            description=block.description,
            location=str(record.get("location") or ""),
            organizer_email=_text(meta.get("organizer")),
            party=self._party(record, meta),
            source_uid=_text(meta.get("uid")),
            recurrence_id=_text(meta.get("recurrence-id")),
            sequence=sequence if isinstance(sequence, int) else 0,
            idempotency_key=_text(meta.get("key")) if block.token else None,
        )

    def _status(self, value: str) -> TaskStatus:
        if value == self._options.task_cancelled_status:
            return TaskStatus.CANCELLED
        if value == self._options.task_done_status:
            return TaskStatus.DONE
        return TaskStatus.OPEN

    def _party(self, record: Mapping[str, Any], meta: Mapping[str, str | int]) -> PartyRef | None:
        contact = str(record.get("contact_id") or "")
        if contact:
            return PartyRef(EntityType.CONTACT, contact)
        parent = str(record.get("parent_id") or "")
        if parent:
            etype = self._schema.type_of(parent)
            if etype in (EntityType.ACCOUNT, EntityType.LEAD):
                return PartyRef(etype, parent)
        kind, _, ident = str(meta.get("party") or "").partition(":")
        if kind == EntityType.USER.value or ident.startswith(ADDRESS_ID_PREFIX):
            return PartyRef(EntityType(kind), ident)
        return None


def _text(value: str | int | None) -> str | None:
    return value if isinstance(value, str) and value else None
