"""The CRM adapter registry: built-ins loaded lazily, registration, entry points, settings.

Adding an adapter touches no shell file: the ``fake_memory`` test adapter is registered by
a fixture, and the settings (``crm.adapter``, ``[crm.fake_memory]``, its secret from the
environment, ``check-config``) and ``crm check`` work with it as they do with the built-ins.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from invitegw.crm_adapter import registry
from invitegw.crm_adapter.registry import adapter_names, get_adapter, register
from invitegw.errors import ConfigError
from invitegw.gateway.bootstrap import build_gateway, crm_options
from invitegw.gateway.cli import main
from invitegw.gateway.config import dump_settings, load_settings
from tests.crm_adapter import memory_adapter

ROOT = Path(__file__).resolve().parents[2]


def _run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (nothing imported yet); its last output line."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def test_help_and_default_settings_import_no_adapter_but_the_chosen_one(tmp_path: Path) -> None:
    last = _run_python(
        f"""
        import contextlib, io, sys
        from pathlib import Path
        from invitegw.gateway.cli import main
        from invitegw.gateway.config import load_settings
        from invitegw.crm_adapter.registry import adapter_names
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main(["--help"])
        settings = load_settings(None, {{}}, cwd=Path({str(tmp_path)!r}))
        names = adapter_names()
        loaded = sorted(m for m in sys.modules if m.startswith("invitegw.crm_adapter.vtiger"))
        print(names, settings.crm.adapter, loaded, "httpx" in sys.modules)
        """
    )
    assert last == "('sql', 'vtiger') sql [] False"


def test_a_built_in_is_imported_when_asked_for() -> None:
    last = _run_python(
        """
        import sys
        from invitegw.crm_adapter.registry import get_adapter
        name = "invitegw.crm_adapter.vtiger"
        before = name in sys.modules
        spec = get_adapter("vtiger")
        print(before, spec.name, sorted(spec.secret_keys), name in sys.modules)
        """
    )
    assert last == "False vtiger ['access_key', 'password'] True"


def test_built_in_specs() -> None:
    sql, vtiger = get_adapter("sql"), get_adapter("vtiger")
    assert (sql.name, sql.requires_table, sql.secret_keys) == ("sql", False, frozenset())
    assert vtiger.requires_table
    assert sql.check is not None
    assert vtiger.check is not None
    assert get_adapter("sql") is sql  # loaded once


def test_names_are_checked_and_taken_ones_refused(fake_memory: Any) -> None:
    for bad in ("Odoo", "odoo-crm", "9crm", "", "adapter", "email_fields", "x" * 33):
        with pytest.raises(ValueError, match="CRM adapter name"):
            dataclasses.replace(memory_adapter.SPEC, name=bad)
    for taken in ("sql", "vtiger", "fake_memory"):
        with pytest.raises(ValueError, match="already registered"):
            register(dataclasses.replace(memory_adapter.SPEC, name=taken))


def test_unknown_adapter_names_the_known_ones(fake_memory: Any) -> None:
    with pytest.raises(ConfigError, match="unknown CRM adapter 'odoo'") as caught:
        get_adapter("odoo")
    assert "'fake_memory', 'sql', 'vtiger'" in str(caught.value)


def test_registered_adapter_is_listed_then_forgotten() -> None:
    assert "fake_memory" not in adapter_names()
    register(memory_adapter.SPEC)
    try:
        assert "fake_memory" in adapter_names()
        assert get_adapter("fake_memory") is memory_adapter.SPEC
    finally:
        registry.unregister("fake_memory")
    assert "fake_memory" not in adapter_names()
    with pytest.raises(ConfigError):
        get_adapter("fake_memory")


# -- entry points --------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path where a test "installs" distributions (dist-info folders)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.rescan_entry_points()
    yield tmp_path
    monkeypatch.undo()
    registry.rescan_entry_points()


def _install(site: Path, dist: str, entry_points: str, module: str = "") -> None:
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[invitegw.crm_adapters]\n{entry_points}\n")
    if module:
        (site / f"{dist}.py").write_text(module)


def test_an_installed_adapter_is_found_through_its_entry_point(site: Path) -> None:
    _install(
        site,
        "acme_crm",
        "acme = acme_crm:SPEC",
        '"""A third-party adapter (the test fake under another name)."""\n'
        "import dataclasses\n"
        "from tests.crm_adapter.memory_adapter import SPEC as _FAKE\n"
        'SPEC = dataclasses.replace(_FAKE, name="acme")\n',
    )
    registry.rescan_entry_points()
    assert "acme" in adapter_names()
    assert "acme_crm" not in sys.modules  # listed without being imported
    spec = get_adapter("acme")
    assert spec.name == "acme"
    assert spec.parse_options({"world": "w", "token": "t"}).world == "w"


def test_broken_entry_points_are_config_errors_naming_them(site: Path) -> None:
    _install(site, "broken_crm", "broken = broken_crm:SPEC", "raise ImportError('no odbc')\n")
    _install(site, "wrong_crm", "wrong = wrong_crm:SPEC", "SPEC = object()\n")
    _install(
        site,
        "renamed_crm",
        "renamed = renamed_crm:SPEC",
        "from tests.crm_adapter.memory_adapter import SPEC\n",
    )
    _install(site, "shadow_crm", "vtiger = shadow_crm:SPEC", "SPEC = None\n")
    registry.rescan_entry_points()
    with pytest.raises(ConfigError, match=r"'broken' \(broken_crm:SPEC\) cannot be loaded.*odbc"):
        get_adapter("broken")
    with pytest.raises(ConfigError, match="is not a CrmAdapterSpec"):
        get_adapter("wrong")
    with pytest.raises(ConfigError, match="describes the adapter 'fake_memory'"):
        get_adapter("renamed")
    # A package cannot take a built-in's name: the built-in stays.
    assert get_adapter("vtiger").summary.startswith("vtiger")


# -- settings ------------------------------------------------------------------------------


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "invitegw.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n' + text)
    return path


FAKE = '[crm]\nadapter = "fake_memory"\n[crm.fake_memory]\nworld = "w1"\n'
TOKEN = {"INVITEGW_CRM__FAKE_MEMORY__TOKEN": "s3cret-token"}


def test_an_unregistered_adapter_is_not_a_valid_setting(tmp_path: Path) -> None:
    config = _config(tmp_path, '[crm]\nadapter = "fake_memory"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config, {}, cwd=tmp_path)
    assert str(caught.value) == ("crm.adapter: expected one of 'sql', 'vtiger', got 'fake_memory'")
    with pytest.raises(ConfigError, match=r"crm\.fake_memory: unknown key"):
        load_settings(_config(tmp_path, FAKE), {}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"INVITEGW_CRM__FAKE_MEMORY__TOKEN: crm\.fake_memory is"):
        load_settings(None, TOKEN, cwd=tmp_path)


def test_a_registered_adapter_is_configured_like_a_built_in(
    tmp_path: Path, fake_memory: Any
) -> None:
    settings = load_settings(_config(tmp_path, FAKE), TOKEN, cwd=tmp_path)
    assert settings.crm.adapter == "fake_memory"
    assert dict(settings.crm.adapter_table) == {"world": "w1", "token": "s3cret-token"}
    options = crm_options(settings)
    assert (options.world, options.token) == ("w1", "s3cret-token")
    shown = dump_settings(settings)
    assert '[crm.fake_memory]\nworld = "w1"\ntoken = "<redacted>"' in shown
    for text in (shown, repr(settings)):
        assert "s3cret-token" not in text


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ('[crm]\nadapter = "fake_memory"\n', {}, "crm.fake_memory: required when crm.adapter"),
        (
            FAKE + 'token = "in-the-file"\n',
            {},
            "set INVITEGW_CRM__FAKE_MEMORY__TOKEN in the environment",
        ),
        (
            "[crm.odoo]\nurl = 1\n",
            {},
            "crm.odoo: unknown key; valid keys of crm: adapter, email_fields, meeting_url; "
            "or a CRM adapter's options table: fake_memory, sql, vtiger",
        ),
        ("[crm]\nfake_memory = 3\n", {}, "crm.fake_memory: expected a table"),
        (
            "",
            {"INVITEGW_CRM__ODOO__URL": "x"},
            "INVITEGW_CRM__ODOO__URL: crm.odoo is not a setting",
        ),
        ("", {"INVITEGW_CRM__FAKE_MEMORY": "x"}, "crm.fake_memory is a table; set one of its keys"),
    ],
)
def test_adapter_tables_are_checked_by_name(
    tmp_path: Path, fake_memory: Any, text: str, env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_config(tmp_path, text), env, cwd=tmp_path)
    assert expected in str(caught.value)


def test_the_adapter_table_comes_from_the_environment_alone(
    tmp_path: Path, fake_memory: Any
) -> None:
    env = {
        "INVITEGW_CRM__ADAPTER": "FAKE_MEMORY",
        "INVITEGW_CRM__FAKE_MEMORY__WORLD": "from-env",
        **TOKEN,
    }
    settings = load_settings(None, env, cwd=tmp_path)
    assert settings.crm.adapter == "fake_memory"
    assert crm_options(settings).world == "from-env"
    assert settings.crm.table("vtiger") == {}


def test_the_adapter_validates_its_own_table(tmp_path: Path, fake_memory: Any) -> None:
    settings = load_settings(_config(tmp_path, FAKE + "colour = 1\n"), TOKEN, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"crm\.fake_memory\.colour: unknown key"):
        build_gateway(settings)
    sql = load_settings(_config(tmp_path, "[crm.sql]\ncolour = 1\n"), {}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"crm\.sql\.colour: unknown key"):
        build_gateway(sql)


def test_check_config_and_crm_check_on_a_registered_adapter(
    tmp_path: Path,
    fake_memory: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = _config(tmp_path, FAKE)
    monkeypatch.setenv("INVITEGW_CRM__FAKE_MEMORY__TOKEN", "s3cret-token")
    memory_adapter.MemorySeeder(memory_adapter.world("w1")).add_party(
        memory_adapter.EntityType.USER, ["olga@example.com"], name="Olga"
    )
    assert main(["--config", str(config), "check-config"]) == 0
    out = capsys.readouterr().out
    assert 'adapter = "fake_memory"' in out
    assert 'token = "<redacted>"' in out
    assert "s3cret-token" not in out
    assert main(["--config", str(config), "crm", "check"]) == 0
    assert capsys.readouterr().out == ("fake in-memory CRM 'w1': 1 parties, 0 meetings, 0 tasks\n")
    # The built-in CRM's own commands say plainly that they are about the built-in CRM.
    assert main(["--config", str(config), "crm", "user", "add", "a@example.com", "--name", "A"])
    assert "the crm commands manage the built-in CRM" in capsys.readouterr().err


def test_crm_check_on_an_adapter_without_a_check_builds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = dataclasses.replace(memory_adapter.SPEC, name="fake_plain", check=None)
    register(plain)
    try:
        config = _config(tmp_path, '[crm]\nadapter = "fake_plain"\n[crm.fake_plain]\nworld = "p"\n')
        monkeypatch.setenv("INVITEGW_CRM__FAKE_PLAIN__TOKEN", "t")
        assert main(["--config", str(config), "crm", "check"]) == 0
        out = capsys.readouterr().out
        assert out == "fake_plain: a test fake: an in-memory CRM; built, no further check\n"
        assert memory_adapter.world("p").closed == 1  # built, then closed
    finally:
        registry.unregister("fake_plain")
        memory_adapter.WORLDS.clear()
