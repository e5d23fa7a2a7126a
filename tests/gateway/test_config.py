"""Configuration: sources, validation errors naming the key, environment overrides, secrets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from invitegw.domain.records import EntityType
from invitegw.errors import ConfigError
from invitegw.gateway.config import (
    Secret,
    TlsMode,
    dump_settings,
    format_duration,
    load_settings,
    parse_duration,
    resolve_config_path,
)
from invitegw.itip.policy import DuplicatePolicy


def _write(tmp_path: Path, text: str, name: str = "gw.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str = "", env: dict[str, str] | None = None) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env or {}, cwd=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- sources ---------------------------------------------------------------------------------


def test_defaults_run_the_embedded_setup(tmp_path: Path) -> None:
    settings = load_settings(None, {}, cwd=tmp_path)
    assert settings.embedded_database
    assert settings.data_dir == tmp_path / "data"
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'invitegw.sqlite3'}"
    assert settings.crm.adapter == "sql"
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.tls) == (
        "127.0.0.1",
        8025,
        TlsMode.NONE,
    )
    assert settings.default_calendar.name == "default"
    assert settings.mailboxes == ()


def test_source_order_cli_then_env_then_cwd(tmp_path: Path) -> None:
    cli = _write(tmp_path, 'data_dir = "from-cli"', "cli.toml")
    env_file = _write(tmp_path, 'data_dir = "from-env"', "env.toml")
    _write(tmp_path, 'data_dir = "from-cwd"', "invitegw.toml")
    env = {"INVITEGW_CONFIG": str(env_file)}
    assert load_settings(cli, env, cwd=tmp_path).data_dir == tmp_path / "from-cli"
    assert load_settings(None, env, cwd=tmp_path).data_dir == tmp_path / "from-env"
    assert load_settings(None, {}, cwd=tmp_path).data_dir == tmp_path / "from-cwd"
    assert resolve_config_path(None, {}, tmp_path) == tmp_path / "invitegw.toml"


def test_missing_named_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--config: configuration file 'nope.toml' not found"):
        load_settings("nope.toml", {}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"INVITEGW_CONFIG: .*'gone.toml' not found"):
        load_settings(None, {"INVITEGW_CONFIG": "gone.toml"}, cwd=tmp_path)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    assert _error(tmp_path, "[smtp\nport = 1").startswith("gw.toml: invalid TOML")


# -- errors name the key ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[smtp]\nport = "abc"', "smtp.port: expected an integer 1-65535, got 'abc'"),
        ("[smtp]\nport = 70000", "smtp.port: expected an integer 1-65535, got 70000"),
        ("[smtp]\nport = true", "smtp.port: expected an integer 1-65535, got True"),
        ('[smtp]\ntls = "ssl"', "smtp.tls: expected one of 'none', 'starttls', 'tls', got 'ssl'"),
        ("[smtp.retry]\nfactor = 0.5", "smtp.retry.factor: expected a number 1-10, got 0.5"),
        ('[smtp.retry]\nfirst_delay = "soon"', "smtp.retry.first_delay: expected a duration"),
        ('[listener]\nenabled = "yes"', "listener.enabled: expected true or false, got 'yes'"),
        ('[inbound]\ninternal_domains = "a.com"', "inbound.internal_domains: expected an array"),
        ('[inbound]\nduplicate_policy = "merge"', "inbound.duplicate_policy: expected one of"),
        ("smtp = 3", "smtp: expected a table ([smtp]), got 3"),
        ("[calendars]\nname = 'x'", "calendars: expected an array of tables ([[calendars]])"),
        ('[[calendars]]\nname = "a"', "calendars[a].address: required"),
        ('[[calendars]]\naddress = "a@example.com"', "calendars[0].name: required"),
        (
            '[[calendars]]\nname = "a"\naddress = "not-an-address"',
            "calendars[a].address: invalid email address 'not-an-address'",
        ),
        (
            '[[calendars]]\nname = "a"\naddress = "a@example.com"\ntime_zone = "Mars/Base"',
            "calendars[a].time_zone: unknown time zone 'Mars/Base'",
        ),
        (
            '[[calendars]]\nname = "a b"\naddress = "a@example.com"',
            "calendars[a b].name: expected letters, digits",
        ),
        (
            '[[calendars]]\nname = "a"\naddress = "a+x@example.com"',
            "calendars[a].address: the local part must not contain the token separator '+'",
        ),
        (
            '[[calendars]]\nname = "a"\naddress = "a@example.com"\n'
            '[[calendars]]\nname = "A"\naddress = "b@example.com"',
            "calendars[A]: duplicate name",
        ),
        (
            '[[mailboxes]]\nname = "m"\nhost = "h"\nusername = "u"\nowner = "nobody"',
            "mailboxes[m].owner: expected a staff user's email address or a calendar name",
        ),
        ('[database]\nurl = "mysql://h/db"', "database.url: expected a sqlite:/// or postgresql"),
        ('[crm]\nadapter = "vtiger"', "crm.vtiger: required when crm.adapter is 'vtiger'"),
        ("[crm.email_fields]\ncontact = 0", "crm.email_fields.contact: expected an integer 1-10"),
        (
            "[inbound]\nrequire_authentication_results = true",
            "inbound.trusted_authserv_ids: required when",
        ),
        ('[inbound]\nforwarders = "internal-domains"', "inbound.internal_domains: required when"),
        (
            '[inbound]\ncalendar_services = ["icloud"]',
            "inbound.calendar_services[0]: expected an address or a domain, got 'icloud'",
        ),
        ('[worker]\nheartbeat = "2m"', "worker.heartbeat: must be shorter than"),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _error(tmp_path, text)


def test_unknown_keys_list_the_valid_ones(tmp_path: Path) -> None:
    message = _error(tmp_path, "[smtp]\nprot = 25")
    assert message.startswith("smtp.prot: unknown key; valid keys of smtp: auth, batch_size,")
    assert "port" in message
    top = _error(tmp_path, "[smpt]\nport = 25")
    assert top.startswith("smpt: unknown key; valid keys: admin, calendars, crm, data_dir,")


@pytest.mark.parametrize(
    ("text", "variable"),
    [
        ('[smtp]\npassword = "x"', "INVITEGW_SMTP__PASSWORD"),
        ('[database]\npassword = "x"', "INVITEGW_DATABASE__PASSWORD"),
        (
            '[[mailboxes]]\nname = "sales-eu"\nhost = "h"\nusername = "u"\nowner = "default"\n'
            'password = "x"',
            "INVITEGW_MAILBOXES__SALES_EU__PASSWORD",
        ),
        ('[crm.vtiger]\naccess_key = "x"', "INVITEGW_CRM__VTIGER__ACCESS_KEY"),
        ('[database]\nurl = "postgresql+psycopg://u:pw@h/db"', "INVITEGW_DATABASE__PASSWORD"),
    ],
)
def test_secrets_in_the_file_are_refused(tmp_path: Path, text: str, variable: str) -> None:
    message = _error(tmp_path, text)
    assert "not read from the configuration file" in message
    assert f"set {variable} in the environment" in message


# -- environment overrides -------------------------------------------------------------------


def test_env_overrides_scalars_nested_tables_and_lists(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[smtp]\nport = 25\n[[calendars]]\nname = "sales-eu"\naddress = "sales@example.com"\n',
    )
    env = {
        "INVITEGW_SMTP__PORT": "2525",
        "INVITEGW_SMTP__TLS": "STARTTLS",
        "INVITEGW_SMTP__RETRY__MAX_DELAY": "2h",
        "INVITEGW_SMTP__USERNAME": "gw",
        "INVITEGW_LISTENER__ENABLED": "yes",
        "INVITEGW_INBOUND__INTERNAL_DOMAINS": "example.com, example.org",
        "INVITEGW_INBOUND__DUPLICATE_POLICY": "skip",
        "INVITEGW_CALENDARS__SALES_EU__TIME_ZONE": "Europe/Warsaw",
        "INVITEGW_CALENDARS__SALES_EU__ALARM_MINUTES": "",
        "INVITEGW_CRM__EMAIL_FIELDS__CONTACT": "3",
        "INVITEGW_DATA_DIR": "/srv/gw",
        "INVITEGW_CORPUS": "/not/a/setting",
    }
    settings = load_settings(path, env, cwd=tmp_path)
    assert settings.smtp.port == 2525
    assert settings.smtp.tls is TlsMode.STARTTLS
    assert settings.smtp.retry.max_delay == dt.timedelta(hours=2)
    assert settings.smtp.username == "gw"
    assert settings.listener.enabled is True
    assert settings.inbound.internal_domains == ("example.com", "example.org")
    assert settings.inbound.duplicate_policy is DuplicatePolicy.SKIP
    assert settings.calendars[0].time_zone == "Europe/Warsaw"
    assert settings.calendars[0].alarm_minutes is None
    assert settings.crm.email_fields.count(EntityType.CONTACT) == 3
    assert settings.data_dir == Path("/srv/gw")


def test_env_errors_name_key_and_variable(tmp_path: Path) -> None:
    assert _error(tmp_path, env={"INVITEGW_SMTP__PORT": "abc"}) == (
        "smtp.port (from INVITEGW_SMTP__PORT): expected an integer 1-65535, got 'abc'"
    )
    assert "INVITEGW_SMTP__PROT: smtp.prot is not a setting; valid keys of smtp:" in _error(
        tmp_path, env={"INVITEGW_SMTP__PROT": "1"}
    )
    assert "did you mean INVITEGW_SMTP__PORT?" in _error(tmp_path, env={"INVITEGW_SMTP_PORT": "1"})
    assert "INVITEGW_SMTPP__PORT: smtpp is not a setting" in _error(
        tmp_path, env={"INVITEGW_SMTPP__PORT": "1"}
    )
    assert "smtp.retry is a table" in _error(tmp_path, env={"INVITEGW_SMTP__RETRY": "1"})
    assert "INVITEGW_MAILBOXES__<NAME>__<KEY>" in _error(
        tmp_path, env={"INVITEGW_MAILBOXES__HOST": "h"}
    )


def test_env_can_add_a_list_entry_and_override_a_default_one(tmp_path: Path) -> None:
    env = {
        "INVITEGW_MAILBOXES__SUPPORT__HOST": "imap.example.com",
        "INVITEGW_MAILBOXES__SUPPORT__USERNAME": "support@example.com",
        "INVITEGW_MAILBOXES__SUPPORT__OWNER": "default",
        "INVITEGW_MAILBOXES__SUPPORT__PASSWORD": "s3cret",
        "INVITEGW_CALENDARS__DEFAULT__ADDRESS": "cal@example.org",
    }
    settings = load_settings(None, env, cwd=tmp_path)
    (box,) = settings.mailboxes
    assert (box.name, box.host, box.effective_port) == ("support", "imap.example.com", 993)
    assert box.password == Secret("s3cret")
    assert settings.calendars[0].address == "cal@example.org"
    # A typo in an entry's name adds an incomplete entry: an error, not a silent no-op.
    assert "mailboxes[suport].host: required" in _error(
        tmp_path, env={"INVITEGW_MAILBOXES__SUPORT__PASSWORD": "x"}
    )


def test_secrets_come_from_env_and_are_never_shown(tmp_path: Path) -> None:
    env = {
        "INVITEGW_SMTP__PASSWORD": "smtp-pass-1",
        "INVITEGW_DATABASE__PASSWORD": "db-pass-2",
        "INVITEGW_CRM__VTIGER__ACCESS_KEY": "vt-key-3",
        "INVITEGW_CRM__VTIGER__URL": "http://127.0.0.1:1",
        "INVITEGW_CRM__ADAPTER": "vtiger",
    }
    settings = load_settings(None, env, cwd=tmp_path)
    assert settings.smtp.password is not None
    assert settings.smtp.password.reveal() == "smtp-pass-1"
    assert settings.crm.adapter_table["access_key"] == "vt-key-3"
    assert settings.crm.table("vtiger")["url"] == "http://127.0.0.1:1"
    for shown in (repr(settings), str(settings), dump_settings(settings)):
        for secret in ("smtp-pass-1", "db-pass-2", "vt-key-3"):
            assert secret not in shown
    assert "INVITEGW_SMTP__PASSWORD" in dump_settings(settings)


def test_dump_reads_back_as_the_same_settings(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "invitegw.example.toml"
    settings = load_settings(example, {}, cwd=tmp_path)
    dumped = _write(tmp_path, dump_settings(settings), "dumped.toml")
    assert load_settings(dumped, {}, cwd=tmp_path) == settings


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("1.5", 1.5), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("2d", 172800)],
)
def test_durations(text: str, seconds: float) -> None:
    value = parse_duration(text)
    assert value.total_seconds() == seconds
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize("text", ["", "m", "5 minutes", "1h junk", "-5s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
