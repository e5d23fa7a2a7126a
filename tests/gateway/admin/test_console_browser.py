"""The console in headless Chromium, against ``serve``'s real server, database and sink.

The administrator signs in through the form, reads the overview (the first start: the
baseline not taken, then taken, when and how many meetings), finds the quarantined
invitation nobody owned, releases it with Olga as owner and sees the CRM task it made,
retries a dead message and sees it leave the dead list, reads a meeting's and a message's
history, discards a quarantined message after the confirmation page, and checks the CRM.
Every page is saved as a screenshot (``build/screenshots/console-*.png``). A form posted
with the browser's own session cookie but without the CSRF token is refused (403).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import select

from invitegw.crm_adapter.builtin.admin import SqlCrmAdmin
from invitegw.gateway.storage import (
    EventLogEntry,
    OutboxMessage,
    OutboxState,
    Store,
    quarantine_message,
)
from tests.fixtures.browser import screenshot
from tests.fixtures.smtp_sink import SmtpSink
from tests.gateway.admin.harness import (
    PASSWORD,
    WAIT,
    console_deployment,
    dead_message,
    meeting,
)
from tests.gateway.inbound.test_cli_inbound import invitation
from tests.gateway.operations.harness import Deployment

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.parametrize("engine_name", ["sqlite"])


@pytest.fixture
def deployment(store: Store, tmp_path: Path, smtp_sink: SmtpSink) -> Iterator[Deployment]:
    made = console_deployment(store, tmp_path, smtp_sink.port)
    made.start()
    try:
        yield made
    finally:
        made.close()


def _quarantine(deployment: Deployment, tmp_path: Path, uid: str, summary: str) -> None:
    """Gina's invitation read from a file with no owner: quarantined, as `ingest` does."""
    path = tmp_path / f"{uid}.eml"
    path.write_bytes(invitation(uid, summary).as_bytes())
    code, out = deployment.cli("ingest", str(path))
    assert code == 0
    assert "quarantined" in out


def _wait_for_text(driver: WebDriver, text: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT).until(lambda d: text in d.page_source)


def _sign_in(driver: WebDriver, base: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/admin/")
    assert "/admin/sign-in" in driver.current_url  # no session: the form first
    screenshot(driver, "console-sign-in")
    driver.find_element(By.ID, "username").send_keys("admin")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait_for_text(driver, "Deployment:")


def _tasks(store: Store) -> list[tuple[str, str]]:
    with store.session() as session:
        return [(t.title, o.emails[0]) for t, o, _ in SqlCrmAdmin(session).list_tasks()]


def test_the_administrator_releases_retries_and_reads_histories(
    deployment: Deployment, browser: WebDriver, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    from selenium.webdriver.common.by import By

    base = deployment.http_url
    meeting_id = meeting(deployment.store)
    deployment.scheduler.runtime.wake("crm-poll")
    smtp_sink.wait_for(2, timeout=WAIT)  # the invitations to Carl and Gina went out
    _quarantine(deployment, tmp_path, "u-5@google.com", "Offer")
    _quarantine(deployment, tmp_path, "u-6@google.com", "Spam offer")
    dead = dead_message(deployment.store)
    with deployment.store.session() as session:  # a second cause, as the SMTP listener keeps it
        quarantine_message(
            session,
            raw=b"Subject: hello\r\n\r\nno calendar here\r\n",
            source="listener",
            reason="malformed calendar: no VEVENT could be read",
            now=dt.datetime.now(dt.UTC),
            max_bytes=1_000_000,
            message_id="odd.1@example.net",
        )

    _sign_in(browser, base)
    screenshot(browser, "console-overview")

    # Quarantine: grouped by cause; the message's headers, events and reason.
    browser.get(base + "/admin/quarantine")
    causes = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    assert causes == ["no owner (2)", "malformed (1)"]  # the largest group first
    screenshot(browser, "console-quarantine")
    browser.find_element(By.LINK_TEXT, "1").click()
    _wait_for_text(browser, "Calendar events found")
    assert "gina@example.org" in browser.page_source
    assert "Invitation: Offer" in browser.page_source  # the Subject header
    screenshot(browser, "console-quarantined")
    assert _tasks(deployment.store) == []
    owner = browser.find_element(By.ID, "owner")
    owner.clear()
    owner.send_keys("olga@example.com")
    browser.find_element(By.ID, "release").click()
    _wait_for_text(browser, "Released: created (task")
    assert _tasks(deployment.store) == [("Offer", "olga@example.com")]
    screenshot(browser, "console-released")

    # The message's history: processed twice (quarantined, then created), and the task.
    browser.find_element(By.PARTIAL_LINK_TEXT, "u-5@example.org").click()
    _wait_for_text(browser, "Invitations it fed")
    task_cell = browser.find_element(By.CSS_SELECTOR, "td.task").text
    assert task_cell
    assert "quarantined" in browser.page_source
    screenshot(browser, "console-message")

    # Discard the other one, after the confirmation page; the audit entry stays.
    browser.get(base + "/admin/quarantine/2/discard")
    screenshot(browser, "console-discard")
    browser.find_element(By.ID, "discard").click()
    _wait_for_text(browser, "discarded; the event log keeps a note")
    with deployment.store.session() as session:
        audit = session.scalars(
            select(EventLogEntry).where(EventLogEntry.kind == "quarantine-discarded")
        ).all()
        assert [a.details["discarded_by"] for a in audit if a.details] == ["admin (web console)"]

    # Outbox: retry the dead message.
    browser.get(base + "/admin/outbox?state=dead")
    assert "550 no such user" in browser.page_source
    screenshot(browser, "console-outbox")
    browser.find_element(By.ID, f"retry-{dead}").click()
    browser.find_element(By.ID, "retry-selected").click()
    _wait_for_text(browser, "1 message(s) queued again.")
    with deployment.store.session() as session:
        assert session.get_one(OutboxMessage, dead).state is not OutboxState.DEAD

    # The meeting's history: each attendee's SEQUENCE and sending.
    browser.get(base + f"/admin/meeting?id={meeting_id}")
    _wait_for_text(browser, "carl@example.com")
    assert "REQUEST" in browser.page_source
    screenshot(browser, "console-meeting")

    # Connections: check the CRM now.
    browser.get(base + "/admin/connections")
    browser.find_element(By.ID, "check-crm").click()
    _wait_for_text(browser, "CRM check: works")
    screenshot(browser, "console-connections")

    # The browser's own session, without the form's token: refused.
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    with httpx.Client(base_url=base, cookies=cookies, timeout=WAIT) as client:
        assert client.get("/admin/outbox").status_code == 200  # the session is good
        refused = client.post("/admin/outbox/retry", data={"all_dead": "yes"})
        assert refused.status_code == 403
        refused = client.post("/admin/quarantine/1/release", data={"owner": "x@example.com"})
        assert refused.status_code == 403


def test_the_console_fits_a_phone(deployment: Deployment, browser: WebDriver) -> None:
    from selenium.webdriver.common.by import By

    browser.set_window_size(390, 844)
    _sign_in(browser, deployment.http_url)
    browser.get(deployment.http_url + "/admin/outbox")
    # Nothing wider than the screen but the tables' own scrolling boxes.
    width = browser.execute_script("return document.documentElement.scrollWidth")
    assert width <= 390
    assert browser.find_element(By.ID, "state").is_displayed()
    screenshot(browser, "console-phone-outbox")


def test_the_overview_says_whether_the_baseline_was_taken(
    store: Store, tmp_path: Path, smtp_sink: SmtpSink, browser: WebDriver
) -> None:
    """Meetings imported before the first start; the console's server alone (no pass runs
    until the administrator takes the baseline with the CLI)."""
    from selenium.webdriver.common.by import By

    from invitegw.gateway.http.admin import admin_routes
    from invitegw.gateway.http.app import build_http_app
    from invitegw.gateway.http.server import HttpService

    deployment = console_deployment(store, tmp_path, smtp_sink.port)
    meeting(store)
    meeting(store)
    gateway = deployment.gateway
    app = build_http_app(gateway, extra_routes=admin_routes(gateway))
    service = HttpService(app, "127.0.0.1", 0)
    service.start()
    database = Path(str(store.engine.url.database))
    for path in database.parent.glob(database.name + "*"):
        path.chmod(0o600)  # as an operator keeps it: no warning above the cards
    try:
        _sign_in(browser, service.url)
        card = browser.find_element(By.ID, "first-start-h")
        browser.execute_script("arguments[0].scrollIntoView()", card)
        assert browser.find_element(By.ID, "baseline").text == "not taken"
        assert browser.find_element(By.ID, "held").text == "no meeting held"
        assert "invitegw outbound preview" in browser.page_source
        screenshot(browser, "console-overview-before-baseline")

        before = dt.datetime.now(dt.UTC).replace(microsecond=0)
        assert deployment.cli("outbound", "baseline")[0] == 0
        after = dt.datetime.now(dt.UTC)
        browser.refresh()
        _wait_for_text(browser, "nothing sent for them")
        taken = browser.find_element(By.ID, "baseline").text
        assert taken.startswith("taken ")
        assert taken.endswith(" UTC")
        at = dt.datetime.strptime(taken, "taken %Y-%m-%d %H:%M:%S UTC").replace(tzinfo=dt.UTC)
        assert before <= at <= after
        adopted = browser.find_element(By.ID, "adopted").text
        assert adopted == "2 meeting(s), nothing sent for them"
        assert smtp_sink.messages == []
        screenshot(browser, "console-overview-after-baseline")
    finally:
        service.stop()
        deployment.close()
