"""The policies the iTIP rules take, as their own plain values.

The configuration (:mod:`invitegw.gateway.config`) reads them from the TOML file and passes
them in; the rules here never see the settings. :class:`MessageKind` is what an outbound
message tells its recipient (the body templates choose their wording by it).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DuplicatePolicy",
    "ExternalInvitationPolicy",
    "ForwarderPolicy",
    "MessageKind",
    "NonInviteeReplyPolicy",
    "OrganizerMode",
]


class OrganizerMode(StrEnum):
    """What ORGANIZER says in the invitations a calendar sends."""

    TOKEN = "token"  # noqa: S105 - a mode, not a password. The calendar mailbox plus a per-attendee token: sales+k3x9@company
    USER = "user"  # the CRM user's own address (replies then bypass the gateway)


class DuplicatePolicy(StrEnum):
    """What a newer copy of an invitation already turned into a task does."""

    SKIP = "skip"  # nothing: the first task stays as it was
    UPDATE = "update"  # the task is rescheduled/renamed to the newer content
    CREATE = "create"  # a further task is created


class ForwarderPolicy(StrEnum):
    """Who may create a task by forwarding an invitation to the gateway."""

    STAFF = "staff"  # CRM users only
    INTERNAL_DOMAINS = "internal-domains"  # CRM users and any address of inbound.internal_domains
    ANYONE = "anyone"


class ExternalInvitationPolicy(StrEnum):
    """Whether invitations sent straight to the gateway from outside become tasks."""

    KNOWN_PARTIES = "known-parties"  # only from contacts, accounts and leads in the CRM
    ANYONE = "anyone"
    NONE = "none"  # quarantined


class NonInviteeReplyPolicy(StrEnum):
    """What a REPLY from someone who was not invited does."""

    RECORD = "record"  # recorded on the meeting, flagged as from a non-invitee
    IGNORE = "ignore"  # logged and otherwise ignored


class MessageKind(StrEnum):
    """What a message tells its recipient."""

    INVITATION = "invitation"
    UPDATE = "update"
    CANCELLATION = "cancellation"
    REMINDER = "reminder"
