"""crawler/spider.py end to end (real crawls in a subprocess): entry requests that redirect to themselves,
sitemaps that are partial, malformed links, and what the summary counts."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import Page, archive_sql, run_cli
from tests.sitefixture import article_html, listing_html, paragraphs, rss_xml, sitemap_xml

pytestmark = pytest.mark.slow


class CookieWall:
    """qdnd.vn's habit: without its cookie, every entry point answers 302 to itself and sets the cookie.  One
    cookie per path here, so that every entry point redirects to itself once whatever order they are fetched in
    (with one cookie for the site, only the first would)."""

    def __init__(self, pages: dict[str, Page]) -> None:
        self.pages = pages
        self.log: list[tuple[str, bool]] = []
        wall = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                name = "s" + "".join(c if c.isalnum() else "_" for c in self.path)
                has_cookie = f"{name}=1" in (self.headers.get("Cookie") or "")
                wall.log.append((self.path, has_cookie))
                page = wall.pages.get(self.path)
                if page is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if not has_cookie and self.path != "/robots.txt":
                    self.send_response(302)
                    self.send_header("Location", self.path)
                    self.send_header("Set-Cookie", f"{name}=1; Path=/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = page.body.replace(b"{base}", wall.base.encode())
                self.send_response(page.status)
                for k, v in page.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cookie_wall() -> Iterator[CookieWall]:
    pages = {
        "/robots.txt": Page(b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}),
        "/": Page(listing_html(["/bai-viet/bai-so-1.html"])),
        "/rss": Page(rss_xml(["/bai-viet/bai-so-2.html"]), headers={"Content-Type": "application/rss+xml"}),
        "/sitemap.xml": Page(sitemap_xml([("/bai-viet/bai-so-3.html", "2024-10-03T08:00:00+07:00")]),
                             headers={"Content-Type": "application/xml"}),
    }
    for n in (1, 2, 3):
        pages[f"/bai-viet/bai-so-{n}.html"] = Page(article_html(n, f"Tin số {n} về hội nghị tổng kết", paragraphs(n)))
    wall = CookieWall(pages)
    yield wall
    wall.close()


def _sources(base: str, extra: str = "") -> str:
    return f"""
[[source]]
id = "fixture"
name = "Báo Thử Nghiệm"
allowed_domains = ["127.0.0.1"]
start_urls = ["{base}/"]
feeds = ["{base}/rss"]
sitemaps = ["{base}/sitemap.xml"]
article_patterns = ['/bai-viet/[a-z0-9-]+-\\d+\\.html']
{extra}
[source.politeness]
download_delay = 0
concurrency = 2
autothrottle = false
retries = 0
"""


def test_entry_points_that_redirect_to_themselves_are_not_dropped(cookie_wall: CookieWall, tmp_path: Path,
                                                                   fresh_db: Callable[..., str]) -> None:
    (tmp_path / "s.toml").write_text(_sources(cookie_wall.base), encoding="utf-8")
    db = fresh_db("a.db")
    r = run_cli("crawl", "fixture", "--quiet", env={"VNARCHIVE_DB": db,
                                                    "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")})
    assert r.returncode == 0, r.stderr
    for path in ("/", "/rss", "/sitemap.xml"):
        assert (path, False) in cookie_wall.log and (path, True) in cookie_wall.log, path
    con = archive_sql(db)
    assert con.execute("select count(*) from articles").fetchone()[0] == 3  # from the listing, feed and sitemap
    con.close()


def test_malformed_links_are_skipped_counted_and_the_rest_of_the_page_kept(serve_site, tmp_path: Path,
                                                                            fresh_db: Callable[..., str]) -> None:
    links = ["http://[::1/bai-viet/x-9.html", "/bai-viet/bai-so-1.html", "http://127.0.0.1:99999/bai-viet/y-8.html",
             "http://127.0.0.1:abc/bai-viet/z-7.html", "/bai-viet/bai-so-2.html"]
    pages = {"/robots.txt": Page(b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}),
             "/": Page(listing_html(links)),
             "/rss": Page(rss_xml([]), headers={"Content-Type": "application/rss+xml"}),
             "/sitemap.xml": Page(sitemap_xml([]), headers={"Content-Type": "application/xml"})}
    for n in (1, 2):
        pages[f"/bai-viet/bai-so-{n}.html"] = Page(article_html(n, f"Tin số {n} về hội nghị tổng kết", paragraphs(n)))
    site = serve_site(pages)
    (tmp_path / "s.toml").write_text(_sources(site.base), encoding="utf-8")
    db = fresh_db("a.db")
    env = {"VNARCHIVE_DB": db, "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}
    r = run_cli("crawl", "fixture", "--quiet", env=env)
    assert r.returncode == 0, r.stderr
    con = archive_sql(db)
    assert con.execute("select count(*) from articles").fetchone()[0] == 2
    (errors,) = con.execute("select cast(errors as text) from crawl_runs order by id desc limit 1").fetchone()
    con.close()
    assert json.loads(errors).get("bad_url") == 3, errors


def test_a_start_url_linked_from_another_page_is_fetched_once(serve_site, tmp_path: Path,
                                                               fresh_db: Callable[..., str]) -> None:
    pages = {"/robots.txt": Page(b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}),
             "/": Page(listing_html(["/chuyen-muc/tin-tuc", "/bai-viet/bai-so-1.html"])),
             "/chuyen-muc/tin-tuc": Page(listing_html(["/", "/bai-viet/bai-so-1.html"])),
             "/bai-viet/bai-so-1.html": Page(article_html(1, "Tin số 1 về hội nghị tổng kết", paragraphs(1)))}
    site = serve_site(pages)
    toml = _sources(site.base).replace(f'start_urls = ["{site.base}/"]',
                                       f'start_urls = ["{site.base}/", "{site.base}/chuyen-muc/tin-tuc"]')
    toml = toml.replace("article_patterns", "listing_patterns = ['/chuyen-muc/[a-z-]+$', '/$']\narticle_patterns")
    (tmp_path / "s.toml").write_text(toml, encoding="utf-8")
    r = run_cli("crawl", "fixture", "--quiet", env={"VNARCHIVE_DB": fresh_db("a.db"),
                                                    "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")})
    assert r.returncode == 0, r.stderr
    paths = site.paths_requested()
    assert paths.count("/") == 1 and paths.count("/chuyen-muc/tin-tuc") == 1, paths
