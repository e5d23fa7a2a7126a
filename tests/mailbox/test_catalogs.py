"""Every string the templates use is translated, with the same placeholders, in every language."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import jinja2.ext
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from invitegw.templates.render import SUPPORTED_LANGUAGES

TEMPLATES = Path(str(resources.files("invitegw.templates")))


def _template_ids() -> set[str]:
    ids: set[str] = set()
    for path in sorted(TEMPLATES.glob("*.j2")):
        for _lineno, message, _comments, _context in extract_from_file(
            jinja2.ext.babel_extract, str(path), options={"extensions": "jinja2.ext.i18n"}
        ):
            ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def _catalog(lang: str) -> Catalog:
    path = TEMPLATES / "locale" / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=lang)


def test_templates_use_some_strings() -> None:
    assert len(_template_ids()) > 20


@pytest.mark.parametrize("lang", [lang for lang in SUPPORTED_LANGUAGES if lang != "en"])
def test_catalog_is_complete_and_consistent(lang: str) -> None:
    catalog = _catalog(lang)
    translated = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id}
    missing = _template_ids() - translated
    assert not missing, f"{lang}: untranslated {sorted(missing)}"
    stale = translated - _template_ids()
    assert not stale, f"{lang}: catalog has strings no template uses {sorted(stale)}"
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"{lang}: empty translation for {message.id!r}"
    # Babel's python-format checker: same %(name)s placeholders as the msgid.
    problems = [(m.id, errors) for m, errors in catalog.check() if errors]
    assert not problems, problems
