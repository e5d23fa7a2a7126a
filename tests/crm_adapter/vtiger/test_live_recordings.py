"""Hold the fake to the live behaviours of stock vtiger 8.3 on PHP 8 (issue 11).

Replays ``live_recordings/`` (authored here, see its README) against a fresh fake with its
**stock defaults** (no mode is switched per file): a checkbox custom field reading ``"0"``
on old and webservice-made records, the web form applying the default and stripping
``<...>`` from a text area, and ``logout`` answering HTTP 500 while the session lives on.
Steps marked ``"ui"`` are what a person does in vtiger's web interface; they run on the
fake directly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.crm_adapter.vtiger.replay_server import FakeVtiger, FakeVtigerServer, ManualClock
from tests.crm_adapter.vtiger.test_replay_shapes import Replayer, compare

FOLDER = Path(__file__).parent / "live_recordings"


def _files() -> list[Path]:
    return sorted(FOLDER.glob("*.json"), key=lambda p: int(p.name.split("-")[0]))


def _at(value: Any, path: str) -> Any:
    for part in path.split("."):
        value = value[part]
    return value


def _ui(fake: FakeVtiger, clock: ManualClock, step: dict[str, Any]) -> None:
    clock.now = max(clock.now, float(step.get("at", clock.now)))
    if step["action"] == "add_field":
        fake.add_field(
            step["module"],
            step["field"],
            step["type"],
            label=step.get("label", ""),
            default=step.get("default", ""),
        )
    elif step["action"] == "save":
        fake.ui_save(
            step["user"],
            step["module"],
            step["fields"],
            ws_id=step.get("id"),
            invitees=step.get("invitees"),
        )
    else:  # pragma: no cover - a fixture typo
        raise AssertionError(f"unknown ui action {step['action']!r}")


def _listed_fields(recorded: dict[str, Any], got: dict[str, Any], problems: list[str]) -> None:
    have = {f["name"]: f for f in got["fields"]}
    for field in recorded["fields"]:
        mine = have.get(field["name"])
        if mine is None:
            problems.append(f"describe has no field {field['name']}")
            continue
        for key in ("label", "mandatory", "default"):
            if mine.get(key) != field[key]:
                problems.append(
                    f"{field['name']}.{key}: {field[key]!r} recorded, got {mine.get(key)!r}"
                )
        if mine["type"]["name"] != field["type"]["name"]:
            problems.append(f"{field['name']}: type {field['type']['name']} recorded")


def test_the_fake_answers_like_stock_vtiger_did_live() -> None:
    files = _files()
    first = json.loads(files[0].read_text())
    clock = ManualClock(first["response_json"]["result"]["serverTime"])
    fake = FakeVtiger(clock=clock)
    assert (fake.sync_mode, fake.logout_mode) == ("broken", "broken")  # stock by default
    server = FakeVtigerServer(fake)
    replayer = Replayer(clock, fake, server.url, recorded_modes=False)
    problems: list[str] = []
    exchanges = 0
    try:
        for path in files:
            recording = json.loads(path.read_text())
            if "ui" in recording:
                _ui(fake, clock, recording["ui"])
                continue
            exchanges += 1
            replayer.follow_timeline(recording)
            response = replayer.send(recording)
            local: list[str] = []
            if response.status_code != recording["status"]:
                local.append(f"HTTP {recording['status']} recorded, got {response.status_code}")
            expected = recording["response_json"]
            if expected is None:
                if response.content != recording.get("response_text", "").encode():
                    local.append(f"an empty body was recorded, got {response.content[:80]!r}")
            else:
                answer = response.json()
                replayer.learn(recording, answer)
                if answer.get("success") is not True:
                    local.append(f"success recorded, got {answer}")
                elif recording.get("compare") == "listed-fields":
                    _listed_fields(expected["result"], answer["result"], local)
                else:
                    compare(expected["result"], answer["result"], "result", local)
                    for spot in recording.get("exact", ()):
                        want, got = _at(expected, spot), _at(answer, spot)
                        if want != got:
                            local.append(f"{spot}: {want!r} recorded, got {got!r}")
            problems.extend(f"{path.name}: {p}" for p in local)
    finally:
        replayer.http.close()
        server.close()
    assert exchanges >= 9
    assert not problems, "\n".join(problems)
