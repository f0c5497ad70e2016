"""Clean interrupts (FAULTS A2; issue 11): Ctrl-C or SIGTERM stops a crawl within a bound, the run is
`interrupted`, the workers say nothing, a second signal forces the stop, and no process outlives its crawl."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Page
from tests.sitefixture import article_html, listing_html, paragraphs, sources_toml

pytestmark = pytest.mark.slow
N = 40


def _site(delay: float, hang: threading.Event | None = None) -> dict[str, Any]:
    pages: dict[str, Any] = {"/robots.txt": Page(b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}),
                             "/": Page(listing_html([f"/bai-viet/bai-so-{n}.html" for n in range(1, N + 1)]))}
    for n in range(1, N + 1):
        page = Page(article_html(n, f"Tin số {n} về công tác phòng chống thiên tai", paragraphs(200 + n)))

        def slow(page: Page = page, n: int = n) -> Page:
            if hang is not None and n > 3:
                hang.wait(120)  # never answers while the test runs
            time.sleep(delay)
            return page

        pages[f"/bai-viet/bai-so-{n}.html"] = slow
    return pages


def _start(tmp_path: Path, base: str, timeout: float = 45) -> tuple[subprocess.Popen[str], Path]:
    toml = sources_toml(base).replace(f'sitemaps = ["{base}/sitemap.xml"]', "sitemaps = []")
    toml = toml.replace("retries = 0", f"retries = 0\ntimeout = {timeout}")
    (tmp_path / "s.toml").write_text(toml, encoding="utf-8")
    db = tmp_path / "a.db"
    env = {**os.environ, "VNARCHIVE_DB": f"sqlite:///{db}", "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}
    p = subprocess.Popen([sys.executable, "-m", "crawler", "crawl", "fixture"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    return p, db


def _articles(db: Path) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db)
    try:
        return int(con.execute("select count(*) from articles").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def _wait_for(db: Path, n: int, p: subprocess.Popen[str], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while _articles(db) < n:
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline, "the crawl archived nothing"
        time.sleep(0.1)


def _wait_for_hung(site: Any, p: subprocess.Popen[str]) -> None:
    """Until requests the site will never answer are in flight."""
    deadline = time.monotonic() + 60
    while sum(1 for x in site.paths_requested() if x.startswith("/bai-viet/") and int(x[17:-5]) > 3) < 2:
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline, "no article was requested"
        time.sleep(0.1)
    time.sleep(0.5)


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(d.name))
    return out


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _run_status(db: Path) -> list[tuple[str, int | None]]:
    con = sqlite3.connect(db)
    try:
        return [(s, c) for s, c in con.execute("select status, exit_code from crawl_runs order by id")]
    finally:
        con.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_first_crawl_stops_quietly_within_the_bound(serve_site, tmp_path: Path, sig: signal.Signals) -> None:
    site = serve_site(_site(0.3))
    p, db = _start(tmp_path, site.base)
    _wait_for(db, 3, p)
    workers = _children(p.pid)
    t0 = time.monotonic()
    os.killpg(p.pid, sig)  # the whole group, as a terminal's Ctrl-C does: the extraction workers too
    out, err = p.communicate(timeout=30)
    assert time.monotonic() - t0 < 30
    assert p.returncode == 3, out + err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "interrupted" in out
    assert _run_status(db) == [("interrupted", 1)]
    assert 0 < _articles(db) < N
    time.sleep(0.5)
    assert all(_gone(w) for w in workers), "a worker outlived its crawl"


def test_a_second_signal_forces_the_stop(serve_site, tmp_path: Path) -> None:
    hang = threading.Event()
    site = serve_site(_site(0.05, hang))
    try:
        p, db = _start(tmp_path, site.base, timeout=120)
        _wait_for_hung(site, p)
        os.killpg(p.pid, signal.SIGINT)
        time.sleep(1)
        assert p.poll() is None, "the first signal waits for what is in flight"
        t0 = time.monotonic()
        os.killpg(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=20)
        assert time.monotonic() - t0 < 10
        assert p.returncode == 3, out + err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        assert "second signal" in err
        assert [s for s, _ in _run_status(db)] == ["interrupted"]
    finally:
        hang.set()


def test_a_stop_that_cannot_finish_is_forced_after_the_grace(serve_site, tmp_path: Path) -> None:
    hang = threading.Event()
    site = serve_site(_site(0.05, hang))
    try:
        p, db = _start(tmp_path, site.base, timeout=120)
        _wait_for_hung(site, p)
        t0 = time.monotonic()
        os.killpg(p.pid, signal.SIGTERM)
        out, err = p.communicate(timeout=40)
        took = time.monotonic() - t0
        assert 10 < took < 30, took  # STOP_GRACE_S, then the forced stop: never the 120 s download timeout
        assert p.returncode == 3 and "forcing the stop" in err, out + err
        assert [s for s, _ in _run_status(db)] == ["interrupted"]
    finally:
        hang.set()


def test_kill_9_of_a_crawl_takes_its_workers_with_it(serve_site, tmp_path: Path) -> None:
    site = serve_site(_site(0.3))
    p, db = _start(tmp_path, site.base)
    _wait_for(db, 2, p)
    workers = [w for w in _children(p.pid) if "multiprocessing" in Path(f"/proc/{w}/cmdline").read_text()]
    assert workers
    os.kill(p.pid, signal.SIGKILL)  # the crawl alone, not its group
    p.communicate(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(_gone(w) for w in workers):
        time.sleep(0.1)
    assert all(_gone(w) for w in workers), "extraction workers (or the resource tracker) outlived the crawl"
