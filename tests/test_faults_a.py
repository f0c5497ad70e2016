"""FAULTS.md A: process death and durability.  A1 (kill -9 / SIGTERM mid-crawl, resumed without loss or
duplicates, integrity ok) is tests/test_durability.py, tests/test_pending.py and tests/test_backfill.py; A2
(clean stop) tests/test_interrupts.py; A3 (the PRAGMAs of every connection) tests/test_storage.py; A5 (an
unusable archive) tests/test_archive_file.py, tests/test_storage.py and tests/test_cli.py.  Here: A4, a disk
that fills up during a crawl, and A6, the memory limit."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Page, run_cli
from tests.faultkit import ROBOTS_ALLOW, one, q, setup, source_toml
from tests.sitefixture import article_html, listing_html, paragraphs

pytestmark = pytest.mark.slow

ROBOTS = Page(ROBOTS_ALLOW, headers={"Content-Type": "text/plain"})
N = 40


def _site(serve_site: Any) -> Any:
    paths = [f"/bai-viet/bai-so-{i}.html" for i in range(1, N + 1)]
    pages: dict[str, Any] = {"/robots.txt": ROBOTS, "/": Page(listing_html(paths))}
    for i, p in enumerate(paths, 1):
        pages[p] = Page(article_html(i, f"Tin số {i} về an ninh trật tự tại Bình Định", paragraphs(i, 12)))
    return serve_site(pages)


# ---------------------------------------------------------------- A4 disk full

@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "disk"
    d.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(d)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


@pytest.mark.parametrize("room_kb", [0, 100, 150, 400])
def test_a_disk_that_fills_up_mid_crawl_stops_cleanly_and_a_resume_completes(serve_site, small_disk: Path,
                                                                              tmp_path: Path, room_kb: int) -> None:
    """FAULTS A4: the archive on an 8 MB tmpfs, filled by a ballast file to leave ``room_kb``: too little to open
    the archive (0), to hold the room a run's end needs (100), or to archive more than a few of the 40 articles
    (150, 400).  The crawl fails with a named error, exits non-zero, does not spin (bounded output), leaves no run
    'running' and no reserve file, the file passes integrity_check; with the space freed the next crawl archives
    all 40, once each."""
    site = _site(serve_site)
    (tmp_path / "s.toml").write_text(source_toml(site.base, concurrency=2), encoding="utf-8")
    db = small_disk / "a.db"
    env = {"VNARCHIVE_DB": f"sqlite:///{db}", "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}
    assert run_cli("db", "upgrade", env=env).returncode == 0
    free = os.statvfs(small_disk)
    ballast = small_disk / "ballast"
    with ballast.open("wb") as f:
        f.write(b"\0" * max(0, free.f_bavail * free.f_frsize - room_kb * 1024))
    r = run_cli("crawl", "fixture", "-q", env=env, timeout=240)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "disk is full" in out or f"the disk holding {small_disk}" in out, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert len(out.splitlines()) < 400, f"{len(out.splitlines())} lines of output: a hot loop?"
    assert sorted(p.name for p in small_disk.iterdir() if "reserve" in p.name) == []

    ballast.unlink()  # first: reading the archive needs room for its shared-memory file too
    assert one(db, "select count(*) from articles") < N
    assert one(db, "pragma integrity_check") == "ok"
    assert q(db, "select status from crawl_runs where status = 'running'") == [], "a run left running"
    for status, error in q(db, "select status, error from crawl_runs"):
        assert status == "failed" and "disk is full" in error, (status, error)
    r = run_cli("crawl", "fixture", "-q", env=env, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    assert one(db, "select count(*) from articles") == N
    assert one(db, "select count(*) from versions") == N
    assert q(db, "select canonical_url from articles group by canonical_url having count(*) > 1") == []
    assert one(db, "pragma integrity_check") == "ok"


# ---------------------------------------------------------------- A6 memory limit

_LOW_LIMIT = r'''
import sys
import crawler.runner as runner
real = runner.base_settings
LIMIT = int(sys.argv[1])
def low(*a, **kw):
    s = real(*a, **kw)
    # the crawl's own limit, set below what a crawl process needs (as a runaway would pass it)
    s.update(MEMUSAGE_LIMIT_MB=LIMIT, MEMUSAGE_WARNING_MB=0, MEMUSAGE_CHECK_INTERVAL_SECONDS=0.5)
    return s
runner.base_settings = low
sys.argv = ["vnarchive", *sys.argv[2:]]
from crawler.cli import main
main()
'''


def test_passing_the_memory_limit_is_a_clean_failed_stop_and_nothing_is_lost(serve_site, tmp_path: Path) -> None:
    """FAULTS A6: MEMUSAGE_LIMIT_MB set below what the crawl process uses: Scrapy closes the crawl with
    memusage_exceeded, the run is `failed` with that reason and exit 1 (not a kill, not a success); the next crawl
    (normal limit) archives everything, once."""
    site = _site(serve_site)
    db, env = setup(tmp_path, source_toml(site.base, concurrency=1))
    r = subprocess.run([sys.executable, "-c", _LOW_LIMIT, "60", "crawl", "fixture", "-q"], cwd=ROOT,
                       env={**os.environ, **env}, capture_output=True, text=True, timeout=240)
    assert r.returncode == 1, r.stdout + r.stderr
    status, error = q(db, "select status, error from crawl_runs")[0]
    assert status == "failed" and "memusage_exceeded" in (error or ""), (status, error, r.stdout)
    assert "Traceback" not in r.stderr
    r = run_cli("crawl", "fixture", "-q", env=env, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    assert one(db, "select count(*) from articles") == N
    assert one(db, "select count(*) from versions") == N
    assert one(db, "pragma integrity_check") == "ok"
