"""FAULTS.md C: network and server faults, each a real crawl (`vnarchive crawl` in a subprocess) of loopback
servers the test starts.  C1 (Retry-After) is tests/test_middlewares.py, C2 and C5 tests/test_outcomes.py."""

from __future__ import annotations

import gzip
import http.server
import socket
import ssl
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Page, _handler, run_cli
from tests.conftest import Site as _Site
from tests.faultkit import (
    ROBOTS_ALLOW,
    RawServer,
    http_head,
    mock_resolver,
    one,
    q,
    run_errors,
    setup,
    skipped,
    source_toml,
)
from tests.sitefixture import article_html, listing_html, paragraphs

pytestmark = pytest.mark.slow

ROBOTS = Page(ROBOTS_ALLOW, headers={"Content-Type": "text/plain"})


def _article(n: int) -> Page:
    return Page(article_html(n, f"Hội nghị số {n} về an ninh trật tự tại Bình Định", paragraphs(n)))


# ---------------------------------------------------------------- C3 slow-loris, a server that never answers

@pytest.fixture
def slow_site() -> Iterator[RawServer]:
    page = article_html(1, "Hội nghị số 1 về an ninh trật tự tại Bình Định", paragraphs(1, 30))

    def handle(c: socket.socket, path: str, req: bytes) -> None:
        if path == "/robots.txt":
            c.sendall(http_head(len(ROBOTS_ALLOW), "text/plain") + ROBOTS_ALLOW)
        elif path == "/":
            body = listing_html(["/bai-viet/tron-1.html", "/bai-viet/nho-giot-2.html", "/bai-viet/im-lang-3.html"])
            c.sendall(http_head(len(body)) + body)
        elif path.startswith("/bai-viet/nho-giot-"):  # a byte every half second, for ever
            c.sendall(http_head(len(page)))
            for b in page:
                c.sendall(bytes([b]))
                time.sleep(0.5)
        elif path.startswith("/bai-viet/im-lang-"):  # accepts, reads, never writes
            time.sleep(60)
        else:
            c.sendall(http_head(len(page)) + page)

    s = RawServer(handle)
    yield s
    s.close()


def test_trickle_and_silent_servers_fail_at_the_timeout_and_the_rest_is_crawled(slow_site: RawServer,
                                                                               tmp_path: Path) -> None:
    """FAULTS C3: a slow-loris page and a server that never answers fail at DOWNLOAD_TIMEOUT (3 s here), are
    recorded as timeouts, never stored; the healthy page of the same crawl is archived meanwhile."""
    db, env = setup(tmp_path, source_toml(slow_site.base, timeout=3, retries=0))
    t0 = time.monotonic()
    r = run_cli("crawl", "fixture", "-q", env=env, timeout=120)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr  # 2 of 5 given up: not most
    assert took < 3 + 25, f"the crawl took {took:.0f} s: a trickling page held it past its timeout"
    assert skipped(db) == {"nho-giot-2.html": "unreachable:timeout", "im-lang-3.html": "unreachable:timeout"}
    assert q(db, "select canonical_url from articles") == [(f"{slow_site.base}/bai-viet/tron-1.html",)]
    assert one(db, "select count(*) from versions") == 1
    assert one(db, "select count(*) from captures where url like '%nho-giot%' or url like '%im-lang%'") == 0
    starts = {p: t for t, p in slow_site.log}
    assert starts["/bai-viet/tron-1.html"] < starts["/bai-viet/nho-giot-2.html"] + 3, "the healthy page waited"


# ---------------------------------------------------------------- C4 DNS failure, slow DNS

def test_names_that_do_not_resolve_are_classified_and_the_crawl_goes_on(serve_site, tmp_path: Path) -> None:
    """FAULTS C4: article links on hosts whose names do not resolve (one at once, one after 3 s): the failure is
    classified `dns`, never crashes the spider, the rest of the source is archived.  A mock resolver answers
    (tests/faultkit.py): nothing is looked up on the network."""
    links = ["/bai-viet/bai-so-1.html", "http://tin.invalid/bai-viet/mat-2.html",
             "http://cham.invalid/bai-viet/cham-3.html"]
    site = serve_site({"/robots.txt": ROBOTS, "/": Page(listing_html(links)), "/bai-viet/bai-so-1.html": _article(1)})
    dns_env, lookups = mock_resolver(tmp_path, slow={"cham.invalid": 3.0})
    db, env = setup(tmp_path, source_toml(site.base, domains='["127.0.0.1", "tin.invalid", "cham.invalid"]',
                                          retries=1), **dns_env)
    r = run_cli("crawl", "fixture", "-q", env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert one(db, "select count(*) from articles") == 1
    errors = run_errors(db)
    # the host's robots.txt is the first request to fail: RFC 9309 "unreachable", nothing fetched from the host
    assert errors.get("robots:unreachable", 0) + errors.get("dns", 0) >= 2, errors
    names = lookups.read_text().split()
    assert {"tin.invalid", "cham.invalid"} <= set(names), names
    assert max(names.count("tin.invalid"), names.count("cham.invalid")) <= 2, "lookups must be bounded"
    assert all(n in ("tin.invalid", "cham.invalid", "127.0.0.1") for n in names), names


# ---------------------------------------------------------------- C6 redirect loops and long chains

def test_redirect_loops_and_long_chains_stop_at_the_limit(serve_site, tmp_path: Path) -> None:
    """FAULTS C6: an A->B->A loop and a 40-hop chain stop after REDIRECT_MAX_TIMES (10): at most 11 requests
    each, the crawl ends, the other article is archived, the looping URLs are not."""
    pages: dict[str, Any] = {"/robots.txt": ROBOTS, "/bai-viet/bai-so-1.html": _article(1),
                             "/": Page(listing_html(["/bai-viet/bai-so-1.html", "/bai-viet/vong-2.html",
                                                     "/bai-viet/chuoi-100.html"])),
                             "/bai-viet/vong-2.html": Page(b"", 302, {"Location": "{base}/bai-viet/vong-3.html"}),
                             "/bai-viet/vong-3.html": Page(b"", 302, {"Location": "{base}/bai-viet/vong-2.html"})}
    for n in range(100, 140):
        pages[f"/bai-viet/chuoi-{n}.html"] = Page(b"", 302, {"Location": f"{{base}}/bai-viet/chuoi-{n + 1}.html"})
    site = serve_site(pages)
    db, env = setup(tmp_path, source_toml(site.base))
    t0 = time.monotonic()
    r = run_cli("crawl", "fixture", "-q", env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert time.monotonic() - t0 < 60
    paths = site.paths_requested()
    loop = [p for p in paths if "/vong-" in p]
    chain = [p for p in paths if "/chuoi-" in p]
    assert 2 <= len(loop) <= 11, loop
    assert 2 <= len(chain) <= 11, chain
    assert "/bai-viet/chuoi-139.html" not in paths
    assert q(db, "select canonical_url from articles") == [(f"{site.base}/bai-viet/bai-so-1.html",)]
    assert one(db, "select count(*) from versions") == 1


# ---------------------------------------------------------------- C7 non-http schemes, meta refresh to file:

def test_links_redirects_and_meta_refresh_to_other_schemes_are_never_followed(serve_site, tmp_path: Path) -> None:
    """FAULTS C7 (and E2): links to file:, ftp:, data:, s3:, gopher:, javascript:, a 302 to file:///etc/hostname
    and a meta refresh to it: none followed, nothing of the file stored, the refusals counted."""
    secret = Path("/etc/hostname").read_bytes().strip() if Path("/etc/hostname").exists() else b"\0none"
    schemes = ["file:///etc/hostname", "ftp://127.0.0.1/bai-viet/f-7.html", "data:text/html,<h1>x-8</h1>",
               "s3://bucket/bai-viet/s-9.html", "gopher://127.0.0.1/bai-viet/g-10.html", "javascript:alert(11)"]
    pages: dict[str, Any] = {
        "/robots.txt": ROBOTS, "/bai-viet/bai-so-1.html": _article(1),
        "/": Page(listing_html(["/bai-viet/bai-so-1.html", "/bai-viet/chuyen-2.html", "/bai-viet/lam-moi-3.html",
                                *schemes])),
        "/bai-viet/chuyen-2.html": Page(b"", 302, {"Location": "file:///etc/hostname"}),
        "/bai-viet/lam-moi-3.html": Page(b'<html><head><meta http-equiv="refresh" content="0;url=file:///etc/hostname">'
                                         b"</head><body>...</body></html>"),
    }
    site = serve_site(pages)
    db, env = setup(tmp_path, source_toml(site.base))
    r = run_cli("crawl", "fixture", "-q", env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    for (body,) in q(db, "select body from captures where body is not null"):
        assert secret not in zlib.decompress(body)
    for (text,) in q(db, "select text from versions"):
        assert secret.decode(errors="replace") not in text
    assert q(db, "select canonical_url from articles") == [(f"{site.base}/bai-viet/bai-so-1.html",)]
    # the redirect to file: is refused and counted (the meta refresh is never followed: a page, not an article)
    assert run_errors(db).get("refused:bad_scheme", 0) >= 1, run_errors(db)
    assert "refused the redirect" in r.stderr and "file:///etc/hostname" in r.stderr
    assert not any("hostname" in p for p in site.paths_requested())


# ---------------------------------------------------------------- C8 crawl traps

class TrapPages(dict):  # type: ignore[type-arg]
    """An endless calendar: every /chuyen-muc/lich-N page links to ten fresh calendar pages, its ?page=N+1,
    session-id variants and ten fresh article URLs (short pages, not articles)."""

    def __init__(self, base: dict[str, Page]) -> None:
        super().__init__(base)
        self.n = 0

    def get(self, path: str, default: Any = None) -> Any:  # type: ignore[override]
        if path in self:
            return self[path]
        if path.startswith("/chuyen-muc/lich-") or path.startswith("/bai-viet/bay-"):
            self.n += 1
            k = self.n
            page = int(path.rsplit("=", 1)[1]) if "?page=" in path else 1
            links = [f"/chuyen-muc/lich-{k}{i}" for i in range(10)]
            links += [f"/chuyen-muc/lich-{k}?page={page + 1}", f"/chuyen-muc/lich-{k};jsessionid={k}x{page}"]
            links += [f"/bai-viet/bay-{k}-{i}.html" for i in range(10)]
            return Page(listing_html(links))
        return default


def test_an_endless_calendar_trap_ends_within_the_page_budget(serve_site, tmp_path: Path) -> None:
    """FAULTS C8: a trap whose every page links to ten fresh pages and its next page: the run ends within its
    page budget (limits.max_pages = 40), with the requests and the recorded rows bounded by it."""
    pages = TrapPages({"/robots.txt": ROBOTS, "/": Page(listing_html(["/chuyen-muc/lich-0"]))})
    site = serve_site({})
    site.pages = pages
    db, env = setup(tmp_path, source_toml(site.base, limits="max_pages = 40"))
    t0 = time.monotonic()
    r = run_cli("crawl", "fixture", "-q", env=env, timeout=180)
    assert time.monotonic() - t0 < 90
    assert r.returncode in (0, 1), r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    n = len(site.paths_requested())
    assert 10 < n <= 40 + 8, f"{n} requests for a budget of 40 (+ robots.txt and what was in flight)"
    assert one(db, "select count(*) from skipped_pages") + one(db, "select count(*) from captures") <= 2 * 48
    assert one(db, "select status from crawl_runs") in ("finished", "failed")


# ---------------------------------------------------------------- C9 robots.txt edge cases

def _robots_site(serve_site: Any, robots: Any) -> _Site:
    site: _Site = serve_site({
        "/robots.txt": robots, "/": Page(listing_html(["/bai-viet/bai-so-1.html", "/private/bai-viet/bi-mat-9.html"])),
        "/bai-viet/bai-so-1.html": _article(1), "/private/bai-viet/bi-mat-9.html": _article(9)})
    return site


def test_robots_txt_that_times_out_disallows_the_host_for_the_run(serve_site, tmp_path: Path) -> None:
    """FAULTS C9: robots.txt answering after the timeout is "unreachable" (RFC 9309): nothing else is asked of
    the host this run, recorded as robots:unreachable, and the run is a failure in plain words."""
    def slow() -> Page:
        time.sleep(5)
        return ROBOTS

    site = _robots_site(serve_site, slow)
    db, env = setup(tmp_path, source_toml(site.base, timeout=2))
    r = run_cli("crawl", "fixture", "-q", env=env, timeout=120)
    assert site.paths_requested() == ["/robots.txt"], site.paths_requested()
    assert run_errors(db).get("robots:unreachable") == 1, run_errors(db)
    assert r.returncode == 1 and "nothing could be reached" in r.stdout, r.stdout


@pytest.mark.parametrize("robots, fetched", [
    # a 2 MB file: its first group is read, a path it disallows is never asked for
    (b"User-agent: *\nDisallow: /private/\n" + b"".join(b"Disallow: /x%d/\n" % i for i in range(150_000)), True),
    # a group for our User-agent wins over the * group
    (b"User-agent: vnarchive\nDisallow: /bai-viet/\nDisallow: /private/\n\nUser-agent: *\nAllow: /\n", False),
    # ...and a group for another agent says nothing to us
    (b"User-agent: otherbot\nDisallow: /\n\nUser-agent: *\nDisallow: /private/\n", True),
], ids=["2MB", "our-group", "other-agent"])
def test_robots_txt_groups_and_a_huge_file(serve_site, tmp_path: Path, robots: bytes, fetched: bool) -> None:
    """FAULTS C9: a 2 MB robots.txt, a group naming our agent, a group naming another: 0 requests to
    disallowed paths, the allowed article fetched."""
    site = _robots_site(serve_site, Page(robots, headers={"Content-Type": "text/plain"}))
    db, env = setup(tmp_path, source_toml(site.base))
    r = run_cli("crawl", "fixture", "-q", env=env, timeout=120)
    paths = site.paths_requested()
    assert not any(p.startswith("/private/") for p in paths), paths
    assert ("/bai-viet/bai-so-1.html" in paths) is fetched, (paths, r.stdout, r.stderr)
    assert one(db, "select count(*) from articles") == (1 if fetched else 0)


def test_robots_txt_crawl_delay_spaces_the_requests(serve_site, tmp_path: Path) -> None:
    """FAULTS C9: `Crawl-delay: 2` for our agent: requests to the host at least 2 s apart (less jitter),
    though the source itself asks for no delay and 4 at once."""
    times: list[float] = []
    pages: dict[str, Any] = {"/robots.txt": Page(b"User-agent: *\nCrawl-delay: 2\nDisallow: /private/\n",
                                                 headers={"Content-Type": "text/plain"}),
                             "/": Page(listing_html([f"/bai-viet/bai-so-{n}.html" for n in range(1, 4)]))}
    for n in range(1, 4):
        def page(n: int = n) -> Page:
            times.append(time.monotonic())
            return _article(n)
        pages[f"/bai-viet/bai-so-{n}.html"] = page
    site = serve_site(pages)
    db, env = setup(tmp_path, source_toml(site.base))
    r = run_cli("crawl", "fixture", "-q", env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert one(db, "select count(*) from articles") == 3
    gaps = [b - a for a, b in zip(sorted(times), sorted(times)[1:], strict=False)]
    assert min(gaps) >= 1.9, f"requests {gaps} s apart under Crawl-delay: 2"


# ---------------------------------------------------------------- C10 hostile sitemaps

def test_a_self_including_index_a_50k_gz_sitemap_and_html_as_sitemap(serve_site, tmp_path: Path) -> None:
    """FAULTS C10: a sitemap index that includes itself is fetched once; a gzipped 50,000-URL sitemap is read
    within the run's budget (limits.max_pages = 15); an HTML error page served with 200 as a sitemap gives 0
    URLs and is counted (sitemap_empty_or_invalid), never a crash."""
    urls = "".join(f"<url><loc>{{base}}/bai-viet/bai-so-{n}.html</loc></url>" for n in range(1, 50_001))
    big = gzip.compress(('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                         f"{urls}</urlset>").encode())
    index = (b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             b"<sitemap><loc>{base}/sitemap.xml</loc></sitemap><sitemap><loc>{base}/sitemap-1.xml.gz</loc></sitemap>"
             b"<sitemap><loc>{base}/sitemap-loi.xml</loc></sitemap></sitemapindex>")
    pages: dict[str, Any] = {"/robots.txt": ROBOTS, "/": Page(listing_html([])),
                             "/sitemap.xml": Page(index, headers={"Content-Type": "application/xml"}),
                             "/sitemap-1.xml.gz": Page(big, headers={"Content-Type": "application/x-gzip"}),
                             "/sitemap-loi.xml": Page(b"<html><body><h1>L\xe1\xbb\x97i</h1></body></html>")}
    site = serve_site({})

    class Pages(dict):  # type: ignore[type-arg]
        def get(self, path: str, default: Any = None) -> Any:  # type: ignore[override]
            if path.startswith("/bai-viet/bai-so-"):
                return _article(int(path.rsplit("-", 1)[1].split(".")[0]))
            return super().get(path, default)

    site.pages = Pages(pages)

    class Body(bytes):  # the {base} substitution over a gzip body would corrupt it: serve it raw
        def replace(self, *a: Any) -> bytes:  # type: ignore[override]
            return bytes(self)

    site.pages["/sitemap-1.xml.gz"].body = Body(gzip.compress(gzip.decompress(big).replace(b"{base}", site.base.encode())))
    db, env = setup(tmp_path, source_toml(site.base, extra=f'sitemaps = ["{site.base}/sitemap.xml"]',
                                          limits="max_pages = 15"))
    t0 = time.monotonic()
    r = run_cli("crawl", "fixture", "-q", env=env, timeout=180)
    assert time.monotonic() - t0 < 90
    assert "Traceback" not in r.stderr, r.stderr
    paths = site.paths_requested()
    assert paths.count("/sitemap.xml") == 1 and paths.count("/sitemap-1.xml.gz") == 1, paths
    assert len(paths) <= 15 + 8, len(paths)
    assert one(db, "select count(*) from articles") >= 1  # URLs from the gzipped sitemap were read and fetched
    assert run_errors(db).get("sitemap_empty_or_invalid", 0) >= 1, run_errors(db)


# ---------------------------------------------------------------- C11 TLS

@pytest.fixture
def tls_site(tmp_path: Path) -> Iterator[_Site]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                           "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                           "-out", str(cert)], capture_output=True)
    if made.returncode:
        pytest.skip(f"openssl could not make a certificate: {made.stderr[-200:]!r}")
    site = _Site({"/robots.txt": ROBOTS, "/": Page(listing_html(["/bai-viet/bai-so-1.html"])),
                  "/bai-viet/bai-so-1.html": _article(1)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    site.base = f"https://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield site
    server.shutdown()
    server.server_close()


def test_a_self_signed_certificate_is_refused(tls_site: _Site, tmp_path: Path) -> None:
    """FAULTS C11: an HTTPS source with a self-signed certificate is not fetched (verification is on), and the
    run says nothing could be reached."""
    db, env = setup(tmp_path, source_toml(tls_site.base))
    r = run_cli("crawl", "fixture", "-q", env=env, timeout=120)
    assert r.returncode == 1 and "nothing could be reached" in r.stdout, r.stdout + r.stderr
    assert tls_site.log == [], "a request was sent over a connection with an unverified certificate"
    assert one(db, "select count(*) from articles") == 0


def test_a_source_written_down_as_an_exception_is_fetched_and_the_crawl_says_so(tls_site: _Site,
                                                                                 tmp_path: Path) -> None:
    """FAULTS C11: ``verify_certificates = false`` in the sources file is the per-source exception: that source
    is fetched over the unverified connection, and the crawl warns that it was."""
    db, env = setup(tmp_path, source_toml(tls_site.base, extra="verify_certificates = false"))
    r = run_cli("crawl", "fixture", "-q", env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "certificates are not verified" in r.stderr
    assert one(db, "select count(*) from articles") == 1
