"""crawler/frontier.py: the requests a crawl has not sent yet wait on disk (Scrapy's JOBDIR disk queues), in a
folder of the run's own that is gone when the crawl ends."""

from __future__ import annotations

import datetime as dt
import json
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
    assert "requests waited on disk, 0 in memory" in r.stderr and "held in memory" not in r.stderr
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


# a real write failure: the disk queue's file may not grow past LIMIT bytes (RLIMIT_FSIZE, SIGXFSZ ignored, so
# the write fails with EFBIG as on a full disk), in a process of its own
_FULL_DISK = """
import asyncio, json, resource, signal, sys
from scrapy.utils.test import get_crawler
from crawler.frontier import FrontierScheduler
from crawler.spider import SourceSpider
from tests.test_frontier import SOURCE

limit, n, jobdir, min_free = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
FrontierScheduler.MIN_FREE, FrontierScheduler.CHECK_EVERY = min_free, 16

class Engine:
    reasons = []
    async def close_spider_async(self, reason):
        Engine.reasons.append(reason)

async def main():
    crawler = get_crawler(SourceSpider, {"JOBDIR": jobdir,
                                         "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.ScrapyPriorityQueue"})
    spider = SourceSpider.from_crawler(crawler, source=SOURCE)
    crawler.spider, crawler.engine = spider, Engine()
    sched = FrontierScheduler.from_crawler(crawler)
    sched.open(spider)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    for i in range(n):
        req = spider._listing_request(f"https://baoquocte.vn/chuyen-muc-{i}/" + "x" * 200, 1)
        assert sched.enqueue_request(req)
    popped = []
    while (req := sched.next_request()) is not None:
        popped.append(req.url)
    await asyncio.sleep(0)
    sched.close("finished")
    stats = crawler.stats.get_stats()
    print(json.dumps({"popped": len(popped), "unique": len(set(popped)), "reasons": Engine.reasons,
                      **{k.split("/", 1)[1]: v for k, v in stats.items() if k.startswith("scheduler/")}}))

asyncio.run(main())
"""


def _fill_disk(tmp_path: Path, limit: int, n: int, min_free: int = 0) -> dict[str, Any]:
    r = subprocess.run([sys.executable, "-c", _FULL_DISK, str(limit), str(n), str(tmp_path / "job"), str(min_free)],
                       cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


def test_a_disk_that_fails_under_the_frontier_loses_no_request_silently(tmp_path: Path) -> None:
    roomy = _fill_disk(tmp_path / "a", 1 << 30, 200)  # the control: the same pushes with room for them
    assert roomy["popped"] == roomy["unique"] == 200 and roomy["enqueued/disk"] == 200 and roomy["reasons"] == []
    for limit in (8_000, 20_000, 50_000):
        full = _fill_disk(tmp_path / str(limit), limit, 200)
        assert full["disk_failed"] == 1, full  # the first write that failed, then memory only
        assert full["enqueued/memory"] > 0 and full["enqueued/disk"] + full["enqueued/memory"] == 200, full
        lost = full.get("disk_lost", 0)
        assert full["popped"] == full["unique"] and full["popped"] + lost == 200, full  # sent or counted
        # requests that could not be read back end the crawl as failed (a later crawl finds them again)
        assert full["reasons"] == (["frontier_error"] if lost else []), full


def test_a_filling_disk_is_left_before_a_write_fails_and_every_request_is_sent(tmp_path: Path) -> None:
    # less free space than MIN_FREE, seen at the 16th push (CHECK_EVERY): 15 wait on disk, the rest in memory
    st = os.statvfs(tmp_path)
    free = st.f_bavail * st.f_frsize
    full = _fill_disk(tmp_path, 1 << 30, 200, min_free=free + (1 << 40))
    assert full["disk_full"] == 1 and full["enqueued/disk"] == 15 and full["enqueued/memory"] == 185, full
    assert full["popped"] == full["unique"] == 200 and "disk_lost" not in full and full["reasons"] == [], full


def test_a_crawl_stopped_by_its_frontier_is_a_failed_run_that_says_why() -> None:
    from crawler.runner import run_status

    status, why = run_status("frontier_error", {"scheduler/disk_lost": 24})
    assert status == "failed" and why is not None
    assert "24 requests were not sent" in why and "TMPDIR" in why and "next crawl" in why
