"""The web page in a real browser (Playwright driving Debian's Chromium) against the real API."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from movrec_dagster.api import create_app
from movrec_dagster.devserver import free_port

CHROMIUM = shutil.which("chromium")
SCREENSHOT = os.environ.get("MOVREC_WEB_SCREENSHOT")  # a path: keep a picture of the videos panel
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (make test installs it)")


@pytest.fixture(scope="module")
def server(indexed) -> Iterator[str]:  # noqa: ANN001
    home, _, _ = indexed
    port = free_port()
    app_server = uvicorn.Server(uvicorn.Config(create_app(home), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=app_server.run, daemon=True)
    thread.start()
    while not app_server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    app_server.should_exit = True
    thread.join(10)


def test_search_more_like_this_and_watch_list(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        page = browser.new_page()
        page.goto(server)
        page.fill("input[name=q]", "NASA tries to rescue an astronaut stranded on Mars")
        page.click("form#search button[type=submit]")
        first = page.locator("#results .card").first
        expect(first.locator("h3")).to_contain_text("The Martian", timeout=30_000)
        expect(first.locator(".why")).to_contain_text("Matched")
        # the movie's picture: a frame of its video, fetched and drawn (a broken image has no width)
        picture = first.locator("img.thumb")
        expect(picture).to_have_attribute("src", re.compile("^blob:"), timeout=30_000)
        page.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=picture.element_handle())

        # the movie's videos, with what each one says (GET /movies/{id})
        first.locator("button.videos-button").click()
        expect(first.locator(".videos li").first).to_contain_text("trailer · the-martian.mp4", timeout=30_000)
        expect(first.locator(".videos .lines").first).to_contain_text("s: ")
        expect(first.locator(".videos img.thumb").first).to_have_attribute("src", re.compile("^blob:"), timeout=30_000)
        if SCREENSHOT:
            page.screenshot(path=SCREENSHOT, full_page=True)

        first.locator("button.add").click()
        first.locator("button.more").click()
        expect(page.locator("#status")).to_have_text("More like The Martian", timeout=30_000)
        titles = page.locator("#results .card h3").all_inner_texts()
        assert titles and not any("The Martian" in t for t in titles)

        page.click("#recommend")
        expect(page.locator("#status")).to_have_text("Recommended for your watch list", timeout=30_000)
        # the liked movie by its title, then the recommended one's own evidence
        why = re.compile(r"^Because you liked The Martian; its (transcript|overview)[^“]*: “[^”]+”$")
        expect(page.locator("#results .card .why").first).to_have_text(why)
        browser.close()
