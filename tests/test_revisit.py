"""crawler/revisit.py: when a known article is worth fetching again.  Time is given, never read."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from config.sources import Revisit
from crawler.revisit import KnownArticle, changed_since_capture, due_by_age, pick_revisits

T0 = dt.datetime(2024, 8, 1, 0, 0, tzinfo=dt.UTC)
POLICY = Revisit()  # checkpoints 6, 24, 72, 168, 720 hours


def h(hours: float) -> dt.timedelta:
    return dt.timedelta(hours=hours)


def m(minutes: float) -> dt.timedelta:
    return dt.timedelta(minutes=minutes)


def known(**kw: object) -> KnownArticle:
    fields: dict[str, object] = dict(article_id=1, url="http://x.vn/a-1.html", status="live", published=T0,
                                     first_seen=T0, last_fetched=T0, etag=None, last_modified=None)
    fields.update(kw)
    return KnownArticle(**fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------- due_by_age

@pytest.mark.parametrize("age, last, due", [
    (5, 0, False),        # no checkpoint reached yet
    (6, 0, True),         # the 6 h checkpoint, exactly
    (7, 5.9, True),       # fetched just before the checkpoint: due again
    (7, 6, False),        # fetched at the checkpoint: done
    (23, 7, False),
    (25, 7, True),        # 24 h checkpoint
    (25, 24.5, False),
    (73, 30, True),       # 72 h
    (100, 80, False),     # 72 h passed before the last fetch, 168 h not yet
    (169, 80, True),      # 168 h
    (719, 200, False),
    (721, 200, True),     # 720 h, the last checkpoint
    (721, 720.5, False),
])
def test_due_by_age_checkpoints(age: float, last: float, due: bool) -> None:
    assert due_by_age(known(last_fetched=T0 + h(last)), T0 + h(age), POLICY) is due


@pytest.mark.parametrize("age, last, due", [
    (1439, 721, False),   # between 720 and 1440: the period has not come round
    (1441, 721, True),    # 2 x 720
    (2161, 1441, True),   # 3 x 720
    (2161, 2160.5, False),
    (720 * 10 + 1, 720 * 9 + 5, True),
])
def test_due_by_age_repeats_every_period_when_old(age: float, last: float, due: bool) -> None:
    assert due_by_age(known(last_fetched=T0 + h(last)), T0 + h(age), POLICY) is due


def test_due_by_age_disabled() -> None:
    a = known(last_fetched=T0)
    assert due_by_age(a, T0 + h(100), POLICY) is True
    assert due_by_age(a, T0 + h(100), Revisit(enabled=False)) is False
    assert due_by_age(a, T0 + h(100), Revisit(schedule_hours=())) is False


def test_due_by_age_checkpoints_need_not_be_sorted() -> None:
    p = Revisit(schedule_hours=(24, 6))
    assert due_by_age(known(last_fetched=T0 + h(7)), T0 + h(25), p) is True
    assert due_by_age(known(last_fetched=T0 + h(7)), T0 + h(23), p) is False
    # the largest checkpoint is the period
    assert due_by_age(known(last_fetched=T0 + h(25)), T0 + h(49), p) is True


def test_due_by_age_without_publication_date_counts_from_first_seen() -> None:
    seen = T0 + h(100)
    a = known(published=None, first_seen=seen, last_fetched=None)
    assert due_by_age(a, seen + h(5), POLICY) is False
    assert due_by_age(a, seen + h(6), POLICY) is True


def test_due_by_age_old_article_found_late_is_not_due_at_once() -> None:
    # published a year before we first saw it: fetched now, so nothing is due until the next period
    seen = T0 + h(24 * 365)
    a = known(published=T0, first_seen=seen, last_fetched=seen)
    assert due_by_age(a, seen + h(1), POLICY) is False


def test_due_by_age_future_publication_date_is_not_due() -> None:
    a = known(published=T0 + h(48), first_seen=T0, last_fetched=T0)
    assert due_by_age(a, T0 + h(10), POLICY) is False


def test_due_by_age_is_timezone_independent() -> None:
    vn = ZoneInfo("Asia/Ho_Chi_Minh")
    a = known(published=T0.astimezone(vn), first_seen=T0, last_fetched=(T0 + h(5)).astimezone(vn))
    assert due_by_age(a, (T0 + h(6)).astimezone(vn), POLICY) is True


# ---------------------------------------------------------------- changed_since_capture

L = T0 + h(10)


def test_changed_since_capture_compares_with_the_listed_lastmod() -> None:
    a = known(listed_lastmod=L, modified=L + h(100))  # the listed lastmod wins over the page's own time
    assert changed_since_capture(a, L + m(1)) is True
    assert changed_since_capture(a, L + dt.timedelta(seconds=1)) is True
    assert changed_since_capture(a, L) is False
    assert changed_since_capture(a, L - m(1)) is False
    # the same instant in another zone is not newer
    assert changed_since_capture(a, L.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))) is False


def test_changed_since_capture_none_lastmod_is_never_a_change() -> None:
    assert changed_since_capture(known(listed_lastmod=L), None) is False
    assert changed_since_capture(known(), None) is False
    assert changed_since_capture(known(published=None), None) is False


def test_changed_since_capture_falls_back_to_modified() -> None:
    a = known(modified=L, published=T0)
    assert changed_since_capture(a, L + m(2)) is True
    assert changed_since_capture(a, L + m(0.5)) is False  # within a minute: clocks and rounding
    assert changed_since_capture(a, L) is False
    assert changed_since_capture(a, T0 + m(30)) is False  # newer than published, older than modified


def test_changed_since_capture_falls_back_to_published() -> None:
    a = known(published=T0)
    assert changed_since_capture(a, T0 + m(2)) is True
    assert changed_since_capture(a, T0 + m(1)) is False
    assert changed_since_capture(a, T0 - h(1)) is False


def test_changed_since_capture_without_any_reference_trusts_the_lastmod() -> None:
    assert changed_since_capture(known(published=None), T0 - h(2)) is True


def test_a_lastmod_long_before_our_fetch_is_no_change() -> None:
    """Never having seen the sitemap's <lastmod> (the article came from a feed first), one over a day older than
    our fetch is not a change: the page we archived was fetched after it.  Newer than that, the old rules."""
    a = known(published=T0 - h(48), last_fetched=T0)
    assert changed_since_capture(a, T0 - h(25)) is False
    assert changed_since_capture(known(published=None, last_fetched=T0), T0 - h(1000)) is False
    assert changed_since_capture(a, T0 - h(20)) is True  # within the clocks' margin: the page's own time decides
    assert changed_since_capture(a, T0 + h(1)) is True
    assert changed_since_capture(known(listed_lastmod=T0 - h(100), last_fetched=T0), T0 - h(50)) is True


# ---------------------------------------------------------------- pick_revisits

def test_pick_revisits_vanished_and_age_within_the_limit() -> None:
    now = T0 + h(24 * 10)
    rows = [known(article_id=i, last_fetched=T0 + h(100)) for i in range(1, 6)]  # due: 168 h passed since
    rows.append(known(article_id=6, last_fetched=now - h(1)))  # fetched an hour ago: not due by age
    rows.append(known(article_id=7, status="moved", last_fetched=now - h(1)))  # at its new URL: like a live one
    rows.append(known(article_id=8, status="removed", last_fetched=T0 + h(100)))  # due: may have come back
    picked = list(pick_revisits(rows, now, POLICY, limit=100, exclude={2}, listed={1, 3}))
    assert [(k.article_id, why) for k, why in picked] == [(1, "age"), (3, "age"), (4, "vanished"), (5, "vanished"),
                                                          (6, "vanished"), (7, "vanished"), (8, "age")]
    # a partial sitemap (listed=None) never marks anything vanished
    assert [k.article_id for k, _ in pick_revisits(rows, now, POLICY, 100)] == [1, 2, 3, 4, 5, 8]
    assert len(list(pick_revisits(rows, now, POLICY, limit=2))) == 2
    assert list(pick_revisits(rows, now, POLICY, limit=0)) == []
    # revisit.enabled = false: nothing is due by age, a vanished article is still checked
    off = Revisit(enabled=False)
    assert [(k.article_id, w) for k, w in pick_revisits(rows, now, off, 100, listed={1, 2, 3, 4, 5})] == [
        (6, "vanished"), (7, "vanished")]
    # no sitemap gave 6 and 7 a <lastmod>: nothing says when they change, so they come in turn
    assert [(k.article_id, w) for k, w in pick_revisits(rows, now, POLICY, 100, signalled={1, 2, 3, 4, 5})] == [
        (1, "age"), (2, "age"), (3, "age"), (4, "age"), (5, "age"), (6, "turn"), (7, "turn"), (8, "age")]
    assert [k.article_id for k, _ in pick_revisits(rows, now, Revisit(in_turn_without_lastmod=False), 100,
                                                   signalled=set())] == [1, 2, 3, 4, 5, 8]


# ---------------------------------------------------------------- a crawl: 3,000 known, a 380-URL news sitemap

KNOWN, NEW, LISTED_KNOWN, BUDGET = 3000, 80, 300, 100


def _archive_with_known(db_url: str, base: str, n: int, now: dt.datetime) -> None:
    """n live articles of source "fixture" (URLs /bai-viet/bai-so-<i>.html), all due by age (published ten days
    ago, last fetched nine days ago), each with an ETag the site answers 304 to."""
    from sqlalchemy import insert, text

    from config.sources import parse_sources
    from pipelines.archive import key_for
    from storage import repo
    from storage.db import make_engine, make_session_factory
    from storage.models import Article, ArticleUrl

    source = parse_sources(_sources(base)).get("fixture")
    engine = make_engine(db_url)
    with make_session_factory(engine).begin() as s:
        repo.ensure_sources(s, [("fixture", "Báo Thử Nghiệm")])
        published, fetched = now - h(240), now - h(216)
        s.execute(insert(Article), [
            dict(id=i, source_id="fixture", canonical_url=f"{base}/bai-viet/bai-so-{i}.html", status="live",
                 first_seen=published, last_seen=fetched, last_fetched=fetched, published=published,
                 current_version=1, etag=f'"k{i}"', listed_lastmod=published) for i in range(1, n + 1)])
        s.execute(insert(ArticleUrl), [
            dict(url=f"{base}/bai-viet/bai-so-{i}.html", key=key_for(source, f"{base}/bai-viet/bai-so-{i}.html"),
                 article_id=i, first_seen=published) for i in range(1, n + 1)])
        if s.bind.dialect.name == "postgresql":  # ids given here: the crawl's new articles take the next ones
            s.execute(text("SELECT setval(pg_get_serial_sequence('articles', 'id'), :n)"), {"n": n})
    engine.dispose()


def _sources(base: str, entry: str = 'sitemaps = ["{base}/sitemaps/google-news.xml"]') -> str:
    return f"""
[[source]]
id = "fixture"
name = "Báo Thử Nghiệm"
allowed_domains = ["127.0.0.1"]
{entry.format(base=base)}
article_patterns = ['/bai-viet/[a-z0-9-]+-\\d+\\.html']
[source.politeness]
download_delay = 0
concurrency = 4
autothrottle = false
retries = 0
[source.revisit]
max_per_run = {BUDGET}
"""


@pytest.mark.slow
def test_news_sitemap_revisits_stay_in_budget_after_every_new_article(serve_site, tmp_path, db_url) -> None:
    from tests.conftest import Page, archive_sql, run_cli
    from tests.sitefixture import article_html, paragraphs

    now = dt.datetime.now(dt.UTC)
    pages: dict[str, Page] = {"/robots.txt": Page(b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})}
    for i in range(1, KNOWN + 1):  # known and unchanged: a conditional request answers 304
        pages[f"/bai-viet/bai-so-{i}.html"] = Page(b"<html>unchanged</html>", headers={
            "Content-Type": "text/html; charset=utf-8", "ETag": f'"k{i}"'})
    new = [KNOWN + i for i in range(1, NEW + 1)]
    for i in new:
        pages[f"/bai-viet/bai-so-{i}.html"] = Page(
            article_html(i, f"Tin mới số {i} về hội nghị triển khai nhiệm vụ", paragraphs(i)))
    # Google News: the latest 380 only (80 new, 300 known with the lastmod we archived them for)
    day = (now - h(240)).isoformat()
    entries = [(i, day) for i in range(KNOWN - LISTED_KNOWN + 1, KNOWN + 1)] + [(i, now.isoformat()) for i in new]
    urls = "".join(f"<url><loc>{{base}}/bai-viet/bai-so-{i}.html</loc><news:news><news:publication>"
                   f"<news:name>X</news:name><news:language>vi</news:language></news:publication>"
                   f"<news:publication_date>{d}</news:publication_date><news:title>T</news:title></news:news></url>"
                   for i, d in entries)
    pages["/sitemaps/google-news.xml"] = Page(
        ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
         f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>').encode(),
        headers={"Content-Type": "application/xml"})
    site = serve_site(pages)
    _archive_with_known(db_url, site.base, KNOWN, now)
    (tmp_path / "sources.toml").write_text(_sources(site.base), encoding="utf-8")
    r = run_cli("crawl", "fixture", "--quiet", env={"VNARCHIVE_DB": db_url,
                                                    "VNARCHIVE_SOURCES": str(tmp_path / "sources.toml")})
    assert r.returncode == 0, r.stderr
    paths = [p for p in site.paths_requested() if p.startswith("/bai-viet/")]
    numbers = [int(p.rsplit("-", 1)[1].split(".")[0]) for p in paths]
    fetched_new = [i for i in numbers if i > KNOWN]
    revisits = [i for i in numbers if i <= KNOWN]
    assert sorted(fetched_new) == new, "every new article is fetched, once"
    assert 0 < len(revisits) <= BUDGET, "revisits stay within revisit.max_per_run"
    last_new = max(numbers.index(i) for i in new)
    assert last_new < min(k for k, i in enumerate(numbers) if i <= KNOWN), "every new article comes first"
    # a partial (news) sitemap never marks the 2,700 known articles it leaves out as vanished
    con = archive_sql(db_url)
    assert con.execute("select count(*) from articles where status = 'removed'").fetchone()[0] == 0
    assert con.execute("select count(*) from articles").fetchone()[0] == KNOWN + NEW
    con.close()


@pytest.mark.slow
def test_an_edit_is_seen_when_the_first_crawl_read_the_sitemap_after_the_article(serve_site, tmp_path,
                                                                                 db_url) -> None:
    """The article comes from the feed and is stored before the (slow) sitemap dates it, on a site whose clock
    is two years behind ours: the archive still learns that <lastmod>, so the next one, later, is an edit."""
    import time

    from tests.conftest import Page, archive_sql, run_cli
    from tests.sitefixture import article_html, paragraphs, rss_xml, sitemap_xml

    path = "/bai-viet/bai-so-1.html"
    listed = {"lastmod": "2024-10-01T08:00:00+07:00"}
    served: list[str] = []
    body = {"paragraphs": paragraphs(1)}

    def sitemap() -> Page:
        time.sleep(1.5)  # read after the feed's article has been fetched and stored
        served.append("sitemap")
        return Page(sitemap_xml([(path, listed["lastmod"])]), headers={"Content-Type": "application/xml"})

    def article() -> Page:
        served.append("article")
        return Page(article_html(1, "Hội nghị triển khai nhiệm vụ năm mới", body["paragraphs"]))

    pages = {"/robots.txt": Page(b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}),
             "/rss.xml": Page(rss_xml([path]), headers={"Content-Type": "application/rss+xml"}),
             "/sitemap.xml": sitemap,
             path: article}
    site = serve_site(pages)
    (tmp_path / "sources.toml").write_text(
        _sources(site.base, 'feeds = ["{base}/rss.xml"]\nsitemaps = ["{base}/sitemap.xml"]'), encoding="utf-8")
    env = {"VNARCHIVE_DB": db_url, "VNARCHIVE_SOURCES": str(tmp_path / "sources.toml")}

    r = run_cli("crawl", "fixture", "--quiet", env=env)
    assert r.returncode == 0, r.stderr
    assert served == ["article", "sitemap"], "the article was fetched while the sitemap was slow"
    con = archive_sql(db_url)
    assert con.execute("select count(*) from articles where listed_lastmod is not null").fetchone()[0] == 1
    con.close()

    body["paragraphs"] = paragraphs(2)
    listed["lastmod"] = "2024-10-02T09:30:00+07:00"
    r = run_cli("crawl", "fixture", "--quiet", env=env)
    assert r.returncode == 0, r.stderr
    con = archive_sql(db_url)
    assert con.execute("select count(*) from versions").fetchone()[0] == 2, "the edit is archived"
    # an archive that never learnt it (killed before the end) learns it when a sitemap lists the article again
    con.execute("update articles set listed_lastmod = null")
    con.close()
    r = run_cli("crawl", "fixture", "--quiet", env=env)
    assert r.returncode == 0, r.stderr
    con = archive_sql(db_url)
    assert con.execute("select count(*) from articles where listed_lastmod is not null").fetchone()[0] == 1
    assert con.execute("select count(*) from versions").fetchone()[0] == 2
    con.close()
