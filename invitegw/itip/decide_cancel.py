"""Whom a received CANCEL uninvites, pure: the whole meeting, or only other attendees.

:rfc:`5546` section 3.2.5: an organizer removing some attendees sends them a CANCEL that
lists only them and carries no ``STATUS:CANCELLED``; a CANCEL of the whole meeting carries
``STATUS:CANCELLED`` (Outlook, Google), or lists every attendee, or none at all (sabre,
Outlook for a meeting without attendees; the organizer listed alone counts as none).
:func:`removed_others` tells the two apart from the addresses that speak for the task (its
owner, the mailbox it arrived in, the calendar addresses, the forwarder): when one of them
is among the CANCEL's attendees, we are the ones uninvited, and the task is cancelled;
when none is, the CANCEL only removes other people, and the task stays with a note naming
them (:mod:`~invitegw.itip.decide`).

Limit: a cancel of the whole meeting without ``STATUS:CANCELLED`` that lists none of our
addresses reads as removing others: someone invited through a distribution list, or by an
alias the CRM does not know (iCloud sends each attendee a CANCEL listing that attendee
alone, without STATUS). The task then stays open with the note, which names who was
listed; Outlook and Google send ``STATUS:CANCELLED``, sabre no attendees.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

__all__ = ["removed_others"]


def removed_others(
    *,
    is_cancel: bool,
    status_cancelled: bool,
    attendees: Iterable[str],
    ours: Collection[str],
    organizer: str = "",
) -> tuple[str, ...]:
    """The attendees a CANCEL removes when it does not cancel the meeting for us.

    Parameters:
        is_cancel: the METHOD is CANCEL (a REQUEST or PUBLISH whose STATUS is CANCELLED
            cancels the meeting for everyone).
        status_cancelled: the event's STATUS is CANCELLED.
        attendees: the CANCEL's ATTENDEE addresses, in the ledger's form.
        ours: the addresses that speak for the task, in the ledger's form.
        organizer: the organizer's address: listed as an attendee, it is not someone
            removed (an organizer is not uninvited from their own meeting).

    Returns:
        The addresses removed, in the CANCEL's order, when the CANCEL only uninvites
        people other than us; ``()`` when it cancels the meeting for us (STATUS:CANCELLED,
        no attendee list but the organizer, or one of ``ours`` among the attendees).
    """
    if not is_cancel or status_cancelled:
        return ()
    listed = tuple(dict.fromkeys(a for a in attendees if a and a != organizer))
    if not listed:
        return ()
    mine = {a for a in ours if a}
    if any(a in mine for a in listed):
        return ()
    return listed
