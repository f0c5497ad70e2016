"""A listing-only source whose first crawl is killed (or cut by its page budget) ends, after later crawls, with
every live article: listings are paged back until one crawl has walked them without loss (issue 10)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT, Page, run_cli
from tests.sitefixture import article_html, listing_html, paragraphs

pytestmark = pytest.mark.slow
PAGES, PER_PAGE = 6, 10
N = PAGES * PER_PAGE


def listing_site(delay: list[float] | None = None) -> dict[str, object]:
    """N articles on PAGES listing pages (newest first, 'Trang sau' links), no feed, no sitemap; with ``delay``,
    each article is answered ``delay[0]`` seconds late (the test may change it between crawls)."""
    pages: dict[str, object] = {
        "/robots.txt": Page(b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}),
        "/": Page(listing_html(["/chuyen-muc/tin-tuc"])),
    }
    for p in range(1, PAGES + 1):
        links = [f"/bai-viet/bai-so-{n}.html" for n in range(N - (p - 1) * PER_PAGE, N - p * PER_PAGE, -1)]
        nxt = f"/chuyen-muc/tin-tuc?page={p + 1}" if p < PAGES else None
        pages["/chuyen-muc/tin-tuc" + (f"?page={p}" if p > 1 else "")] = Page(listing_html(links, nxt))
    for n in range(1, N + 1):
        page = Page(article_html(n, f"Tin số {n} về công tác phòng chống thiên tai", paragraphs(300 + n)))

        def slow(page: Page = page, delay: list[float] = delay or [0.0]) -> Page:
            time.sleep(delay[0])
            return page

        pages[f"/bai-viet/bai-so-{n}.html"] = slow if delay is not None else page
    return pages


def sources(base: str, max_pages: int = 5000, concurrency: int = 2, in_turn: bool = False) -> str:
    return f"""
[[source]]
id = "fixture"
name = "Báo Thử Nghiệm"
allowed_domains = ["127.0.0.1"]
start_urls = ["{base}/"]
sitemaps_from_robots = false
article_patterns = ['/bai-viet/[a-z0-9-]+-\\d+\\.html']
listing_patterns = ['/chuyen-muc/[a-z-]+(\\?page=\\d+)?$']
[source.politeness]
download_delay = 0
concurrency = {concurrency}
autothrottle = false
retries = 0
[source.limits]
max_pages = {max_pages}
[source.revisit]
backfill_listing_pages = 30
in_turn_without_lastmod = {str(in_turn).lower()}
"""


def _articles(db: Path) -> int:
    if not db.exists():
        return 0
    try:  # read-only, as every reader of a live archive should
        con = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
    except sqlite3.OperationalError:
        return 0
    try:
        return con.execute("select count(*) from articles").fetchone()[0]
    except sqlite3.OperationalError:  # not migrated yet
        return 0
    finally:
        con.close()


def test_first_crawl_killed_then_later_crawls_archive_everything(serve_site, tmp_path: Path) -> None:
    delay = [0.4]  # the first crawl is slow enough to be killed mid-way
    site = serve_site(listing_site(delay))
    (tmp_path / "s.toml").write_text(sources(site.base, concurrency=1), encoding="utf-8")
    db = tmp_path / "archive.db"
    env = {"VNARCHIVE_DB": f"sqlite:///{db}", "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}
    p = subprocess.Popen([sys.executable, "-m", "crawler", "crawl", "fixture", "--quiet"], cwd=ROOT,
                         env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = time.monotonic() + 120
    while _articles(db) < 12 and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.1)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(30)
    first = _articles(db)
    assert p.returncode == -signal.SIGKILL and 0 < first < N, "the first crawl must be killed mid-way"
    con = sqlite3.connect(db)
    archived = {urlsplit(u).path for (u,) in con.execute("select canonical_url from articles")}
    con.close()
    before = len([x for x in site.paths_requested() if x.startswith("/bai-viet/")])
    delay[0] = 0.0  # the later crawls need not be (one article at a time, 0.4 s each, was half this test's time)
    for _ in range(2):
        r = run_cli("crawl", "fixture", "--quiet", env=env)
        assert r.returncode == 0, r.stderr
    assert _articles(db) == N, "every live article once the later crawls are done"
    requested = [x for x in site.paths_requested() if x.startswith("/bai-viet/")]
    # articles archived before the kill are never fetched again; those fetched but not yet archived when killed
    # are (how many depends on the extraction backlog at that moment: bounding them is the durable-progress
    # part of issue 11, measured by accept.py durability, not here)
    assert not archived & set(requested[before:]), "archived articles are not fetched again"
    assert len(set(requested)) == N
    # the backfill is done now: a further crawl stops at the first page of known articles
    mark = len(site.log)
    r = run_cli("crawl", "fixture", "--quiet", env=env)
    assert r.returncode == 0, r.stderr
    later = site.paths_requested()[mark:]
    assert "/chuyen-muc/tin-tuc?page=3" not in later and not any(x.startswith("/bai-viet/") for x in later)


def test_first_crawl_cut_by_its_page_budget_is_completed_by_later_crawls(serve_site, tmp_path: Path) -> None:
    site = serve_site(listing_site())
    (tmp_path / "s.toml").write_text(sources(site.base, max_pages=25), encoding="utf-8")
    db = tmp_path / "archive.db"
    env = {"VNARCHIVE_DB": f"sqlite:///{db}", "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}
    counts = []
    for _ in range(5):
        r = run_cli("crawl", "fixture", "--quiet", env=env)
        assert r.returncode == 0, r.stderr
        counts.append(_articles(db))
    assert counts[0] < N, "the page budget cuts the first crawl"
    assert counts[-1] == N, f"later crawls complete the backfill ({counts})"
