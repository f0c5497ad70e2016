"""The scheduler end to end: `vnarchive scheduler start` as users run it, against two small loopback sites, with
a seconds-scale schedule; then SIGTERM.  Also: a manual crawl of a source another process holds is skipped."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.locks import control_dir, source_lock
from tests.conftest import ROOT, Page, Site, archive_sql, is_sqlite, run_cli
from tests.sitefixture import article_html, paragraphs

ARTICLES = (1, 2, 3)


def small_site() -> dict[str, Page]:
    """A home page linking three articles of a few hundred Vietnamese words each, and robots.txt."""
    pages = {f"/bai-viet/bai-so-{n}.html": Page(article_html(n, f"Hội nghị số {n} về phát triển kinh tế xã hội",
                                                             paragraphs(n, 8))) for n in ARTICLES}
    links = "".join(f'<li><a href="/bai-viet/bai-so-{n}.html">Bài số {n}</a></li>' for n in ARTICLES)
    pages["/"] = Page(f'<html><head><meta charset="utf-8"><title>Trang chủ</title></head><body><ul>{links}</ul>'
                      "</body></html>".encode())
    pages["/robots.txt"] = Page(b"User-agent: *\nDisallow: /admin\n", headers={"Content-Type": "text/plain"})
    return pages


def sources_toml(bases: dict[str, str]) -> str:
    return "".join(f"""
[[source]]
id = "{sid}"
name = "Báo thử nghiệm {sid}"
allowed_domains = ["127.0.0.1"]
start_urls = ["{base}/"]
article_patterns = ['/bai-viet/bai-so-\\d+\\.html$']
sitemaps_from_robots = false
[source.politeness]
download_delay = 0
autothrottle = false
retries = 0
""" for sid, base in bases.items())


@pytest.fixture
def archive(tmp_path: Path, serve_site: Callable[[dict[str, Page]], Site], fresh_db: Callable[..., str],
            monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    bases = {sid: serve_site(small_site()).base for sid in ("alpha", "beta")}
    (tmp_path / "sources.toml").write_text(sources_toml(bases), encoding="utf-8")
    url = fresh_db()
    if not is_sqlite(url):  # the daemon's control directory: in the test's directory, not the user's state
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    yield {"VNARCHIVE_DB": url, "VNARCHIVE_SOURCES": str(tmp_path / "sources.toml"),
           "VNARCHIVE_SCHEDULE_EVERY": "3", "VNARCHIVE_STOP_GRACE": "15", "VNARCHIVE_MAX_PARALLEL_CRAWLS": "2"}


def runs(url: str) -> list[tuple[Any, ...]]:
    """(source, status, started, ended, trigger) of every run, oldest first."""
    if is_sqlite(url):
        db = Path(url.removeprefix("sqlite:///"))
        if not db.exists():
            return []
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute("SELECT source_id, status, started_at, ended_at, \"trigger\" FROM crawl_runs "
                               "ORDER BY started_at").fetchall()
        except sqlite3.OperationalError:  # tables not created yet
            return []
        finally:
            con.close()
    from sqlalchemy.exc import ProgrammingError

    pg = archive_sql(url)
    try:
        return pg.execute("SELECT source_id, status, started_at, ended_at, \"trigger\" FROM crawl_runs "
                          "ORDER BY started_at").fetchall()
    except ProgrammingError:  # tables not created yet
        return []
    finally:
        pg.close()


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


@pytest.mark.slow
def test_daemon_runs_each_source_twice_then_stops_cleanly(tmp_path: Path, archive: dict[str, str]) -> None:
    db = archive["VNARCHIVE_DB"]
    control = control_dir(db)
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen([sys.executable, "-m", "crawler", "scheduler", "start"], cwd=ROOT,
                              env={**os.environ, **archive}, stdout=log, stderr=subprocess.STDOUT)
    try:
        state = control / "state.json"
        wait_for(state.exists, 20, "the daemon to start")

        t0 = time.monotonic()
        second = run_cli("scheduler", "start", env=archive, timeout=30)
        assert second.returncode == 1 and time.monotonic() - t0 < 10
        assert "already running" in second.stderr
        # the holder: SQLite's lock file records its pid; PostgreSQL's advisory lock is named by its key
        assert (f"pid {daemon.pid}" if is_sqlite(db) else "PostgreSQL advisory lock") in second.stderr

        def two_each() -> bool:
            done = [r[0] for r in runs(db) if r[1] == "finished"]
            return all(done.count(s) >= 2 for s in ("alpha", "beta"))

        wait_for(two_each, 40, "two finished runs per source")

        asked = run_cli("scheduler", "run-now", "alpha", env=archive, timeout=30)
        assert asked.returncode in (0, 1), asked.stderr
        assert ("starting a crawl of alpha" if asked.returncode == 0 else "already running") in asked.stdout
        if asked.returncode == 0:
            wait_for(lambda: any(r[4] == "run-now" and r[1] == "finished" for r in runs(db)), 20, "the run-now run")
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            rc = daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            raise
        log.close()
    output = (tmp_path / "daemon.log").read_text()
    assert rc == 0, output
    assert "scheduler stopped" in output and "Traceback" not in output
    all_runs = runs(db)
    assert all(r[1] != "running" for r in all_runs), all_runs
    for sid in ("alpha", "beta"):  # never two runs of one source at once
        mine = [r for r in all_runs if r[0] == sid and r[1] != "skipped"]
        for before, after in zip(mine, mine[1:], strict=False):
            assert before[3] is not None and before[3] <= after[2], (before, after)
    assert {r[4] for r in all_runs} <= {"schedule", "run-now"}
    assert not state.exists()
    assert oct(control.stat().st_mode & 0o777) == "0o700"


def test_a_manual_crawl_skips_a_source_being_crawled(tmp_path: Path, archive: dict[str, str]) -> None:
    from storage.db import make_engine

    engine = make_engine(archive["VNARCHIVE_DB"])  # PostgreSQL's advisory lock is held on one of its connections
    with source_lock(archive["VNARCHIVE_DB"], "alpha", engine):
        res = run_cli("crawl", "alpha", "--quiet", env=archive, timeout=120)
    engine.dispose()
    assert res.returncode == 0, res.stderr
    assert "skipped" in res.stdout and "a crawl of alpha is already running" in res.stderr
    assert [(r[0], r[1]) for r in runs(archive["VNARCHIVE_DB"])] == [("alpha", "skipped")]
