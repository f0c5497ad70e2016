"""Meta refresh read from the page's bytes first (crawler/refresh.py): the same redirects as Scrapy's own
middleware, without decoding the pages that have none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import HtmlResponse, Request, TextResponse
from scrapy.utils.test import get_crawler

from crawler.refresh import WINDOW_BYTES, BytesFirstMetaRefreshMiddleware, may_refresh
from tests.conftest import Page, archive_sql, run_cli
from tests.sitefixture import article_html, listing_html, paragraphs
from tests.test_decode import cp1258
from tests.test_scope import _toml

VI = "Hội nghị triển khai nhiệm vụ bảo đảm an ninh trật tự năm 2024 của Công an tỉnh Bình Định. " * 40


def _page(head: str, body: str = VI, encoding: str = "utf-8", declared: bool = True) -> tuple[bytes, str]:
    meta = f'<meta charset="{encoding}">' if declared else ""
    html = f"<html><head>{meta}{head}<title>Tin</title></head><body><p>{body}</p></body></html>"
    return (cp1258(html) if encoding == "cp1258" else html.encode(encoding)), encoding


REFRESH = '<meta http-equiv="refresh" content="0; url=/bai-viet/moi-2.html">'
CASES: dict[str, tuple[bytes, str]] = {
    "utf-8, none": _page(""),
    "utf-8, refresh": _page(REFRESH),
    "utf-8, REFRESH in capitals": _page(REFRESH.upper().replace("/BAI-VIET/MOI-2.HTML", "/bai-viet/moi-2.html")),
    "utf-8, refresh after the text": _page("", VI[:300] + "</p>" + REFRESH + "<p>"),
    "utf-8 undeclared, refresh": _page(REFRESH, declared=False),
    "windows-1258, refresh": _page(REFRESH, encoding="cp1258"),
    "utf-16, refresh": _page(REFRESH, encoding="utf-16"),
    "utf-16, none": _page("", encoding="utf-16"),
    "refresh inside a script": _page(f"<script>var x = '{REFRESH}';</script>"),
    "refresh inside noscript": _page(f"<noscript>{REFRESH}</noscript>"),
    "a delay too long to follow": _page('<meta http-equiv="refresh" content="3600; url=/bai-viet/moi-2.html">'),
    "refresh to another scheme": _page('<meta http-equiv="refresh" content="0;url=file:///etc/hostname">'),
    "the word in the text only": _page("", "Làm mới (refresh) trang để xem tin mới. " * 50),
}


def _response(body: bytes, encoding: str, cls: type[HtmlResponse] = HtmlResponse) -> HtmlResponse:
    return cls("http://127.0.0.1:8000/bai-viet/cu-1.html", body=body, request=Request(
        "http://127.0.0.1:8000/bai-viet/cu-1.html"), headers={"Content-Type": "text/html"})


def _outcome(result: Any) -> Any:
    return result.url if isinstance(result, Request) else ("response", result.url)


@pytest.mark.parametrize("case", list(CASES))
def test_the_same_redirects_as_scrapys_middleware(case: str) -> None:
    body, encoding = CASES[case]
    crawler = get_crawler()
    ours = BytesFirstMetaRefreshMiddleware.from_crawler(crawler)
    scrapys = MetaRefreshMiddleware.from_crawler(crawler)
    req = Request("http://127.0.0.1:8000/bai-viet/cu-1.html")
    assert _outcome(ours.process_response(req, _response(body, encoding))) == \
        _outcome(scrapys.process_response(req, _response(body, encoding)))


def test_a_refresh_is_still_followed() -> None:
    body, encoding = CASES["utf-8, refresh"]
    out = BytesFirstMetaRefreshMiddleware.from_crawler(get_crawler()).process_response(
        Request("http://127.0.0.1:8000/bai-viet/cu-1.html"), _response(body, encoding))
    assert isinstance(out, Request) and out.url == "http://127.0.0.1:8000/bai-viet/moi-2.html"
    body, encoding = CASES["utf-16, refresh"]  # letters not spelt as ASCII bytes: Scrapy's middleware decides
    out = BytesFirstMetaRefreshMiddleware.from_crawler(get_crawler()).process_response(
        Request("http://127.0.0.1:8000/bai-viet/cu-1.html"), _response(body, encoding))
    assert isinstance(out, Request) and out.url.endswith("/bai-viet/moi-2.html")


class CountingResponse(HtmlResponse):
    decoded = 0

    @property
    def text(self) -> str:
        CountingResponse.decoded += 1
        return super().text


def test_a_page_without_refresh_is_not_decoded() -> None:
    body, encoding = CASES["utf-8 undeclared, refresh"]
    body = body.replace(REFRESH.encode(), b"")
    CountingResponse.decoded = 0
    resp = _response(body, encoding, CountingResponse)
    out = BytesFirstMetaRefreshMiddleware.from_crawler(get_crawler()).process_response(
        Request("http://127.0.0.1:8000/bai-viet/cu-1.html"), resp)
    assert out is resp and CountingResponse.decoded == 0
    # Scrapy's own decodes the whole page for it
    MetaRefreshMiddleware.from_crawler(get_crawler()).process_response(
        Request("http://127.0.0.1:8000/bai-viet/cu-1.html"), _response(body, encoding, CountingResponse))
    assert CountingResponse.decoded >= 1


def test_may_refresh() -> None:
    assert not may_refresh(CASES["utf-8, none"][0])
    assert may_refresh(CASES["utf-8, refresh"][0])
    assert may_refresh(b"<META HTTP-EQUIV='Refresh' CONTENT='0;URL=/x'>")
    assert may_refresh("<html>".encode("utf-16"))  # NUL bytes: not a byte search's to rule out
    assert may_refresh(b"\x1b$B<html>")  # ISO-2022-JP
    # past the window Scrapy reads (4,096 characters, at most 4 bytes each), a refresh is not followed by either
    assert not may_refresh(b"<html><head>" + b" " * WINDOW_BYTES + REFRESH.encode())


def test_not_html_responses_pass() -> None:
    resp = TextResponse("http://127.0.0.1:8000/feed.xml", body=REFRESH.encode(), headers={
        "Content-Type": "text/plain"})
    out = BytesFirstMetaRefreshMiddleware.from_crawler(get_crawler()).process_response(
        Request("http://127.0.0.1:8000/feed.xml"), resp)
    assert out is resp


@pytest.mark.slow
def test_a_crawl_follows_a_meta_refresh_to_the_article(serve_site: Any, tmp_path: Path,
                                                       fresh_db: Any) -> None:
    pages: dict[str, Any] = {
        "/robots.txt": Page(b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}),
        "/": Page(listing_html(["/bai-viet/bai-so-1.html", "/bai-viet/cu-7.html"])),
        "/bai-viet/bai-so-1.html": Page(article_html(1, "Hội nghị về an ninh trật tự", paragraphs(1))),
        # an old address whose page only refreshes to the article's new one
        "/bai-viet/cu-7.html": Page(
            f'<html><head><meta charset="utf-8"><title>{VI[:60]}</title>'
            '<meta http-equiv="refresh" content="0;url={base}/bai-viet/bai-so-2.html"></head>'
            f"<body><p>{VI}</p></body></html>".encode()),
        "/bai-viet/bai-so-2.html": Page(article_html(2, "Triển khai nhiệm vụ năm mới", paragraphs(2))),
    }
    site = serve_site(pages)
    (tmp_path / "s.toml").write_text(_toml(site.base, '["127.0.0.1"]'), encoding="utf-8")
    db = fresh_db("a.db")
    r = run_cli("crawl", "fixture", "--quiet", env={"VNARCHIVE_DB": db, "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "/bai-viet/bai-so-2.html" in site.paths_requested()
    con = archive_sql(db)
    try:
        titles = {t for (t,) in con.execute("select v.title from versions v")}
    finally:
        con.close()
    assert titles == {"Hội nghị về an ninh trật tự", "Triển khai nhiệm vụ năm mới"}
