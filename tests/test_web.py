"""The read-only web view, over HTTP against a real server on a free loopback port and a real temporary archive
(SQLite, or PostgreSQL with VNARCHIVE_TEST_BACKEND): every route, escaping of archived content, the sandboxed
capture, CSP headers, GET/HEAD only, bad parameters as clear 400/404 pages, and `vnarchive serve` holding under
16 concurrent readers."""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import is_sqlite
from tests.test_search import T0, put

ROOT = Path(__file__).resolve().parent.parent
EVIL_TITLE = 'Tin <script>window.pwned=1</script> "Đà Nẵng" & <b>đậm</b>'
EVIL_HTML = (b"<html><head><script>document.title='PWNED';window.pwned=1</script>"
             b"<meta http-equiv=\"refresh\" content=\"0;url=http://example.com/\">"
             b"<link rel=stylesheet href=\"http://example.com/x.css\"></head>"
             b"<body><h1>Trang g\xe1\xbb\x91c</h1><img src=\"http://example.com/t.gif\"></body></html>")
HUGE = "9" * 30


def populate(f: sessionmaker[Session]) -> dict[str, int]:
    a = put(f, "http://bao.test/a", EVIL_TITLE, "Đoạn một về Đà Nẵng.\nĐoạn hai <script>alert(1)</script> cũ.",
            html=EVIL_HTML)
    put(f, "http://bao.test/a", EVIL_TITLE, "Đoạn một về Đà Nẵng.\nĐoạn hai <script>alert(1)</script> mới.",
        when=T0 + dt.timedelta(hours=1))
    b = put(f, "http://tgvn.test/b", "Bản đăng lại", "Đà Nẵng.", source="tgvn")
    with f.begin() as s:
        s.execute(text("UPDATE articles SET story_id = :a WHERE id IN (:a, :b)"), {"a": a, "b": b})
    return {"a": a, "b": b}


@pytest.fixture
def site(db_url: str, session_factory: sessionmaker[Session]) -> Iterator[tuple[str, dict[str, int]]]:
    from crawler.web import make_server

    ids = populate(session_factory)
    server = make_server(db_url, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", ids
    server.shutdown()
    thread.join(10)
    assert not thread.is_alive(), "the server did not stop"
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
                 f"/article/{a}/diff?a=1&b=2", f"/article/{a}/diff", f"/article/{a}/capture", "/sources",
                 "/?q=%3Cscript%3E", "/?q=da+nang&source=tgvn&since=2024-01-01&until=2030-01-01"):
        status, headers, body = fetch(base + path)
        assert status == 200, path
        assert headers["Content-Type"] == "text/html; charset=utf-8", path
        assert "<script" not in body.lower(), path  # our pages have none; archived ones are escaped
        assert '<meta name="viewport"' in body and '<link rel="stylesheet" href="/static/style.css">' in body
    _, _, body = fetch(base + "/?q=da+nang")
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in body
    assert "&#34;Đà Nẵng&#34; &amp; &lt;b&gt;đậm&lt;/b&gt;" in body.replace("<mark>", "").replace("</mark>", "")
    assert f'href="/article/{a}"' in body and "<mark>" in body
    assert "3 articles" not in body and re.search(r"[12] articles? · 1–[12]</p>", body)
    _, _, body = fetch(base + f"/article/{a}")
    assert "&lt;b&gt;đậm&lt;/b&gt;" in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert f'href="/article/{ids["b"]}"' in body  # the story's other copy
    assert f"/article/{a}/diff?a=1&amp;b=2" in body
    assert "2 of 2" in body and "(current)" in body
    _, _, body = fetch(base + f"/article/{a}?v=1")
    assert "1 of 2" in body and f'(<a href="/article/{a}">current</a>)' in body and "cũ." in body


def test_every_response_carries_the_csp(site: tuple[str, dict[str, int]]) -> None:
    base, ids = site
    for path in ("/", "/sources", f"/article/{ids['a']}", "/nope", f"/article/{HUGE}", "/static/style.css"):
        _, headers, _ = fetch(base + path)
        csp = headers["Content-Security-Policy"]
        assert csp.startswith("default-src 'none'"), path
        assert "script-src" not in csp and "unsafe-inline" not in csp and "style-src 'self'" in csp, path
        assert "frame-ancestors 'self'" in csp and headers["X-Frame-Options"] == "SAMEORIGIN", path
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer", path
    status, headers, css = fetch(base + "/static/style.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css") and "header{background:#1f3b57" in css


def test_diff_is_side_by_side_word_level(site: tuple[str, dict[str, int]]) -> None:
    base, ids = site
    status, _, body = fetch(base + f"/article/{ids['a']}/diff?a=1&b=2")
    assert status == 200
    assert "<del>cũ.</del>" in body and "<ins>mới.</ins>" in body
    assert 'class="diff"' in body and "version 1" in body and "version 2" in body
    assert "title <span class=\"meta\">(unchanged)</span>" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_side_by_side_rows() -> None:
    from crawler.web.diff import side_by_side

    old = "\n".join(["một", "hai", "ba", "bốn", "năm cũ", "sáu"])
    new = "\n".join(["một", "hai", "ba", "bốn", "năm mới", "sáu", "bảy <b>"])
    rows = side_by_side(old, new)
    assert rows[0].hidden == 3 and not rows[0].left  # "một hai ba" cut, "bốn" kept as context
    assert [p.text for p in rows[1].left] == ["bốn"]
    assert ("-", "cũ") in [(p.op, p.text) for p in rows[2].left]
    assert ("+", "mới") in [(p.op, p.text) for p in rows[2].right]
    assert rows[-1].left == [] and [(p.op, p.text) for p in rows[-1].right] == [("+", "bảy <b>")]


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
    assert headers["Content-Security-Policy"].startswith("sandbox;")
    assert fetch(base + f"/article/{ids['b']}/raw?v=7")[0] == 404
    assert fetch(base + f"/article/{ids['b']}/capture?v=7")[0] == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_only_get_and_head(site: tuple[str, dict[str, int]], method: str) -> None:
    base, ids = site
    for path in (f"/article/{ids['a']}", "/", "/nope", "/static/style.css"):
        status, headers, _ = fetch(base + path, method)
        assert status == 405 and headers["Allow"] == "GET, HEAD", (method, path)


def test_head_and_not_found(site: tuple[str, dict[str, int]]) -> None:
    base, ids = site
    status, headers, body = fetch(base + "/sources", "HEAD")
    assert status == 200 and body == "" and int(headers["Content-Length"]) > 0
    for path in ("/nope", "/article/999", "/article/0", f"/article/{HUGE}", "/article/" + "1" * 5000,
                 "/article/x", "/article/-1", "/article/1.5", "/article/%D9%A1", f"/article/{ids['a']}/nope",
                 f"/article/{HUGE}/diff", f"/article/{HUGE}/capture", f"/article/{HUGE}/raw",
                 f"/article/{ids['a']}/diff?a=1&b=9", f"/article/{ids['a']}/diff?a=0&b=1",
                 f"/article/{ids['a']}?v=9", f"/article/{ids['a']}?v={HUGE}", f"/article/{ids['a']}?v=" + "9" * 5000,
                 f"/article/{ids['a']}/diff?b={HUGE}", f"/article/{ids['a']}/raw?v={HUGE}"):
        status, headers, body = fetch(base + path)
        assert status == 404, path
        assert "Traceback" not in body and "Internal" not in body, path
        assert headers["Content-Security-Policy"].startswith("default-src 'none'"), path
    status, _, body = fetch(base + f"/article/{HUGE}")
    assert "<h1>404 Not Found</h1>" in body and f"no article {HUGE}" in body
    assert "has no version 9 (versions: 1, 2)" in fetch(base + f"/article/{ids['a']}?v=9")[2]
    for path in (f"/article/{ids['a']}?v=x", f"/article/{ids['a']}?v=-1", f"/article/{ids['a']}?v=%C2%B2",
                 f"/article/{ids['a']}/diff?a=one", f"/article/{ids['a']}/capture?v=1.0",
                 f"/article/{ids['a']}/raw?v=x", f"/article/{ids['a']}/raw?as=pdf"):
        status, _, body = fetch(base + path)
        assert status == 400, path
        assert "<h1>400 Bad Request</h1>" in body, path
    assert "v must be a version number" in fetch(base + f"/article/{ids['a']}?v=x")[2]


def _answers_bad_queries(base: str, queries: tuple[str, ...]) -> None:
    for q in queries:
        status, _, body = fetch(base + "/?q=" + urllib.parse.quote(q, safe="&=%"))
        assert status == 200, q
        assert "Traceback" not in body, q


def test_bad_queries_are_messages(site: tuple[str, dict[str, int]]) -> None:
    base, _ = site
    _answers_bad_queries(base, ("***", '"', "NEAR(", "x&since=notadate", "x&until=2024-13-45",
                                "%FF%FE", "x&source=" + "s" * 3000, "đ" * 5000, " ".join(["từ"] * 200)))
    assert "nothing to search for" in fetch(base + "/?q=***")[2]
    assert "expected a date" in fetch(base + "/?q=x&since=soon")[2]


def test_a_nul_anywhere_in_a_request_is_a_bad_request(site: tuple[str, dict[str, int]]) -> None:
    """No archived text holds a NUL and PostgreSQL refuses one in a query parameter: on every backend a request
    carrying one (in the query, a filter, a path, an API call) is a 400 with a message, never a 500."""
    base, ids = site
    for path in ("/?q=%00", "/?q=a%00b", "/?q=x&source=%00", "/api/search?q=x&source=%00", "/source/%00",
                 "/source/a%00b", "/lookup?url=http://127.0.0.5/a%00b", "/changes?source=%00", "/days?source=%00",
                 f"/article/{ids['a']}?v=%00", "/?q=x&%00=1"):
        status, _, body = fetch(base + path)
        assert status == 400, path
        assert "NUL character" in body and "Traceback" not in body, path
    assert json.loads(fetch(base + "/api/search?q=x&source=%00")[2])["status"] == 400


def test_serving_writes_nothing(site: tuple[str, dict[str, int]], db_url: str) -> None:
    base, ids = site
    path = Path(db_url.removeprefix("sqlite:///"))

    def digest() -> str:
        if not is_sqlite(db_url):  # PostgreSQL: every row of every table
            from sqlalchemy import create_engine, inspect

            engine = create_engine(db_url)
            with engine.connect() as c:
                rows = {t: sorted(map(repr, c.execute(text(f'SELECT * FROM "{t}"')).fetchall()))
                        for t in inspect(c).get_table_names()}
            engine.dispose()
            assert rows["articles"]
            return hashlib.sha256(repr(sorted(rows.items())).encode()).hexdigest()
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

    from crawler.cli.serve import serve_cmd
    from crawler.web import make_server

    assert inspect.signature(make_server).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(serve_cmd).parameters["host"].default == "127.0.0.1"


def test_templates_and_css_are_package_data() -> None:
    import tomllib

    import crawler.web

    here = Path(crawler.web.__file__).parent
    assert (here / "static" / "style.css").is_file() and (here / "templates" / "base.html").is_file()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert {"templates/*.html", "static/*.css"} <= set(data["crawler.web"])
    assert "flask" in " ".join(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]).lower()


# ---------------------------------------------------------------- `vnarchive serve` under load

@pytest.fixture
def served(db_url: str, session_factory: sessionmaker[Session]) -> Iterator[tuple[str, dict[str, int], subprocess.Popen[str]]]:
    """`vnarchive serve --port 0` in its own process (as a user starts it), its address read from what it prints."""
    ids = populate(session_factory)
    for i in range(20):
        put(session_factory, f"http://bao.test/n{i}", f"Tin Đà Nẵng số {i}", f"Đà Nẵng hôm nay, tin {i}.\nĐoạn {i}.")
    env = dict(os.environ, VNARCHIVE_DB=db_url)
    proc = subprocess.Popen([sys.executable, "-m", "crawler", "serve", "--port", "0"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.search(r"serving the archive read-only at (http://127\.0\.0\.1:\d+)/", line)
        assert m, line + proc.stderr.read()
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # keep draining its log
        yield m.group(1), ids, proc
    finally:
        proc.terminate()
        proc.wait(10)


def test_sixteen_concurrent_readers(served: tuple[str, dict[str, int], subprocess.Popen[str]]) -> None:
    base, ids, proc = served
    a = ids["a"]
    paths = ["/", f"/article/{a}", "/?q=da+nang", f"/article/{a}/capture", "/sources", f"/article/{ids['b']}",
             "/?q=" + urllib.parse.quote("Đà Nẵng"), f"/article/{a}/raw?v=1", f"/article/{a}/diff?a=1&b=2",
             "/source/bao?page=2", "/days", "/day/2024-05-01", "/changes", "/removed.atom", "/?q=da+nang&page=2",
             "/api/search?q=da+nang", f"/api/article/{a}", "/api/sources", "/lookup?url=http%3A%2F%2Fbao.test%2Fa"]
    codes: collections.Counter[object] = collections.Counter()
    lock = threading.Lock()
    start = threading.Barrier(16)

    def reader(i: int) -> None:
        start.wait()
        for j in range(25):
            try:
                with urllib.request.urlopen(base + paths[(i + j) % len(paths)], timeout=30) as r:
                    r.read()
                    c: object = r.status
            except urllib.error.HTTPError as e:
                c = e.code
            except OSError as e:
                c = type(e).__name__
            with lock:
                codes[c] += 1

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(16)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert codes == {200: 16 * 25}, dict(codes)
    assert proc.poll() is None, "the server died"
    assert fetch(base + "/sources")[0] == 200
    assert time.monotonic() - t0 < 60


def test_ctrl_c_stops_serve(served: tuple[str, dict[str, int], subprocess.Popen[str]]) -> None:
    import signal

    base, _, proc = served
    assert fetch(base + "/sources")[0] == 200
    proc.send_signal(signal.SIGINT)
    assert proc.wait(15) == 0
