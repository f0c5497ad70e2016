"""One door out (FAULTS E1-E3, C7): every request of a crawl stays inside the source's allowed_domains, reaches
no internal address in any spelling, and uses http(s) only; loopback only by an explicit exception."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler import scope
from crawler.scope import AddressPolicy, Domains, NotAnAddress, check_url, host_address, internal_reason
from tests.conftest import Page, archive_sql, run_cli
from tests.sitefixture import article_html, listing_html, paragraphs


@pytest.fixture(autouse=True)
def _fresh_policy() -> Iterator[None]:
    scope.reset()
    yield
    scope.reset()


# ---------------------------------------------------------------- addresses in every spelling

@pytest.mark.parametrize(("host", "addr"), [
    ("127.0.0.1", "127.0.0.1"), ("2130706463", "127.0.0.31"), ("0x7f00001f", "127.0.0.31"),
    ("127.1", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("127.0.0.1.", "127.0.0.1"),
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1"), ("::1", "::1"), ("[fe80::1%eth0]", "fe80::1"),
    ("169.254.169.254", "169.254.169.254"),
])
def test_ip_literals_in_any_spelling(host: str, addr: str) -> None:
    assert host_address(host) == ipaddress.ip_address(addr)


@pytest.mark.parametrize("host", ["baochinhphu.vn", "m.vnexpress.net", "0x.vn", "1e100.net", "deadbeef"])
def test_names_are_not_addresses(host: str) -> None:
    assert host_address(host) is None


def test_a_numeric_host_that_is_no_address_is_refused() -> None:
    with pytest.raises(NotAnAddress):
        host_address("99999999999")
    assert check_url("http://99999999999/", None).kind == "blocked_address"  # type: ignore[union-attr]


@pytest.mark.parametrize(("addr", "why"), [
    ("127.0.0.1", "loopback"), ("10.0.0.1", "private"), ("192.168.1.1", "private"), ("172.16.0.1", "private"),
    ("169.254.169.254", "link_local"), ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"),
    ("100.64.0.1", "not_global"), ("240.0.0.1", "any"), ("255.255.255.255", "any"),
    ("::1", "loopback"), ("fe80::1", "link_local"), ("fc00::1", "private"), ("ff02::1", "multicast"),
    ("::ffff:10.0.0.1", "private"), ("::ffff:127.0.0.1", "loopback"), ("2002:7f00:1::", "loopback"),
    ("64:ff9b::a00:1", "private"),
])
def test_internal_addresses(addr: str, why: str) -> None:
    got = internal_reason(ipaddress.ip_address(addr))
    assert got is not None, addr
    if why != "any":  # 240/4 and the broadcast address: reserved or private, as the Python version sees it
        assert got == why, (addr, got)


@pytest.mark.parametrize("addr", ["8.8.8.8", "113.160.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses(addr: str) -> None:
    assert internal_reason(ipaddress.ip_address(addr)) is None


# ---------------------------------------------------------------- the decision

CHINHPHU = Domains.of(["baochinhphu.vn"])


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://baochinhphu.vn/x", "data:text/html,hi",
                                 "javascript:alert(1)", "s3://bucket/key", "gopher://baochinhphu.vn/"])
def test_only_http_and_https(url: str) -> None:
    r = check_url(url, CHINHPHU)
    assert r is not None and r.kind == "bad_scheme"


@pytest.mark.parametrize("url", ["https://baochinhphu.vn/a.htm", "http://BAOCHINHPHU.VN:80/a", "https://m.baochinhphu.vn/x",
                                 "https://baochinhphu.vn./x"])
def test_in_scope(url: str) -> None:
    assert check_url(url, CHINHPHU, AddressPolicy()) is None


@pytest.mark.parametrize("url", ["https://baochinhphu.vn.evil.test/a", "https://evil-baochinhphu.vn/a",
                                 "https://xbaochinhphu.vn/", "http://127.0.0.1/", "http://2130706433/",
                                 "http://[::1]/", "http://169.254.169.254/latest/meta-data/", "http:///nohost"])
def test_off_site_and_look_alikes(url: str) -> None:
    r = check_url(url, CHINHPHU, AddressPolicy())
    assert r is not None and r.kind == "offsite", (url, r)


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://2130706433/", "http://0x7f000001/", "http://127.1/",
                                 "http://[::ffff:127.0.0.1]/", "http://10.0.0.1/", "http://169.254.169.254/",
                                 "http://[::1]:8080/", "http://0.0.0.0/"])
def test_internal_literals_are_blocked_even_without_a_domain_rule(url: str) -> None:
    r = check_url(url, None, AddressPolicy())
    assert r is not None and r.kind == "blocked_address", (url, r)


def test_an_address_named_in_allowed_domains_is_allowed_in_every_spelling_and_no_other() -> None:
    domains = Domains.of(["127.0.0.2", "bao.test"])
    pol = AddressPolicy(named=set(domains.addresses))
    for url in ("http://127.0.0.2:8080/", "http://2130706434:8080/", "http://[::ffff:127.0.0.2]/"):
        assert check_url(url, domains, pol) is None, url
    assert check_url("http://127.0.0.3:8080/", domains, pol).kind == "offsite"  # type: ignore[union-attr]
    assert check_url("http://127.0.0.250:9/", domains, pol).kind == "offsite"  # type: ignore[union-attr]


def test_the_allow_list_opens_its_range_only() -> None:
    pol = AddressPolicy(allow=scope.parse_networks("127.0.0.0/8"))
    assert pol.refusal(ipaddress.ip_address("127.0.0.5"), literal=False) is None
    assert pol.refusal(ipaddress.ip_address("::ffff:127.0.0.5"), literal=False) is None
    assert pol.refusal(ipaddress.ip_address("::1"), literal=False) == "loopback"
    assert pol.refusal(ipaddress.ip_address("10.0.0.1"), literal=False) == "private"
    with pytest.raises(ValueError, match="VNARCHIVE_ALLOW_ADDRESSES"):
        scope.parse_networks("127.0.0.0/8, localhost")


# ---------------------------------------------------------------- the resolver

class _Receiver:
    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.complete = False

    def resolutionBegan(self, resolution: Any) -> None:  # noqa: N802
        pass

    def addressResolved(self, address: Any) -> None:  # noqa: N802
        self.addresses.append(address.host)

    def resolutionComplete(self) -> None:  # noqa: N802
        self.complete = True


def _resolve(name: str, *addrs: str) -> _Receiver:
    from twisted.internet.address import IPv4Address, IPv6Address

    out = _Receiver()
    f = scope._Filtering(out, name)
    for a in addrs:
        f.addressResolved(IPv6Address("TCP", a, 80) if ":" in a else IPv4Address("TCP", a, 80))
    f.resolutionComplete()
    assert out.complete
    return out


def test_a_name_resolving_inside_is_not_connected_to_and_remembered() -> None:
    scope.configure(named=[ipaddress.ip_address("127.0.0.1")])  # a literal exemption is no exemption for names
    assert _resolve("evil.test", "127.0.0.1", "::1").addresses == []
    assert check_url("http://evil.test/x", None).kind == "blocked_address"  # type: ignore[union-attr]
    # a name resolving to public and internal addresses keeps only the public ones (rebinding)
    assert _resolve("mixed.test", "10.0.0.1", "8.8.8.8").addresses == ["8.8.8.8"]
    assert check_url("http://mixed.test/x", None) is None


def test_the_resolver_lets_named_literals_and_allowed_ranges_through() -> None:
    scope.configure(named=[ipaddress.ip_address("127.0.0.2")])
    assert _resolve("127.0.0.2", "127.0.0.2").addresses == ["127.0.0.2"]
    assert _resolve("127.0.0.3", "127.0.0.3").addresses == []
    scope.configure(allow=scope.parse_networks("127.0.0.0/8"))
    assert _resolve("localhost", "127.0.0.1", "::1").addresses == ["127.0.0.1"]


# ---------------------------------------------------------------- end to end: a crawl and its canaries

class Canary:
    """Counts connections, answers nothing useful."""

    def __init__(self, host: str) -> None:
        self.hits = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            try:
                c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>canary</h1>")
            finally:
                c.close()

    def close(self) -> None:
        self.stopped = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def canaries() -> Iterator[tuple[Canary, Canary]]:
    c2, c1 = Canary("127.0.0.2"), Canary("127.0.0.1")
    yield c2, c1
    c2.close()
    c1.close()


def _toml(base: str, domains: str) -> str:
    return f"""
[[source]]
id = "fixture"
name = "Báo Thử Nghiệm"
allowed_domains = {domains}
start_urls = ["{base}/"]
sitemaps = ["{base}/sitemap.xml"]
article_patterns = ['/bai-viet/[a-z0-9-]+-\\d+\\.html']
[source.politeness]
download_delay = 0
concurrency = 4
autothrottle = false
retries = 1
timeout = 10
"""


def _errors(db: str) -> dict[str, int]:
    con = archive_sql(db)
    row = con.execute("select cast(errors as text) from crawl_runs order by id desc limit 1").fetchone()
    con.close()
    return json.loads(row[0] or "{}")


@pytest.mark.slow
def test_no_request_leaves_through_any_door(serve_site, canaries: tuple[Canary, Canary], tmp_path: Path,
                                            fresh_db: Callable[..., str]) -> None:
    c2, c1 = canaries
    evil = [f"http://127.0.0.2:{c2.port}", f"http://2130706434:{c2.port}", f"http://0x7f000002:{c2.port}",
            f"http://127.2:{c2.port}", f"http://[::ffff:127.0.0.2]:{c2.port}", f"http://localhost:{c1.port}",
            "http://169.254.169.254", "http://10.0.0.1", "http://[::1]", "http://127.0.0.1.evil.test"]
    links = [f"{e}/bai-viet/ngoai-{i}.html" for i, e in enumerate(evil)]
    pages: dict[str, Any] = {
        "/robots.txt": Page(b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}),
        "/": Page(listing_html(["/bai-viet/bai-so-1.html", "/bai-viet/chuyen-2.html", "/bai-viet/chuyen-3.html",
                                "/bai-viet/chuyen-4.html", "/bai-viet/lam-moi-5.html", *links])),
        "/bai-viet/bai-so-1.html": Page(article_html(1, "Hội nghị về an ninh trật tự", paragraphs(1))),
        # redirects out: to the canary, to a name that resolves to loopback, to a file
        "/bai-viet/chuyen-2.html": Page(b"", 302, {"Location": f"http://127.0.0.2:{c2.port}/bai-viet/x-2.html"}),
        "/bai-viet/chuyen-3.html": Page(b"", 302, {"Location": f"http://localhost:{c1.port}/bai-viet/x-3.html"}),
        "/bai-viet/chuyen-4.html": Page(b"", 302, {"Location": "file:///etc/hostname"}),
        "/bai-viet/lam-moi-5.html": Page(
            f'<html><head><meta http-equiv="refresh" content="0;url=http://0x7f000002:{c2.port}/bai-viet/x-5.html">'
            "</head><body>...</body></html>".encode()),
        "/sitemap.xml": Page(("<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
                              + "".join(f"<url><loc>{u}</loc></url>" for u in links)
                              + "</urlset>").encode(), headers={"Content-Type": "application/xml"}),
    }
    site = serve_site(pages)
    (tmp_path / "s.toml").write_text(_toml(site.base, '["127.0.0.1", "localhost"]'), encoding="utf-8")
    db = fresh_db("a.db")
    env = {"VNARCHIVE_DB": db, "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}
    for _ in range(2):  # the second crawl revisits nothing new, but asks again for what failed
        r = run_cli("crawl", "fixture", "--quiet", env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert c2.hits == 0 and c1.hits == 0, "a request reached a canary"
        errors = _errors(db)
        assert errors.get("refused:offsite", 0) >= 8, errors
        assert errors.get("refused:blocked_address", 0) >= 1, errors  # localhost, a name resolving to loopback
    con = archive_sql(db)
    hostname = Path("/etc/hostname").read_bytes().strip() if Path("/etc/hostname").exists() else b"\0none"
    for (body,) in con.execute("select body from captures where body is not null"):
        assert hostname not in zlib.decompress(body)
    assert con.execute("select count(*) from articles").fetchone()[0] == 1
    con.close()


@pytest.mark.slow
def test_loopback_hosts_only_by_the_explicit_allow_list(serve_site, tmp_path: Path,
                                                         fresh_db: Callable[..., str]) -> None:
    pages = {"/robots.txt": Page(b"User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"}),
             "/": Page(listing_html(["/bai-viet/bai-so-1.html"])),
             "/bai-viet/bai-so-1.html": Page(article_html(1, "Hội nghị về an ninh trật tự", paragraphs(1))),
             "/sitemap.xml": Page(b"<urlset/>", headers={"Content-Type": "application/xml"})}
    site = serve_site(pages)
    base = site.base.replace("127.0.0.1", "localhost")
    (tmp_path / "s.toml").write_text(_toml(base, '["localhost"]'), encoding="utf-8")
    db = fresh_db("a.db")
    env = {"VNARCHIVE_DB": db, "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}
    r = run_cli("crawl", "fixture", "--quiet", env=env)
    assert r.returncode == 1 and "nothing could be reached" in r.stdout, r.stdout + r.stderr
    assert site.log == [], "a name resolving to loopback was connected to without the allow-list"
    r = run_cli("crawl", "fixture", "--quiet", env={**env, "VNARCHIVE_ALLOW_ADDRESSES": "127.0.0.0/8"})
    assert r.returncode == 0, r.stdout + r.stderr
    con = archive_sql(db)
    assert con.execute("select count(*) from articles").fetchone()[0] == 1
    con.close()
