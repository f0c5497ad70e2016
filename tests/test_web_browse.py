"""The web view's browsing, feeds, paging, lookup and JSON API, through Flask's test client on a real SQLite
archive written the way the pipeline writes one (tests.test_search.put): source pages, days in Vietnam time,
the changed and removed pages and their Atom feeds (read back by a real XML parser), paging with totals on
search and every list, lookup by any URL form, dates and their changes on article and diff pages, and the API's
records compared field by field with the commands' --json outputs."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from storage import repo
from storage.models import Article
from tests.test_search import T0, VN, pg_factory, put  # noqa: F401  (pg_factory: a fixture)

ATOM = "{http://www.w3.org/2005/Atom}"
N_BAO = 30


def populate(f: sessionmaker[Session]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for i in range(N_BAO):  # one an hour back from 2024-05-01 10:00 +07:00: 11 on May 1st, 19 on April 30th
        ids[f"n{i}"] = put(f, f"http://bao.test/tin-{i}", f"Đà Nẵng tin số {i}", f"Đà Nẵng hôm nay, tin {i}.",
                           published=T0 - dt.timedelta(hours=i), when=T0 + dt.timedelta(minutes=i))
    with f.begin() as s:  # the keys the archiving pipeline gives URLs (put() keeps the URL itself)
        from pipelines.urls import url_key

        for url in s.execute(text("SELECT url FROM article_urls")).scalars().all():
            s.execute(text("UPDATE article_urls SET key = :k WHERE url = :u"), {"k": url_key(url), "u": url})
    # 06:30 in Hanoi is 23:30 UTC the day before: it belongs to May 1st
    ids["early"] = put(f, "http://bao.test/som", "Tin sáng sớm", "Sáng sớm.",
                       published=dt.datetime(2024, 4, 30, 23, 30, tzinfo=dt.UTC))
    # edited: title, text and publication time change; version 2 states a modification time
    ids["edited"] = put(f, "http://bao.test/sua", "Tiêu đề cũ", "Đoạn một.\nĐoạn hai cũ.",
                        published=dt.datetime(2024, 5, 1, 8, tzinfo=VN))
    put(f, "http://bao.test/sua", "Tiêu đề mới", "Đoạn một.\nĐoạn hai mới.",
        published=dt.datetime(2024, 5, 1, 9, tzinfo=VN), when=T0 + dt.timedelta(days=1))
    with f.begin() as s:
        s.execute(text("UPDATE versions SET modified = :m WHERE article_id = :a AND number = 2"),
                  {"m": dt.datetime(2024, 5, 2, 3, 15, tzinfo=dt.UTC).replace(tzinfo=None), "a": ids["edited"]})
        # a re-extraction (a version from the same capture as the one before it) is not a change of the page
        a = s.get(Article, ids["edited"])
        assert a is not None
        cap = s.execute(text("SELECT capture_id FROM versions WHERE article_id = :a AND number = 2"),
                        {"a": a.id}).scalar_one()
        repo.add_version(s, a, repo.Content(title="Tiêu đề mới", lead="", text="Đoạn một.\nĐoạn hai mới!",
                                            author=None, published=dt.datetime(2024, 5, 1, 9, tzinfo=VN),
                                            modified=None, language="vi", page_canonical=None, extractor="test",
                                            extractor_version="2"), cap, T0 + dt.timedelta(days=2))
    # removed, with a title XML cannot carry as it is
    ids["gone"] = put(f, "http://tgvn.test/mat", "Bài bị gỡ \x01 <b>&</b>", "Nội dung.", source="tgvn")
    with f.begin() as s:
        at = T0 + dt.timedelta(days=1, hours=2)
        s.execute(text("UPDATE articles SET status = 'removed', removed_at = :t WHERE id = :a"),
                  {"t": at.astimezone(dt.UTC).replace(tzinfo=None), "a": ids["gone"]})
        repo.record_event(s, ids["gone"], "removed", at, "HTTP 404")
    return ids


@pytest.fixture
def web(db_url: str, session_factory: sessionmaker[Session]) -> Iterator[tuple[FlaskClient, dict[str, int]]]:
    from crawler.web.app import create_app
    from crawler.web.db import reader_engine

    ids = populate(session_factory)
    engine = reader_engine(db_url, 2)
    app = create_app(engine)
    yield app.test_client(), ids
    engine.dispose()


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    r = client.get(path)
    assert r.status_code == status, (path, r.status_code, r.get_data(as_text=True)[:500])
    return r.get_data(as_text=True)


def api(client: FlaskClient, path: str, status: int = 200) -> Any:
    r = client.get(path)
    assert r.status_code == status, (path, r.status_code, r.get_data(as_text=True)[:500])
    assert r.mimetype == "application/json"
    return r.get_json()


def test_every_page_renders_with_its_headers(web: tuple[FlaskClient, dict[str, int]]) -> None:
    c, ids = web
    e = ids["edited"]
    for path in ("/", "/?q=da+nang", "/?q=da+nang&page=2", "/sources", "/source/bao", "/source/bao?page=2",
                 "/days", "/days?source=tgvn", "/day/2024-05-01", "/day/2024-05-01?source=bao&page=1", "/changes",
                 "/changes?source=bao", "/removed", "/removed?source=tgvn", f"/article/{e}", f"/article/{e}/diff",
                 f"/article/{e}/diff?a=1&b=2", f"/article/{ids['gone']}"):
        r = c.get(path)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"] == "text/html; charset=utf-8", path
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'"), path
        body = r.get_data(as_text=True)
        assert "<script" not in body.lower(), path
        for link in ("/sources", "/days", "/changes", "/removed"):
            assert f'href="{link}"' in body, (path, link)


def test_source_page_lists_newest_first_with_paging_and_totals(web: tuple[FlaskClient, dict[str, int]]) -> None:
    c, ids = web
    body = page(c, "/source/bao")
    assert "<h1>BAO" in body and "32 articles · 1–20" in body and "page 1 of 2" in body
    order = [int(x) for x in re.findall(r'<li><a href="/article/(\d+)"', body)]
    assert len(order) == 20 and order[0] == ids["n0"] and order.index(ids["n1"]) < order.index(ids["n2"])
    assert 'rel="next" href="/source/bao?page=2"' in body
    body2 = page(c, "/source/bao?page=2")
    assert "32 articles · 21–32" in body2 and 'rel="prev" href="/source/bao?page=1"' in body2
    assert not set(order) & {int(x) for x in re.findall(r'<li><a href="/article/(\d+)"', body2)}
    assert "none on page 9" in page(c, "/source/bao?page=9")
    # sources are links everywhere
    for path in ("/sources", "/?q=da+nang", f"/article/{ids['n0']}", "/changes", "/removed", "/day/2024-05-01"):
        assert 'href="/source/bao"' in page(c, path) or 'href="/source/tgvn"' in page(c, path), path
    assert 'href="/source/tgvn"' in page(c, "/removed")


def test_days_are_vietnamese_days(web: tuple[FlaskClient, dict[str, int]]) -> None:
    c, ids = web
    may1 = page(c, "/day/2024-05-01")
    listed = {int(x) for x in re.findall(r'<li><a href="/article/(\d+)"', may1)}
    # n0..n10 (10:00 back to 00:00), the 06:30 one (23:30 UTC on April 30th), the edited one, the removed one
    assert {ids[f"n{i}"] for i in range(11)} | {ids["early"], ids["edited"]} <= listed
    assert ids["n11"] not in listed
    assert 'rel="prev" href="/day/2024-04-30"' in may1 and "Vietnam time" in may1
    april = page(c, "/day/2024-04-30?source=bao")
    assert "19 articles" in april and ids["early"] not in {int(x) for x in re.findall(r'/article/(\d+)"', april)}
    assert 'rel="next" href="/day/2024-05-01?source=bao"' in april
    days = page(c, "/days")
    assert '<a href="/day/2024-05-01">2024-05-01</a></td><td>14</td>' in days
    assert '<a href="/day/2024-04-30">2024-04-30</a></td><td>19</td>' in days


def test_changed_page_and_feed(web: tuple[FlaskClient, dict[str, int]]) -> None:
    c, ids = web
    e = ids["edited"]
    body = page(c, "/changes")
    assert "1 change" in body and f'href="/article/{e}/diff?a=1&amp;b=2"' in body
    assert "changed: title, text, published, modified" in body and "<del>Tiêu đề cũ</del>" in body
    assert f"/article/{e}/diff?a=2&amp;b=3" not in body  # the re-extraction
    assert '<link rel="alternate" type="application/atom+xml"' in body and 'href="/changes.atom"' in body
    assert "0 changes" in page(c, "/changes?source=tgvn")

    r = c.get("/changes.atom")
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    feed = etree.fromstring(r.data)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id") == "tag:vnarchive,2024:changes"
    assert dt.datetime.fromisoformat(feed.findtext(f"{ATOM}updated") or "").tzinfo is not None
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == "http://localhost/changes.atom"  # type: ignore[union-attr]
    assert feed.findtext(f"{ATOM}author/{ATOM}name") == "vnarchive"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 1
    (entry,) = entries
    assert entry.findtext(f"{ATOM}id") == f"tag:vnarchive,2024:article/{e}/version/2"
    assert entry.findtext(f"{ATOM}title") == "Tiêu đề mới"
    assert entry.findtext(f"{ATOM}updated") == "2024-05-02T10:00:00+07:00"
    assert entry.find(f"{ATOM}link").get("href") == f"http://localhost/article/{e}/diff?a=1&b=2"  # type: ignore[union-attr]
    assert "changed: title, text, published, modified (was: Tiêu đề cũ)" in (entry.findtext(f"{ATOM}summary") or "")
    assert etree.fromstring(c.get("/changes.atom?source=tgvn").data).findall(f"{ATOM}entry") == []


def test_removed_page_and_feed(web: tuple[FlaskClient, dict[str, int]]) -> None:
    c, ids = web
    g = ids["gone"]
    body = page(c, "/removed")
    assert "1 removal" in body and f'href="/article/{g}"' in body and "HTTP 404" in body
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in body and 'href="/removed.atom"' in body
    assert "0 removals" in page(c, "/removed?source=bao")
    r = c.get("/removed.atom?source=tgvn")
    assert r.mimetype == "application/atom+xml"
    feed = etree.fromstring(r.data)  # the \x01 in the title is gone: otherwise this would not parse
    assert feed.findtext(f"{ATOM}id") == "tag:vnarchive,2024:removed/tgvn"
    assert feed.find(f"{ATOM}link[@rel='self']").get("href") == "http://localhost/removed.atom?source=tgvn"  # type: ignore[union-attr]
    (entry,) = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}id") == f"tag:vnarchive,2024:article/{g}/removed/20240502T050000Z"
    assert entry.findtext(f"{ATOM}title") == "Bài bị gỡ  <b>&</b>"
    assert entry.findtext(f"{ATOM}updated") == "2024-05-02T12:00:00+07:00"
    assert entry.find(f"{ATOM}link").get("href") == f"http://localhost/article/{g}"  # type: ignore[union-attr]
    assert "http://tgvn.test/mat removed (HTTP 404)" in (entry.findtext(f"{ATOM}summary") or "")
    assert feed.findtext(f"{ATOM}updated") == "2024-05-02T12:00:00+07:00"
    empty = etree.fromstring(c.get("/removed.atom?source=bao").data)
    assert empty.findall(f"{ATOM}entry") == [] and empty.findtext(f"{ATOM}updated")


def test_search_pages_through_three_hundred_results(db_url: str, session_factory: sessionmaker[Session]) -> None:
    from crawler.web.app import create_app
    from crawler.web.db import reader_engine

    for i in range(300):
        put(session_factory, f"http://bao.test/{i}", f"Hà Nội số {i}", f"Tin Hà Nội {i}.")
    engine = reader_engine(db_url, 1)
    try:
        c = create_app(engine).test_client()
        seen: list[int] = []
        for n in range(1, 16):
            body = page(c, f"/?q=ha+noi&page={n}")
            assert f"300 articles · {(n - 1) * 20 + 1}–{n * 20}" in body and f"page {n} of 15" in body
            seen += [int(x) for x in re.findall(r'<li><a href="/article/(\d+)"', body)]
            assert ('rel="next"' in body) == (n < 15)
        assert len(seen) == len(set(seen)) == 300
        assert 'href="/?page=2&amp;q=ha+noi"' in page(c, "/?q=ha+noi") or \
            'href="/?q=ha+noi&amp;page=2"' in page(c, "/?q=ha+noi")
        got = api(c, "/api/search?q=ha+noi&page=15&per_page=20")
        assert got["total"] == 300 and got["pages"] == 15 and len(got["results"]) == 20
        assert [r["id"] for r in got["results"]] == seen[-20:]
    finally:
        engine.dispose()


def test_lookup_by_any_url_form(web: tuple[FlaskClient, dict[str, int]]) -> None:
    c, ids = web
    target = f"/article/{ids['n3']}"
    for form in ("http://bao.test/tin-3", "http://bao.test/tin-3?utm_source=fb&utm_medium=x",
                 "http://bao.test/tin-3?fbclid=abc", "http://bao.test/tin-3?print=1", "http://bao.test/tin-3#binh-luan",
                 "http://bao.test/tin-3/", "https://bao.test/tin-3", " http://bao.test/tin-3 ", str(ids["n3"])):
        r = c.get("/lookup?url=" + urllib.parse.quote(form, safe=""))
        assert r.status_code == 303 and r.headers["Location"] == target, form
        assert api(c, "/api/lookup?url=" + urllib.parse.quote(form, safe=""))["id"] == ids["n3"], form
    body = page(c, "/lookup?url=" + urllib.parse.quote("http://bao.test/khong-co"), 404)
    assert "no archived article has id or URL" in body
    assert "give an article id or a URL" in page(c, "/lookup?url=", 400)
    assert 'action="/lookup"' in page(c, "/")
    assert api(c, "/api/lookup?url=http://nowhere.test/", 404)["error"].startswith("no archived article")


def test_lookup_of_a_skipped_page_says_so(web: tuple[FlaskClient, dict[str, int]],
                                         session_factory: sessionmaker[Session]) -> None:
    c, _ = web
    with session_factory.begin() as s:
        repo.record_skip(s, "bao", "http://bao.test/anh-1", "photo_page", None, T0)
    body = page(c, "/lookup?url=" + urllib.parse.quote("http://bao.test/anh-1?utm_source=zalo"), 404)
    assert "was fetched but not archived: skipped as photo_page (last fetched 2024-05-01 10:00 +07:00)" in body


def test_lookup_uses_each_sources_url_rules(db_url: str, session_factory: sessionmaker[Session]) -> None:
    from config.sources import Source
    from crawler.web.app import create_app
    from crawler.web.db import reader_engine

    aid = put(session_factory, "http://bao.test/tin", "Tin", "Tin.")
    src = Source.model_validate({"id": "bao", "name": "Báo", "allowed_domains": ["bao.test"],
                                 "start_urls": ["http://bao.test/"], "article_patterns": [r"/tin"],
                                 "ignore_params": ["ref"]})
    engine = reader_engine(db_url, 1)
    try:
        for sources, status in (((), 404), ((src,), 303)):
            r = create_app(engine, sources).test_client().get("/lookup?url=" + urllib.parse.quote(
                "http://bao.test/tin?ref=home"))
            assert r.status_code == status
        assert r.headers["Location"] == f"/article/{aid}"
    finally:
        engine.dispose()


def test_article_and_diff_show_dates_and_their_changes(web: tuple[FlaskClient, dict[str, int]]) -> None:
    c, ids = web
    e = ids["edited"]
    body = page(c, f"/article/{e}?v=2")
    assert "<dt>modified</dt><dd>2024-05-02 10:15 +07:00</dd>" in body
    assert "<dt>published</dt><dd>2024-05-01 09:00 +07:00 (<a href=\"/day/2024-05-01\">2024-05-01</a>)" in body
    assert ("<dt>published changed</dt><dd>in version 2: <del>2024-05-01 08:00 +07:00</del> → "
            "<ins>2024-05-01 09:00 +07:00</ins></dd>") in body
    assert "<dt>modified changed</dt><dd>in version 2: <del>none</del>" in body
    assert "<dt>modified changed</dt><dd>in version 3: <del>2024-05-02 10:15 +07:00</del>" in body
    assert '<td data-label="modified">2024-05-02 10:15 +07:00</td>' in body
    assert "<dt>modified</dt><dd>not stated</dd>" in page(c, f"/article/{e}?v=1")
    diff = page(c, f"/article/{e}/diff?a=1&b=2")
    assert "<del>2024-05-01 08:00 +07:00</del></td><td><ins>2024-05-01 09:00 +07:00</ins>" in diff
    assert "<th colspan=\"2\">modified</th>" in diff and "<ins>2024-05-02 10:15 +07:00</ins>" in diff
    assert "published, modified <span class=\"meta\">(unchanged)</span>" in page(c, f"/article/{ids['n0']}/diff?a=1&b=1")


def cli_json(db_url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> list[dict[str, Any]]:
    from typer.testing import CliRunner

    from crawler.cli import app

    monkeypatch.setenv("VNARCHIVE_DB", db_url)
    r = CliRunner().invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def test_api_records_are_the_commands_json(web: tuple[FlaskClient, dict[str, int]], db_url: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    c, ids = web
    e = ids["edited"]
    got = api(c, "/api/search?q=da+nang&per_page=100")
    assert got["query"] == "da nang" and got["total"] == N_BAO and got["page"] == 1 and got["pages"] == 1
    assert got["results"] == cli_json(db_url, monkeypatch, "search", "da", "nang", "--limit", "100")
    assert list(got["results"][0]) == ["id", "source", "url", "title", "published", "status", "version", "score",
                                       "match", "snippet", "highlights"]
    assert api(c, f"/api/article/{e}") == cli_json(db_url, monkeypatch, "show", str(e))[0]
    assert api(c, f"/api/article/{e}?v=1") == cli_json(db_url, monkeypatch, "show", str(e), "--version", "1")[0]
    assert api(c, f"/api/article/{e}")["modified"] is None  # version 3 states none
    assert api(c, f"/api/article/{e}?v=2")["modified"] == "2024-05-02T10:15:00+07:00"
    assert api(c, f"/api/article/{e}/versions") == cli_json(db_url, monkeypatch, "history", str(e))[0]
    assert api(c, f"/api/article/{e}/diff?a=1&b=2") == cli_json(db_url, monkeypatch, "diff", str(e), "1", "2")[0]
    assert api(c, f"/api/article/{e}/diff") == cli_json(db_url, monkeypatch, "diff", str(e))[0]
    lines = cli_json(db_url, monkeypatch, "stats")
    got = api(c, "/api/sources")
    assert got["sources"] == lines[:-1] and got["total"] == lines[-1]["total"] | {"database_bytes":
                                                                                  got["total"]["database_bytes"]}


def test_api_lists(web: tuple[FlaskClient, dict[str, int]]) -> None:
    c, ids = web
    src = api(c, "/api/source/bao?page=2&per_page=10")
    assert src["source"]["source"] == "bao" and src["total"] == 32 and src["pages"] == 4
    assert len(src["articles"]) == 10 and set(src["articles"][0]) == {
        "id", "source", "url", "title", "status", "published", "modified", "first_seen", "version"}
    day = api(c, "/api/day/2024-05-01?source=bao")
    assert day["day"] == "2024-05-01" and day["before"] == "2024-04-30" and day["after"] is None
    assert ids["early"] in [a["id"] for a in day["articles"]] and day["total"] == 13
    assert api(c, "/api/days")["days"][:2] == [{"day": "2024-05-01", "articles": 14},
                                               {"day": "2024-04-30", "articles": 19}]
    ch = api(c, "/api/changes")
    assert ch["total"] == 1 and ch["changes"][0] | {"at": None} == {
        "id": ids["edited"], "source": "bao", "url": "http://bao.test/sua", "status": "live", "version": 2,
        "at": None, "title": "Tiêu đề mới", "old_title": "Tiêu đề cũ",
        "changed": ["title", "text", "published", "modified"]}
    rm = api(c, "/api/removed")
    assert rm["total"] == 1 and rm["removed"][0]["id"] == ids["gone"] and rm["removed"][0]["detail"] == "HTTP 404"
    assert rm["removed"][0]["at"] == "2024-05-02T12:00:00+07:00"


def test_bad_parameters_are_clear_errors(web: tuple[FlaskClient, dict[str, int]]) -> None:
    c, ids = web
    for path in ("/?q=ha&page=0", "/?q=ha&page=x", "/?q=ha&page=" + "9" * 50, "/source/bao?page=-1",
                 "/changes?source=nope", "/removed?page=1.5", "/days?source=" + "s" * 500):
        body = page(c, path, 400)
        assert "<h1>400 Bad Request</h1>" in body, path
    assert "no source &#39;nope&#39; in the archive (known: bao, tgvn)" in page(c, "/changes?source=nope", 400)
    for path in ("/source/nope", "/source/" + "x" * 300, "/day/2024-13-01", "/day/yesterday", "/day/2024-5-1"):
        assert "<h1>404 Not Found</h1>" in page(c, path, 404), path
    for path, status in (("/api/article/999", 404), ("/api/article/x", 404), ("/api/search", 400),
                         ("/api/search?q=***", 400), ("/api/search?q=ha&per_page=1000", 400),
                         (f"/api/article/{ids['n0']}/diff", 404), ("/api/source/nope", 404), ("/api/nope", 404),
                         ("/api/changes?source=nope", 400), (f"/api/article/{ids['n0']}?v=x", 400)):
        got = api(c, path, status)
        assert got["status"] == status and got["error"], path
    assert "only one version" in api(c, f"/api/article/{ids['n0']}/diff", 404)["error"]
    assert c.post("/api/sources").status_code == 405


def test_postgresql_lists_match_sqlite(pg_factory: sessionmaker[Session],  # noqa: F811
                                       web: tuple[FlaskClient, dict[str, int]]) -> None:
    from crawler.web.app import create_app

    lite, lite_ids = web
    pg_ids = populate(pg_factory)
    pg = create_app(pg_factory.kw["bind"]).test_client()
    back = {v: k for k, v in pg_ids.items()}
    to_lite = {k: lite_ids[k] for k in pg_ids}

    def same_ids(rec: Any) -> Any:  # PostgreSQL's ids, as SQLite's
        if isinstance(rec, dict):
            return {k: (to_lite[back[v]] if k == "id" and v in back else same_ids(v)) for k, v in rec.items()}
        return [same_ids(x) for x in rec] if isinstance(rec, list) else rec

    for path in ("/api/days", "/api/day/2024-05-01", "/api/day/2024-04-30?source=bao&per_page=5&page=2",
                 "/api/changes", "/api/removed", "/api/source/bao?page=2", "/api/search?q=da+nang&page=2&per_page=7"):
        got, want = same_ids(api(pg, path)), api(lite, path)
        for rec in (got, want):
            for r in rec.get("results", []):
                r.pop("score")  # bm25 and ts_rank differ; the order does not
        assert got == want, path
    assert etree.fromstring(pg.get("/removed.atom").data).findall(f"{ATOM}entry")
