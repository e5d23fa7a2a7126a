"""The inbound side: received invitations become CRM tasks, answers become attendee answers.

The shell around the pure rules of :mod:`invitegw.itip`. Every module is named for the side
it serves (all of them: inbound) and the message it handles. In the order a message passes
through them:

**Sources** (the mail-source port, :mod:`~invitegw.gateway.inbound.source`)

- :mod:`~invitegw.gateway.inbound.imap_source`: ``[[mailboxes]]``, drained under a
  lease, watched (IDLE) by :mod:`~invitegw.gateway.inbound.imap_service`;
  :mod:`~invitegw.gateway.inbound.smtp_source`: the spool the SMTP listener
  (:mod:`~invitegw.gateway.inbound.smtp_listener`) fills;
  :mod:`~invitegw.gateway.inbound.file_source`: ``invitegw ingest``.
- :mod:`~invitegw.gateway.inbound.model`: what a source hands over
  (``ReceivedMessage`` with a generic ``SourcePosition`` and ``Envelope``) and what the
  pipeline answers (``MessageResult``).
- :mod:`~invitegw.gateway.inbound.parts`: one worker's pipeline and sources;
  :mod:`~invitegw.gateway.inbound.jobs`: the scheduler's services and jobs made of them.

**The pipeline** (:mod:`~invitegw.gateway.inbound.pipeline`: one message, one unit of work)

- :mod:`~invitegw.gateway.inbound.context`: the message's identity (computed once) and its
  readable form; :mod:`~invitegw.gateway.inbound.config`: the settings it reads.
- :mod:`~invitegw.gateway.inbound.dedupe`: handled before? one of ours?
- :mod:`~invitegw.gateway.inbound.routing`: which handler for which message and METHOD;
  :mod:`~invitegw.gateway.inbound.savepoints`: a CRM refusal undoes one piece only.
- :mod:`~invitegw.gateway.inbound.recording`: the processed record, the event log;
  :mod:`~invitegw.gateway.inbound.quarantine`: messages set aside, and released.

**Handlers** (each gathers facts, decides with a pure rule, applies in the unit of work)

- Invitations to us, REQUEST / PUBLISH / CANCEL → CRM tasks:
  :mod:`~invitegw.gateway.inbound.task_events` (facts, :mod:`invitegw.itip.decide`),
  :mod:`~invitegw.gateway.inbound.task_writes` (applying),
  :mod:`~invitegw.gateway.inbound.parties` (the CRM records behind the addresses),
  :mod:`~invitegw.gateway.inbound.records` (the inbound ledger's queries).
- Answers to our invitations, REPLY / COUNTER / REFRESH:
  :mod:`~invitegw.gateway.inbound.attendee_messages` (which invitation, who answers),
  :mod:`~invitegw.gateway.inbound.attendee_replies` (REPLY,
  :mod:`invitegw.itip.decide_reply`), :mod:`~invitegw.gateway.inbound.counter_refresh`
  (:mod:`invitegw.itip.decide_counter_refresh`),
  :mod:`~invitegw.gateway.inbound.attendee_context` (one answer being applied),
  :mod:`~invitegw.gateway.inbound.reply_correlation` (reply tokens, UIDs).
- Mail about our messages without a calendar:
  :mod:`~invitegw.gateway.inbound.bounces` (delivery failures,
  :mod:`invitegw.itip.decide_bounce`), :mod:`~invitegw.gateway.inbound.human_replies`
  (replies by hand, :mod:`invitegw.itip.decide_human_reply`).
- :mod:`~invitegw.gateway.inbound.organizer_notices`: the notices to a meeting's organizer
  (a counter-proposal, a reply by hand), queued once.

The composition root (:mod:`invitegw.gateway.bootstrap.inbound`) builds the pipeline and
the sources from the settings; nothing here imports it.
"""

from __future__ import annotations
