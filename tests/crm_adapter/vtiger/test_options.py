"""The ``[crm.vtiger]`` table: validation, defaults, the access key from the environment."""

from __future__ import annotations

from typing import Any

import pytest

from invitegw.crm_adapter.vtiger import ACCESS_KEY_ENV, VtigerCrm, VtigerOptions
from invitegw.domain.records import EntityType, LogLevel
from invitegw.errors import ConfigError

ENV = {ACCESS_KEY_ENV: "s3cr3t-key"}
BASE = {"url": "https://crm.example.com/vtiger", "username": "invitegw"}


def test_minimal_table_and_defaults() -> None:
    options = VtigerOptions.from_mapping(BASE, ENV)
    assert options.endpoint == "https://crm.example.com/vtiger/webservice.php"
    assert options.access_key == "s3cr3t-key"
    assert "s3cr3t" not in repr(options)
    assert options.server_time_zone == "UTC"
    assert options.meeting_activity_types == ("Meeting",)
    assert options.cancelled_event_statuses == ("Not Held",)
    assert options.task_cancelled_status == "Deferred"
    assert options.allow_event_updates is False
    assert options.email_fields[EntityType.CONTACT] == ("email", "secondaryemail")
    assert options.email_fields[EntityType.ACCOUNT] == ("email1", "email2")
    assert options.invite_email_count[EntityType.LEAD] == 1


def test_full_table() -> None:
    table: dict[str, Any] = {
        **BASE,
        "url": "http://127.0.0.1:8080/webservice.php",
        "server_time_zone": "Europe/Warsaw",
        "timeout": 12,
        "meeting_activity_types": ["Meeting", "Call"],
        "service_activity_types": ["Mobile Call"],
        "sync_field": "cf_853",
        "sync_field_means": "skip",
        "attendees_field": "cf_854",
        "contact_enumeration_limit": 5,
        "email_fields": {"contact": ["email"], "user": ["email1"]},
        "invite_email_count": {"account": 2},
        "task_cancelled_status": "Cancelled",
        "sync_operation": "off",
        "sync_type": "",
        "allow_event_updates": True,
        "log_min_level": "warning",
    }
    options = VtigerOptions.from_mapping(table, ENV)
    assert options.endpoint == "http://127.0.0.1:8080/webservice.php"
    assert options.activity_types == ("Meeting", "Call", "Mobile Call")
    assert options.email_fields[EntityType.CONTACT] == ("email",)
    assert options.email_fields[EntityType.LEAD] == ("email", "secondaryemail")
    assert options.invite_email_count[EntityType.ACCOUNT] == 2
    assert options.invite_email_count[EntityType.CONTACT] == 1
    assert options.log_min_level is LogLevel.WARNING
    assert (
        VtigerOptions.from_mapping({**BASE, "invite_email_count": 2}, ENV).invite_email_count[
            EntityType.USER
        ]
        == 2
    )


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"username": "x"}, "crm.vtiger.url"),
        ({**BASE, "url": "ftp://crm.example.com"}, "crm.vtiger.url"),
        ({**BASE, "url": "https://user:pw@crm.example.com"}, "crm.vtiger.url"),
        ({"url": BASE["url"]}, "crm.vtiger.username"),
        ({**BASE, "server_time_zone": "Mars/Olympus"}, "crm.vtiger.server_time_zone"),
        ({**BASE, "timeout": -1}, "crm.vtiger.timeout"),
        ({**BASE, "sync_field": "cf 853; DROP"}, "crm.vtiger.sync_field"),
        ({**BASE, "email_fields": {"robot": ["email"]}}, "crm.vtiger.email_fields.robot"),
        ({**BASE, "email_fields": {"contact": []}}, "crm.vtiger.email_fields.contact"),
        ({**BASE, "invite_email_count": {"lead": 99}}, "crm.vtiger.invite_email_count.lead"),
        ({**BASE, "sync_operation": "always"}, "crm.vtiger.sync_operation"),
        ({**BASE, "allow_event_updates": 2}, "crm.vtiger.allow_event_updates"),
        ({**BASE, "meeting_activity_types": []}, "crm.vtiger.meeting_activity_types"),
        (
            {**BASE, "service_activity_types": ["Meeting"]},
            "crm.vtiger.service_activity_types",
        ),
        ({**BASE, "colour": "blue"}, "crm.vtiger.colour"),
        ({**BASE, "access_key": "in-the-file"}, "crm.vtiger.access_key"),
    ],
)
def test_bad_tables_name_the_key(table: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        VtigerOptions.from_mapping(table, ENV)


def test_the_access_key_comes_only_from_the_environment() -> None:
    with pytest.raises(ConfigError, match=ACCESS_KEY_ENV):
        VtigerOptions.from_mapping(BASE, {})
    # A loader that folds INVITEGW_* into the table hands the same value back: fine.
    folded = VtigerOptions.from_mapping({**BASE, "access_key": "s3cr3t-key"}, ENV)
    assert folded.access_key == "s3cr3t-key"


def test_the_adapter_builds_from_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ACCESS_KEY_ENV, "from-env")
    crm = VtigerCrm.from_mapping(BASE)
    assert crm.options.access_key == "from-env"
    crm.close()  # never logged in: nothing is sent


def test_values_set_through_the_environment_arrive_as_text() -> None:
    # The gateway's loader passes INVITEGW_CRM__VTIGER__* variables on as strings.
    table = {
        **BASE,
        "timeout": "12.5",
        "contact_enumeration_limit": "7",
        "allow_event_updates": "yes",
        "meeting_activity_types": "Meeting, Call",
        "email_fields": {"contact": "email,secondaryemail"},
        "invite_email_count": {"contact": "2"},
    }
    options = VtigerOptions.from_mapping(table, ENV)
    assert options.timeout == 12.5
    assert options.contact_enumeration_limit == 7
    assert options.allow_event_updates is True
    assert options.meeting_activity_types == ("Meeting", "Call")
    assert options.email_fields[EntityType.CONTACT] == ("email", "secondaryemail")
    assert options.invite_email_count[EntityType.CONTACT] == 2
    with pytest.raises(ConfigError, match=r"crm\.vtiger\.allow_event_updates"):
        VtigerOptions.from_mapping({**BASE, "allow_event_updates": "perhaps"}, ENV)
