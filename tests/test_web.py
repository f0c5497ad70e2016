"""The read-only web view: every route, escaping of archived content, the sandboxed capture, GET/HEAD only."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tests.test_search import T0, put

EVIL_TITLE = 'Tin <script>window.pwned=1</script> "Đà Nẵng" & <b>đậm</b>'
EVIL_HTML = (b"<html><head><script>document.title='PWNED';window.pwned=1</script>"
             b"<meta http-equiv=\"refresh\" content=\"0;url=http://example.com/\">"
             b"<link rel=stylesheet href=\"http://example.com/x.css\"></head>"
             b"<body><h1>Trang g\xe1\xbb\x91c</h1><img src=\"http://example.com/t.gif\"></body></html>")


@pytest.fixture
def site(db_url: str, session_factory: sessionmaker[Session]) -> Iterator[tuple[str, dict[str, int]]]:
    from crawler.web import make_server

    f = session_factory
    a = put(f, "http://bao.test/a", EVIL_TITLE, "Đoạn một về Đà Nẵng.\nĐoạn hai <script>alert(1)</script> cũ.",
            html=EVIL_HTML)
    put(f, "http://bao.test/a", EVIL_TITLE, "Đoạn một về Đà Nẵng.\nĐoạn hai <script>alert(1)</script> mới.",
        when=T0 + dt.timedelta(hours=1))
    b = put(f, "http://tgvn.test/b", "Bản đăng lại", "Đà Nẵng.", source="tgvn")
    with f.begin() as s:
        s.execute(text("UPDATE articles SET story_id = :a WHERE id IN (:a, :b)"), {"a": a, "b": b})
    server = make_server(db_url, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", {"a": a, "b": b}
    server.shutdown()
    server.server_close()


def fetch(url: str, method: str = "GET") -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(url, method=method, data=b"x=1" if method in ("POST", "PUT") else None)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8")


def test_pages_render_and_escape_archived_content(site: tuple[str, dict[str, int]]) -> None:
    base, ids = site
    a = ids["a"]
    for path in ("/", "/?q=da+nang", "/?q=" + urllib.parse.quote("Đà Nẵng"), f"/article/{a}", f"/article/{a}?v=1",
                 f"/article/{a}/diff?a=1&b=2", f"/article/{a}/capture", "/sources", "/?q=%3Cscript%3E",
                 "/?q=da+nang&source=tgvn&since=2024-01-01&until=2030-01-01"):
        status, headers, body = fetch(base + path)
        assert status == 200, path
        assert "<script" not in body.lower(), path  # our pages have none; archived ones are escaped
        assert '<meta name="viewport"' in body
        assert "script-src" not in headers["Content-Security-Policy"]
        assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    _, _, body = fetch(base + "/?q=da+nang")
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in body
    assert f'href="/article/{a}"' in body and "<mark>" in body
    _, _, body = fetch(base + f"/article/{a}")
    assert "&lt;b&gt;đậm&lt;/b&gt;" in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert f'href="/article/{ids["b"]}"' in body  # the story's other copy
    assert f"/article/{a}/diff?a=1&amp;b=2" in body


def test_diff_is_side_by_side_word_level(site: tuple[str, dict[str, int]]) -> None:
    base, ids = site
    status, _, body = fetch(base + f"/article/{ids['a']}/diff?a=1&b=2")
    assert status == 200
    assert "<del>cũ.</del>" in body and "<ins>mới.</ins>" in body
    assert 'class="diff"' in body and "version 1" in body and "version 2" in body


def test_capture_is_sandboxed_and_never_loads_anything(site: tuple[str, dict[str, int]]) -> None:
    base, ids = site
    _, _, page = fetch(base + f"/article/{ids['a']}/capture?v=1")
    assert f'<iframe sandbox="" referrerpolicy="no-referrer" title="archived page" src="/article/{ids["a"]}/raw?v=1">' in page
    status, headers, body = fetch(base + f"/article/{ids['a']}/raw?v=1")
    assert status == 200
    csp = headers["Content-Security-Policy"]
    assert csp.startswith("sandbox;") and "default-src 'none'" in csp and "script-src" not in csp
    assert "img-src data:" in csp and headers["X-Content-Type-Options"] == "nosniff"
    assert "Trang gốc" in body and 'http-equiv="x-refresh-disabled"' in body
    status, headers, body = fetch(base + f"/article/{ids['a']}/raw?v=1&as=text")
    assert headers["Content-Type"] == "text/plain; charset=utf-8" and body.startswith("<html><head><script>")
    assert fetch(base + f"/article/{ids['b']}/raw?v=7")[0] == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_only_get_and_head(site: tuple[str, dict[str, int]], method: str) -> None:
    base, ids = site
    status, headers, _ = fetch(base + f"/article/{ids['a']}", method)
    assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_head_and_not_found(site: tuple[str, dict[str, int]]) -> None:
    base, ids = site
    status, headers, body = fetch(base + "/sources", "HEAD")
    assert status == 200 and body == "" and int(headers["Content-Length"]) > 0
    assert fetch(base + "/nope")[0] == 404
    assert fetch(base + "/article/999")[0] == 404
    assert fetch(base + f"/article/{ids['a']}?v=x")[0] == 400
    assert fetch(base + f"/article/{ids['a']}/diff?a=1&b=9")[0] == 404


def test_bad_queries_are_messages(site: tuple[str, dict[str, int]]) -> None:
    base, _ = site
    for q in ("***", '"', "NEAR(", "x&since=notadate"):
        status, _, body = fetch(base + "/?q=" + urllib.parse.quote(q, safe="&="))
        assert status == 200, q
    assert "nothing to search for" in fetch(base + "/?q=***")[2]
    assert "expected a date" in fetch(base + "/?q=x&since=soon")[2]


def test_serving_writes_nothing(site: tuple[str, dict[str, int]], db_url: str) -> None:
    base, ids = site
    path = Path(db_url.removeprefix("sqlite:///"))

    def digest() -> str:
        return "".join(hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.parent.glob(path.name + "*"))
                       if not p.name.endswith("-shm"))

    before = digest()
    for p in ("/", "/?q=da+nang", f"/article/{ids['a']}", f"/article/{ids['a']}/diff", "/sources",
              f"/article/{ids['a']}/raw"):
        fetch(base + p)
        fetch(base + p, "POST")
    assert digest() == before


def test_binds_loopback_by_default() -> None:
    import inspect

    from crawler.cli_inspect import serve_cmd
    from crawler.web import make_server

    assert inspect.signature(make_server).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(serve_cmd).parameters["host"].default == "127.0.0.1"
