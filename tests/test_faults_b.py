"""FAULTS.md B: database concurrency and integrity, with real crawls (`vnarchive crawl` in subprocesses) of a
loopback site into real SQLite files.  The deferred-upgrade half of B2 is tests/test_storage.py
(test_deferred_read_then_write_fails_at_once, test_begin_immediate_writers_take_turns); B1 on PostgreSQL is
tests/test_postgres.py."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Page, run_cli
from tests.faultkit import ROBOTS_ALLOW, one, q, setup, skipped, source_toml
from tests.sitefixture import article_html, listing_html, paragraphs, sitemap_xml

pytestmark = pytest.mark.slow

ROBOTS = Page(ROBOTS_ALLOW, headers={"Content-Type": "text/plain"})


def _popen(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "crawler", *args], cwd=ROOT, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# ---------------------------------------------------------------- B1 two crawls write the same articles

def test_two_crawl_processes_writing_the_same_articles_at_once(serve_site, tmp_path: Path) -> None:
    """FAULTS B1: two crawl processes (two sources naming the same site) started together over 30 shared
    article URLs, listed and in a sitemap: one article row per URL, one version each, no unhandled error,
    integrity ok."""
    n = 30
    paths = [f"/bai-viet/bai-so-{i}.html" for i in range(1, n + 1)]
    pages: dict[str, Any] = {"/robots.txt": ROBOTS, "/": Page(listing_html(paths)),
                             "/sitemap.xml": Page(sitemap_xml([(p, "2024-10-03T08:00:00+07:00") for p in paths]),
                                                  headers={"Content-Type": "application/xml"})}
    for i, p in enumerate(paths, 1):
        pages[p] = Page(article_html(i, f"Tin số {i} về an ninh trật tự tại Bình Định", paragraphs(i)))
    site = serve_site(pages)
    sm = f'sitemaps = ["{site.base}/sitemap.xml"]'
    toml = source_toml(site.base, id="mot", extra=sm) + source_toml(site.base, id="hai", extra=sm)
    db, env = setup(tmp_path, toml)
    assert run_cli("db", "upgrade", env=env).returncode == 0
    a, b = _popen(env, "crawl", "mot", "-q"), _popen(env, "crawl", "hai", "-q")
    outs = [p.communicate(timeout=240) for p in (a, b)]
    for p, (out, err) in zip((a, b), outs, strict=True):
        assert p.returncode == 0, out + err
        assert "Traceback" not in err, err
    assert q(db, "select canonical_url, count(*) from articles group by canonical_url having count(*) > 1") == []
    assert one(db, "select count(*) from articles") == n
    assert one(db, "select count(*) from versions") == n
    assert q(db, "select article_id, content_sha256, count(*) from versions group by 1, 2 having count(*) > 1") == []
    assert one(db, "pragma integrity_check") == "ok"
    assert q(db, "pragma foreign_key_check") == []


# ---------------------------------------------------------------- B2 database is locked

def test_a_long_reader_and_a_held_write_lock_lose_nothing(serve_site, tmp_path: Path) -> None:
    """FAULTS B2 (a): a reader holding `BEGIN; SELECT` for the whole crawl, and another connection holding the
    write lock (BEGIN IMMEDIATE) for 4 s while the crawl archives: the crawl waits its turn (busy_timeout), every
    article is archived, the run finishes; the WAL is checkpointed once the reader is gone."""
    paths = [f"/bai-viet/bai-so-{i}.html" for i in range(1, 9)]
    gate = threading.Event()

    def slow_article(i: int) -> Any:
        def page() -> Page:
            gate.set()  # the crawl has its run row: take the write lock now
            time.sleep(0.2)
            return Page(article_html(i, f"Tin số {i} về an ninh trật tự tại Bình Định", paragraphs(i)))
        return page

    pages: dict[str, Any] = {"/robots.txt": ROBOTS, "/": Page(listing_html(paths))}
    pages.update({p: slow_article(i) for i, p in enumerate(paths, 1)})
    site = serve_site(pages)
    db, env = setup(tmp_path, source_toml(site.base, concurrency=1))
    assert run_cli("db", "upgrade", env=env).returncode == 0
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("select count(*) from articles").fetchone()
    crawl = _popen(env, "crawl", "fixture", "-q")
    assert gate.wait(60)
    writer = sqlite3.connect(db, isolation_level=None, timeout=30)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("update sources set name = name")
    time.sleep(4)
    writer.execute("COMMIT")
    writer.close()
    out, err = crawl.communicate(timeout=240)
    assert crawl.returncode == 0, out + err
    assert "locked" not in err, err
    assert reader.execute("select count(*) from articles").fetchone() == (0,)  # its snapshot, all along
    reader.execute("COMMIT")
    reader.close()
    assert one(db, "select count(*) from articles") == len(paths)
    con = sqlite3.connect(db)
    con.execute("pragma wal_checkpoint(TRUNCATE)")
    con.close()
    wal = Path(f"{db}-wal")
    assert not wal.exists() or wal.stat().st_size == 0


# ---------------------------------------------------------------- B3, B4, B5 recrawls

def _versioned_site(serve_site: Any, body: Any) -> tuple[Any, dict[str, Any], list[int]]:
    """One article at /bai-viet/bai-so-1.html whose sitemap <lastmod> moves on every crawl (so it is fetched
    again each time); `body` is a Page or a callable."""
    day = [3]

    def sitemap() -> Page:
        return Page(sitemap_xml([("/bai-viet/bai-so-1.html", f"2024-10-{day[0]:02d}T08:00:00+07:00")]),
                    headers={"Content-Type": "application/xml"})

    pages: dict[str, Any] = {"/robots.txt": ROBOTS, "/": Page(listing_html([])), "/sitemap.xml": sitemap,
                             "/bai-viet/bai-so-1.html": body}
    return serve_site(pages), pages, day


def _crawl(site: Any, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    db, env = setup(tmp_path, source_toml(site.base, extra=f'sitemaps = ["{site.base}/sitemap.xml"]'))
    r = run_cli("crawl", "fixture", "-q", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return db, env


def _again(env: dict[str, str], day: list[int]) -> None:
    day[0] += 1
    r = run_cli("crawl", "fixture", "-q", env=env)
    assert r.returncode == 0, r.stdout + r.stderr


def test_unchanged_then_changed_then_unchanged(serve_site, tmp_path: Path) -> None:
    """FAULTS B3: v1 crawled, v2 (one word changed) crawled, v2 crawled again: 2 versions; v1's text and its raw
    capture are byte-identical to what was served; the unchanged recrawl moves only last_seen."""
    paras = paragraphs(1)
    v1 = article_html(1, "Hội nghị về an ninh trật tự tại Bình Định", paras)
    paras2 = [paras[0].replace(paras[0].split()[3], "TỪMỚI", 1), *paras[1:]]
    v2 = article_html(1, "Hội nghị về an ninh trật tự tại Bình Định", paras2)
    site, pages, day = _versioned_site(serve_site, Page(v1))
    db, env = _crawl(site, tmp_path)
    (text1,) = q(db, "select text from versions")[0]
    pages["/bai-viet/bai-so-1.html"] = Page(v2)
    _again(env, day)
    seen = one(db, "select last_seen from articles")
    _again(env, day)
    assert site.paths_requested().count("/bai-viet/bai-so-1.html") == 3
    rows = q(db, "select number, text, capture_id from versions order by number")
    assert [r[0] for r in rows] == [1, 2]
    assert rows[0][1] == text1 and "TỪMỚI" not in rows[0][1] and "TỪMỚI" in rows[1][1]
    (raw,) = q(db, "select body from captures where id = ?", rows[0][2])[0]
    assert zlib.decompress(raw) == v1.replace(b"{base}", site.base.encode())
    assert one(db, "select current_version from articles") == 2
    assert one(db, "select last_seen from articles") >= seen


def test_page_noise_alone_is_no_new_version(serve_site, tmp_path: Path) -> None:
    """FAULTS B4: the page embeds a fresh uuid4 (a CSRF token, a view counter) on every fetch, the article text
    stays: crawled 3 times, fetched 3 times, 1 version."""
    paras = paragraphs(2)

    def noisy() -> Page:
        token = uuid.uuid4().hex
        return Page(article_html(1, "Tin về phòng chống thiên tai tại Quy Nhơn", paras,
                                 extra=f'<input type="hidden" name="csrf" value="{token}"><div class="views">'
                                       f"Lượt xem: {token[:6]}</div><!-- {token} -->"))

    site, pages, day = _versioned_site(serve_site, noisy)
    db, env = _crawl(site, tmp_path)
    _again(env, day)
    _again(env, day)
    assert site.paths_requested().count("/bai-viet/bai-so-1.html") == 3
    assert one(db, "select count(*) from versions") == 1
    assert one(db, "select count(distinct body_sha256) from captures where url like '%bai-so-1.html'") >= 2


MAINTENANCE = ("<html><head><meta charset='utf-8'><title>Bảo trì hệ thống</title></head><body>"
               "<h1>Hệ thống đang bảo trì</h1><p>Xin quý độc giả vui lòng quay lại sau.</p></body></html>").encode()


@pytest.mark.parametrize("soft", [MAINTENANCE, b"<html><body></body></html>",
                                  "<html><head><title>Không tìm thấy trang</title></head><body><h1>Không tìm thấy "
                                  "trang</h1><p>Trang bạn yêu cầu không tồn tại.</p></body></html>".encode()],
                         ids=["maintenance", "empty-template", "not-found-200"])
def test_a_soft_failure_never_replaces_the_good_version(serve_site, tmp_path: Path, soft: bytes) -> None:
    """FAULTS B5: the article crawled, then a 200 maintenance page / empty template / "not found" page at its URL:
    the current version stays the good one, no new version, and the bad fetch is recorded (a skip reason)."""
    site, pages, day = _versioned_site(serve_site, Page(article_html(
        1, "Hội nghị về an ninh trật tự tại Bình Định", paragraphs(1))))
    db, env = _crawl(site, tmp_path)
    (good,) = q(db, "select text from versions")[0]
    pages["/bai-viet/bai-so-1.html"] = Page(soft)
    _again(env, day)
    assert site.paths_requested().count("/bai-viet/bai-so-1.html") == 2
    assert one(db, "select count(*) from versions") == 1
    assert one(db, "select current_version from articles") == 1
    assert q(db, "select text from versions") == [(good,)]
    assert one(db, "select status from articles") == "live"
    assert skipped(db).get("bai-so-1.html"), "the soft failure left no trace"
