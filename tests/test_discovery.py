"""crawler/discovery.py: feeds, sitemaps, listings and links, from bytes; hostile XML stays inert."""

from __future__ import annotations

import datetime as dt
import gzip
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from lxml import etree

from config import load_sources
from crawler.discovery import (
    SitemapEntry,
    is_article,
    is_denied,
    is_listing,
    keyed,
    listing_family,
    listing_links,
    page_links,
    parse_feed,
    parse_sitemap,
    partial_by_name,
    read_feed,
    read_sitemap,
    robots_sitemaps,
)

VNWEB = load_sources(Path(__file__).resolve().parent.parent / "config" / "vnweb.toml")
MPS, TGVN, TINH, BAO = (VNWEB.get(i) for i in ("mps", "tgvn", "tinh", "bao"))
VN = dt.timezone(dt.timedelta(hours=7))
SM_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


# ---------------------------------------------------------------- a canary: counts every request it gets

class Canary:
    def __init__(self) -> None:
        self.hits: list[str] = []
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                canary.hits.append(self.path)
                body = b'<!ENTITY ext "CANARY-EXPANDED"><!ENTITY % inner "">'
                self.send_response(200)
                self.send_header("Content-Type", "application/xml-dtd")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canary() -> Iterator[Canary]:
    c = Canary()
    yield c
    c.close()


def _lol(root_open: bytes, inner: bytes, root_close: bytes) -> bytes:
    ents = [b'<!ENTITY lol "lol">'] + [
        b"<!ENTITY lol%d \"%s\">" % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)
    ]
    return (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n' + b"\n".join(ents) + b"\n]>\n" + root_open + inner
            + root_close)


# ---------------------------------------------------------------- feeds

RSS2 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Tin moi</title><link>http://127.0.0.2:8080/</link>
<item><title>A</title><link>http://127.0.0.2:8080/bai-viet/a-1700001</link>
  <guid>http://127.0.0.2:8080/bai-viet/a-1700001</guid></item>
<item><title>B</title><link> /bai-viet/b-1700002 </link></item>
<item><title>C</title><guid isPermaLink="true">http://127.0.0.2:8080/bai-viet/c-1700003</guid></item>
<item><title>D</title><guid isPermaLink="false">tag:1700004</guid></item>
<item><title>E</title><link>javascript:alert(1)</link></item>
<item><title>A again</title><link>http://127.0.0.2:8080/bai-viet/a-1700001</link></item>
</channel></rss>"""


def test_parse_feed_rss2() -> None:
    assert parse_feed(RSS2, "http://127.0.0.2:8080/rss/home.rss") == [
        "http://127.0.0.2:8080/bai-viet/a-1700001",
        "http://127.0.0.2:8080/bai-viet/b-1700002",
        "http://127.0.0.2:8080/bai-viet/c-1700003",
    ]


def test_parse_feed_atom_prefers_rel_alternate() -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<link rel="self" href="http://x.vn/feed.atom"/>
<entry><title>a</title><link rel="self" href="http://x.vn/api/entry/1"/>
  <link rel="alternate" type="text/html" href="http://x.vn/tin/a-1.html"/><id>urn:1</id></entry>
<entry><title>b</title><link href="b-2.html"/><id>urn:2</id></entry>
<entry><title>c</title><link rel="alternate" href="http://x.vn/tin/c-3.html"/>
  <link rel="enclosure" href="http://x.vn/media/c.mp3"/><id>urn:3</id></entry>
<entry><title>d</title><link rel="replies" href="http://x.vn/tin/d-4/comments"/><id>urn:4</id></entry>
</feed>"""
    links = parse_feed(atom, "http://x.vn/rss/feed.atom")
    assert links == ["http://x.vn/tin/a-1.html", "http://x.vn/rss/b-2.html", "http://x.vn/tin/c-3.html"]
    assert not any("api/entry" in u or "mp3" in u or "comments" in u or "feed.atom" in u for u in links)


def test_parse_feed_rss1_rdf() -> None:
    rdf = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="http://x.vn/"><title>t</title><link>http://x.vn/</link></channel>
<item rdf:about="http://x.vn/a-1.html"><title>a</title><link>http://x.vn/a-1.html</link></item>
<item rdf:about="http://x.vn/b-2.html"><title>b</title><link>/b-2.html</link></item>
</rdf:RDF>"""
    assert parse_feed(rdf, "http://x.vn/rss") == ["http://x.vn/a-1.html", "http://x.vn/b-2.html"]


def test_parse_feed_relative_links_resolve_against_the_feed_url() -> None:
    rss = (b'<rss version="2.0"><channel><item><link>../tin/a-1.html</link></item>'
           b"<item><link>//cdn.x.vn/tin/b-2.html</link></item></channel></rss>")
    assert parse_feed(rss, "https://x.vn/rss/home.rss") == ["https://x.vn/tin/a-1.html",
                                                            "https://cdn.x.vn/tin/b-2.html"]


def test_parse_feed_gzipped_and_with_bom() -> None:
    assert parse_feed(gzip.compress(RSS2), "http://127.0.0.2:8080/rss")[0].endswith("a-1700001")
    bom = b"\xef\xbb\xbf" + RSS2
    assert len(parse_feed(bom, "http://127.0.0.2:8080/rss")) == 3


@pytest.mark.parametrize("body", [b"", b"   \n", b"not xml at all", b"<", b"{\"items\": []}"])
def test_parse_feed_empty_or_garbage(body: bytes) -> None:
    assert parse_feed(body, "http://x.vn/rss") == []


def test_parse_feed_html_served_as_rss() -> None:
    html = (b"<!DOCTYPE html><html><head><title>Trang chu</title><link rel='alternate' href='/x-1.html'>"
            b"</head><body><h1>Loi</h1><a href='/bai-viet/a-1700001'>a</a><br><p>Khong phai RSS</body></html>")
    assert parse_feed(html, "http://127.0.0.2:8080/rss/home.rss") == []


def test_parse_feed_truncated_xml_keeps_what_was_complete() -> None:
    links = parse_feed(RSS2[:RSS2.index(b"<item><title>C")], "http://127.0.0.2:8080/rss")
    assert links == ["http://127.0.0.2:8080/bai-viet/a-1700001", "http://127.0.0.2:8080/bai-viet/b-1700002"]


def test_corrupt_gzip_yields_nothing_instead_of_raising() -> None:
    broken = gzip.compress(RSS2)[:12]
    assert parse_feed(broken, "http://x.vn/rss") == []
    assert list(parse_sitemap(broken, "http://x.vn/sitemap.xml.gz")) == []


def test_parse_feed_billion_laughs_is_not_expanded() -> None:
    body = _lol(b'<rss version="2.0"><channel>',
                b"<item><title>&lol9;</title><link>http://x.vn/a-&lol9;.html</link></item>"
                b"<item><link>http://x.vn/ok-1.html</link></item>", b"</channel></rss>")
    links = parse_feed(body, "http://x.vn/rss")
    assert all(len(u) < 200 for u in links)
    assert not any("lollol" in u for u in links)


def test_parse_feed_xxe_file_is_not_read() -> None:
    body = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
            b'<rss version="2.0"><channel><item><title>&xxe;</title>'
            b"<link>http://x.vn/a-1.html?x=&xxe;</link></item></channel></rss>")
    passwd = Path("/etc/passwd")
    if passwd.exists() and b"root:" in passwd.read_bytes():
        # the fixture is live: a permissive parser would read the file
        unsafe = etree.fromstring(body, etree.XMLParser(resolve_entities=True, load_dtd=True, no_network=True))
        assert b"root:" in etree.tostring(unsafe)
    links = parse_feed(body, "http://x.vn/rss")
    assert links == ["http://x.vn/a-1.html?x="]
    assert not any("root" in u or "/bin/" in u for u in links)


def test_parse_feed_and_sitemap_external_dtd_is_never_fetched(canary: Canary) -> None:
    dtd = f"{canary.url}/evil.dtd".encode()
    ent = f"{canary.url}/entity".encode()
    feeds = [
        b'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "' + dtd + b'">\n'
        b'<rss version="2.0"><channel><item><link>http://x.vn/a-1.html?x=&ext;</link></item></channel></rss>',
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY % p SYSTEM "' + dtd + b'"> %p;]>\n'
        b'<rss version="2.0"><channel><item><link>http://x.vn/b-2.html?x=&ext;</link></item></channel></rss>',
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY e SYSTEM "' + ent + b'">]>\n'
        b'<rss version="2.0"><channel><item><link>http://x.vn/c-3.html?x=&e;</link></item></channel></rss>',
    ]
    for body in feeds:
        for u in parse_feed(body, "http://x.vn/rss"):
            assert "CANARY" not in u
    sitemaps = [
        b'<?xml version="1.0"?>\n<!DOCTYPE urlset SYSTEM "' + dtd + b'">\n'
        b"<urlset " + SM_NS.encode() + b"><url><loc>http://x.vn/a-1.html?x=&ext;</loc></url></urlset>",
        b'<?xml version="1.0"?>\n<!DOCTYPE urlset [<!ENTITY e SYSTEM "' + ent + b'">]>\n'
        b"<urlset " + SM_NS.encode() + b"><url><loc>http://x.vn/a-1.html?x=&e;</loc></url></urlset>",
    ]
    for body in sitemaps:
        for e in parse_sitemap(body, "http://x.vn/sitemap.xml"):
            assert "CANARY" not in e.loc
    assert canary.hits == []
    # the canary does count: a real request is seen
    urllib.request.urlopen(canary.url + "/ping", timeout=5).read()
    assert canary.hits == ["/ping"]


# ---------------------------------------------------------------- sitemaps

URLSET = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset {SM_NS}>
<url><loc>http://127.0.0.2:8080/bai-viet/a-1700001</loc><lastmod>2024-08-25T10:00:00+07:00</lastmod></url>
<url><loc> http://127.0.0.2:8080/bai-viet/b-1700002 </loc><lastmod>2024-08-25</lastmod></url>
<url><loc>/bai-viet/c-1700003</loc></url>
<url><loc>ftp://127.0.0.2/bai-viet/d-1700004</loc></url>
<url><loc>javascript:alert(1)</loc></url>
</urlset>""".encode()


def test_parse_sitemap_urlset() -> None:
    entries = list(parse_sitemap(URLSET, "http://127.0.0.2:8080/sitemap.xml"))
    assert [e.loc for e in entries] == ["http://127.0.0.2:8080/bai-viet/a-1700001",
                                        "http://127.0.0.2:8080/bai-viet/b-1700002",
                                        "http://127.0.0.2:8080/bai-viet/c-1700003"]
    assert not any(e.is_index for e in entries)
    assert entries[0].lastmod == dt.datetime(2024, 8, 25, 10, 0, tzinfo=VN)
    # a date without a time is midnight in Vietnam, and aware
    b = entries[1].lastmod
    assert b is not None and b.tzinfo is not None
    assert b.utcoffset() == dt.timedelta(hours=7) and (b.year, b.month, b.day, b.hour) == (2024, 8, 25, 0)
    assert entries[2].lastmod is None


def test_parse_sitemap_lastmod_is_always_aware() -> None:
    body = (f"<urlset {SM_NS}>"
            "<url><loc>http://x.vn/a</loc><lastmod>2024-08-25T10:00:00Z</lastmod></url>"
            "<url><loc>http://x.vn/b</loc><lastmod>2024-08-25T10:00:00</lastmod></url>"
            "<url><loc>http://x.vn/c</loc><lastmod>2024-08-25 10:00</lastmod></url>"
            "<url><loc>http://x.vn/d</loc><lastmod>not a date</lastmod></url>"
            "</urlset>").encode()
    e = {x.loc[-1]: x.lastmod for x in parse_sitemap(body, "http://x.vn/sitemap.xml")}
    assert e["a"] == dt.datetime(2024, 8, 25, 10, 0, tzinfo=dt.UTC)
    assert e["b"] == dt.datetime(2024, 8, 25, 3, 0, tzinfo=dt.UTC)  # naive = Vietnam time
    assert e["c"] == e["b"]
    assert e["d"] is None
    assert all(v is None or v.tzinfo is not None for v in e.values())


def test_parse_sitemap_index() -> None:
    body = f"""<?xml version="1.0"?><sitemapindex {SM_NS}>
<sitemap><loc>http://x.vn/sitemap-1.xml</loc><lastmod>2024-08-25T10:00:00Z</lastmod></sitemap>
<sitemap><loc>/sitemap-2.xml.gz</loc></sitemap></sitemapindex>""".encode()
    assert list(parse_sitemap(body, "http://x.vn/sitemap.xml")) == [
        SitemapEntry("http://x.vn/sitemap-1.xml", dt.datetime(2024, 8, 25, 10, tzinfo=dt.UTC), True),
        SitemapEntry("http://x.vn/sitemap-2.xml.gz", None, True),
    ]


GNEWS = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset {SM_NS} xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>http://x.vn/tin/n-1.html</loc>
  <news:news><news:publication><news:name>Bao X</news:name><news:language>vi</news:language></news:publication>
  <news:publication_date>2024-08-25T08:30:00+07:00</news:publication_date><news:title>T</news:title></news:news>
</url>
<url><loc>http://x.vn/tin/n-2.html</loc><lastmod>2024-08-26T01:00:00Z</lastmod>
  <news:news><news:publication_date>2024-08-25T08:30:00+07:00</news:publication_date></news:news></url>
</urlset>""".encode()


def test_parse_sitemap_google_news_urls() -> None:
    entries = list(parse_sitemap(GNEWS, "http://x.vn/sitemaps/google-news.xml"))
    assert [e.loc for e in entries] == ["http://x.vn/tin/n-1.html", "http://x.vn/tin/n-2.html"]
    assert entries[1].lastmod == dt.datetime(2024, 8, 26, 1, 0, tzinfo=dt.UTC)  # <lastmod> wins


def test_parse_sitemap_google_news_publication_date_is_lastmod() -> None:
    first = next(iter(parse_sitemap(GNEWS, "http://x.vn/sitemaps/google-news.xml")))
    assert first.lastmod == dt.datetime(2024, 8, 25, 8, 30, tzinfo=VN)


def test_parse_sitemap_gzipped_bytes() -> None:
    plain = list(parse_sitemap(URLSET, "http://127.0.0.2:8080/sitemap.xml"))
    assert list(parse_sitemap(gzip.compress(URLSET), "http://127.0.0.2:8080/sitemap.xml.gz")) == plain
    assert len(plain) == 3


def test_parse_sitemap_with_utf8_bom() -> None:
    assert len(list(parse_sitemap(b"\xef\xbb\xbf" + URLSET, "http://127.0.0.2:8080/sitemap.xml"))) == 3


@pytest.mark.parametrize("body", [
    b"",
    b"   ",
    b"User-agent: *\nDisallow:",
    b"<!DOCTYPE html><html><head><title>x</title></head><body><a href='/bai-viet/a-1700001'>a</a></body></html>",
    b"<html><body><url><loc>http://x.vn/a-1.html</loc></url></body></html>",
    b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"/>',
    URLSET[:20],
])
def test_parse_sitemap_non_sitemaps_yield_nothing(body: bytes) -> None:
    assert list(parse_sitemap(body, "http://x.vn/sitemap.xml")) == []


def test_parse_sitemap_truncated_xml_does_not_crash() -> None:
    cut = URLSET[:URLSET.index(b"<url><loc>/bai-viet/c")]
    entries = list(parse_sitemap(cut, "http://127.0.0.2:8080/sitemap.xml"))
    assert [e.loc for e in entries][:2] == ["http://127.0.0.2:8080/bai-viet/a-1700001",
                                            "http://127.0.0.2:8080/bai-viet/b-1700002"]
    for n in range(1, len(URLSET), 37):  # cut anywhere: never an exception
        list(parse_sitemap(URLSET[:n], "http://127.0.0.2:8080/sitemap.xml"))


def test_parse_sitemap_billion_laughs_and_xxe_file() -> None:
    body = _lol(f"<urlset {SM_NS}>".encode(),
                b"<url><loc>http://x.vn/a-&lol9;.html</loc></url><url><loc>http://x.vn/ok-1.html</loc></url>",
                b"</urlset>")
    assert all(len(e.loc) < 200 for e in parse_sitemap(body, "http://x.vn/sitemap.xml"))
    xxe = (b'<?xml version="1.0"?>\n<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
           b"<urlset " + SM_NS.encode() + b"><url><loc>http://x.vn/a-1.html?x=&xxe;</loc></url></urlset>")
    locs = [e.loc for e in parse_sitemap(xxe, "http://x.vn/sitemap.xml")]
    assert locs == ["http://x.vn/a-1.html?x="]


# ---------------------------------------------------------------- listings and links

@pytest.mark.parametrize("page, first", [
    ("http://127.0.0.2:8080/chuyen-muc/an-ninh-trat-tu?page=2", "http://127.0.0.2:8080/chuyen-muc/an-ninh-trat-tu"),
    ("http://127.0.0.3:8080/thoi-su/page-3/", "http://127.0.0.3:8080/thoi-su/"),
    ("http://127.0.0.5:8080/thoi-su-p4", "http://127.0.0.5:8080/thoi-su"),
    ("http://127.0.0.4:8080/Portal/pages/chuyen-muc.aspx?cat=kinh-te&page=5",
     "http://127.0.0.4:8080/Portal/pages/chuyen-muc.aspx?cat=kinh-te"),
    ("http://x.vn/the-gioi/trang-2.html", "http://x.vn/the-gioi"),
    ("http://x.vn/tin?cat=a&page=2&sort=new", "http://x.vn/tin?cat=a&sort=new"),
])
def test_listing_family_same_for_every_page(page: str, first: str) -> None:
    assert listing_family(page) == listing_family(first)


def test_listing_family_differs_between_listings() -> None:
    assert listing_family("http://x.vn/chuyen-muc/a?page=2") != listing_family("http://x.vn/chuyen-muc/b?page=2")
    assert listing_family("http://x.vn/thoi-su/page-2/") != listing_family("http://x.vn/the-gioi/page-2/")
    assert (listing_family("http://x.vn/p.aspx?cat=a&page=2") != listing_family("http://x.vn/p.aspx?cat=b&page=2"))


def test_listing_family_page_parameter_first() -> None:
    assert listing_family("http://x.vn/tin?page=2&cat=a") == listing_family("http://x.vn/tin?cat=a")


def test_page_links() -> None:
    html = b"""<html><head><title>x</title></head><body>
<a href="/bai-viet/a-1700001#binh-luan">a</a>
<a href="bai-viet/b-1700002">b</a>
<a href="http://other.vn/c">c</a>
<a href="javascript:void(0)">j</a><a href="JavaScript:alert(1)">J</a>
<a href="mailto:toasoan@x.vn">m</a><a href="data:text/html,&lt;script&gt;">d</a><a href="tel:0243">t</a>
<a href="#top">top</a><a href="ftp://x.vn/f">f</a><a>none</a><a href="">empty</a>
<a href="  /bai-viet/c-1700003  ">spaced</a>
<a href="/bai-viet/a-1700001">dup</a>
<map><area href="/bai-viet/d-1700004"></map>
</body></html>"""
    links = page_links(html, "http://127.0.0.2:8080/chuyen-muc/an-ninh-trat-tu")
    assert links == [
        "http://127.0.0.2:8080/bai-viet/a-1700001",
        "http://127.0.0.2:8080/chuyen-muc/bai-viet/b-1700002",
        "http://other.vn/c",
        "http://127.0.0.2:8080/bai-viet/c-1700003",
        "http://127.0.0.2:8080/bai-viet/d-1700004",
    ]
    assert not any(u.split(":", 1)[0] not in ("http", "https") or "#" in u for u in links)


def test_page_links_honours_base_href() -> None:
    html = b'<html><head><base href="http://127.0.0.3:8080/the-gioi/"></head><body>' \
           b'<a href="x-1234.html">x</a><a href="/y-5678.html">y</a></body></html>'
    assert page_links(html, "http://127.0.0.3:8080/") == ["http://127.0.0.3:8080/the-gioi/x-1234.html",
                                                          "http://127.0.0.3:8080/y-5678.html"]


def test_page_links_empty_and_str_input() -> None:
    assert page_links(b"", "http://x.vn/") == []
    assert page_links(b"   ", "http://x.vn/") == []
    assert page_links('<a href="/tin-1">x</a>', "http://x.vn/") == ["http://x.vn/tin-1"]


def test_robots_sitemaps() -> None:
    robots = ("User-agent: *\nDisallow: /admin\nSitemap: http://x.vn/sitemap.xml\nsitemap:/s2.xml\n"
              "SITEMAP :  https://x.vn/s3.xml  \n# Sitemap: http://x.vn/commented.xml\nSitemap:\n"
              "Disallow: /sitemap-private.xml\n")
    assert robots_sitemaps(robots, "http://x.vn/robots.txt") == [
        "http://x.vn/sitemap.xml", "http://x.vn/s2.xml", "https://x.vn/s3.xml"]
    assert robots_sitemaps("", "http://x.vn/robots.txt") == []


# ---------------------------------------------------------------- the vnweb sources' patterns

@pytest.mark.parametrize("source, url", [
    (MPS, "http://127.0.0.2:8080/bai-viet/some-slug-1700123"),
    (MPS, "http://127.0.0.2:8080/bai-viet/some-slug-1700123?utm_source=x"),
    (TGVN, "http://127.0.0.3:8080/the-gioi-1234.html"),
    (TINH, "http://127.0.0.4:8080/Portal/pages/2024-08-25/x-5002.aspx"),
    (TINH, "http://127.0.0.4:8080/portal/PAGES/2024-08-25/x-5002.aspx"),
    (BAO, "http://127.0.0.5:8080/amp/thoi-su/x-4800010"),
    (BAO, "http://127.0.0.5:8080/thoi-su/x-4800010"),
    (BAO, "http://127.0.0.6:8080/thoi-su/x-4800010"),
])
def test_is_article(source: object, url: str) -> None:
    assert is_article(source, url)  # type: ignore[arg-type]
    assert not is_listing(source, url)  # type: ignore[arg-type]
    assert not is_denied(source, url)  # type: ignore[arg-type]


@pytest.mark.parametrize("source, url", [
    (MPS, "http://127.0.0.2:8080/chuyen-muc/an-ninh-trat-tu?page=2"),
    (MPS, "http://127.0.0.2:8080/chuyen-muc/an-ninh-trat-tu"),
    (TGVN, "http://127.0.0.3:8080/thoi-su/"),
    (TGVN, "http://127.0.0.3:8080/thoi-su/page-2/"),
    (TINH, "http://127.0.0.4:8080/Portal/Pages/chuyen-muc.aspx?cat=kinh-te&page=2"),
    (BAO, "http://127.0.0.5:8080/thoi-su"),
    (BAO, "http://127.0.0.5:8080/thoi-su-p2"),
])
def test_is_listing(source: object, url: str) -> None:
    assert is_listing(source, url)  # type: ignore[arg-type]
    assert not is_article(source, url)  # type: ignore[arg-type]


@pytest.mark.parametrize("source, url", [
    (MPS, "http://127.0.0.2:8080/en/bai-viet/some-slug-1700123"),
    (MPS, "http://127.0.0.2:8080/tim-kiem?q=bai-viet"),
    (MPS, "http://127.0.0.2:8080/admin/bai-viet/x-1700123"),
    (TGVN, "http://127.0.0.3:8080/multimedia/x-1234.html"),
    (TGVN, "http://127.0.0.3:8080/tag/x-1234.html"),
    (TINH, "http://127.0.0.4:8080/Portal/_layouts/x-5002.aspx"),
    (TINH, "http://127.0.0.4:8080/portal/Search/x.aspx"),
    (BAO, "http://127.0.0.5:8080/video"),
    (BAO, "http://127.0.0.5:8080/rss"),
    (BAO, "http://127.0.0.5:8080/tag/x-4800010"),
    (BAO, "ftp://127.0.0.5:8080/thoi-su/x-4800010"),
    (BAO, "javascript:alert(1)"),
    (BAO, "file:///etc/passwd"),
])
def test_is_denied(source: object, url: str) -> None:
    assert is_denied(source, url)  # type: ignore[arg-type]
    assert not is_article(source, url)  # type: ignore[arg-type]
    assert not is_listing(source, url)  # type: ignore[arg-type]


def test_neither_article_nor_listing() -> None:
    assert not is_article(BAO, "http://127.0.0.5:8080/")
    assert not is_article(BAO, "http://127.0.0.5:8080/thoi-su/x-48")  # id too short
    assert not is_article(MPS, "http://127.0.0.2:8080/bai-viet/Some-Slug-1700123")  # upper case: not mps
    assert not is_denied(BAO, "http://127.0.0.5:8080/videos")  # only the exact /video page is denied


# ---------------------------------------------------------------- sitemap flavours, as real sites write them

YOAST_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?><?xml-stylesheet type="text/xsl" href="//baosonghau.vn/main-sitemap.xsl"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
	<sitemap>
		<loc>https://baosonghau.vn/post-sitemap.xml</loc>
		<lastmod>2024-10-04T07:02:11+00:00</lastmod>
	</sitemap>
	<sitemap>
		<loc>https://baosonghau.vn/post-sitemap2.xml</loc>
		<lastmod>2024-10-04T07:02:11+00:00</lastmod>
	</sitemap>
	<sitemap>
		<loc>https://baosonghau.vn/page-sitemap.xml</loc>
		<lastmod>2023-05-11T02:10:44+00:00</lastmod>
	</sitemap>
</sitemapindex>
<!-- XML Sitemap generated by Yoast SEO -->"""

# Yoast: <image:image> after <loc>; the WordPress template of bench/vnweb_wordpress.py (and Rank Math on
# some themes) also puts it before <loc>
YOAST_POSTS = """<?xml version="1.0" encoding="UTF-8"?><?xml-stylesheet type="text/xsl" href="//baosonghau.vn/main-sitemap.xsl"?>
<urlset xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1" xsi:schemaLocation="http://www.sitemaps.org/schemas/sitemap/0.9 http://www.sitemaps.org/schemas/sitemap/0.9/sitemap.xsd http://www.google.com/schemas/sitemap-image/1.1 http://www.google.com/schemas/sitemap-image/1.1/sitemap-image.xsd" xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
	<url>
		<loc>https://baosonghau.vn/2024/10/hoi-nghi-tong-ket-nong-nghiep/</loc>
		<lastmod>2024-10-04T07:02:11+00:00</lastmod>
		<image:image>
			<image:loc>https://baosonghau.vn/wp-content/uploads/2024/10/hoi-nghi-1.jpg</image:loc>
		</image:image>
		<image:image>
			<image:loc>https://baosonghau.vn/wp-content/uploads/2024/10/hoi-nghi-2.jpg</image:loc>
		</image:image>
	</url>
	<url>
		<image:image>
			<image:loc>https://baosonghau.vn/wp-content/uploads/2024/10/lua-mua.jpg</image:loc>
			<image:title><![CDATA[Lúa mùa]]></image:title>
		</image:image>
		<loc>https://baosonghau.vn/2024/10/nong-dan-thu-hoach-lua-mua/</loc>
		<lastmod>2024-10-03T22:15:00+07:00</lastmod>
	</url>
	<url>
		<loc>https://baosonghau.vn/2024/09/khong-co-anh/</loc>
		<lastmod>2024-09-30T01:00:00+00:00</lastmod>
	</url>
</urlset>
<!-- XML Sitemap generated by Yoast SEO -->""".encode()

RANKMATH = """<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="https://x.vn/main-sitemap.xsl"?>
<urlset xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1" xsi:schemaLocation="http://www.sitemaps.org/schemas/sitemap/0.9 http://www.sitemaps.org/schemas/sitemap/0.9/sitemap.xsd" xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
	<url>
		<loc>https://x.vn/tin-tuc/bai-mot/</loc>
		<lastmod>2024-10-04T14:02:00+07:00</lastmod>
		<image:image>
			<image:loc>https://x.vn/wp-content/uploads/2024/10/mot.webp</image:loc>
			<image:caption><![CDATA[Ảnh: Thu Hà]]></image:caption>
		</image:image>
	</url>
</urlset>
<!-- XML Sitemap generated by Rank Math SEO Plugin (c) Rank Math - rankmath.com -->""".encode()

WP_CORE_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="https://x.vn/wp-sitemap-index.xsl" ?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>https://x.vn/wp-sitemap-posts-post-1.xml</loc></sitemap><sitemap><loc>https://x.vn/wp-sitemap-posts-page-1.xml</loc></sitemap><sitemap><loc>https://x.vn/wp-sitemap-taxonomies-category-1.xml</loc></sitemap><sitemap><loc>https://x.vn/wp-sitemap-users-1.xml</loc></sitemap></sitemapindex>
"""

WP_CORE_POSTS = b"""<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="https://x.vn/wp-sitemap.xsl" ?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://x.vn/2024/10/03/bai-hai/</loc><lastmod>2024-10-03T09:10:11+00:00</lastmod></url><url><loc>https://x.vn/2024/10/02/bai-mot/</loc><lastmod>2024-10-02T01:00:00+00:00</lastmod></url></urlset>
"""

# Google's video sitemap example, as a Vietnamese newspaper's /sitemaps/video.xml would write it
VIDEO = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:video="http://www.google.com/schemas/sitemap-video/1.1">
  <url>
    <loc>https://x.vn/video/le-ra-quan-123456.html</loc>
    <video:video>
      <video:thumbnail_loc>https://cdn.x.vn/thumbs/123456.jpg</video:thumbnail_loc>
      <video:title>Lễ ra quân</video:title>
      <video:description>Lễ ra quân đầu năm</video:description>
      <video:content_loc>https://cdn.x.vn/video/123456.mp4</video:content_loc>
      <video:player_loc>https://x.vn/embed/123456</video:player_loc>
      <video:duration>600</video:duration>
      <video:publication_date>2024-10-03T08:00:00+07:00</video:publication_date>
    </video:video>
  </url>
</urlset>""".encode()

# nhandan.vn / vietnamplus.vn google-news.xml: news:news and image:image on every entry
GNEWS_IMAGES = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
<url>
<image:image><image:loc>https://image.nhandan.vn/w800/Uploaded/2024/a.jpg</image:loc></image:image>
<loc>https://nhandan.vn/hoi-nghi-tap-huan-post767601.html</loc>
<news:news>
<news:publication><news:name>Báo Nhân Dân</news:name><news:language>vi</news:language></news:publication>
<news:publication_date>2024-10-03T10:20:00+07:00</news:publication_date>
<news:title>Hội nghị tập huấn</news:title>
<news:keywords>nhân quyền</news:keywords>
</news:news>
</url>
</urlset>""".encode()

# qdnd.vn /sitemaps/0/top300article.xml: a urlset with lastmod and image:image, the latest 300 only
QDND_TOP = b"""<?xml version="1.0" encoding="utf-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"><url><loc>https://www.qdnd.vn/chinh-tri/tin-tuc/dai-tuong-tiep-thu-y-kien-1052548</loc><image:image><image:loc>https://file3.qdnd.vn/data/images/0/2024/10/03/a.jpg</image:loc></image:image><lastmod>2024-10-03T15:06:00+07:00</lastmod><changefreq>hourly</changefreq><priority>1.0</priority></url></urlset>"""

# hreflang alternates inside <url>
ALTERNATES = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">
  <url>
    <xhtml:link rel="alternate" hreflang="en" href="https://x.vn/en/news/a-1.html"/>
    <loc>https://x.vn/tin-tuc/a-1.html</loc>
    <xhtml:link rel="alternate" hreflang="vi" href="https://x.vn/tin-tuc/a-1.html"/>
  </url>
</urlset>"""

# an old portal's hand-made sitemap: no namespace at all
NO_NAMESPACE = b"""<?xml version="1.0"?><urlset><url><loc>http://so.x.gov.vn/tin/a-1.aspx</loc><lastmod>2024-10-03</lastmod></url>
<url><loc>http://so.x.gov.vn/tin/b-2.aspx</loc></url></urlset>"""


def _locs(body: bytes, base: str = "https://x.vn/sitemap.xml") -> list[str]:
    return [e.loc for e in parse_sitemap(body, base)]


def test_sitemap_yoast_index() -> None:
    sm = read_sitemap(YOAST_INDEX, "https://baosonghau.vn/sitemap_index.xml")
    assert sm.kind == "sitemapindex" and not sm.news
    assert [e.loc for e in sm.entries] == ["https://baosonghau.vn/post-sitemap.xml",
                                           "https://baosonghau.vn/post-sitemap2.xml",
                                           "https://baosonghau.vn/page-sitemap.xml"]
    assert all(e.is_index for e in sm.entries)
    assert sm.entries[0].lastmod == dt.datetime(2024, 10, 4, 7, 2, 11, tzinfo=dt.UTC)


@pytest.mark.parametrize("body", [YOAST_POSTS, gzip.compress(YOAST_POSTS)], ids=["plain", "gzip"])
def test_sitemap_yoast_images_before_and_after_loc_are_never_the_page(body: bytes) -> None:
    sm = read_sitemap(body, "https://baosonghau.vn/post-sitemap.xml")
    assert sm.kind == "urlset" and not sm.news
    assert [e.loc for e in sm.entries] == ["https://baosonghau.vn/2024/10/hoi-nghi-tong-ket-nong-nghiep/",
                                           "https://baosonghau.vn/2024/10/nong-dan-thu-hoach-lua-mua/",
                                           "https://baosonghau.vn/2024/09/khong-co-anh/"]
    assert not any("wp-content" in e.loc for e in sm.entries)
    assert [e.lastmod for e in sm.entries] == [dt.datetime(2024, 10, 4, 7, 2, 11, tzinfo=dt.UTC),
                                               dt.datetime(2024, 10, 3, 22, 15, tzinfo=VN),
                                               dt.datetime(2024, 9, 30, 1, 0, tzinfo=dt.UTC)]


def test_sitemap_rank_math() -> None:
    assert _locs(RANKMATH) == ["https://x.vn/tin-tuc/bai-mot/"]


def test_sitemap_wordpress_core() -> None:
    index = read_sitemap(WP_CORE_INDEX, "https://x.vn/wp-sitemap.xml")
    assert index.kind == "sitemapindex" and len(index.entries) == 4 and all(e.is_index for e in index.entries)
    assert _locs(WP_CORE_POSTS) == ["https://x.vn/2024/10/03/bai-hai/", "https://x.vn/2024/10/02/bai-mot/"]


def test_sitemap_video_extension() -> None:
    entries = list(parse_sitemap(VIDEO, "https://x.vn/sitemaps/video.xml"))
    assert [e.loc for e in entries] == ["https://x.vn/video/le-ra-quan-123456.html"]
    assert entries[0].lastmod is None  # a video's publication date is not the page's <lastmod>


def test_sitemap_google_news_with_images() -> None:
    sm = read_sitemap(GNEWS_IMAGES, "https://nhandan.vn/sitemaps/google-news.xml")
    assert sm.news and sm.kind == "urlset"
    assert [(e.loc, e.lastmod) for e in sm.entries] == [
        ("https://nhandan.vn/hoi-nghi-tap-huan-post767601.html", dt.datetime(2024, 10, 3, 10, 20, tzinfo=VN))]
    assert read_sitemap(GNEWS, "http://x.vn/sitemaps/google-news.xml").news
    assert not read_sitemap(URLSET, "http://x.vn/sitemap.xml").news


def test_sitemap_qdnd_top_articles() -> None:
    entries = list(parse_sitemap(QDND_TOP, "https://www.qdnd.vn/sitemaps/0/top300article.xml"))
    assert [e.loc for e in entries] == [
        "https://www.qdnd.vn/chinh-tri/tin-tuc/dai-tuong-tiep-thu-y-kien-1052548"]
    assert entries[0].lastmod == dt.datetime(2024, 10, 3, 15, 6, tzinfo=VN)


def test_sitemap_hreflang_alternates_are_not_entries() -> None:
    assert _locs(ALTERNATES) == ["https://x.vn/tin-tuc/a-1.html"]


def test_sitemap_without_namespace() -> None:
    assert _locs(NO_NAMESPACE) == ["http://so.x.gov.vn/tin/a-1.aspx", "http://so.x.gov.vn/tin/b-2.aspx"]


def test_sitemap_text_and_feed_flavours() -> None:
    text = b"https://x.vn/tin/a-1.html\r\n\r\nhttps://x.vn/tin/b-2.html\n"
    sm = read_sitemap(text, "https://x.vn/sitemap.txt")
    assert sm.kind == "text" and [e.loc for e in sm.entries] == ["https://x.vn/tin/a-1.html", "https://x.vn/tin/b-2.html"]
    assert read_sitemap(gzip.compress(text), "https://x.vn/sitemap.txt.gz").kind == "text"
    assert read_sitemap(b"User-agent: *\nDisallow:", "https://x.vn/sitemap.txt").kind is None
    rss = b'<rss version="2.0"><channel><item><link>http://x.vn/a-1.html</link></item></channel></rss>'
    feed = read_sitemap(rss, "https://x.vn/sitemap/news.rss")
    assert feed.kind == "feed" and [e.loc for e in feed.entries] == ["http://x.vn/a-1.html"]


def test_sitemap_limit_and_bad_locs() -> None:
    body = (f"<urlset {SM_NS}>" + "".join(f"<url><loc>http://x.vn/a-{i}.html</loc></url>" for i in range(10))
            + "<url><loc>http://[::1/x</loc></url></urlset>").encode()
    sm = read_sitemap(body, "http://x.vn/sitemap.xml")
    assert len(sm.entries) == 10 and sm.bad == 1 and not sm.truncated
    cut = read_sitemap(body, "http://x.vn/sitemap.xml", limit=4)
    assert len(cut.entries) == 4 and cut.truncated


@pytest.mark.parametrize("url, partial", [
    ("https://nhandan.vn/sitemaps/google-news.xml", True),
    ("https://www.qdnd.vn/sitemaps/0/top300article.xml", True),
    ("https://tuoitre.vn/sitemaps/latest-news.rss", True),
    ("https://vnexpress.net/sitemap/news.rss", True),
    ("https://x.vn/sitemap-news.xml", True),
    ("https://nhandan.vn/sitemaps/daily-news.xml", True),
    ("https://www.qdnd.vn/sitemaps/pid/feed-0.xml", True),
    ("https://x.vn/sitemaps/tin-moi-nhat.xml", True),
    ("https://nhandan.vn/sitemap.xml", False),
    ("https://baosonghau.vn/sitemap_index.xml", False),
    ("https://x.vn/wp-sitemap.xml", False),
    ("https://vov.vn/sitemaps/2026/7/article.xml", False),
    ("https://x.vn/sitemap.xml?layoutUuid=1&groupId=20126", False),
    ("https://x.vn/newsletter-sitemap.xml", False),
])
def test_partial_by_name(url: str, partial: bool) -> None:
    assert partial_by_name(url) is partial


def test_links_that_cannot_be_read_are_skipped_and_counted() -> None:
    html = (b'<a href="http://[::1/x">v6</a><a href="/bai-viet/a-1700001">ok</a>'
            b'<a href="http://a.vn:abc/bai-viet/b-1700002">port</a><a href="/bai-viet/c-1700003">ok2</a>')
    links = listing_links(MPS, html, "http://127.0.0.2:8080/")
    assert [f.url for f in links.articles] == ["http://127.0.0.2:8080/bai-viet/a-1700001",
                                               "http://127.0.0.2:8080/bai-viet/c-1700003"]
    assert links.bad == 2  # the broken IPv6 literal, and the article URL with a port that is not a number
    found, bad = keyed(MPS, [("http://127.0.0.2:99999/bai-viet/d-1700004", None),
                             ("http://127.0.0.2:8080/bai-viet/e-1700005", None)])
    assert bad == 1 and [f.key for f in found] == ["127.0.0.2:8080/bai-viet/e-1700005"]
    rss = b'<rss><channel><item><link>http://[::1/a</link></item><item><link>http://x.vn/b</link></item></channel></rss>'
    assert read_feed(rss, "http://x.vn/rss") == (["http://x.vn/b"], 1)


def test_every_link_decision_is_logged_for_crawl_verbose(caplog: pytest.LogCaptureFixture) -> None:
    """``crawl -v`` shows what discovery made of each URL (issue 13): article, listing, denied, no pattern."""
    html = ('<a href="/bai-viet/tin-moi-123">a</a><a href="/chuyen-muc/thoi-su">b</a>'
            '<a href="/tim-kiem?q=x">c</a><a href="/gioi-thieu">d</a><a href="mailto:x@y.vn">e</a>')
    with caplog.at_level("INFO", logger="vnarchive.discovery"):
        listing_links(MPS, html, "http://127.0.0.2:8080/")
    lines = [r.getMessage() for r in caplog.records if r.name == "vnarchive.discovery"]
    assert "mps: article http://127.0.0.2:8080/bai-viet/tin-moi-123 (found on http://127.0.0.2:8080/)" in lines
    assert any(" listing http://127.0.0.2:8080/chuyen-muc/thoi-su " in m for m in lines)
    assert any(" denied http://127.0.0.2:8080/tim-kiem?q=x " in m for m in lines)
    assert any(" no_pattern http://127.0.0.2:8080/gioi-thieu " in m for m in lines)


def test_no_decision_is_formatted_when_nobody_listens(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING"):
        listing_links(MPS, '<a href="/bai-viet/tin-moi-123">a</a>', "http://127.0.0.2:8080/")
    assert not [r for r in caplog.records if r.name == "vnarchive.discovery"]
