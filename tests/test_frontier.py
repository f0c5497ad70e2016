"""crawler/frontier.py: the requests a crawl has not sent yet wait on disk (Scrapy's JOBDIR disk queues), in a
folder of the run's own that is gone when the crawl ends."""

from __future__ import annotations

import datetime as dt
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.utils.request import request_from_dict
from scrapy.utils.test import get_crawler

from config.sources import parse_sources
from crawler.discovery import Found
from crawler.frontier import PREFIX, FrontierDirs, FrontierScheduler
from crawler.revisit import KnownArticle
from crawler.spider import SourceSpider
from tests.conftest import archive_sql, run_cli
from tests.sitefixture import build_site, sources_toml

SOURCE = parse_sources("""\
[[source]]
id = "tgvn"
name = "TGVN"
allowed_domains = ["baoquocte.vn"]
start_urls = ["https://baoquocte.vn/"]
article_patterns = ['-\\\\d+\\\\.html$']
""").sources[0]


def _spider_requests(spider: SourceSpider) -> dict[str, Any]:
    when = dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.UTC)
    known = KnownArticle(article_id=7, url="https://baoquocte.vn/bai-7.html", status="live", published=when,
                         first_seen=when, last_fetched=when, etag='"abc"', last_modified="Tue, 01 Dec 2026 08:30:00 GMT")
    return {
        "new article": spider.article_request(Found("https://baoquocte.vn/bai-1.html?utm_source=x",
                                                    "baoquocte.vn/bai-1.html", when), None, family="tin-tuc"),
        "revisit": spider._revisit(known, "lastmod", "baoquocte.vn/bai-7.html", when),
        "listing": spider._listing_request("https://baoquocte.vn/the-gioi/", 2),
        "sitemap": spider._sitemap_request("https://baoquocte.vn/sitemap.xml", root="https://baoquocte.vn/sitemap.xml"),
    }


def test_every_kind_of_request_the_spider_makes_can_wait_on_disk() -> None:
    spider = SourceSpider.from_crawler(get_crawler(SourceSpider), source=SOURCE)
    requests = _spider_requests(spider)
    for kind, req in requests.items():
        assert isinstance(req, Request), kind
        # what Scrapy's disk queue does with it (scrapy.squeues: request_to_dict, pickled, read back)
        back = request_from_dict(pickle.loads(pickle.dumps(req.to_dict(spider=spider), protocol=4)), spider=spider)
        assert back.url == req.url and back.priority == req.priority and back.headers == req.headers, kind
        for name in ("callback", "errback"):  # the spider's own methods, found again by name
            method = getattr(getattr(req, name), "__func__", None)
            assert method is not None and getattr(getattr(back, name), "__func__", None) is method, (kind, name)
        assert back.meta == req.meta and back.dont_filter == req.dont_filter, kind


def test_the_folder_is_the_runs_own_and_gone_at_the_end(tmp_path: Path) -> None:
    with FrontierDirs(tmp_path) as f:
        sa, sb = f.settings("tgvn"), f.settings("bad/../id")
        assert sa["SCHEDULER"] == "crawler.frontier.FrontierScheduler"
        a, b = Path(sa["JOBDIR"]), Path(sb["JOBDIR"])
        assert a.is_dir() and b.is_dir() and a.parent == b.parent == f.root
        assert b.parent.parent == tmp_path and a.parent.name.startswith(f"{PREFIX}{os.getpid()}-")
        (a / "requests.queue").mkdir()
        (a / "requests.queue" / "p0").write_bytes(b"x" * 1000)
    assert list(tmp_path.iterdir()) == []


def test_a_killed_crawls_folder_is_removed_by_the_next_and_a_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = tmp_path / f"{PREFIX}{dead.pid}-abc"
    (orphan / "src").mkdir(parents=True)
    live = tmp_path / f"{PREFIX}{os.getppid()}-def"  # our parent: alive for as long as this test runs
    live.mkdir()
    other = tmp_path / "someone-elses"
    other.mkdir()
    with FrontierDirs(tmp_path):
        assert not orphan.exists() and live.exists() and other.exists()


@pytest.mark.slow
def test_a_crawl_keeps_its_frontier_on_disk_and_leaves_nothing(serve_site, tmp_path: Path,
                                                                fresh_db: Callable[..., str]) -> None:
    site = serve_site(build_site())
    (tmp_path / "sources.toml").write_text(sources_toml(site.base), encoding="utf-8")
    temp = tmp_path / "tmp"
    temp.mkdir()
    db = fresh_db()
    env = {"VNARCHIVE_DB": db, "VNARCHIVE_SOURCES": str(tmp_path / "sources.toml"), "TMPDIR": str(temp)}
    r = run_cli("crawl", "fixture", "--quiet", "--verbose", env=env)
    assert r.returncode == 0, r.stderr
    assert "requests waited on disk" in r.stderr and "held in memory" not in r.stderr
    waited = int(r.stderr.split(" requests waited on disk")[0].rsplit(" ", 1)[1])
    assert waited >= 6  # the six articles at least, and the listings and sitemaps
    con = archive_sql(db)
    assert con.execute("select count(*) from articles").fetchone()[0] == 6
    con.close()
    assert list(temp.iterdir()) == []


def test_a_temporary_directory_that_cannot_be_written_keeps_the_frontier_in_memory(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with FrontierDirs(not_a_dir) as f:
        assert f.settings("tgvn") == {}  # Scrapy's own memory queues: the crawl goes on


def test_a_disk_queue_that_fails_leaves_the_requests_in_memory(tmp_path: Path) -> None:
    # the crawl's queue is downloader-aware (it needs a running engine); what is tested is the same with Scrapy's
    # plain priority queue: a push to the disk queue that fails
    crawler = get_crawler(SourceSpider, {"JOBDIR": str(tmp_path / "job"),
                                         "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.ScrapyPriorityQueue"})
    spider = SourceSpider.from_crawler(crawler, source=SOURCE)
    crawler.spider = spider
    sched = FrontierScheduler.from_crawler(crawler)
    sched.open(spider)
    try:
        first = spider._listing_request("https://baoquocte.vn/a/", 1)
        assert first is not None and sched.enqueue_request(first)
        assert crawler.stats.get_value("scheduler/enqueued/disk") == 1

        def full(request: object) -> None:
            raise OSError(28, "No space left on device")

        sched.dqs.push = full  # type: ignore[method-assign,union-attr]
        later = [spider._listing_request(f"https://baoquocte.vn/{c}/", 1) for c in "bc"]
        assert all(r is not None and sched.enqueue_request(r) for r in later)
        assert crawler.stats.get_value("scheduler/enqueued/memory") == 2
        assert crawler.stats.get_value("scheduler/disk_failed") == 1  # not tried again once it failed
        got = {sched.next_request().url for _ in range(3)}  # type: ignore[union-attr]
        assert got == {"https://baoquocte.vn/a/", "https://baoquocte.vn/b/", "https://baoquocte.vn/c/"}
        assert sched.next_request() is None
    finally:
        sched.close("finished")
