"""The built-in CRM's entry in the adapter registry (``crm.adapter = "sql"``).

The built-in CRM lives in the gateway's own database, so the gateway gets a new
:class:`~invitegw.crm_adapter.builtin.crm.SqlCrm` per unit of work, in that unit's session
(the CRM write commits with the gateway's own records). It has no ``[crm.sql]`` options of
its own: how many of a record's addresses get invitations is ``[crm.email_fields]``,
handed over in the build context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from invitegw.crm_adapter.builtin.admin import SqlCrmAdmin
from invitegw.crm_adapter.builtin.crm import SqlCrm, SqlCrmOptions
from invitegw.crm_adapter.port import CrmPort
from invitegw.crm_adapter.registry import (
    BUILTIN_NAME,
    CrmAdapterSpec,
    CrmBinding,
    CrmBuildContext,
    CrmCheckContext,
    CrmCheckResult,
)
from invitegw.errors import ConfigError

__all__ = ["SPEC", "BuiltinOptions"]


@dataclass(frozen=True, slots=True)
class BuiltinOptions:
    """The ``[crm.sql]`` table: empty (the built-in CRM is configured by ``[crm]`` itself)."""


def parse_options(table: Mapping[str, Any]) -> BuiltinOptions:
    """Accept an empty ``[crm.sql]`` table.

    Parameters:
        table: the raw table.

    Returns:
        The (empty) options.

    Raises:
        ConfigError: the table has a key (naming it).
    """
    if table:
        key = sorted(table)[0]
        raise ConfigError(
            f"crm.{BUILTIN_NAME}.{key}: unknown key; the built-in CRM has no options of its "
            "own (see [crm.email_fields])"
        )
    return BuiltinOptions()


def build(_options: BuiltinOptions, context: CrmBuildContext) -> CrmBinding:
    """A per-session binding: ``SqlCrm`` in each unit of work's session.

    Parameters:
        _options: the (empty) options.
        context: the clock and the email-field counts.

    Returns:
        The binding.
    """
    options = SqlCrmOptions(email_fields=dict(context.email_counts))
    clock = context.clock

    def make(session: Session) -> CrmPort:
        return SqlCrm(session, options, clock=clock)

    return CrmBinding.per_session(make)


def check(_options: BuiltinOptions, context: CrmCheckContext) -> CrmCheckResult:
    """``invitegw crm check``: where the built-in CRM is, and how many records it holds.

    Parameters:
        _options: the (empty) options.
        context: the database and a session on it.

    Returns:
        The report (always ok: the database answered).
    """
    with context.session() as session:
        counts = SqlCrmAdmin(session).counts()
    lines = [f"built-in CRM in {context.database}"]
    lines.extend(f"  {name + ':':<12} {count}" for name, count in counts.items())
    return CrmCheckResult("\n".join(lines), ok=True)


SPEC: CrmAdapterSpec[BuiltinOptions] = CrmAdapterSpec(
    name=BUILTIN_NAME,
    summary="the built-in CRM, in the gateway's own database",
    parse_options=parse_options,
    build=build,
    check=check,
)
