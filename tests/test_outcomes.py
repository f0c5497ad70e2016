"""Honest outcomes (FAULTS C2, C3, C5; issue 11): a crawl that reaches nothing, or gives up on most of what it
asks for, is a failed run with the reason in plain words and a non-zero exit; every article URL given up on is
recorded with its last error and asked for again by the next crawl; truncated and reset pages never become
versions."""

from __future__ import annotations

import json
import socket
import sqlite3
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.runner import judge, run_status, summarize
from tests.conftest import Page, run_cli
from tests.sitefixture import article_html, listing_html, paragraphs, sources_toml

pytestmark = pytest.mark.slow

ROBOTS = Page(b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})


def _toml(base: str, retries: int = 1, timeout: float = 10) -> str:
    return f"""
[[source]]
id = "fixture"
name = "Báo Thử Nghiệm"
allowed_domains = ["127.0.0.1"]
start_urls = ["{base}/"]
article_patterns = ['/bai-viet/[a-z0-9-]+-\\d+\\.html']
sitemaps_from_robots = false
[source.politeness]
download_delay = 0
concurrency = 4
autothrottle = false
retries = {retries}
timeout = {timeout}
"""


def _setup(tmp_path: Path, base: str, **kw: Any) -> tuple[Path, dict[str, str]]:
    (tmp_path / "s.toml").write_text(_toml(base, **kw), encoding="utf-8")
    db = tmp_path / "a.db"
    return db, {"VNARCHIVE_DB": f"sqlite:///{db}", "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}


def _runs(env: dict[str, str]) -> list[dict[str, Any]]:
    r = run_cli("runs", "--json", env=env)
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def _q(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------- the judgement (pure)

def test_judge() -> None:
    assert judge({"fetch/ok": 10, "fetch/given_up": 2}) is None
    assert judge({"fetch/ok": 3, "fetch/given_up": 4}).startswith("most requests failed: 4 of 7")  # type: ignore[union-attr]
    assert judge({"fetch/given_up": 3}).startswith("nothing could be reached")  # type: ignore[union-attr]
    assert judge({"fetch/http_error": 3}).startswith("nothing could be reached")  # type: ignore[union-attr]
    assert "refused" in judge({"scope/offsite": 2}) or ""  # type: ignore[operator]
    assert judge({}) == "nothing could be reached: no request was made"
    assert run_status("finished", {"fetch/ok": 1})[0] == "finished"
    assert run_status("finished", {})[0] == "failed"
    assert run_status("shutdown", {})[0] == "interrupted"
    assert run_status("memusage_exceeded", {"fetch/ok": 5})[0] == "failed"


# ---------------------------------------------------------------- a host that is down

def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_a_source_that_is_down_is_a_failed_run_in_plain_words(tmp_path: Path) -> None:
    db, env = _setup(tmp_path, f"http://127.0.0.1:{_free_port()}", retries=1, timeout=5)
    t0 = time.monotonic()
    r = run_cli("crawl", "fixture", "-q", env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "fixture: failed: nothing could be reached" in r.stdout
    assert "connection refused" in r.stdout
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert time.monotonic() - t0 < 60
    runs = _runs(env)
    assert [x["status"] for x in runs] == ["failed"] and "nothing could be reached" in runs[0]["error"]
    stats = run_cli("stats", "--json", env=env)
    assert '"health": "failing"' in stats.stdout, stats.stdout


# ---------------------------------------------------------------- most requests failing

def test_most_requests_failing_is_a_failed_run_and_each_url_is_recorded(serve_site, tmp_path: Path) -> None:
    broken = Page(b"<h1>500</h1>", 500)
    pages: dict[str, Any] = {"/robots.txt": ROBOTS,
                             "/": Page(listing_html([f"/bai-viet/bai-so-{n}.html" for n in range(1, 7)]))}
    pages["/bai-viet/bai-so-1.html"] = Page(article_html(1, "Hội nghị về an ninh trật tự", paragraphs(1)))
    for n in range(2, 7):
        pages[f"/bai-viet/bai-so-{n}.html"] = broken
    site = serve_site(pages)
    db, env = _setup(tmp_path, site.base, retries=1)
    r = run_cli("crawl", "fixture", "-q", env=env)
    assert r.returncode == 1 and "fixture: failed: most requests failed: 5 of 8" in r.stdout, r.stdout
    assert sum(p == "/bai-viet/bai-so-2.html" for p in site.paths_requested()) == 2  # bounded attempts
    rows = dict(_q(db, "select url, reason from skipped_pages"))
    assert {u.rsplit("/", 1)[1]: why for u, why in rows.items()} == {
        f"bai-so-{n}.html": "unreachable:http_500" for n in range(2, 7)}
    assert _q(db, "select count(*) from articles") == [(1,)]
    # listed for people, with what it means
    out = run_cli("skipped", "--reason", "unreachable:*", env=env)
    assert out.returncode == 0 and out.stdout.count("unreachable:http_500") >= 5, out.stdout + out.stderr

    # the site recovers: the next crawl asks for them again and archives them; they are no longer listed
    for n in range(2, 7):
        pages[f"/bai-viet/bai-so-{n}.html"] = Page(article_html(n, f"Tin số {n} về phòng chống thiên tai",
                                                                paragraphs(10 + n)))
    r = run_cli("crawl", "fixture", "-q", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _q(db, "select count(*) from articles") == [(6,)]
    out = run_cli("skipped", "--json", env=env)
    assert "unreachable:" not in out.stdout


# ---------------------------------------------------------------- truncated, reset, too slow

class RawSite:
    """A raw-socket site: a listing of four articles, one whole, one truncated (Content-Length lies), one reset
    mid-body, one that never answers in time."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.page = article_html(1, "Hội nghị về an ninh trật tự", paragraphs(1, 30)).replace(
            b"{base}", self.base.encode())
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c: socket.socket) -> None:
        try:
            path = c.recv(65536).split(b" ", 2)[1].decode()
            body = self.page
            if path == "/robots.txt":
                body = b"User-agent: *\nAllow: /\n"
            elif path == "/":
                body = listing_html([f"/bai-viet/{k}-{n}.html" for n, k in enumerate(("tron", "cat", "ngat", "cham"), 1)])
            head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n" \
                   "Connection: close\r\n\r\n".encode()
            if path.startswith("/bai-viet/cat-"):
                c.sendall(head + body[: len(body) // 3])  # then closes: fewer bytes than it said
            elif path.startswith("/bai-viet/ngat-"):
                c.sendall(head + body[: len(body) // 3])
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
            elif path.startswith("/bai-viet/cham-"):
                time.sleep(6)
                c.sendall(head + body)
            else:
                c.sendall(head + body)
        except OSError:
            pass
        finally:
            c.close()

    def close(self) -> None:
        self.stopped = True
        self.sock.close()


@pytest.fixture
def raw_site() -> Iterator[RawSite]:
    s = RawSite()
    yield s
    s.close()


def test_truncated_reset_and_slow_pages_are_given_up_recorded_and_never_archived(raw_site: RawSite,
                                                                                 tmp_path: Path) -> None:
    db, env = _setup(tmp_path, raw_site.base, retries=1, timeout=2)
    t0 = time.monotonic()
    r = run_cli("crawl", "fixture", "-q", env=env)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stdout  # 3 of 6 requests given up (robots, listing, 4 articles): half, not most
    assert took < 40, "a slow page held the crawl past its timeout"
    reasons = {u.rsplit("/", 1)[1]: why for u, why in _q(db, "select url, reason from skipped_pages")}
    assert reasons == {"cat-2.html": "unreachable:data_loss", "ngat-3.html": reasons.get("ngat-3.html"),
                       "cham-4.html": "unreachable:timeout"}, reasons
    assert reasons["ngat-3.html"] in ("unreachable:data_loss", "unreachable:connection_lost"), reasons
    # only the whole page is an article; nothing truncated was stored as a version or a capture
    assert _q(db, "select count(*) from articles") == [(1,)]
    assert _q(db, "select count(*) from versions") == [(1,)]
    assert _q(db, "select count(*) from captures where url not like '%tron-1.html' and url not like '%/'") == [(0,)]


def test_a_url_given_up_on_is_asked_for_again_even_when_no_longer_listed(serve_site, tmp_path: Path) -> None:
    pages: dict[str, Any] = {"/robots.txt": ROBOTS,
                             "/": Page(listing_html([f"/bai-viet/bai-so-{n}.html" for n in range(1, 4)]))}
    for n in range(1, 3):
        pages[f"/bai-viet/bai-so-{n}.html"] = Page(article_html(n, f"Tin số {n} về an ninh trật tự", paragraphs(n)))
    pages["/bai-viet/bai-so-3.html"] = Page(b"<h1>503</h1>", 503)
    site = serve_site(pages)
    db, env = _setup(tmp_path, site.base, retries=0)
    assert run_cli("crawl", "fixture", "-q", env=env).returncode == 0
    assert _q(db, "select reason from skipped_pages") == [("unreachable:http_503",)]
    # the listing has moved on, the page answers now: only the record of the failure leads back to it
    pages["/"] = Page(listing_html(["/bai-viet/bai-so-1.html", "/bai-viet/bai-so-2.html"]))
    pages["/bai-viet/bai-so-3.html"] = Page(article_html(3, "Tin số 3 về phòng chống thiên tai", paragraphs(30)))
    r = run_cli("crawl", "fixture", "-q", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _q(db, "select count(*) from articles") == [(3,)]
    assert "unreachable:" not in run_cli("skipped", "--json", env=env).stdout


def test_the_summary_names_every_kind_of_url_given_up_on() -> None:
    """A page over the size cap (FAULTS D1, D3), retries exhausted and a Retry-After deferral each have their
    line in the run's errors by kind, so the summary says why URLs were given up on."""
    r = summarize("fixture", 1, {"fetch/too_large": 2, "retry/max_reached": 3, "retry/deferred": 1,
                                 "downloader/exception_type_count/twisted.internet.error.TimeoutError": 3})
    assert r.errors == {"too_large": 2, "retries_exhausted": 3, "deferred_retry_after": 1,
                        "network:TimeoutError": 3}


def test_crawl_json_is_one_record_per_source_with_the_runs_fields(serve_site, tmp_path: Path) -> None:
    """``crawl --json``: scripts get the summary as data (issue 13), with the names ``runs --json`` uses."""
    site = serve_site({
        "/robots.txt": Page(b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}),
        "/": Page(listing_html(["/bai-viet/tin-mot-1.html"])),
        "/bai-viet/tin-mot-1.html": Page(article_html(1, "Tin một về công tác phòng chống thiên tai",
                                                      paragraphs(11))),
    })
    (tmp_path / "s.toml").write_text(sources_toml(site.base), encoding="utf-8")
    env = {"VNARCHIVE_DB": f"sqlite:///{tmp_path / 'a.db'}", "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}
    r = run_cli("crawl", "fixture", "-q", "--json", env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    records = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert len(records) == 1
    rec = records[0]
    assert rec["source"] == "fixture" and rec["status"] == "finished" and rec["new"] == 1
    assert isinstance(rec["errors"], dict) and rec["error"] is None
    runs = [json.loads(line) for line in run_cli("runs", "--json", env=env).stdout.splitlines() if line.strip()]
    assert runs[0]["id"] == rec["id"] and runs[0]["new"] == rec["new"] and runs[0]["pages"] == rec["pages"]
