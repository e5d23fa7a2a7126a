"""The ledger stores what the planner decided and the compose step wrote; it builds nothing."""

from __future__ import annotations

from sqlalchemy import select

from invitegw.crm_adapter.builtin.crm import SqlCrm
from invitegw.gateway.outbound.ledger import ledger_state, load_ledger, store_plan
from invitegw.gateway.outbound.messages import ComposedMessage
from invitegw.gateway.storage import OutboxMessage, OutboxState, Store
from tests.gateway.outbound.builders import NOW, at, meeting, plan


def test_the_ledger_stores_the_composed_bytes_as_they_are(store: Store) -> None:
    result = plan(meeting())
    assert result.ledger is not None
    composed = [
        ComposedMessage(m, b"composed elsewhere for " + m.recipient.address.encode())
        for m in result.messages
    ]
    with store.session() as session:
        stored = store_plan(
            session,
            result,
            composed,
            row=None,
            sender="sales@example.com",
            crm=SqlCrm(session),
            now=NOW,
        )
    assert stored.queued == len(composed) == 3
    with store.session() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        assert [(r.recipient, r.raw) for r in rows] == [
            (c.planned.recipient.address, c.raw) for c in composed
        ]
        assert [r.message_id for r in rows] == [f"<{c.planned.message_id}>" for c in composed]
        assert {(r.sender, r.state, r.method, r.sequence) for r in rows} == {
            ("sales@example.com", OutboxState.PENDING, "REQUEST", 0)
        }
        row = load_ledger(session, "7")
        assert row is not None
        state = ledger_state(row)
    assert (state.uid, state.sequence) == (result.ledger.uid, 0)
    assert state.snapshot is not None
    assert (state.snapshot.title, state.snapshot.start) == ("Project kick-off", at(1, 10))
    assert [a.address for a in state.attendees] == [a.address for a in result.ledger.attendees]
