"""crawler/robots.py: robots.txt per RFC 9309 (5xx or unreachable: disallow all for the run, recorded; a
firewall challenge page recognised), unit and end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from crawler.robots import robots_verdict
from tests.conftest import Page, archive_sql, run_cli
from tests.sitefixture import article_html, listing_html, paragraphs

INCAPSULA = (b'<html style="height:100%"><head><META NAME="ROBOTS" CONTENT="NOINDEX, NOFOLLOW">'
             b'<script type="text/javascript" src="/_Incapsula_Resource?SWJIYLWA=5074a744e2e3d891814e9a2dace20bd4">'
             b"</script></head><body><iframe>Request unsuccessful. Incapsula incident ID: 1-2-3</iframe></body></html>")
CLOUDFLARE = (b"<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title></head><body>"
              b"<script>window._cf_chl_opt={cvId: '3'};</script></body></html>")
COOKIE_WALL = (b"<html><body><script>document.cookie = 'D1N=abc; path=/'; window.location.reload(true);</script>"
               b"</body></html>")


@pytest.mark.parametrize("status, body, verdict", [
    (200, b"User-agent: *\nDisallow: /admin\n", "rules"),
    (200, b"", "rules"),
    (200, b"\xef\xbb\xbfUser-agent: *\nDisallow:\n", "rules"),
    (404, b"<html>not found</html>", "allow_all"),
    (410, b"", "allow_all"),
    (401, b"", "allow_all"),
    (403, b"<html>Forbidden</html>", "allow_all"),
    (429, b"", "server_error"),
    (500, b"", "server_error"),
    (503, b"<html>maintenance</html>", "server_error"),
    (200, INCAPSULA, "challenge"),
    (200, CLOUDFLARE, "challenge"),
    (403, CLOUDFLARE, "challenge"),
    (200, COOKIE_WALL, "challenge"),
    (200, b"<!DOCTYPE html><html><head><title>Trang chu</title></head><body>Xin chao</body></html>",
     "not_robots_txt"),
])
def test_robots_verdict(status: int, body: bytes, verdict: str) -> None:
    assert robots_verdict(status, body) == verdict


def _site(robots: Page) -> dict[str, Page]:
    pages = {"/robots.txt": robots, "/": Page(listing_html(["/bai-viet/bai-so-1.html"]))}
    pages["/bai-viet/bai-so-1.html"] = Page(article_html(1, "Tin số 1 về hội nghị tổng kết", paragraphs(1)))
    return pages


def _sources(base: str) -> str:
    return f"""
[[source]]
id = "fixture"
name = "Báo Thử Nghiệm"
allowed_domains = ["127.0.0.1"]
start_urls = ["{base}/"]
sitemaps_from_robots = false
article_patterns = ['/bai-viet/[a-z0-9-]+-\\d+\\.html']
[source.politeness]
download_delay = 0
autothrottle = false
retries = 0
"""


@pytest.mark.slow
@pytest.mark.parametrize("robots, fetched, recorded", [
    (Page(b"oops", 500, {"Content-Type": "text/plain"}), False, "robots:server_error"),
    (Page(INCAPSULA, 200), False, "robots:challenge"),
    (Page(b"<html>404</html>", 404), True, None),
    (Page(b"User-agent: *\nDisallow: /bai-viet/\n", 200, {"Content-Type": "text/plain"}), False, None),
], ids=["5xx", "challenge", "404", "disallowed"])
def test_robots_policy_in_a_crawl(serve_site, tmp_path: Path, robots: Page, fetched: bool,
                                  recorded: str | None, fresh_db: Callable[..., str]) -> None:
    site = serve_site(_site(robots))
    (tmp_path / "s.toml").write_text(_sources(site.base), encoding="utf-8")
    db = fresh_db("a.db")
    r = run_cli("crawl", "fixture", "--quiet", env={"VNARCHIVE_DB": db,
                                                    "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")})
    paths = site.paths_requested()
    assert ("/bai-viet/bai-so-1.html" in paths) is fetched, (r.stdout, r.stderr)
    if recorded:  # disallow all: not even the home page
        assert "/" not in paths
    con = archive_sql(db)
    (errors,) = con.execute("select cast(errors as text) from crawl_runs order by id desc limit 1").fetchone()
    con.close()
    if recorded:
        assert json.loads(errors).get(recorded) == 1, errors
