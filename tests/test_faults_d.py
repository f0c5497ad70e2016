"""FAULTS.md D: hostile or malformed content, each a real crawl (`vnarchive crawl` in a subprocess) of loopback
servers the test starts.  D6 (XML bombs, XXE, an external DTD canary) is tests/test_discovery.py; the pure
decode of D5 is tests/test_decode.py; the worker timeout and memory cap of D4 tests/test_workers.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import unicodedata
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Page, run_cli
from tests.faultkit import ROBOTS_ALLOW, RawServer, http_head, one, q, run_errors, setup, skipped, source_toml
from tests.sitefixture import article_html, listing_html, paragraphs

pytestmark = pytest.mark.slow

ROBOTS = Page(ROBOTS_ALLOW, headers={"Content-Type": "text/plain"})
MiB = 1024 * 1024
TITLE = "Hội nghị số 1 về an ninh trật tự tại Bình Định"


def _article(n: int, title: str | None = None) -> Page:
    return Page(article_html(n, title or f"Hội nghị số {n} về an ninh trật tự tại Bình Định", paragraphs(n)))


class Raw(bytes):
    """A body served as is (conftest's handler substitutes {base} in bodies; compressed bytes must not be)."""

    def replace(self, *a: Any) -> bytes:  # type: ignore[override]
        return bytes(self)


_WRAPPER = """
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
sys.stdout.write(r.stdout)
sys.stderr.write(r.stderr)
sys.stderr.write("\\nPEAK_RSS_KB=%d\\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(r.returncode)
"""


def run_measured(*args: str, env: dict[str, str], timeout: float = 300) -> tuple[subprocess.CompletedProcess[str], int]:
    """`vnarchive ARGS` with the peak RSS (MB) of its largest process (the crawl or one of its workers)."""
    r = subprocess.run([sys.executable, "-c", _WRAPPER, sys.executable, "-m", "crawler", *args], cwd=ROOT,
                       env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout)
    kb = int(r.stderr.rsplit("PEAK_RSS_KB=", 1)[1].split()[0])
    return r, kb // 1024


# ---------------------------------------------------------------- D1, D2 compression bombs

def _bomb(wbits: int, size: int = 1024 * MiB) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    chunk = b"<html><body>" + b" " * (16 * MiB - 12)
    out = [c.compress(chunk)] + [c.compress(b" " * 16 * MiB) for _ in range(size // (16 * MiB) - 1)]
    return b"".join(out) + c.flush()


def _brotli_bomb(size: int = 1024 * MiB) -> bytes:
    import brotli

    c = brotli.Compressor(quality=5)
    out = [c.process(b" " * 16 * MiB) for _ in range(size // (16 * MiB))]
    return b"".join(out) + c.finish()


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return {"gzip": _bomb(31), "deflate": _bomb(15), "br": _brotli_bomb()}


def test_compression_bombs_with_content_encoding_are_dropped_at_the_size_cap(serve_site, tmp_path: Path,
                                                                            bombs: dict[str, bytes]) -> None:
    """FAULTS D1: 1 GiB of gzip, deflate and br behind Content-Encoding at article URLs: dropped once past
    DOWNLOAD_MAXSIZE (32 MiB) while decompressing, never stored, every process of the crawl far below the
    bomb's size; the healthy article is archived."""
    pages: dict[str, Any] = {"/robots.txt": ROBOTS, "/bai-viet/bai-so-1.html": _article(1),
                             "/": Page(listing_html(["/bai-viet/bai-so-1.html"]
                                                    + [f"/bai-viet/bom-{k}-{i}.html" for i, k in enumerate(bombs, 2)]))}
    for i, (k, body) in enumerate(bombs.items(), 2):
        pages[f"/bai-viet/bom-{k}-{i}.html"] = Page(Raw(body), headers={"Content-Type": "text/html; charset=utf-8",
                                                                        "Content-Encoding": k})
    site = serve_site(pages)
    db, env = setup(tmp_path, source_toml(site.base))
    r, peak = run_measured("crawl", "fixture", "-q", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert peak < 700, f"a crawl process reached {peak} MB on a 1 GiB bomb"
    assert q(db, "select canonical_url from articles") == [(f"{site.base}/bai-viet/bai-so-1.html",)]
    assert one(db, "select count(*) from captures where url like '%/bom-%'") == 0
    assert "DOWNLOAD_MAXSIZE" in r.stderr and "decompression" in r.stderr, r.stderr[-2000:]


def test_a_compression_bomb_is_recorded_as_too_large(serve_site, tmp_path: Path, bombs: dict[str, bytes]) -> None:
    """FAULTS D1: the URL of a dropped bomb is recorded as too large (`unreachable:too_large`, listed by
    `vnarchive skipped`) and named in the run's errors by kind, not dropped in silence."""
    pages: dict[str, Any] = {"/robots.txt": ROBOTS, "/bai-viet/bai-so-1.html": _article(1),
                             "/": Page(listing_html(["/bai-viet/bai-so-1.html", "/bai-viet/bom-2.html"])),
                             "/bai-viet/bom-2.html": Page(Raw(bombs["gzip"]), headers={
                                 "Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"})}
    site = serve_site(pages)
    db, env = setup(tmp_path, source_toml(site.base))
    r = run_cli("crawl", "fixture", "-q", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert skipped(db).get("bom-2.html") == "unreachable:too_large", (skipped(db), run_errors(db))
    assert run_errors(db).get("too_large") == 1, run_errors(db)  # named in the summary's errors by kind
    listed = run_cli("skipped", "--reason", "unreachable:*", env=env)
    assert "bom-2.html" in listed.stdout and "too_large" in listed.stdout, listed.stdout + listed.stderr


def test_compressed_bytes_without_content_encoding_never_reach_a_decompressor(serve_site, tmp_path: Path,
                                                                              bombs: dict[str, bytes]) -> None:
    """FAULTS D2: 1 GiB of gzip and of zlib labelled text/html with no Content-Encoding: never decompressed
    (every process stays small), the raw bytes kept, the page skipped with a reason, not archived."""
    pages: dict[str, Any] = {"/robots.txt": ROBOTS, "/bai-viet/bai-so-1.html": _article(1),
                             "/": Page(listing_html(["/bai-viet/bai-so-1.html", "/bai-viet/tho-gzip-2.html",
                                                     "/bai-viet/tho-zlib-3.html"])),
                             "/bai-viet/tho-gzip-2.html": Page(Raw(bombs["gzip"])),
                             "/bai-viet/tho-zlib-3.html": Page(Raw(bombs["deflate"]))}
    site = serve_site(pages)
    db, env = setup(tmp_path, source_toml(site.base))
    r, peak = run_measured("crawl", "fixture", "-q", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert peak < 500, f"a crawl process reached {peak} MB: compressed bytes were decompressed"
    assert q(db, "select canonical_url from articles") == [(f"{site.base}/bai-viet/bai-so-1.html",)]
    reasons = skipped(db)
    assert set(reasons) == {"tho-gzip-2.html", "tho-zlib-3.html"}, reasons
    assert all(reasons.values()), reasons
    sizes = [s for (s,) in q(db, "select body_size from captures where url like '%/tho-%'")]
    assert sorted(sizes) == sorted(len(b) for b in (bombs["gzip"], bombs["deflate"])), "raw bytes not kept"


# ---------------------------------------------------------------- D3 very large pages

@pytest.fixture
def big_site() -> Iterator[RawServer]:
    para = ("<p>" + " ".join(paragraphs(3, 1)) + "</p>\n").encode()
    head = f"<html lang='vi'><head><meta charset='utf-8'><title>{TITLE}</title></head><body><h1>{TITLE}</h1>" \
           "<div class='article-body'>".encode()
    # a realistic bloated page: one article among 3 MB of inline scripts, styles and menus
    bloat = (b"<script>window.__DATA__ = " + json.dumps([{"id": i, "t": "x" * 40} for i in range(45_000)]).encode()
             + b";</script><style>" + b".c{color:red}" * 20_000 + b"</style><ul class='menu'>"
             + b"".join(b"<li><a href='/chuyen-muc/m-%d'>M\xe1\xbb\xa5c %d</a></li>" % (i, i) for i in range(5000))
             + b"</ul>")
    article = "".join(f"<p>{p}</p>" for p in paragraphs(3, 12)).encode()
    three_mb = head + article + b"</div>" + bloat + b"</body></html>"
    assert len(three_mb) > 3 * MiB
    forty_mb = head + para * (40 * MiB // len(para)) + b"</div></body></html>"

    def handle(c: socket.socket, path: str, req: bytes) -> None:
        if path == "/robots.txt":
            c.sendall(http_head(len(ROBOTS_ALLOW), "text/plain") + ROBOTS_ALLOW)
        elif path == "/":
            body = listing_html(["/bai-viet/ba-mb-1.html", "/bai-viet/bon-muoi-mb-2.html",
                                 "/bai-viet/vo-tan-3.html", "/bai-viet/noi-doi-4.html"])
            c.sendall(http_head(len(body)) + body)
        elif path.startswith("/bai-viet/ba-mb-"):
            c.sendall(http_head(len(three_mb)) + three_mb)
        elif path.startswith("/bai-viet/bon-muoi-mb-"):
            c.sendall(http_head(len(forty_mb)) + forty_mb)
        elif path.startswith("/bai-viet/vo-tan-"):  # chunked, never ends
            c.sendall(http_head(None, extra="Transfer-Encoding: chunked\r\n") + b"%x\r\n%s\r\n" % (len(head), head))
            chunk = b"%x\r\n%s\r\n" % (len(para) * 64, para * 64)
            for _ in range(200 * MiB // len(chunk)):
                c.sendall(chunk)
        elif path.startswith("/bai-viet/noi-doi-"):  # says 1 KB, sends 60 MB
            c.sendall(http_head(1024) + three_mb[:1024])
            for _ in range(20):
                c.sendall(three_mb)

    s = RawServer(handle)
    yield s
    s.close()


def test_huge_endless_and_lying_pages_are_bounded(big_site: RawServer, tmp_path: Path) -> None:
    """FAULTS D3: a 40 MB page and an endless chunked stream are aborted at DOWNLOAD_MAXSIZE (32 MiB), never
    stored, recorded as too large; a 3 MB page (an article in inline scripts, styles and menus) is stored and extracted; a page that declares 1 KB and sends 60 MB is read as its
    1 KB; every crawl process stays far below what was sent, and the crawl ends in bounded time."""
    db, env = setup(tmp_path, source_toml(big_site.base, timeout=60))
    r, peak = run_measured("crawl", "fixture", "-q", env=env, timeout=240)
    assert r.returncode in (0, 1), r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert peak < 800, f"a crawl process reached {peak} MB"
    stored = dict(q(db, "select url, body_size from captures"))
    big = {u.rsplit("/", 1)[1]: n for u, n in stored.items()}
    assert "bon-muoi-mb-2.html" not in big and "vo-tan-3.html" not in big, big
    reasons = skipped(db)
    assert reasons.get("bon-muoi-mb-2.html") == "unreachable:too_large", reasons  # announced by Content-Length
    assert reasons.get("vo-tan-3.html") == "unreachable:too_large", reasons  # cancelled while streaming
    assert big.get("ba-mb-1.html", 0) > 3 * MiB - 100_000, big
    assert q(db, "select canonical_url from articles where canonical_url like '%ba-mb-1.html'"), (skipped(db), big)
    assert big.get("noi-doi-4.html", 1024) <= 1024, big


# ---------------------------------------------------------------- D4 pathological structure

def test_pathological_pages_cost_only_themselves(serve_site, tmp_path: Path) -> None:
    """FAULTS D4: 100,000 nested <div>s, a 2 MB img attribute and 200,000 sibling elements at article URLs: the
    crawl survives, the next article is archived, each hostile page keeps its raw capture and is skipped or
    archived with a recorded outcome (never lost)."""
    nested = b"<html><body><h1>Tin</h1>" + b"<div>" * 100_000 + b"<p>x</p>" + b"</div>" * 100_000 + b"</body></html>"
    attr = b"<html><body><h1>Tin</h1><img src='" + b"a" * (2 * MiB) + b"'><p>y</p></body></html>"
    siblings = b"<html><body><h1>Tin</h1>" + b"<span>z</span>" * 200_000 + b"</body></html>"
    pages: dict[str, Any] = {"/robots.txt": ROBOTS, "/bai-viet/bai-so-1.html": _article(1),
                             "/bai-viet/long-2.html": Page(nested), "/bai-viet/thuoc-tinh-3.html": Page(attr),
                             "/bai-viet/anh-em-4.html": Page(siblings), "/bai-viet/bai-so-5.html": _article(5),
                             "/": Page(listing_html(["/bai-viet/long-2.html", "/bai-viet/thuoc-tinh-3.html",
                                                     "/bai-viet/anh-em-4.html", "/bai-viet/bai-so-1.html",
                                                     "/bai-viet/bai-so-5.html"]))}
    site = serve_site(pages)
    db, env = setup(tmp_path, source_toml(site.base, concurrency=1))
    r = run_cli("crawl", "fixture", "-q", env=env, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    arts = {u.rsplit("/", 1)[1] for (u,) in q(db, "select canonical_url from articles")}
    assert {"bai-so-1.html", "bai-so-5.html"} <= arts, (arts, skipped(db))
    settled = arts | set(skipped(db))
    assert {"long-2.html", "thuoc-tinh-3.html", "anh-em-4.html"} <= settled, (arts, skipped(db))
    assert one(db, "select count(*) from captures where url like '%long-2.html' and body is not null") == 1


# ---------------------------------------------------------------- D5 encodings

TONES = "\u0300\u0301\u0303\u0309\u0323"


def to_cp1258(text: str) -> bytes:
    """windows-1258 as Vietnamese pages have it: precomposed base letters (â ê ô ă ơ ư đ), tone marks as
    separate combining characters (what the codec cannot do by itself from NFC text)."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        try:
            out.append(ch.encode("cp1258"))
        except UnicodeEncodeError:
            d = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in d if c not in TONES))
            out.append((base + "".join(c for c in d if c in TONES)).encode("cp1258"))
    return b"".join(out)


def test_one_article_in_every_encoding_is_one_article_one_version_nfc(serve_site, tmp_path: Path) -> None:
    """FAULTS D5: one article served as UTF-8 NFC, UTF-8 NFD, windows-1258 declared in the header, only in
    <meta>, and undeclared: one article, one version, NFC text, no U+FFFD; the same article with 3 invalid bytes
    is archived with its U+FFFDs counted (decode_errors), never a crash."""
    paras = paragraphs(7)
    nfc = article_html(7, TITLE, paras).decode()
    assert unicodedata.is_normalized("NFC", nfc)
    nfd = unicodedata.normalize("NFD", nfc)
    cp = nfc.replace('<meta charset="utf-8">', "")
    cp1258 = to_cp1258(cp)
    meta1258 = to_cp1258(cp.replace(
        "<head>", '<head><meta http-equiv="Content-Type" content="text/html; charset=windows-1258">'))
    assert cp1258.decode("cp1258") != cp  # tone marks apart: the same text only once normalised
    html = "text/html"
    variants = {"/bai-viet/nfc-1.html": (nfc.encode(), "text/html; charset=utf-8"),
                "/bai-viet/nfd-2.html": (nfd.encode(), "text/html; charset=utf-8"),
                "/bai-viet/cp-header-3.html": (cp1258, "text/html; charset=windows-1258"),
                "/bai-viet/cp-meta-4.html": (meta1258, html),
                "/bai-viet/cp-none-5.html": (cp1258, html)}
    pages: dict[str, Any] = {p: Page(Raw(b), headers={"Content-Type": ct}) for p, (b, ct) in variants.items()}
    good8 = article_html(8, "Tin số 8 về phòng chống thiên tai", paragraphs(8))
    at = good8.index(b"<div class=\"article-body\"><p>") + len(b"<div class=\"article-body\"><p>")
    bad = good8[:at] + b"Ba byte h\xff\xfeng \xc3 " + good8[at:]
    pages["/bai-viet/hong-8.html"] = Page(Raw(bad))
    pages["/robots.txt"] = ROBOTS
    pages["/"] = Page(listing_html([*variants, "/bai-viet/hong-8.html"]))
    site = serve_site(pages)
    db, env = setup(tmp_path, source_toml(site.base, concurrency=1))
    r = run_cli("crawl", "fixture", "-q", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = q(db, "select a.id, v.title, v.text from articles a join versions v on v.article_id = a.id "
                 "where a.canonical_url not like '%hong-8%'")
    assert len(rows) == 1, (rows, skipped(db))
    _, title, text = rows[0]
    assert title == TITLE
    assert unicodedata.is_normalized("NFC", text) and "\ufffd" not in text and paras[1] in text
    assert one(db, "select count(*) from article_urls") >= 5  # every variant's URL leads to it
    (bad_text,) = q(db, "select v.text from versions v join articles a on v.article_id = a.id "
                        "where a.canonical_url like '%hong-8%'")[0]
    assert bad_text.count("\ufffd") >= 2
    assert one(db, "select max(decode_errors) from captures where url like '%hong-8%'") >= 2


# ---------------------------------------------------------------- D7 malformed listing sources

def test_malformed_feeds_and_a_listing_of_10000_identical_links(serve_site, tmp_path: Path) -> None:
    """FAULTS D7: feeds that are an empty body, HTML, truncated XML, XML in the wrong namespace, and a listing of
    10,000 identical links: 0 URLs from the broken feeds, each counted as discovery/feed_empty_or_invalid, the
    identical links fetched once, no crash."""
    feeds = {"/rong.rss": b"", "/html.rss": b"<html><body><h1>Trang chu</h1></body></html>",
             "/cut.rss": b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><link>',
             "/ns.rss": b'<?xml version="1.0"?><feed xmlns="urn:other"><entry><link href="{base}/bai-viet/x-9.html"/>'
                        b"</entry></feed>"}
    pages: dict[str, Any] = {p: Page(b, headers={"Content-Type": "application/rss+xml"}) for p, b in feeds.items()}
    pages["/robots.txt"] = ROBOTS
    pages["/"] = Page(listing_html(["/bai-viet/bai-so-1.html"] * 10_000))
    pages["/bai-viet/bai-so-1.html"] = _article(1)
    site = serve_site(pages)
    feeds_toml = "feeds = [" + ", ".join(f'"{site.base}{p}"' for p in feeds) + "]"
    db, env = setup(tmp_path, source_toml(site.base, extra=feeds_toml))
    r = run_cli("crawl", "fixture", "-q", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    paths = site.paths_requested()
    assert paths.count("/bai-viet/bai-so-1.html") == 1
    # a feed in another namespace is read leniently, by design (test_discovery: sitemaps without namespace)
    assert run_errors(db).get("feed_empty_or_invalid") == 3, run_errors(db)  # empty, HTML, truncated


# ---------------------------------------------------------------- D8 URL variants

def test_url_variants_of_one_article_are_one_row(serve_site, tmp_path: Path) -> None:
    """FAULTS D8: one article linked as itself, with utm_* and fbclid, a fragment, an upper-case scheme and
    host, percent-encoded letters, and under a <link rel=canonical> to another domain: one article row; the
    off-domain canonical is not honoured."""
    page = article_html(1, TITLE, paragraphs(1)).replace(b'href="{base}/bai-viet/bai-so-1.html"',
                                                         b'href="https://evil.example/bai-viet/bai-so-1.html"')
    pages: dict[str, Any] = {"/robots.txt": ROBOTS, "/bai-viet/bai-so-1.html": Page(page),
                             "/bai-viet/bai-so-1.html?fbclid=abc": Page(page),
                             "/bai-viet/%62ai-so-1.html": Page(page)}
    site = serve_site(pages)
    upper = site.base.replace("http://", "HTTP://")
    links = ["/bai-viet/bai-so-1.html", "/bai-viet/bai-so-1.html?utm_source=fb&utm_medium=social",
             "/bai-viet/bai-so-1.html?fbclid=abc", "/bai-viet/bai-so-1.html#binh-luan",
             f"{upper}/bai-viet/bai-so-1.html", "/bai-viet/%62ai-so-1.html"]
    pages["/"] = Page(listing_html(links))
    db, env = setup(tmp_path, source_toml(site.base))
    r = run_cli("crawl", "fixture", "-q", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert q(db, "select canonical_url from articles") == [(f"{site.base}/bai-viet/bai-so-1.html",)]
    assert one(db, "select count(*) from versions") == 1
    assert not any("evil.example" in u for (u,) in q(db, "select url from article_urls"))


# ---------------------------------------------------------------- D9 stored-content attacks

def test_sql_metacharacters_script_and_nul_round_trip_byte_exact(serve_site, tmp_path: Path) -> None:
    """FAULTS D9: an article containing `'); DROP TABLE articles;--`, <script> and NUL bytes: the raw capture is
    the served bytes exactly, the tables still exist, no NUL in the extracted text, the script never in it."""
    paras = paragraphs(4)
    paras[1] = "Bạn đọc viết: '); DROP TABLE articles;-- và " + paras[1]
    body = article_html(4, TITLE, paras, extra="<script>alert('xss')</script>").replace(
        b"<p>", b"<p>\x00", 2)
    site = serve_site({"/robots.txt": ROBOTS, "/": Page(listing_html(["/bai-viet/bai-so-4.html"])),
                       "/bai-viet/bai-so-4.html": Page(Raw(body))})
    db, env = setup(tmp_path, source_toml(site.base))
    r = run_cli("crawl", "fixture", "-q", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    (raw,) = q(db, "select body from captures where url like '%bai-so-4.html'")[0]
    assert zlib.decompress(raw) == body
    (text,) = q(db, "select text from versions")[0]
    assert "DROP TABLE articles;--" in text and "\x00" not in text and "alert(" not in text
    tables = {n for (n,) in q(db, "select name from sqlite_master where type = 'table'")}
    assert {"articles", "versions", "captures"} <= tables
    assert one(db, "pragma integrity_check") == "ok"
