"""End to end in a real browser: search, open an article and its diff, and make sure a <script> planted in an
archived page never runs and loads nothing, whether framed or opened directly; browse a source, page through
search results, open the removed feed, look an article up by a tracking URL — at desktop and phone widths,
with screenshots (into docs/ when VNARCHIVE_SCREENSHOTS=docs: that is how the README's are made).

Needs Debian's chromium (/usr/bin/chromium) and Playwright for Python (`pip install playwright`; no
`playwright install`: the system browser is used).  Skipped, with the reason, when either is missing.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
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


# ---------------------------------------------------------------- browsing, paging, the removed feed

ROOT = Path(__file__).resolve().parent.parent
TITLES = [
    "Hà Nội khởi công tuyến đường vành đai 4", "Hà Nội mở rộng không gian đi bộ quanh hồ Hoàn Kiếm",
    "Thủ tướng làm việc với Hà Nội về quy hoạch Thủ đô", "Hà Nội: giá nhà chung cư tiếp tục tăng",
    "Mưa lớn gây ngập nhiều tuyến phố Hà Nội", "Hà Nội tổ chức kỳ thi vào lớp 10 an toàn",
    "Hà Nội đón hơn 2 triệu lượt khách du lịch dịp lễ", "Đường sắt đô thị Nhổn – ga Hà Nội chạy thử",
]


def browse_site(f: sessionmaker[Session]) -> dict[str, int]:
    from sqlalchemy import text

    from storage import repo

    ids: dict[str, int] = {}
    for i in range(45):
        src = ("baochinhphu", "nhandan", "tgvn")[i % 3]
        title = TITLES[i % len(TITLES)] + (f" (kỳ {i // len(TITLES) + 1})" if i >= len(TITLES) else "")
        ids[f"n{i}"] = put(f, f"https://{src}.test/tin-{i}.html", title,
                           f"Sáng nay, thành phố Hà Nội công bố thông tin số {i}.\nĐoạn hai của bài {i}.",
                           source=src, published=T0 - dt.timedelta(hours=3 * i), when=T0 + dt.timedelta(minutes=i))
    ids["edited"] = ids["n0"]
    put(f, "https://baochinhphu.test/tin-0.html", TITLES[0] + " trước Tết",
        "Sáng nay, thành phố Hà Nội công bố thông tin số 0, đã sửa.\nĐoạn hai của bài 0.", source="baochinhphu",
        published=T0 + dt.timedelta(hours=1), when=T0 + dt.timedelta(days=1))
    with f.begin() as s:
        at = T0 + dt.timedelta(days=1, hours=3)
        s.execute(text("UPDATE articles SET status = 'removed', removed_at = :t WHERE id = :a"),
                  {"t": at.astimezone(dt.UTC).replace(tzinfo=None), "a": ids["n4"]})
        repo.record_event(s, ids["n4"], "removed", at, "HTTP 404")
    return ids


@pytest.fixture
def browse(db_url: str, session_factory: sessionmaker[Session]) -> Iterator[tuple[str, dict[str, int]]]:
    from crawler.web import make_server

    ids = browse_site(session_factory)
    server = make_server(db_url, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", ids
    server.shutdown()
    thread.join(10)
    server.server_close()


@pytest.mark.parametrize(("width", "height", "suffix"), [(1280, 860, ""), (390, 844, "-phone")])
def test_browse_a_source_page_search_results_and_open_the_removed_feed(
        browse: tuple[str, dict[str, int]], tmp_path: Path, width: int, height: int, suffix: str) -> None:
    from lxml import etree
    from playwright.sync_api import sync_playwright

    base, ids = browse
    shots = ROOT / "docs" if os.environ.get("VNARCHIVE_SCREENSHOTS") == "docs" else tmp_path

    def shot(page: Any, name: str) -> None:
        page.screenshot(path=str(shots / f"screenshot-{name}{suffix}.png"))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))

            # a source: from the sources page, its newest articles, then the next page of them
            page.goto(base + "/sources")
            page.click("a.source >> text=nhandan")
            page.wait_for_url("**/source/nhandan")
            assert page.locator("p.total").inner_text() == "15 articles · 1–15"
            page.goto(base + "/source/baochinhphu")
            assert page.locator("p.total").inner_text() == "15 articles · 1–15"
            first = page.locator("ol.hits > li > a").first.inner_text()
            assert first.startswith(TITLES[0])  # the newest (republished an hour later)
            shot(page, "source")

            # search: 45 results, three pages of 20
            page.goto(base + "/")
            page.fill("input[name=q]", "ha noi")
            page.keyboard.press("Enter")
            page.wait_for_url("**/?q=*")
            assert page.locator("p.total").inner_text() == "45 articles · 1–20"
            one = page.locator("ol.hits > li > a").all_inner_texts()
            page.click("nav.pager a[rel=next]")
            page.wait_for_url("**page=2*")
            assert page.locator("p.total").inner_text() == "45 articles · 21–40"
            assert page.locator("nav.pager span").inner_text() == "page 2 of 3"
            two = page.locator("ol.hits > li > a").all_inner_texts()
            assert len(one) == len(two) == 20 and not set(one) & set(two)
            assert page.locator("ol.hits").get_attribute("start") == "21"
            shot(page, "search")
            page.click("nav.pager a[rel=next]")
            page.wait_for_url("**page=3*")
            assert page.locator("p.total").inner_text() == "45 articles · 41–45"
            assert page.locator("nav.pager a[rel=next]").count() == 0

            # the removed page, and its feed as a feed reader fetches it
            page.click("header >> text=Removed")
            page.wait_for_url("**/removed")
            assert page.locator("p.total").inner_text() == "1 removal · 1–1"
            assert "HTTP 404" in page.locator("ol.hits").inner_text()
            shot(page, "removed")
            href = page.locator("a.feed").get_attribute("href")
            assert href == "/removed.atom"
            assert page.locator("link[rel=alternate][type='application/atom+xml']").get_attribute("href") == href
            resp = page.request.get(base + href)
            assert resp.status == 200 and resp.headers["content-type"].startswith("application/atom+xml")
            feed = etree.fromstring(resp.body())
            atom = "{http://www.w3.org/2005/Atom}"
            entries = feed.findall(f"{atom}entry")
            assert [e.findtext(f"{atom}id") for e in entries] == [
                f"tag:vnarchive,2024:article/{ids['n4']}/removed/20240502T060000Z"]
            assert entries[0].find(f"{atom}link").get("href") == f"{base}/article/{ids['n4']}"  # type: ignore[union-attr]

            # a URL as shared on social media finds the article; its page shows the dates and their changes
            page.goto(base + "/")
            page.fill("input[name=url]", "https://baochinhphu.test/tin-0.html?utm_source=facebook&fbclid=x#top")
            page.click("form[action='/lookup'] button")
            page.wait_for_url(f"**/article/{ids['edited']}")
            assert "trước Tết" in page.locator("h1").inner_text()
            assert "published changed" in page.locator("dl").inner_text()
            shot(page, "article")

            assert not [m for m in console if "violates" in m], console
        finally:
            browser.close()
    for name in ("source", "search", "removed", "article"):
        png = (shots / f"screenshot-{name}{suffix}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base)
