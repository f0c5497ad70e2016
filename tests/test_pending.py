"""Durable progress (FAULTS A1, issue 11): a page is safe once fetched.  The crawl stores each fetched article
page pending before extracting it; the next crawl of the source archives what was left pending from the stored
bytes, before it fetches anything, and never fetches it again."""

from __future__ import annotations

import datetime as dt
import urllib.request
from collections.abc import Callable
from pathlib import Path

from config.sources import load_sources
from pipelines.items import RawPage
from pipelines.pipeline import write_fetched
from storage.db import make_engine, make_session_factory
from tests.conftest import Page, archive_sql, run_cli
from tests.sitefixture import article_html, listing_html, paragraphs, sources_toml

A1, A2 = "/bai-viet/tin-mot-1.html", "/bai-viet/tin-hai-2.html"


def _site(paths: list[str]) -> dict[str, object]:
    pages: dict[str, object] = {"/robots.txt": Page(b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}),
                                "/": Page(listing_html(paths))}
    pages[A1] = Page(article_html(1, "Tin một về công tác phòng chống thiên tai", paragraphs(11)))
    pages[A2] = Page(article_html(2, "Tin hai về bảo vệ rừng đầu nguồn", paragraphs(12)))
    return pages


def test_a_page_left_pending_is_archived_by_the_next_crawl_without_fetching_it(
        serve_site, tmp_path: Path, fresh_db: Callable[..., str]) -> None:
    site = serve_site(_site([A1]))
    toml = tmp_path / "s.toml"
    toml.write_text(sources_toml(site.base), encoding="utf-8")
    db = fresh_db("a.db")
    env = {"VNARCHIVE_DB": db, "VNARCHIVE_SOURCES": str(toml)}
    assert run_cli("crawl", "fixture", "-q", env=env).returncode == 0

    # a crawl fetched the second article and stored it, then died before extracting it
    url = site.base + A2
    with urllib.request.urlopen(url) as r:
        body, headers = r.read(), dict(r.headers)
    source = load_sources(toml).get("fixture")
    engine = make_engine(env["VNARCHIVE_DB"])
    factory = make_session_factory(engine)
    raw = RawPage(source_id="fixture", url=url, final_url=url, status=200, headers=headers, body=body,
                  fetched_at=dt.datetime.now(dt.UTC), seen_urls=(url,))
    same, capture_id = write_fetched(factory, source, raw, None)
    engine.dispose()
    assert same is None and capture_id is not None

    site.pages["/"] = Page(listing_html([A2, A1]))
    site.log.clear()
    r = run_cli("crawl", "fixture", "-q", env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert A2 not in site.paths_requested(), "a page stored before the kill was fetched again"
    con = archive_sql(db)
    try:
        assert con.execute("select count(*) from pending_pages").fetchone()[0] == 0
        outcome, article_id = con.execute("select outcome, article_id from captures where id = ?",
                                          (capture_id,)).fetchone()
        assert outcome == "archived" and article_id is not None
        title, vcap = con.execute("select v.title, v.capture_id from versions v join articles a on a.id = "
                                  "v.article_id where a.id = ?", (article_id,)).fetchone()
        assert title == "Tin hai về bảo vệ rừng đầu nguồn" and vcap == capture_id  # one capture, not a copy
        assert con.execute("select count(*) from articles").fetchone()[0] == 2
        assert con.execute("select count(*) from captures where url like ?", (f"%{A2}",)).fetchone()[0] == 1
    finally:
        con.close()


def test_every_fetched_page_is_settled_at_the_end_of_a_crawl(serve_site, tmp_path: Path,
                                                              fresh_db: Callable[..., str]) -> None:
    site = serve_site(_site([A1, A2]))
    (tmp_path / "s.toml").write_text(sources_toml(site.base), encoding="utf-8")
    db = fresh_db("a.db")
    env = {"VNARCHIVE_DB": db, "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}
    assert run_cli("crawl", "fixture", "-q", env=env).returncode == 0
    con = archive_sql(db)
    try:
        assert con.execute("select count(*) from pending_pages").fetchone()[0] == 0
        assert con.execute("select count(*) from captures where outcome = 'pending'").fetchone()[0] == 0
        assert con.execute("select count(*) from captures where outcome = 'archived'").fetchone()[0] == 2
    finally:
        con.close()
