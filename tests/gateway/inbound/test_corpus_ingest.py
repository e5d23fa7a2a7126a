"""``invitegw ingest --dry-run`` over every file of the third-party corpus ($INVITEGW_CORPUS).

No crash; every file decides or is quarantined with a reason; invitations the three
reference parsers agree on become tasks with the UIDs the manifest names. The policies are
opened (any external organizer, any forwarder) so that the task rules, not the sender
checks, decide: the corpus's senders are nobody's CRM contacts.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from invitegw.gateway.cli import main
from invitegw.gateway.inbound.model import InboundOutcome

OUTCOMES = {o.value for o in InboundOutcome}


@pytest.fixture(scope="module")
def corpus_run(
    corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, list[dict[str, object]]], list[dict[str, str]]]:
    work = tmp_path_factory.mktemp("corpus-ingest")
    config = work / "invitegw.toml"
    config.write_text(
        f'data_dir = "{work / "data"}"\n'
        '[inbound]\nexternal_invitations = "anyone"\nforwarders = "anyone"\n'
    )
    out = work / "out.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)
        assert (
            main(
                [
                    "--config",
                    str(config),
                    "crm",
                    "user",
                    "add",
                    "staff@example.com",
                    "--name",
                    "Staff",
                ]
            )
            == 0
        )
        with out.open("w") as handle, patch.context() as inner:
            inner.setattr("sys.stdout", handle)
            code = main(
                [
                    "--config", str(config), "ingest", "--dry-run", "--json",
                    "--owner", "staff@example.com",
                    str(corpus_dir / "eml"), str(corpus_dir / "ics"),
                ]
            )  # fmt: skip
    assert code == 0
    by_file: dict[str, list[dict[str, object]]] = {}
    for line in out.read_text().splitlines():
        record = json.loads(line)
        name = str(Path(str(record["file"])).relative_to(corpus_dir))
        by_file.setdefault(name, []).append(record)
    with (corpus_dir / "MANIFEST.tsv").open(newline="") as handle:
        manifest = list(csv.DictReader(handle, delimiter="\t"))
    return by_file, manifest


def test_every_file_decides_or_is_quarantined_with_a_reason(
    corpus_run: tuple[dict[str, list[dict[str, object]]], list[dict[str, str]]],
) -> None:
    by_file, manifest = corpus_run
    missing = [row["file"] for row in manifest if row["file"] not in by_file]
    assert missing == []
    for name, records in by_file.items():
        for record in records:
            assert record["outcome"] in OUTCOMES, (name, record)
            if record["outcome"] == "quarantined":
                assert record["reason"], (name, record)


def test_agreed_invitations_become_tasks_with_the_manifest_uids(
    corpus_run: tuple[dict[str, list[dict[str, object]]], list[dict[str, str]]],
) -> None:
    by_file, manifest = corpus_run
    checked = 0
    for row in manifest:
        if row["itip_method"] not in {"REQUEST", "PUBLISH"} or row["parsers_agree"] != "yes":
            continue
        if not row["organizer_email"] or not row["dtstart_utc"]:
            continue
        if "bounce" in row["file"]:  # the method is the returned invitation's: not a new one
            assert [r["outcome"] for r in by_file[row["file"]]] == ["ignored"]
            continue
        records = by_file[row["file"]]
        created = {r["uid"] for r in records if r["outcome"] == "created"}
        assert created, (row["file"], records)
        assert created <= set(row["uids"].split(";")), (row["file"], created, row["uids"])
        checked += 1
    assert checked >= 20
