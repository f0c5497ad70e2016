"""The floor (trafilatura on the whole page) at trafilatura's fast setting where that is the same text.

``quick_floor`` skips trafilatura's fallback comparison (readability, justext) only when that comparison could not
have changed the text; ``extract_article`` runs the whole cascade after all when its own reading is twice as long.
Real saved pages (tests/fixtures/realpages) and the hand-written Vietnamese fixtures (tests/fixtures/pages).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import trafilatura
from lxml import html as lhtml

import pipelines.extract as extract_mod
from pipelines.decode import decode_html
from pipelines.extract import extract_article
from pipelines.locate import QuickFloor, quick_floor, whole_page_text

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REAL = sorted((FIXTURES / "realpages" / "html").glob("*.html.gz"))
HAND = sorted(p for p in (FIXTURES / "pages").glob("*.html") if p.stat().st_size > 2000)


def _page(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.suffix == ".gz" else raw


def _root(body: bytes):  # noqa: ANN202 - an lxml tree
    return lhtml.document_fromstring(decode_html(body, None).text)


_P = "Bộ Nội vụ cho biết trong năm nay sẽ tiếp tục sắp xếp tổ chức bộ máy tinh gọn, hoạt động hiệu lực, hiệu quả hơn. "
# stray paragraphs beside a short article, and a teaser box: trafilatura's recovery keeps the box at the fast
# setting only, so the fast text differs from the whole cascade's
TEASER_PAGE = ("<html><body><article><h1>Tin chính</h1><p>" + _P + "</p></article>"
               "<section><p>" + _P * 2 + "</p></section><section><p>" + _P * 2 + "</p></section>"
               "<div class='teaser-box'><p>" + "Bài liên quan: các địa phương đẩy mạnh chuyển đổi số. " * 5
               + "</p></div></body></html>")
# a long txt output (a table's rules) over little text: short as trafilatura counts it
TABLE_PAGE = ("<html><body><article><h1>Bảng số liệu</h1><p>Số liệu thống kê quý ba năm nay của tỉnh.</p><table>"
              + "".join(f"<tr><td>{i}</td><td></td><td></td><td></td></tr>" for i in range(40))
              + "</table></article></body></html>")


@pytest.mark.parametrize("path", REAL + HAND, ids=lambda p: p.name.split(".")[0])
def test_quick_floor_is_the_whole_cascade_or_declines(path: Path) -> None:
    body = _page(path)
    quick = quick_floor(_root(body), "https://example.vn/a")
    if quick is not None:
        assert quick.text == whole_page_text(_root(body), "https://example.vn/a")


def test_most_real_pages_take_the_quick_path() -> None:
    quick = [quick_floor(_root(_page(p)), "https://example.vn/a") is not None for p in REAL]
    assert sum(quick) >= 0.5 * len(REAL)


def test_short_text_declines() -> None:
    # under twice trafilatura's own threshold, justext may take over: the whole cascade must run
    page = ("<html><body><nav><a href='/'>Trang chủ</a></nav><article><h1>Tin ngắn</h1>"
            "<p>Sáng nay, Bộ Nội vụ công bố quyết định bổ nhiệm cán bộ mới cho các đơn vị trực thuộc.</p>"
            "</article></body></html>")
    assert quick_floor(lhtml.document_fromstring(page), "https://example.vn/a") is None


def test_short_as_trafilatura_counts_declines() -> None:
    url = "https://example.vn/a"
    assert len(whole_page_text(lhtml.document_fromstring(TABLE_PAGE), url)) > 2 * 250  # long as txt
    assert quick_floor(lhtml.document_fromstring(TABLE_PAGE), url) is None


def test_teaser_blocks_decline() -> None:
    url = "https://example.vn/a"
    fast = trafilatura.extract(lhtml.document_fromstring(TEASER_PAGE), url=url, fast=True, include_comments=False,
                               include_tables=True, favor_precision=True, deduplicate=False, with_metadata=False)
    assert fast != whole_page_text(lhtml.document_fromstring(TEASER_PAGE), url)  # the case is real
    assert quick_floor(lhtml.document_fromstring(TEASER_PAGE), url) is None


def test_a_much_longer_reading_runs_the_whole_cascade(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the located reading is twice as long as the quick floor (readability might have found as much), the
    floor is taken again from the whole cascade on the page as parsed: the result is the whole cascade's."""
    body = _page(FIXTURES / "pages" / "vnexpress.html")
    url = "https://vnexpress.net/a-1.html"
    expected = extract_article(body, url)
    calls: list[object] = []
    real_whole = extract_mod.whole_page_text

    def whole(html: object, u: str) -> str:
        calls.append(html)
        return real_whole(html, u)

    # a quick floor far shorter than the article
    monkeypatch.setattr(extract_mod, "quick_floor", lambda root, u: QuickFloor("Một dòng.", 9))
    monkeypatch.setattr(extract_mod, "whole_page_text", whole)
    assert extract_article(body, url) == expected
    assert len(calls) == 1 and calls[0] is not None
