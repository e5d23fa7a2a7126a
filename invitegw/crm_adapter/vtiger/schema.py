"""What ``describe`` says about the modules the adapter uses.

Webservice ids are ``<prefix>x<crmid>`` and the prefix differs per install, so it is
read from describe's ``idPrefix``, never hard-coded. describe also tells whether the
fields named in the configuration exist: vtiger silently drops unknown fields on a write
(file 131), so a misspelt custom field would otherwise fail without a sound.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from invitegw.crm_adapter.vtiger.client import VtigerClient, VtigerNotFoundError
from invitegw.crm_adapter.vtiger.options import VtigerOptions
from invitegw.crm_adapter.vtiger.records import MODULE_OF
from invitegw.domain.records import EntityType
from invitegw.errors import CrmError

__all__ = ["EVENTS", "MODULES", "TASKS", "ModuleInfo", "Schema"]

logger = logging.getLogger(__name__)

EVENTS = "Events"
TASKS = "Calendar"  # `FROM Calendar` returns tasks only (file 42)
MODULES = (EVENTS, TASKS, "Contacts", "Accounts", "Leads", "Users")


@dataclass(frozen=True, slots=True)
class ModuleInfo:
    """One module's id prefix, field names, picklist values, labels and defaults.

    ``defaults`` holds describe's ``default`` of each field that has one: the value
    vtiger's *web form* fills in on a new record (the webservice does not apply it).
    """

    name: str
    prefix: str
    fields: frozenset[str]
    picklists: Mapping[str, tuple[str, ...]]
    labels: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)

    def owns(self, ws_id: str) -> bool:
        """True when ``ws_id`` carries this module's prefix."""
        head, sep, tail = ws_id.partition("x")
        return bool(sep) and head == self.prefix and tail.isdigit()

    def ws_id(self, crmid: int | str) -> str:
        """The webservice id of a record number in this module."""
        return f"{self.prefix}x{crmid}"

    def label(self, name: str) -> str:
        """The field's label as vtiger's users see it (else its name)."""
        return self.labels.get(name, name)


def _module_info(name: str, answer: Mapping[str, Any]) -> ModuleInfo:
    prefix = str(answer.get("idPrefix") or "")
    if not prefix.isdigit():
        raise CrmError(f"vtiger describe {name}: no idPrefix in the answer")
    fields: set[str] = set()
    picklists: dict[str, tuple[str, ...]] = {}
    labels: dict[str, str] = {}
    defaults: dict[str, str] = {}
    for item in answer.get("fields") or ():
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            continue
        fields.add(item["name"])
        if isinstance(item.get("label"), str) and item["label"].strip():
            labels[item["name"]] = item["label"].strip()
        if isinstance(item.get("default"), str | int) and str(item["default"]) != "":
            defaults[item["name"]] = str(item["default"])
        kind = item.get("type")
        if isinstance(kind, Mapping) and isinstance(kind.get("picklistValues"), list):
            picklists[item["name"]] = tuple(
                str(v.get("value")) for v in kind["picklistValues"] if isinstance(v, Mapping)
            )
    return ModuleInfo(name, prefix, frozenset(fields), picklists, labels, defaults)


class Schema:
    """Lazily described modules, checked once against the configuration."""

    def __init__(self, client: VtigerClient, options: VtigerOptions) -> None:
        self._client = client
        self._options = options
        self._lock = threading.Lock()
        self._modules: dict[str, ModuleInfo] = {}
        self.warnings: list[str] = []

    def module(self, name: str) -> ModuleInfo:
        """The module's description; the first use describes every module and checks them.

        Raises:
            CrmError: a module is missing, or a configured field does not exist.
        """
        with self._lock:
            if not self._modules:
                self._modules = {m: _module_info(m, self._client.describe(m)) for m in MODULES}
                self.warnings = self._check()
            return self._modules[name]

    def entity(self, etype: EntityType) -> ModuleInfo:
        """The module of a party type."""
        return self.module(MODULE_OF[etype])

    def fetch(self, ws_id: str, module: str) -> dict[str, Any] | None:
        """A record of ``module`` by id, or ``None``.

        ``None`` when the id carries another module's prefix, or the record does not
        exist or was deleted (vtiger answers ``ACCESS_DENIED`` for both, files 38, 53).
        """
        if not self.module(module).owns(ws_id):
            return None
        try:
            return self._client.retrieve(ws_id, module=module)
        except VtigerNotFoundError:
            return None

    def type_of(self, ws_id: str) -> EntityType | None:
        """The party type whose prefix ``ws_id`` carries, if any."""
        for etype in EntityType:
            if self.entity(etype).owns(ws_id):
                return etype
        return None

    def _check(self) -> list[str]:
        opts = self._options
        events = self._modules[EVENTS]
        for key in ("sync_field", "attendees_field", "calendar_field", "meeting_time_zone_field"):
            name = getattr(opts, key)
            if name and name not in events.fields:
                raise CrmError(
                    f"crm.vtiger.{key}: vtiger's Events module has no field {name!r} "
                    "(add it in the layout editor, or fix the name)"
                )
        for key, per_type in (
            ("language_fields", opts.language_fields),
            ("time_zone_fields", opts.time_zone_fields),
        ):
            for etype, name in per_type.items():
                module = self._modules[MODULE_OF[etype]]
                if name not in module.fields:
                    raise CrmError(
                        f"crm.vtiger.{key}.{etype.value}: {module.name} has no field {name!r}"
                    )
        for etype, names in opts.email_fields.items():
            module = self._modules[MODULE_OF[etype]]
            for name in names:
                if name not in module.fields:
                    key = f"crm.vtiger.email_fields.{etype.value}"
                    raise CrmError(f"{key}: {module.name} has no field {name!r}")
        warnings: list[str] = []
        statuses = self._modules[TASKS].picklists.get("taskstatus", ())
        for key in ("task_open_status", "task_cancelled_status", "task_done_status"):
            value = getattr(opts, key)
            if statuses and value not in statuses:
                # vtiger stores any value without validating it (files 45, 46), but the web
                # UI will not offer it: worth a warning, not a refusal.
                warnings.append(
                    f"crm.vtiger.{key} = {value!r} is not in vtiger's taskstatus picklist "
                    f"({', '.join(statuses)}); vtiger stores it anyway"
                )
        types = self._modules[EVENTS].picklists.get("activitytype", ())
        for value in opts.activity_types:
            if types and value not in types:
                warnings.append(f"activity type {value!r} is not in vtiger's picklist")
        for text in warnings:
            logger.warning("vtiger configuration: %s", text)
        return warnings
