"""Retry-After is honoured: a rate-limited page is fetched again only after the wait the server asked for."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from pathlib import Path

import pytest

from crawler.middlewares import retry_after_seconds
from tests.conftest import Page, run_cli
from tests.sitefixture import build_site, sources_toml


def test_retry_after_values() -> None:
    now = dt.datetime(2024, 10, 3, 8, 0, tzinfo=dt.UTC)
    assert retry_after_seconds(b"7") == 7.0
    assert retry_after_seconds("Thu, 03 Oct 2024 08:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Thu, 03 Oct 2024 07:00:00 GMT", now) == 0.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds(b"soon") is None


@pytest.mark.slow
def test_rate_limited_article_waits_then_archives(serve_site, tmp_path: Path) -> None:
    pages = build_site()
    real = pages["/bai-viet/bai-so-2.html"]
    hits: list[float] = []

    def limited() -> Page:
        hits.append(time.monotonic())
        if len(hits) == 1:
            return Page(b"busy", 429, {"Retry-After": "2", "Content-Type": "text/plain"})
        return real

    pages["/bai-viet/bai-so-2.html"] = limited
    site = serve_site(pages)
    (tmp_path / "s.toml").write_text(sources_toml(site.base).replace("retries = 0", "retries = 2"), encoding="utf-8")
    env = {"VNARCHIVE_DB": f"sqlite:///{tmp_path / 'a.db'}", "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}
    r = run_cli("crawl", "fixture", "--quiet", env=env)
    assert r.returncode == 0, r.stderr
    assert len(hits) == 2 and hits[1] - hits[0] >= 1.9
    con = sqlite3.connect(tmp_path / "a.db")
    assert con.execute("select count(*) from articles").fetchone()[0] == 6
    con.close()
