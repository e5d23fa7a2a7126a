"""End to end in a real browser: an invitation's answer link, opened in headless Chromium.

The outbound pass sends the invitations (built-in CRM, a real aiosmtpd sink); the link is
read out of the ``.eml`` the sink received, as a person's mail program shows it; Chromium
opens it from the answer page served by uvicorn on loopback, and the person presses the
confirm button. The CRM then has the answer, and the organizer's notice reaches the sink.
Opening a page alone changes nothing; a changed link and an outdated one get pages that
say so. Every page is saved with :func:`~tests.fixtures.browser.screenshot`
(``build/screenshots/answer-*.png``; the README shows ``answer-page.png``).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.wait import WebDriverWait

from invitegw.domain.records import EntityType
from invitegw.gateway.storage import Store
from tests.fixtures.browser import PAGE_LOAD_TIMEOUT, screenshot
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.answers.harness import LINK, AnswerHarness
from tests.gateway.outbound.builders import WARSAW

GINA = "gina@example.org"
FARID = "farid@example.org"

pytestmark = pytest.mark.parametrize("engine_name", ["sqlite"])


@pytest.fixture
def h(store: Store, smtp_sink: SmtpSink, tmp_path: Path) -> Iterator[AnswerHarness]:
    harness = AnswerHarness(store, smtp_sink, tmp_path)
    harness.seed()
    with harness.admin() as crm:
        crm.add_party(EntityType.CONTACT, [FARID], name="Farid Karimi", language="fa")
    try:
        yield harness
    finally:
        harness.close()


def _eml_link(h: AnswerHarness, address: str, answer: str, folder: Path, since: int = 0) -> str:
    """Save the message ``address`` got as an .eml file, then read the link out of it."""
    path = folder / f"{address.split('@')[0]}-{since}.eml"
    path.write_bytes(h.message_to(address, since=since).raw)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    for kind in ("plain", "html"):
        body = message.get_body(preferencelist=(kind,))
        assert body is not None
        for match in LINK.finditer(str(body.get_content()).replace("&amp;", "&")):
            if match.group(2) == answer:
                return match.group(0)
    raise AssertionError(f"no {answer!r} link for {address}")


def _text(browser: WebDriver) -> str:
    return str(browser.find_element(By.TAG_NAME, "main").text)


def test_an_attendee_declines_from_the_link_in_a_real_browser(
    h: AnswerHarness, browser: WebDriver, tmp_path: Path
) -> None:
    h.create_meeting(attendees=["carl@example.com", GINA, "pawel@example.org", FARID])
    h.run()
    link = _eml_link(h, GINA, "no", tmp_path)

    browser.get(link)
    screenshot(browser, "answer-page")
    assert browser.title.startswith("Project kick-off")
    no = browser.find_element(By.CSS_SELECTOR, "input[name=answer][value=no]")
    assert no.is_selected()  # the link's answer, chosen; nothing recorded yet
    assert h.responses() == []
    browser.find_element(By.ID, "comment").send_keys("Away that week, sorry.")
    sent = len(h.sink.messages)
    browser.find_element(By.ID, "confirm").click()
    result = WebDriverWait(browser, PAGE_LOAD_TIMEOUT).until(
        lambda b: b.find_elements(By.ID, "result")
    )[0]
    assert "your answer is recorded" in result.text
    screenshot(browser, "answer-recorded")

    assert h.responses() == [(GINA, "DECLINED", None, "Away that week, sorry.")]
    assert h.attendee(GINA).partstat == "DECLINED"
    h.dispatcher.flush()
    notice = h.message_to("olga@example.com", since=sent)
    assert b"Subject: Declined: Project kick-off" in notice.raw

    # Persian: the same page, right to left.
    browser.get(_eml_link(h, FARID, "yes", tmp_path))
    html = browser.find_element(By.TAG_NAME, "html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("fa", "rtl")
    assert "آیا شرکت می‌کنید؟" in _text(browser)
    screenshot(browser, "answer-page-fa")
    assert h.attendee(FARID).partstat == "NEEDS-ACTION"  # opening it answered nothing


def test_tampered_and_outdated_links_get_pages_that_say_so(
    h: AnswerHarness, browser: WebDriver, tmp_path: Path
) -> None:
    meeting = h.create_meeting()
    h.run()
    link = _eml_link(h, GINA, "yes", tmp_path)
    base, token = link.rsplit("/", 1)
    tampered = f"{base}/{token.replace('.0.', '.1.', 1)}"  # claims a newer SEQUENCE
    browser.get(tampered)
    assert "This link is not valid" in _text(browser)
    screenshot(browser, "answer-invalid")

    with h.admin() as crm:
        crm.update_meeting(
            meeting,
            start=dt.datetime(2026, 6, 1, 14, tzinfo=WARSAW),
            end=dt.datetime(2026, 6, 1, 15, tzinfo=WARSAW),
        )
    h.run()
    browser.get(link)
    text = _text(browser)
    assert "has been updated since this link was sent" in text
    assert "What changed: time" in text
    assert "2:00" in text  # the new time, in Gina's zone
    assert not browser.find_elements(By.ID, "confirm")
    screenshot(browser, "answer-superseded")
    assert h.responses() == []
