"""The fake vtiger's state and record operations (see :mod:`.replay_server`).

In memory, thread-safe: records with a shared crmid sequence, users, sessions and
challenge tokens, contact links and user invitees of activities, and the emulated
behaviour of create, revise/update, delete, query, the related lists and ``sync``.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import threading
import time
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.crm_adapter.vtiger import fake_vtql
from tests.crm_adapter.vtiger.fake_schema import (
    LABEL_FIELDS,
    NUMBERING,
    FieldSpec,
    ModuleSpec,
    build_modules,
)

ACTIVITIES = ("Events", "Calendar")
# What vtiger's web form removes from a text area: anything shaped like an HTML tag.
_TAG = re.compile(r"<[^<>]*>")
WRITES = {"create", "update", "revise", "delete", "login", "logout", "add_related"}
COMMENT_TARGETS = ("Contacts", "Accounts", "Leads")
GROUPS_PREFIX = "20"


class Fault(Exception):  # noqa: N818 - a vtiger error answer
    def __init__(self, code: str | int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


DENIED = ("ACCESS_DENIED", "Permission to perform the operation is denied")


@dataclass
class Record:
    module: str
    crmid: int
    values: dict[str, Any]
    deleted_at: float | None = None
    links: list[int] = field(default_factory=list)  # linked contacts (activities)
    invitees: list[int] = field(default_factory=list)  # invited users (events)


class ManualClock:
    """A settable clock for tests that need control over seconds."""

    def __init__(self, start: float) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeVtiger:
    """The fake's state and operations (thread-safe)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        zone: str = "UTC",
        access_key: str = "fake-access-key-0123",
    ) -> None:
        self.clock = clock
        self.zone = zoneinfo.ZoneInfo(zone)
        self.modules: dict[str, ModuleSpec] = build_modules()
        self.lock = threading.RLock()
        self.records: dict[int, Record] = {}
        self.users: dict[int, dict[str, str]] = {}
        self.access_keys: dict[int, str] = {}
        self.sessions: dict[str, int] = {}
        # When each session was started and last used (vtiger's SessionManager keeps both).
        self.session_times: dict[str, tuple[float, float]] = {}
        self.session_idle_seconds = 1800.0  # $maxWebServiceSessionIdleTime
        self.session_life_seconds = 86400.0  # $maxWebServiceSessionLifeSpan
        self.tokens: dict[int, tuple[str, float]] = {}
        self.next_crmid = 2
        self.next_user = 1
        self.numbers: dict[str, int] = {}
        self.sync_mode = "broken"
        # Stock vtiger 8 on PHP 8 answers logout with HTTP 500 and an empty body, and the
        # session stays valid (issue 11); "patched" answers as file 78 does.
        self.logout_mode = "broken"
        self.reverse_ties = False
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.delay = 0.0
        self.sessions_valid = True  # False: every session is refused, even a fresh one
        # Knobs that make the fake behave like other servers or situations:
        self.refuse_in = False  # a server whose VTQL refuses `id IN (...)`
        self.drop_references = False  # every reference stored empty, as for a bad id
        self.before_create: Callable[[str], None] | None = None  # another client, racing
        self.fail_next: list[tuple[int, bytes]] = []
        self.admin_id = self.add_user("admin", "Peer", "Admin", "admin@example.test", access_key)

    # -- set-up helpers (what an admin does in the UI) ---------------------------------------

    def add_user(
        self,
        user_name: str,
        first: str,
        last: str,
        email1: str,
        access_key: str,
        *,
        time_zone: str = "UTC",
        email2: str = "",
    ) -> str:
        with self.lock:
            number = self.next_user
            self.next_user += 1
            values = dict.fromkeys(self.modules["Users"].names, "")
            values.update(
                user_name=user_name,
                first_name=first,
                last_name=last,
                email1=email1,
                email2=email2,
                status="Active",
                is_admin="on" if number == 1 else "off",
                time_zone=time_zone,
                date_format="yyyy-mm-dd",
                hour_format="12",
                language="en_us",
                roleid="H2",
                currency_id="21x1",
            )
            self.users[number] = values
            self.access_keys[number] = access_key
            return f"{self.modules['Users'].prefix}x{number}"

    def add_field(
        self, module: str, name: str, kind: str = "string", *, label: str = "", default: str = ""
    ) -> None:
        """A custom field, as an admin adds one in the layout editor.

        Records that exist already read a new checkbox as ``"0"``, whatever its default:
        vtiger fills the default in only when a person saves a new record in the web form
        (issue 11).
        """
        with self.lock:
            self.modules[module].fields.append(FieldSpec(name, kind, label=label, default=default))
            for record in self.records.values():
                if record.module == module:
                    record.values.setdefault(name, "0" if kind == "boolean" else "")

    def ui_save(
        self,
        user_ws: str,
        module: str,
        fields: Mapping[str, Any],
        *,
        ws_id: str | None = None,
        contacts: Sequence[str] | None = None,
        invitees: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """What a person's save in vtiger's web form stores (the webservice does otherwise).

        - A new record gets every field's layout-editor default the form was not given
          (a custom checkbox defaulting to checked is stored ticked).
        - ``<...>`` is removed from text areas: ``Lena Lead <lena@prospect.example>`` is
          stored as ``Lena Lead `` (issue 11).
        - Editing an event keeps its linked contacts and invited users unless given: the
          form shows them and sends them back.
        - ``source`` is ``CRM`` instead of ``WEBSERVICE``.
        """
        with self.lock:
            spec = self.modules[module]
            values: dict[str, Any] = dict(fields)
            if ws_id is None:
                for fspec in spec.fields:
                    if fspec.default and fspec.name not in values:
                        values[fspec.name] = fspec.default
            for name, value in list(values.items()):
                fspec = spec.field(name)
                if fspec is not None and fspec.type == "text" and isinstance(value, str):
                    values[name] = _TAG.sub("", value)
            user = intval(user_ws.partition("x")[2])
            if ws_id is not None:
                record = self.resolve(ws_id)
                contacts = contacts if contacts is not None else [str(c) for c in record.links]
                invitees = invitees if invitees is not None else [str(i) for i in record.invitees]
            extra = {"inviteesid": ";".join(i.rpartition("x")[2] for i in invitees or ())}
            if contacts is not None:
                extra["contactidlist"] = ";".join(c.rpartition("x")[2] for c in contacts)
            if ws_id is None:
                saved = self.create(user, module, values, extra)
                self.resolve(saved["id"]).values["source"] = "CRM"
                return self.render(self.resolve(saved["id"]))
            return self.revise(user, {**values, "id": ws_id}, extra, whole=False)

    def expire_sessions(self) -> None:
        """Forget every session, as when PHP has removed them: ``INVALID_SESSIONID``."""
        with self.lock:
            self.sessions.clear()
            self.session_times.clear()

    def open_session(self, session: str, user: int) -> None:
        with self.lock:
            self.sessions[session] = user
            now = self.clock()
            self.session_times[session] = (now, now)

    def use_session(self, session: str) -> int:
        """The session's user, after vtiger's checks: life span first, then idle time.

        Raises:
            Fault: ``INVALID_SESSIONID``, ``SESSION_EXPIRED`` or ``SESSION_LEFT_IDLE``,
                with vtiger's messages (``include/Webservices/SessionManager.php``); an
                ended session is destroyed, as vtiger does.
        """
        with self.lock:
            user = self.sessions.get(session)
            if user is None or not self.sessions_valid:
                raise Fault("INVALID_SESSIONID", "Session Identifier provided is Invalid")
            now = self.clock()
            started, used = self.session_times.get(session, (now, now))
            if now > started + self.session_life_seconds:
                self._end_session(session)
                raise Fault("SESSION_EXPIRED", "Session has life span over please login again")
            if now > used + self.session_idle_seconds:
                self._end_session(session)
                raise Fault(
                    "SESSION_LEFT_IDLE", "Session has been invalidated to due lack activity"
                )
            self.session_times[session] = (started, now)
            return user

    def _end_session(self, session: str) -> None:
        self.sessions.pop(session, None)
        self.session_times.pop(session, None)

    def allocate_crmid(self) -> int:
        with self.lock:
            self.next_crmid += 1
            return self.next_crmid - 1

    def stamp(self, epoch: float | None = None) -> str:
        moment = dt.datetime.fromtimestamp(self.clock() if epoch is None else epoch, self.zone)
        return moment.strftime("%Y-%m-%d %H:%M:%S")

    def epoch_of(self, stamp: str) -> float:
        return dt.datetime.fromisoformat(stamp).replace(tzinfo=self.zone).timestamp()

    # -- lookups ---------------------------------------------------------------------------

    def ws_id(self, record: Record) -> str:
        return f"{self.modules[record.module].prefix}x{record.crmid}"

    def module_of_prefix(self, prefix: str) -> str | None:
        return next((m.name for m in self.modules.values() if m.prefix == prefix), None)

    def live(self, crmid: int) -> Record | None:
        record = self.records.get(crmid)
        return record if record is not None and record.deleted_at is None else None

    def resolve(self, ws_id: Any, *, strict: bool = True) -> Record:
        text = str(ws_id or "")
        if "x" not in text:
            raise Fault("ACCESS_DENIED", DENIED[1] + " for id")
        head, _, tail = text.partition("x")
        module = self.module_of_prefix(head)
        if module is None or not tail.isdigit():
            raise Fault("INVALID_ID_ATTRIBUTE", "Id specified is incorrect")
        record = self.live(int(tail))
        if record is None:
            raise Fault(*DENIED)
        if strict and record.module != module:
            raise Fault("INVALID_ID_ATTRIBUTE", "Id specified is incorrect")
        return record

    def reference(self, spec: FieldSpec, value: Any) -> str:
        """A stored reference: the id when it names a live record of a target, else ""."""
        text = str(value or "")
        if self.drop_references and spec.type == "reference":
            return ""
        head, sep, tail = text.partition("x")
        if not sep or not tail.isdigit():
            return ""
        target = self.module_of_prefix(head)
        if spec.type == "owner" and head == GROUPS_PREFIX:
            return text  # assigned to a group: the fake keeps no groups, it trusts the id
        if spec.type == "owner" or target == "Users":
            return text if target == "Users" and int(tail) in self.users else ""
        record = self.live(int(tail))
        if record is None or record.module != target or target not in spec.values:
            return ""
        return text

    # -- rendering -------------------------------------------------------------------------

    def render(self, record: Record, *, label: bool = True) -> dict[str, Any]:
        spec = self.modules[record.module]
        out = {name: record.values.get(name, "") for name in spec.names}
        out["id"] = self.ws_id(record)
        if label:
            parts = [str(record.values.get(f) or "") for f in LABEL_FIELDS[record.module]]
            text = " ".join(p for p in parts if p)
            out["label"] = html.escape(text) if record.module == "ModComments" else text
        return out

    def user_record(self, number: int) -> dict[str, Any]:
        values = dict(self.users[number])
        values["id"] = f"{self.modules['Users'].prefix}x{number}"
        values["label"] = f"{values['first_name']} {values['last_name']}".strip()
        return values

    # -- writes ----------------------------------------------------------------------------

    def _values(
        self, module: str, element: Mapping[str, Any], base: dict[str, Any]
    ) -> dict[str, Any]:
        spec = self.modules[module]
        values = dict(base)
        for name, value in element.items():
            fspec = spec.field(name)
            if fspec is None or name in ("createdtime", "modifiedtime", "modifiedby"):
                continue  # unknown fields are dropped silently (file 131)
            if fspec.type in ("reference", "owner"):
                values[name] = self.reference(fspec, value)
            elif fspec.type == "boolean":
                values[name] = "1" if str(value).lower() in ("1", "true", "on", "yes") else "0"
            else:
                values[name] = "" if value is None else str(value)
        return values

    def _defaults(self, module: str) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for fspec in self.modules[module].fields:
            if fspec.type == "boolean" or fspec.name in ("reminder_time", "duration_minutes"):
                values[fspec.name] = "0"
            elif fspec.type in ("reference", "owner") and module not in ACTIVITIES:
                values[fspec.name] = None
            else:
                values[fspec.name] = ""
        return values

    def _mandatory(self, module: str, values: Mapping[str, Any]) -> None:
        for fspec in self.modules[module].fields:
            if fspec.mandatory and not values.get(fspec.name):
                raise Fault("MANDATORY_FIELDS_MISSING", f"{fspec.name} does not have a value")

    def _links(self, extra: Mapping[str, str], record: Record) -> None:
        if "contactidlist" in extra:
            ids = [intval(part) for part in extra["contactidlist"].split(";") if part.strip()]
            record.links = [
                i for i in dict.fromkeys(ids) if (r := self.live(i)) and r.module == "Contacts"
            ]
        if record.module == "Events":
            # Every save rewrites the user invitees from the request (file 31).
            ids = [intval(p) for p in extra.get("inviteesid", "").split(";") if p.strip()]
            record.invitees = [i for i in dict.fromkeys(ids) if i in self.users]

    def create(
        self, user: int, module: str, element: Mapping[str, Any], extra: Mapping[str, str]
    ) -> dict[str, Any]:
        if module not in self.modules or module == "Users":
            raise Fault("ACCESS_DENIED", "Permission to perform the operation is denied for name")
        if self.before_create is not None:
            hook, self.before_create = self.before_create, None
            hook(module)
        if module == "ModComments":
            target = self.reference(
                self.modules[module].field("related_to"), element.get("related_to")
            )  # type: ignore[arg-type]
            if not target or self.module_of_prefix(target.partition("x")[0]) not in COMMENT_TARGETS:
                raise Fault("REFERENCE_INVALID", "Invalid reference specified for related_to")
        values = self._values(module, element, self._defaults(module))
        if module == "Calendar":
            values["activitytype"] = "Task"
        self._mandatory(module, values)
        if module == "Accounts":
            name = str(values["accountname"]).casefold()
            if any(
                r.values.get("accountname", "").casefold() == name
                for r in self.records.values()
                if r.module == "Accounts" and r.deleted_at is None
            ):
                raise Fault(0, "Duplicate(s) detected!")
        if module in NUMBERING:
            column, prefix = NUMBERING[module]
            self.numbers[module] = self.numbers.get(module, 0) + 1
            values[column] = f"{prefix}{self.numbers[module]}"
        now = self.stamp()
        values.update(
            createdtime=now, modifiedtime=now, modifiedby=self.user_ws(user), source="WEBSERVICE"
        )
        if module == "ModComments":
            values.update(
                creator=self.user_ws(user),
                parent_comments=None,
                customer=None,
                userid=None,
                related_email_id="0",
            )
        record = Record(module, self.allocate_crmid(), values)
        if module in ACTIVITIES:
            contact = values.get("contact_id")
            record.links = [int(contact.partition("x")[2])] if contact else []
            self._links(extra, record)
        self.records[record.crmid] = record
        return self.render(record)

    def user_ws(self, number: int) -> str:
        return f"{self.modules['Users'].prefix}x{number}"

    def revise(
        self, user: int, element: Mapping[str, Any], extra: Mapping[str, str], *, whole: bool
    ) -> dict[str, Any]:
        ws_id = element.get("id")
        head = str(ws_id or "").partition("x")[0]
        if self.module_of_prefix(head) == "Users":
            number = intval(str(ws_id).partition("x")[2])
            if number not in self.users:
                raise Fault(*DENIED)
            for name, value in element.items():
                if name in self.users[number] and name != "user_name":
                    self.users[number][name] = str(value)
            return self.user_record(number)
        record = self.resolve(ws_id)
        base = self._defaults(record.module) if whole else record.values
        keep = {
            k: record.values[k]
            for k in ("createdtime", "source", "contact_no", "account_no", "lead_no")
            if k in record.values
        }
        values = self._values(record.module, element, dict(base))
        values.update(keep)
        if record.module == "Calendar":
            values["activitytype"] = "Task"
        self._mandatory(record.module, values)
        values.update(modifiedtime=self.stamp(), modifiedby=self.user_ws(user))
        record.values = values
        if record.module in ACTIVITIES:
            self._links(extra, record)
        return self.render(record)

    def delete(self, ws_id: Any) -> dict[str, Any]:
        record = self.resolve(ws_id)
        record.deleted_at = self.clock()
        record.values["modifiedtime"] = self.stamp()
        return {"status": "successful"}

    # -- reads -----------------------------------------------------------------------------

    def table(self, module: str) -> fake_vtql.Table:
        if module == "Users":
            spec = self.modules["Users"]
            rows = [self.user_record(n) for n in sorted(self.users)]
            return fake_vtql.Table(spec.names, {"id"}, rows)
        if module not in self.modules:
            raise Fault("ACCESS_DENIED", "Permission to perform the operation is denied for name")
        spec = self.modules[module]
        references = {"id"} | {f.name for f in spec.fields if f.type in ("reference", "owner")}
        rows = []
        for record in sorted(self.records.values(), key=lambda r: r.crmid):
            if record.deleted_at is not None:
                continue
            if record.module != module:
                continue
            row = self.render(record, label=False)
            row["_links"] = [f"{self.modules['Contacts'].prefix}x{c}" for c in record.links]
            rows.append(row)
        return fake_vtql.Table(
            spec.names, references, rows, module in ACTIVITIES, self.reverse_ties
        )

    def query(self, text: str) -> list[dict[str, Any]]:
        if self.refuse_in and " IN (" in text.upper():
            raise Fault("QUERY_SYNTAX_ERROR", "Syntax Error on line 1: token 'IN' Unexpected")
        try:
            parsed = fake_vtql.parse(text)
            return fake_vtql.execute(parsed, self.table(parsed.module))
        except fake_vtql.VtqlFault as exc:
            raise Fault(exc.code, exc.message) from exc

    def related(self, ws_id: Any, label: str, target: str) -> list[dict[str, Any]]:
        record = self.resolve(ws_id, strict=False)
        if record.module == "Calendar" and label == "Contacts" and target == "Contacts":
            return [self.render(self.records[c], label=False) for c in record.links if self.live(c)]
        if record.module == "Contacts" and label == "Activities" and target == "Calendar":
            tasks = [
                r
                for r in self.records.values()
                if r.module == "Calendar" and r.deleted_at is None and record.crmid in r.links
            ]
            return [self.render(t, label=False) for t in sorted(tasks, key=lambda r: r.crmid)]
        if record.module in COMMENT_TARGETS and label == "ModComments" and target == "ModComments":
            mine = self.ws_id(record)
            comments = [
                r
                for r in self.records.values()
                if r.module == "ModComments" and r.values.get("related_to") == mine
            ]
            return [self.render(c, label=False) for c in comments]
        raise Fault("UNKOWN_ENTITY", "Relation specified is incorrect")

    def sync(self, module: str, since: int) -> dict[str, Any]:
        def kind(r: Record) -> bool:
            return r.module == module

        changed = sorted(
            (
                r
                for r in self.records.values()
                if kind(r)
                and r.deleted_at is None
                and self.epoch_of(r.values["modifiedtime"]) > since
            ),
            key=lambda r: (r.values["modifiedtime"], r.crmid),
        )
        gone = [
            r
            for r in self.records.values()
            if kind(r) and r.deleted_at is not None and int(r.deleted_at) > since
        ]
        page = changed[:100]
        times = [self.epoch_of(r.values["modifiedtime"]) for r in page] + [
            int(r.deleted_at or 0) for r in gone
        ]
        return {
            "updated": [self.render(r, label=False) for r in page],
            "deleted": [self.ws_id(r) for r in gone],
            "more": len(changed) > 100,
            "lastModifiedTime": int(max(times)) if times else since,
        }


def intval(text: str) -> int:
    # PHP intval(): leading digits, so "12x4" becomes 12 (facts sheet).
    digits = ""
    for ch in text.strip():
        if not ch.isdigit():
            break
        digits += ch
    return int(digits or 0)
