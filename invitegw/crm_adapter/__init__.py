"""The CRM port and its adapters (the built-in SQL CRM, vtiger)."""

from __future__ import annotations

from invitegw.crm_adapter.port import (
    ChangeBatch,
    CrmPort,
    EntityType,
    ExistenceCheck,
    LogEntry,
    LogLevel,
    LogTarget,
    Meeting,
    MeetingChange,
    MeetingKind,
    MeetingOccurrence,
    NewTask,
    Party,
    PartyRef,
    ResponseRecord,
    Task,
    TaskStatus,
    TaskUpdate,
)

__all__ = [
    "ChangeBatch",
    "CrmPort",
    "EntityType",
    "ExistenceCheck",
    "LogEntry",
    "LogLevel",
    "LogTarget",
    "Meeting",
    "MeetingChange",
    "MeetingKind",
    "MeetingOccurrence",
    "NewTask",
    "Party",
    "PartyRef",
    "ResponseRecord",
    "Task",
    "TaskStatus",
    "TaskUpdate",
]
