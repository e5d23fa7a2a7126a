"""The headless Chromium fixture renders a loopback page and saves its screenshot."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.fixtures.browser import screenshot

_PAGE = b"<!doctype html><title>fixture check</title><p id=greeting>z\xc5\xbc\xc3\xb3\xc5\x82w</p>"


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(_PAGE)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def page_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_browser_renders_a_loopback_page(browser: WebDriver, page_url: str) -> None:
    browser.get(page_url)
    assert browser.title == "fixture check"
    assert browser.find_element(By.ID, "greeting").text == "zżółw"
    path = screenshot(browser, "fixture-check")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
