"""End to end in a real browser: search, open an article and its diff, and make sure a <script> planted in an
archived page never runs and loads nothing, whether framed or opened directly.

Needs Debian's chromium (/usr/bin/chromium) and Playwright for Python (`pip install playwright`; no
`playwright install`: the system browser is used).  Skipped, with the reason, when either is missing.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.test_search import T0, put

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM} (Debian package chromium)"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="Playwright for Python is not installed (pip install playwright)"),
]
# as root, offline: no sandbox, and none of Chromium's own calls home
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

# if anything in it ran, the frame would navigate to /pwned-*: a request the test sees (navigation is not
# something a CSP can stop, so it is the one side effect that would show through)
PLANTED = (b"<html><head><title>Trang g\xe1\xbb\x91c</title>"
           b"<script>document.title='PWNED';window.pwned=1;location.replace('/pwned-script')</script>"
           b"<link rel=stylesheet href=\"http://192.0.2.1/x.css\"></head>"
           b"<body onload=\"location.replace('/pwned-onload')\"><h1 id=h>B\xc3\xa0i g\xe1\xbb\x91c</h1>"
           b"<img src=\"http://192.0.2.1/pixel.gif\"><iframe src=\"http://192.0.2.1/\"></iframe></body></html>")


@pytest.fixture
def site(db_url: str, session_factory: sessionmaker[Session]) -> Iterator[tuple[str, int]]:
    from crawler.web import make_server

    f = session_factory
    title = "Đà Nẵng <script>window.pwned=3</script> khai trương cầu mới"
    aid = put(f, "http://bao.test/cau", title, "Cầu Rồng mở cửa.\nLễ khánh thành diễn ra sáng nay.", html=PLANTED)
    put(f, "http://bao.test/cau", title, "Cầu Rồng mở cửa.\nLễ khánh thành diễn ra chiều nay.",
        when=T0 + dt.timedelta(hours=5), html=PLANTED)
    put(f, "http://bao.test/khac", "Tin khác", "Không liên quan.")
    server = make_server(db_url, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", aid
    server.shutdown()
    thread.join(10)
    server.server_close()


def test_search_article_diff_and_a_planted_script_that_never_runs(site: tuple[str, int]) -> None:
    from playwright.sync_api import sync_playwright

    base, aid = site
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)  # Playwright gives it a fresh profile
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            # a load the CSP blocks still shows as a request event, failed with ERR_BLOCKED_BY_CSP; one that
            # got past it would reach the network layer, here: recorded, and aborted so nothing leaves the machine
            reached_network: list[str] = []

            def outside(route: Any) -> None:
                reached_network.append(route.request.url)
                route.abort()

            page.route("http://192.0.2.1/**", outside)

            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            page.goto(base + "/")
            # the stylesheet (our only resource) loads under the page's CSP: the header is styled
            assert page.locator("header").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(31, 59, 87)"
            page.fill("input[name=q]", "da nang cau")
            page.keyboard.press("Enter")
            page.wait_for_url("**/?q=*")
            link = page.locator("ol.hits a").first
            assert "Đà Nẵng <script>window.pwned=3</script>" in link.inner_text()  # shown as text
            assert page.locator("ol.hits mark").count() >= 2
            link.click()
            page.wait_for_url(f"**/article/{aid}")
            assert "khai trương cầu mới" in page.locator("h1").inner_text()
            assert "chiều nay" in page.locator("section.text").inner_text()

            page.click("text=diff with 1")
            page.wait_for_url(f"**/article/{aid}/diff?a=1&b=2")
            assert page.locator("table.diff del").first.inner_text() == "sáng"
            assert page.locator("table.diff ins").first.inner_text() == "chiều"

            raw_responses: list[tuple[str, dict[str, str], bytes]] = []
            page.on("response", lambda r: raw_responses.append((r.url, r.headers, r.body()))
                    if "/raw" in r.url else None)
            page.goto(base + f"/article/{aid}")
            page.click("text=archived page")
            page.wait_for_url(f"**/article/{aid}/capture*")
            page.wait_for_load_state("load")
            page.wait_for_timeout(500)
            assert any(f.url.endswith(f"/article/{aid}/raw?v=2") for f in page.frames)  # framed...
            (url, headers, body) = raw_responses[-1]
            assert "Bài gốc".encode() in body and headers["content-security-policy"].startswith("sandbox;")
            assert page.evaluate("window.pwned") is None and "PWNED" not in page.title()  # ...and inert
            framed = next(f for f in page.frames if "/raw" in f.url)
            assert framed.locator("h1").inner_text() == "Bài gốc"  # shown: our own frame-ancestors allows it
            # the CSPs blocked only what was planted, never one of our own pages or our stylesheet
            assert not [m for m in console if "violates" in m and base in m], console
            assert [m for m in console if "violates" in m and "192.0.2.1/pixel.gif" in m]

            # opened directly, not in our iframe: the CSP sandbox still holds
            page.goto(base + f"/article/{aid}/raw?v=1")
            page.wait_for_timeout(500)
            assert page.url.endswith(f"/article/{aid}/raw?v=1")
            assert not [u for u in requested if "/pwned" in u], requested

            assert reached_network == []

            # the detector works: the same bytes served without our protections do run
            page.route(base + "/control", lambda route: route.fulfill(body=PLANTED, content_type="text/html"))
            page.goto(base + "/control")
            page.wait_for_timeout(500)
            assert [u for u in requested if "/pwned" in u]
            assert "http://192.0.2.1/pixel.gif" in reached_network

        finally:
            browser.close()
