"""The "Send invitations" checkbox (``sync_field``) as vtiger really fills it (issue 11).

A checkbox custom field reads ``"0"`` on every record that existed before it and on every
record created through the webservice, whatever its default: only vtiger's web form
applies the default. So an unticked box can be nobody's choice, and the adapter says how
certain each reading is (:class:`SwitchReading`).
"""

from __future__ import annotations

from typing import Any

import pytest

from invitegw.crm_adapter.vtiger import (
    SwitchReading,
    VtigerCrm,
    check_connection,
    render_check_report,
)
from tests.crm_adapter.vtiger.conftest import Seeder, make_options
from tests.crm_adapter.vtiger.replay_server import FakeVtiger, FakeVtigerServer, ManualClock

SWITCH = "cf_853"


def _event_fields(subject: str, admin: str) -> dict[str, Any]:
    return {
        "subject": subject,
        "activitytype": "Meeting",
        "eventstatus": "Planned",
        "date_start": "2030-01-15",
        "time_start": "09:00:00",
        "due_date": "2030-01-15",
        "time_end": "10:00:00",
        "duration_hours": "1",
        "assigned_user_id": admin,
    }


@pytest.fixture
def three_meetings(seed: Seeder, fake: FakeVtiger, clock: ManualClock) -> tuple[str, str, str]:
    """Made before the field, by an integration after it, and in the web form after it."""
    before = seed.event("Planned before the field")
    clock.advance(60)
    fake.add_field("Events", SWITCH, "boolean", label="Send invitations", default="1")
    integration = seed.event("Made through the webservice")
    web_form = fake.ui_save(seed.admin, "Events", _event_fields("Made in the web form", seed.admin))
    return before, integration, str(web_form["id"])


def test_a_new_checkbox_reads_unticked_except_where_the_web_form_made_the_record(
    server: FakeVtigerServer, seed: Seeder, three_meetings: tuple[str, str, str]
) -> None:
    before = three_meetings[0]
    raw = [seed.client.retrieve(i, module="Events")[SWITCH] for i in three_meetings]
    assert raw == ["0", "0", "1"]  # the field's default is "1": applied by the form only
    with VtigerCrm(make_options(server.url, sync_field=SWITCH)) as crm:
        assert crm.schema.module("Events").defaults[SWITCH] == "1"
        meetings = [crm.get_meeting(i) for i in three_meetings]
        assert [m.sync for m in meetings if m] == [False, False, True]
        assert [crm.sync_reading(m) for m in meetings if m] == [
            SwitchReading.MAYBE_DEFAULT,
            SwitchReading.MAYBE_DEFAULT,
            SwitchReading.SET,
        ]
        # The safe order's second step: the admin mass-updates the existing meetings.
        seed.revise(before, **{SWITCH: "1"})
        ticked = crm.get_meeting(before)
        assert ticked is not None
        assert ticked.sync is True
        assert crm.sync_reading(ticked) is SwitchReading.SET


def test_a_do_not_send_checkbox_is_safe_to_add(
    server: FakeVtigerServer, seed: Seeder, fake: FakeVtiger
) -> None:
    before = seed.event("Planned before the field")
    fake.add_field("Events", "cf_860", "boolean", label="Do not send invitations")
    options = make_options(server.url, sync_field="cf_860", sync_field_means="skip")
    with VtigerCrm(options) as crm:
        untouched = crm.get_meeting(before)
        assert untouched is not None
        assert untouched.sync is True  # reads "0": sent, as before the field existed
        assert crm.sync_reading(untouched) is SwitchReading.MAYBE_DEFAULT
        seed.revise(before, cf_860="1")
        stopped = crm.get_meeting(before)
        assert stopped is not None
        assert stopped.sync is False
        assert crm.sync_reading(stopped) is SwitchReading.SET  # only a person ticks it


def test_without_a_switch_every_meeting_is_sent(crm: VtigerCrm, seed: Seeder) -> None:
    meeting = crm.get_meeting(seed.event("Plain"))
    assert meeting is not None
    assert meeting.sync is True
    assert crm.sync_reading(meeting) is SwitchReading.NO_SWITCH


def test_crm_check_warns_before_the_switch_is_mapped_and_shows_it(
    server: FakeVtigerServer, three_meetings: tuple[str, str, str]
) -> None:
    report = check_connection(make_options(server.url, sync_field=SWITCH), sample_size=3)
    assert report.ok
    [note] = report.notes
    assert 'cf_853 ("Send invitations", ticked by default in the web form)' in note
    assert "mass edit" in note
    sends = {s.title: s.sends for s in report.sample}
    assert sends == {
        "Planned before the field": False,
        "Made through the webservice": False,
        "Made in the web form": True,
    }
    text = render_check_report(report)
    assert "silent Made through the webservice" in text
    assert "sends  Made in the web form" in text
    assert "note: crm.vtiger.sync_field cf_853" in text
    skip = check_connection(make_options(server.url, sync_field=SWITCH, sync_field_means="skip"))
    assert skip.notes == ()
