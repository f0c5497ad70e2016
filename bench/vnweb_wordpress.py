"""An extra vnweb site template: a provincial newspaper on WordPress (Yoast SEO or Rank Math, Elementor).

Load it with ``VNWEB_EXTRA_SITES=bench/vnweb_wordpress.py`` (or ``--extra-sites``); the simulator serves it at
the next loopback address after the built-in sites (and after other extra sites), with stories of its own,
edits, removals and moves like the others; the truth is written through the hook (``author_of``, ``caption``,
``bp``).

``bsh`` is "Báo Sông Hậu điện tử", built the way Vietnamese provincial papers on WordPress are:

- permalinks ``/YYYY/MM/<slug>/`` (no id; a moved post keeps its old slug as a 301, like ``_wp_old_slug``),
  ``/?p=<id>`` shortlinks (301), no-trailing-slash URLs 301 to the slash form, categories
  ``/chuyen-muc/<cat>/`` and ``/chuyen-muc/<cat>/page/N/`` ("Trang sau »"), tag and author archives;
- SEO plugin per page, Yoast (60 %) or Rank Math (40 %) (a site uses one, this one mixes them so that one
  template exercises both): ``article:published_time`` / ``article:modified_time`` (Yoast in UTC ``+00:00``,
  Rank Math in ``+07:00``), ``og:``/``twitter:`` tags with "Được viết bởi" = the WordPress account, a JSON-LD
  ``@graph`` (Article/NewsArticle + WebPage + ImageObject + BreadcrumbList + WebSite + Organization + Person)
  whose ``author`` names the account inline or points by ``@id`` only to a ``Person`` that is often the site
  ("Báo Sông Hậu"), an editor account ("Ban Biên tập", "admin") or the reporter; Rank Math's headline carries
  the " | site" suffix, as its default ``%seo_title%`` does;
- three themes: a tagDiv-"Newspaper"-style one (``td-post-content``, "Cập nhật: 14:02 | 04/10/2024"),
  Elementor Pro single-post templates (deeply nested ``elementor-section`` / ``elementor-column`` /
  ``elementor-widget`` divs; half of them with the body itself split into several ``text-editor`` widgets and
  ``image`` widgets; "Cập nhật lúc 14:02, 04/10/2024", sometimes also "Đăng lúc ..."), and a GeneratePress-style
  one (``entry-content``, published date shown, updated date in a hidden ``time.updated``);
- the visible "Cập nhật" time is the time of the current version (truth ``modified``), not the publication;
- AddToAny share boxes inside the content (top on some, bottom on all), an inline "Tin liên quan:" box between
  paragraphs on some posts, a related-posts box at the end (tagDiv / Elementor posts / Jetpack style), post
  navigation, the WordPress comment form, a cookie notice and a "Scroll to top" button;
- credit lines at the end of the content: "Bài, ảnh: Thu Hà", "Tin, ảnh: ...", "Nguồn: TTXVN", "Theo VOV", the
  name alone in ``<strong>``, or none (then the reporter is the WordPress account of the byline); the truth
  ``author`` is the credited person or agency, the credit line is boilerplate, not body;
- an English edition (Polylang): a few ``/en/YYYY/MM/<slug>/`` posts in English, ``lang="en-US"``, signed
  "By Thu Ha" at the end of the content while the byline shows the site account; they are not vnweb stories,
  so they are not in the truth file: ``english_truth()`` gives their expected title, body, author and date;
- Yoast sitemaps: ``/sitemap.xml`` 301 to ``/sitemap_index.xml`` (post-sitemap.xml, post-sitemap2.xml ... of 100
  posts, page-, category- and author-sitemap), ``<url>`` entries with ``<image:image><image:loc>...jpg
  </image:loc></image:image>`` after ``<loc>`` and, on about a third of the entries, before it; English posts
  are in the same post sitemaps;
- RSS 2.0 at ``/feed/`` (20 items, ``dc:creator`` = the account, ``content:encoded``), per category
  ``/chuyen-muc/<cat>/feed/`` and ``/en/feed/``.

Everything that is not article text goes through ``bp`` so the truth lists it as boilerplate.

Config-only source entry (what a new user writes; ``bench/fidelity.py --crawl --extra-sites`` builds it from
the manifest and ``BSH.vnarchive``)::

    [[source]]
    id = "bsh"
    name = "Báo Sông Hậu điện tử"
    allowed_domains = ["127.0.0.9"]          # .8 when loaded alone, .9 after bnv: take it from the manifest
    start_urls = ["http://127.0.0.9:PORT/", "http://127.0.0.9:PORT/chuyen-muc/thoi-su/", ...]
    feeds = ["http://127.0.0.9:PORT/feed/"]
    sitemaps = ["http://127.0.0.9:PORT/sitemap_index.xml"]
    article_patterns = ['/\\d{4}/\\d{2}/[a-z0-9-]+/?$']
    listing_patterns = ['/chuyen-muc/[a-z0-9-]+/(page/\\d+/)?$']
    deny_patterns = ["/tim-kiem", "/admin", "/wp-admin/", "/wp-json/", "/tag/", "/author/", "/feed/"]
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import unicodedata
from datetime import UTC, datetime
from urllib.parse import quote

from vnweb_lib import textgen
from vnweb_lib.sitebase import BP, Resp, Site, clean_query, dmy, esc, hm, rfc822, teaser, xml
from vnweb_lib.util import h01, iso, rng, slugify, ts_to_dt, vn_weekday
from vnweb_lib.world import XBASE, pages

EDITORS = [("bientap", "Ban Biên tập"), ("admin", "admin"), ("baosonghau", "Báo Sông Hậu"), ("toasoan", "Tòa soạn")]
EN_ACCOUNT = ("songhauonline", "Song Hau Online")
SITEMAP_CHUNK = 100


def utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def ascii_name(name: str) -> str:
    t = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    return "".join(ch for ch in t if not unicodedata.combining(ch))


def _hex(key: str, n: int = 7) -> str:
    return hashlib.md5(key.encode()).hexdigest()[:n]


class SlugIndex:
    """post slug -> article: permalinks have no id.  Rebuilt when the day changes."""

    def __init__(self):
        self.key = None
        self.by_url: dict = {}
        self.url_of: dict = {}
        self.lock = threading.Lock()

    def _build(self, site):
        w = site.w
        key = (w.day, len(w.by_site[site.id]))
        if key == self.key:
            return
        by_url, url_of = {}, {}
        arts = [w.articles[x] for x in w.by_site[site.id]]
        claims = [(a, p) for a in arts for p in w.ensure_paths(a)[:1]] + \
                 [(a, p) for a in arts for p in w.ensure_paths(a)[1:]]
        for a, p in claims:
            u, n = p, 2
            while u in by_url:          # WordPress adds -2, -3 ... to a taken slug
                u, n = f"{p}-{n}", n + 1
            by_url[u] = (a.aid, p)
            url_of[(a.aid, p)] = u
        self.by_url, self.url_of, self.key = by_url, url_of, key

    def url_slug(self, site, a, slug) -> str:
        with self.lock:
            self._build(site)
            return self.url_of.get((a.aid, slug), slug)

    def find(self, site, url_slug):
        with self.lock:
            self._build(site)
            return self.by_url.get(url_slug)


class BSH(Site):
    """Provincial newspaper on WordPress."""

    id, template = "bsh", "wordpress"
    name = "Báo Sông Hậu điện tử"
    short = "Báo Sông Hậu"
    categories = [("thoi-su", "Thời sự"), ("kinh-te", "Kinh tế"), ("xa-hoi", "Xã hội"),
                  ("van-hoa-the-thao", "Văn hóa - Thể thao"), ("phap-luat", "Pháp luật"),
                  ("nong-nghiep-nong-thon", "Nông nghiệp - Nông thôn")]
    per_page = 12
    weight = 0.3
    rss_paths = ["/feed/"]
    sitemap_path = "/sitemap_index.xml"
    robots_disallow = ["/tim-kiem", "/admin", "/wp-admin/"]
    # for bench/fidelity.py --crawl: the rest of the [[source]] table a new user writes (no extraction hints)
    vnarchive = {
        "article_patterns": [r"/\d{4}/\d{2}/[a-z0-9-]+/?$"],
        "listing_patterns": [r"/chuyen-muc/[a-z0-9-]+/(page/\d+/)?$"],
        "deny_patterns": ["/tim-kiem", "/admin", "/wp-admin/", "/wp-json/", "/tag/", "/author/", "/feed/"],
    }
    shows_time = True
    STATIC_PAGES = [("gioi-thieu", "Giới thiệu"), ("lien-he", "Liên hệ"), ("quang-cao", "Quảng cáo")]

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.slugs = SlugIndex()
        self._en = (None, [])
        self._en_lock = threading.Lock()

    # ------------------------------------------------------------------ URL scheme
    def post_id(self, a) -> int:
        return 1000 + 3 * (a.aid - XBASE)

    def article_path(self, a, slug=None):
        d = ts_to_dt(a.pub)
        return f"/{d.year}/{d.month:02d}/{self.slugs.url_slug(self, a, slug or self.w.slug(a))}/"

    def parse_article_path(self, path):
        m = re.fullmatch(r"/(\d{4})/(\d{2})/([a-z0-9-]+)/", path)
        if not m:
            return None
        hit = self.slugs.find(self, m.group(3))
        if hit is None:
            return (-1, "")
        aid, slug = hit
        d = ts_to_dt(self.w.articles[aid].pub)
        if (int(m.group(1)), int(m.group(2))) != (d.year, d.month):
            return (-1, "")
        return aid, slug

    def category_path(self, cat, page=1):
        return f"/chuyen-muc/{self.categories[cat][0]}/" + (f"page/{page}/" if page > 1 else "")

    def parse_category(self, path, q):
        m = re.fullmatch(r"/chuyen-muc/([a-z0-9-]+)/(?:page/(\d+)/)?", path)
        if not m:
            return None
        slugs = [c for c, _ in self.categories]
        if m.group(1) not in slugs:
            return (-1, 1)
        return slugs.index(m.group(1)), int(m.group(2) or 1)

    def caption(self, cap, photographer):
        return f"{cap} (Ảnh: {photographer})"

    # ------------------------------------------------------------------ who wrote it
    def credit(self, a) -> tuple[str, str | None, str]:
        """(kind, credit line as printed or None, the credited person or agency = truth author)."""
        r = rng(self.w.seed, "bsh-credit", a.aid)
        x = h01(self.w.seed, "bsh-credit-kind", a.aid)
        short = self.w.author(a, "short")
        if x < 0.22:
            return "bai_anh", f"Bài, ảnh: {short}", short
        if x < 0.30:
            return "tin_anh", f"Tin, ảnh: {short}", short
        if x < 0.48:
            ag = "TTXVN" if r.random() < 0.75 else "Báo Nhân Dân"
            return "nguon", f"Nguồn: {ag}", ag
        if x < 0.62:
            ag = r.choice(["VOV", "VOV", "VOV", "TTXVN", "Báo Tin tức"])
            return "theo", f"Theo {ag}", ag
        if x < 0.72:
            name = self.w.author(a, "full") if r.random() < 0.5 else short
            return "strong", name, name
        return "meta", None, short

    def author_of(self, a):
        return self.credit(a)[2]

    def account(self, a) -> tuple[str, str]:
        """(login, display name) of the WordPress account that posted it."""
        kind, _, who = self.credit(a)
        person = (slugify(who).replace("-", ""), who)
        if kind == "meta" or (kind in ("bai_anh", "tin_anh", "strong") and h01(self.w.seed, "bsh-acct", a.aid) < 0.5):
            return person
        return EDITORS[int(h01(self.w.seed, "bsh-editor", a.aid) * len(EDITORS))]

    # ------------------------------------------------------------------ English edition (not vnweb stories)
    def english_posts(self) -> list:
        """[dict(url, title, body, author, published ts, image)] of the /en/ posts live now, newest first."""
        w = self.w
        key = (w.day, len(w.by_site[self.id]))
        with self._en_lock:
            if self._en[0] == key:
                return self._en[1]
            out = []
            for aid in w.by_site[self.id]:
                if h01(w.seed, "bsh-en", aid) >= 0.08:
                    continue
                a = w.articles[aid]
                pub = a.pub + 2 * 3600 + int(h01(w.seed, "bsh-en-t", aid) * 3600)
                if pub > w.now():
                    continue
                title, paras = textgen.english_article(w.seed, f"bsh-{aid}")
                d = ts_to_dt(pub)
                slug = slugify(title)
                author = ascii_name(w.author(a, "short"))
                out.append({"aid": aid, "url": self.url(f"/en/{d.year}/{d.month:02d}/{slug}/"), "path": f"/en/{d.year}/{d.month:02d}/{slug}/",
                            "title": title, "body": paras, "author": author, "pub": pub, "cat": a.cat,
                            "image": self.url(f"/wp-content/uploads/{d.year}/{d.month:02d}/en-{aid - XBASE}.jpg")})
            out.sort(key=lambda e: -e["pub"])
            self._en = (key, out)
            return out

    def english_truth(self) -> list:
        return [{"url": e["url"], "title": e["title"], "lead": "", "body": e["body"], "author": e["author"],
                 "published": iso(e["pub"]), "modified": iso(e["pub"]), "language": "en"} for e in self.english_posts()]

    # ------------------------------------------------------------------ routing
    def robots(self):
        return "\n".join(["User-agent: *", "Disallow: /wp-admin/", "Allow: /wp-admin/admin-ajax.php",
                          "Disallow: /tim-kiem", "Disallow: /admin", "Disallow: /?s=", "",
                          f"Sitemap: {self.url('/sitemap_index.xml')}", ""])

    def route(self, method, path, query, host="desktop"):
        q = clean_query(query)
        w = self.w
        if path == "/" and q.get("p", "").isdigit():
            aid = (int(q["p"]) - 1000) // 3 + XBASE
            a = w.get(aid) if (int(q["p"]) - 1000) % 3 == 0 and int(q["p"]) >= 1000 else None
            if a is None or a.site != self.id:
                return self.not_found()
            if a.removed:
                return Resp(a.gone_code, self.render_not_found().encode(), kind="gone", aid=a.aid)
            return self.redirect(self.canonical(a), 301)
        if path == "/" and "s" in q:
            return Resp(body=self.encode(f'<html><head><meta name="robots" content="noindex"></head><body>'
                                         f"<h1>Kết quả tìm kiếm: {esc(q['s'])}</h1><p>Không có kết quả.</p></body></html>"),
                        kind="search")
        if path == "/sitemap.xml":
            return self.redirect(self.url("/sitemap_index.xml"), 301)
        if path == "/sitemap_index.xml":
            return self.xml_resp(self.sitemap_index(), lm=w.now())
        m = re.fullmatch(r"/post-sitemap(\d*)\.xml", path)
        if m:
            body = self.post_sitemap(int(m.group(1) or 1))
            return self.xml_resp(body) if body else self.not_found()
        if path in ("/page-sitemap.xml", "/category-sitemap.xml", "/author-sitemap.xml"):
            return self.xml_resp(self.small_sitemap(path[1:].split("-")[0]))
        if path == "/main-sitemap.xsl":
            return Resp(body=b'<?xml version="1.0"?><xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"/>',
                        ctype="text/xsl", kind="static")
        if path == "/feed/":
            return self.feed(w.live_by_site[self.id], self.name, "/")
        m = re.fullmatch(r"/chuyen-muc/([a-z0-9-]+)/feed/", path)
        if m and m.group(1) in [c for c, _ in self.categories]:
            cat = [c for c, _ in self.categories].index(m.group(1))
            return self.feed(self.live_cat(cat), f"{self.categories[cat][1]} - {self.name}", self.category_path(cat))
        if path == "/en/feed/":
            return self.en_feed()
        if path.startswith(("/wp-content/", "/wp-includes/")):
            if path.endswith((".css", ".js")):
                return Resp(body=b"/* wp */\n", ctype="text/css" if path.endswith(".css") else "application/javascript",
                            kind="static")
            return Resp(body=b"GIF89a", ctype="image/jpeg", kind="static")
        if path.startswith("/en/"):
            return self.en_route(path, q)
        m = re.fullmatch(r"/author/([a-z0-9]+)/", path)
        if m:
            return self.author_archive(m.group(1))
        m = re.fullmatch(r"/tag/([a-z0-9-]+)/", path)
        if m:
            return self.tag_archive(m.group(1))
        for slug, title in self.STATIC_PAGES:
            if path == f"/{slug}/":
                bp = BP()
                return self.finish(self.static_page(bp, title), kind="page")
        if not path.endswith("/") and (re.fullmatch(r"/\d{4}/\d{2}/[a-z0-9-]+", path) or
                                       re.fullmatch(r"/(chuyen-muc|tag|author|en)(/[a-z0-9-]+)+", path) or
                                       path.lstrip("/") in [s for s, _ in self.STATIC_PAGES]):
            return self.redirect(self.url(path + "/"), 301)
        return super().route(method, path, query, host)

    def xml_resp(self, body: str, lm=None) -> Resp:
        return Resp(body=body.encode(), ctype="application/xml; charset=UTF-8", kind="sitemap", last_modified=lm)

    # ------------------------------------------------------------------ sitemaps (Yoast)
    def post_entries(self) -> list:
        """[(pub, url, lastmod ts, [image urls])] of every live post, Vietnamese and English, oldest first."""
        out = []
        for aid in self.w.by_site[self.id]:
            a = self.w.articles[aid]
            if a.removed:
                continue
            d = ts_to_dt(a.pub)
            up = f"/wp-content/uploads/{d.year}/{d.month:02d}/"
            imgs = [self.url(f"{up}{self.w.slug(a)[:48]}.jpg")]
            nfig = len(self.w.content(a).figures)
            imgs += [self.url(f"{up}{aid - XBASE}-{k}.jpg") for k in range(1, nfig + 1)]
            out.append((a.pub, self.canonical(a), a.modified, imgs))
        for e in self.english_posts():
            out.append((e["pub"], e["url"], e["pub"], [e["image"]]))
        out.sort(key=lambda t: t[0])
        return out

    def sitemap_index(self):
        ents = self.post_entries()
        n = pages(len(ents), SITEMAP_CHUNK)
        parts = []
        for k in range(n):
            chunk = ents[k * SITEMAP_CHUNK:(k + 1) * SITEMAP_CHUNK]
            name = "post-sitemap.xml" if k == 0 else f"post-sitemap{k + 1}.xml"
            lm = max((e[2] for e in chunk), default=self.w.now())
            parts.append(f"\t<sitemap>\n\t\t<loc>{self.url('/' + name)}</loc>\n\t\t<lastmod>{utc(lm)}</lastmod>\n\t</sitemap>")
        for name in ("page-sitemap.xml", "category-sitemap.xml", "author-sitemap.xml"):
            parts.append(f"\t<sitemap>\n\t\t<loc>{self.url('/' + name)}</loc>\n\t\t<lastmod>{utc(self.w.now())}</lastmod>\n\t</sitemap>")
        return (f'<?xml version="1.0" encoding="UTF-8"?><?xml-stylesheet type="text/xsl" href="//{self.base.split("//")[1]}/main-sitemap.xsl"?>\n'
                '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + "\n".join(parts) + "\n</sitemapindex>\n"
                "<!-- XML Sitemap generated by Yoast SEO -->")

    URLSET = ('<urlset xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
              'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1" '
              'xsi:schemaLocation="http://www.sitemaps.org/schemas/sitemap/0.9 http://www.sitemaps.org/schemas/sitemap/0.9/sitemap.xsd '
              'http://www.google.com/schemas/sitemap-image/1.1 http://www.google.com/schemas/sitemap-image/1.1/sitemap-image.xsd" '
              'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')

    def _urlset(self, entries) -> str:
        out = []
        for url, lm, imgs in entries:
            loc = f"\t\t<loc>{xml(url)}</loc>\n" + (f"\t\t<lastmod>{utc(lm)}</lastmod>\n" if lm else "")
            im = "".join(f"\t\t<image:image>\n\t\t\t<image:loc>{xml(i)}</image:loc>\n\t\t</image:image>\n" for i in imgs)
            before = imgs and h01(self.w.seed, "bsh-img-first", url) < 0.33
            out.append("\t<url>\n" + (im + loc if before else loc + im) + "\t</url>")
        return (f'<?xml version="1.0" encoding="UTF-8"?><?xml-stylesheet type="text/xsl" href="//{self.base.split("//")[1]}/main-sitemap.xsl"?>\n'
                + self.URLSET + "\n" + "\n".join(out) + "\n</urlset>\n<!-- XML Sitemap generated by Yoast SEO -->")

    def post_sitemap(self, k: int):
        ents = self.post_entries()[(k - 1) * SITEMAP_CHUNK:k * SITEMAP_CHUNK]
        if k < 1 or not ents:
            return None
        return self._urlset([(u, lm, imgs) for _, u, lm, imgs in ents])

    def small_sitemap(self, kind: str) -> str:
        now = self.w.now()
        if kind == "page":
            ents = [(self.url("/"), now, [self.url("/wp-content/uploads/2023/05/logo-bsh.png")]), (self.url("/en/"), now, [])]
            ents += [(self.url(f"/{s}/"), now - 86400 * 200, []) for s, _ in self.STATIC_PAGES]
        elif kind == "category":
            ents = [(self.url(self.category_path(i)), now, []) for i in range(len(self.categories))]
        else:
            ents = [(self.url(f"/author/{login}/"), now, []) for login, _ in EDITORS]
        return self._urlset(ents)

    # ------------------------------------------------------------------ feeds
    def feed(self, aids, title, link) -> Resp:
        items = []
        for aid in aids[:20]:
            a = self.w.articles[aid]
            c = self.w.content(a)
            u = self.canonical(a)
            body = "".join(f"<p>{esc(p)}</p>" for p in c.body())
            items.append(f"<item><title>{xml(c.title)}</title><link>{xml(u)}</link>"
                         f"<comments>{xml(u)}#respond</comments><dc:creator><![CDATA[{self.account(a)[1]}]]></dc:creator>"
                         f"<pubDate>{rfc822(a.pub)}</pubDate><category><![CDATA[{self.categories[a.cat][1]}]]></category>"
                         f'<guid isPermaLink="false">{xml(self.url(f"/?p={self.post_id(a)}"))}</guid>'
                         f"<description><![CDATA[{teaser(c.lead, 200)} [&#8230;]]]></description>"
                         f"<content:encoded><![CDATA[<p><strong>{esc(c.lead)}</strong></p>{body}]]></content:encoded></item>")
        return self._rss(title, link, items, "vi")

    def _rss(self, title, link, items, lang) -> Resp:
        body = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
                'xmlns:wfw="http://wellformedweb.org/CommentAPI/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
                'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" '
                'xmlns:slash="http://purl.org/rss/1.0/modules/slash/">'
                f'<channel><title>{xml(title)}</title><atom:link href="{xml(self.url(link))}feed/" rel="self" type="application/rss+xml" />'
                f"<link>{xml(self.url(link))}</link><description>Tin tức tỉnh Sông Hậu</description>"
                f"<lastBuildDate>{rfc822(self.w.now())}</lastBuildDate><language>{lang}</language>"
                "<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>1</sy:updateFrequency>"
                "<generator>https://wordpress.org/?v=6.6.2</generator>" + "".join(items) + "</channel></rss>")
        return Resp(body=body.encode(), ctype="application/rss+xml; charset=UTF-8", kind="feed", last_modified=self.w.now())

    def en_feed(self) -> Resp:
        items = [f"<item><title>{xml(e['title'])}</title><link>{xml(e['url'])}</link>"
                 f"<dc:creator><![CDATA[{EN_ACCOUNT[1]}]]></dc:creator><pubDate>{rfc822(e['pub'])}</pubDate>"
                 f"<description><![CDATA[{teaser(e['body'][0], 200)} [&#8230;]]]></description></item>"
                 for e in self.english_posts()[:20]]
        return self._rss("Song Hau Online - English", "/en/", items, "en-US")

    # ------------------------------------------------------------------ shared chrome
    def seo_head(self, bp_title: str, url: str, desc: str, kind: str, a=None, c=None, lang="vi", image=None,
                 account=None, pub=None, mod=None) -> str:
        """Yoast or Rank Math <head> block: meta tags and the JSON-LD @graph."""
        base = self.base
        rank = a is not None and h01(self.w.seed, "bsh-seo", a.aid) < 0.4
        sep = " | " if rank else " - "
        site = self.name if lang == "vi" else "Song Hau Online"
        full_title = f"{bp_title}{sep}{site}" if bp_title != site else site
        org = {"@type": (["NewsMediaOrganization", "Organization"] if rank else "Organization"), "@id": f"{base}/#organization",
               "name": site, "url": f"{base}/", "sameAs": ["https://www.facebook.com/baosonghau"],
               "logo": {"@type": "ImageObject", "@id": f"{base}/#logo", "url": f"{base}/wp-content/uploads/2023/05/logo-bsh.png",
                        "width": 400, "height": 120, "caption": site}}
        website = {"@type": "WebSite", "@id": f"{base}/#website", "url": f"{base}/", "name": site,
                   "publisher": {"@id": f"{base}/#organization"}, "inLanguage": lang,
                   "potentialAction": [{"@type": "SearchAction", "target": {"@type": "EntryPoint", "urlTemplate": f"{base}/?s={{search_term_string}}"},
                                        "query-input": "required name=search_term_string"}]}
        graph = [org, website]
        meta = [f'<meta name="description" content="{esc(desc)}" />',
                '<meta name="robots" content="index, follow, max-snippet:-1, max-image-preview:large, max-video-preview:-1" />',
                f'<link rel="canonical" href="{esc(url)}" />',
                f'<meta property="og:locale" content="{"vi_VN" if lang == "vi" else "en_US"}" />',
                f'<meta property="og:type" content="{"article" if kind == "article" else "website"}" />',
                f'<meta property="og:title" content="{esc(full_title)}" />', f'<meta property="og:description" content="{esc(desc)}" />',
                f'<meta property="og:url" content="{esc(url)}" />', f'<meta property="og:site_name" content="{esc(site)}" />']
        if kind == "article":
            fmt = iso if rank else utc
            login, display = account
            pid = f"{base}/author/{login}/" if rank else f"{base}/#/schema/person/{_hex(login, 32)}"
            meta += ['<meta property="article:publisher" content="https://www.facebook.com/baosonghau" />',
                     f'<meta property="article:published_time" content="{fmt(pub)}" />',
                     f'<meta property="article:modified_time" content="{fmt(mod)}" />']
            if rank:
                meta.append(f'<meta property="og:updated_time" content="{iso(mod)}" />')
            meta += [f'<meta property="og:image" content="{esc(image)}" />', '<meta property="og:image:width" content="1200" />',
                     '<meta property="og:image:height" content="800" />']
            if not rank:
                meta.append(f'<meta name="author" content="{esc(display)}" />')
            meta += ['<meta name="twitter:card" content="summary_large_image" />',
                     f'<meta name="twitter:label1" content="{"Được viết bởi" if lang == "vi" else "Written by"}" />',
                     f'<meta name="twitter:data1" content="{esc(display)}" />',
                     f'<meta name="twitter:label2" content="{"Ước tính thời gian đọc" if lang == "vi" else "Est. reading time"}" />',
                     f'<meta name="twitter:data2" content="{2 + (len(c.body()) // 3 if c else 1)} {"phút" if lang == "vi" else "minutes"}" />']
            author = {"@id": pid} if h01(self.w.seed, "bsh-author-ref", url) < 0.5 else {"name": display, "@id": pid}
            person = {"@type": "Person", "@id": pid, "name": display, "url": f"{base}/author/{login}/",
                      "image": {"@type": "ImageObject", "@id": f"{base}/#/schema/person/image/", "url": f"https://secure.gravatar.com/avatar/{_hex(login, 32)}?s=96&d=mm&r=g",
                                "caption": display}}
            if rank:
                person["worksFor"] = {"@id": f"{base}/#organization"}
            img = {"@type": "ImageObject", "@id": (image if rank else f"{url}#primaryimage"), "url": image, "contentUrl": image,
                   "width": 1200, "height": 800, "inLanguage": lang}
            crumbs = {"@type": "BreadcrumbList", "@id": f"{url}#breadcrumb", "itemListElement": [
                {"@type": "ListItem", "position": 1, "name": "Trang chủ" if lang == "vi" else "Home", "item": f"{base}/"},
                {"@type": "ListItem", "position": 2, "name": self.categories[a.cat][1] if lang == "vi" else "News",
                 "item": self.url(self.category_path(a.cat)) if lang == "vi" else self.url("/en/category/news/")},
                {"@type": "ListItem", "position": 3, "name": bp_title}]}
            page = {"@type": "WebPage", "@id": (f"{url}#webpage" if rank else url), "url": url, "name": full_title,
                    "isPartOf": {"@id": f"{base}/#website"}, "datePublished": fmt(pub), "dateModified": fmt(mod),
                    "description": desc, "breadcrumb": {"@id": f"{url}#breadcrumb"}, "inLanguage": lang,
                    "primaryImageOfPage": {"@id": img["@id"]}}
            art = {"@type": "NewsArticle" if h01(self.w.seed, "bsh-type", url) < 0.5 else "Article",
                   "@id": f"{url}#richSnippet" if rank else f"{url}#article",
                   "isPartOf": {"@id": page["@id"]}, "author": author,
                   "headline": full_title if rank else bp_title, "datePublished": fmt(pub), "dateModified": fmt(mod),
                   "mainEntityOfPage": {"@id": page["@id"]}, "publisher": {"@id": f"{base}/#organization"},
                   "image": {"@id": img["@id"]}, "inLanguage": lang,
                   "articleSection": [self.categories[a.cat][1]] if lang == "vi" else ["News"]}
            if c is not None and lang == "vi":
                art["keywords"] = c.tags
                art["wordCount"] = sum(len(p.split()) for p in c.body())
            graph += [img, crumbs, page, person, art]
        ld = json.dumps({"@context": "https://schema.org", "@graph": graph}, ensure_ascii=False)
        if rank:
            return ("<!-- Search Engine Optimization by Rank Math - https://rankmath.com/ -->\n"
                    f"<title>{esc(full_title)}</title>\n" + "\n".join(meta)
                    + f'\n<script type="application/ld+json" class="rank-math-schema">{ld}</script>\n<!-- /Rank Math WordPress SEO plugin -->')
        return ("<!-- This site is optimized with the Yoast SEO plugin v23.5 - https://yoast.com/wordpress/plugins/seo/ -->\n"
                f"<title>{esc(full_title)}</title>\n" + "\n".join(meta)
                + f'\n<script type="application/ld+json" class="yoast-schema-graph">{ld}</script>\n<!-- / Yoast SEO plugin. -->')

    def sidebar(self, bp: BP, a=None) -> str:
        live = self.w.live_by_site[self.id]
        newest = [self.static_item(x) for x in live[:6]]
        popular = [self.static_item(x) for x in (self.neighbours(a, 5, "bsh-docnhieu", 120) if a else live[6:11])]
        def li(items):
            return "".join(f'<li><a href="{u}">{bp(t)}</a></li>' for _, t, u in items)
        return (f'<aside id="secondary" class="widget-area sidebar"><section class="widget widget_recent_entries">'
                f'<h2 class="widget-title">{bp("Tin mới nhất")}</h2><ul>{li(newest)}</ul></section>'
                f'<section class="widget widget_top-posts"><h2 class="widget-title">{bp("Đọc nhiều nhất")}</h2><ul>{li(popular)}</ul></section>'
                f'<section class="widget widget_media_image"><a href="/quang-cao/"><img width="300" height="250" src="/wp-content/uploads/2024/01/banner-300x250.jpg" alt="Quảng cáo"></a></section></aside>')

    def page(self, bp: BP, head: str, main: str, body_cls: str, lang="vi", elementor=False) -> str:
        now = self.w.now()
        menu = "".join(f'<li id="menu-item-{30 + i}" class="menu-item menu-item-type-taxonomy menu-item-object-category menu-item-{30 + i}">'
                       f'<a href="{self.category_path(i)}">{bp(n)}</a></li>' for i, (_, n) in enumerate(self.categories))
        if lang != "vi":
            menu = f'<li class="menu-item"><a href="/en/category/news/">{bp("News")}</a></li>'
        langs = (f'<ul class="pll-switcher"><li class="lang-item lang-item-vi{" current-lang" if lang == "vi" else ""}"><a lang="vi" hreflang="vi" href="/">{bp("Tiếng Việt")}</a></li>'
                 f'<li class="lang-item lang-item-en{" current-lang" if lang != "vi" else ""}"><a lang="en-US" hreflang="en-US" href="/en/">{bp("English")}</a></li></ul>')
        top = bp(f"{vn_weekday(now)}, {dmy(now)}") if lang == "vi" else bp(ts_to_dt(now).strftime("%A, %B %d, %Y"))
        footer_lines = [
            "BÁO SÔNG HẬU ĐIỆN TỬ - Cơ quan của Đảng bộ, chính quyền và nhân dân tỉnh Sông Hậu (mô phỏng)",
            "Giấy phép hoạt động báo điện tử số 88/GP-BTTTT. Tổng Biên tập: Lê Văn C",
            "Địa chỉ: 01 đường 30/4, phường 1, thành phố Sông Hậu. Điện thoại: 0292.3822.xxx",
            "© 2024 Báo Sông Hậu điện tử. Ghi rõ nguồn khi phát hành lại thông tin từ website này."]
        if elementor:
            header = ('<div data-elementor-type="header" data-elementor-id="21" class="elementor elementor-21 elementor-location-header">'
                      + el_section("hdr", [el_widget("hdr-date", "text-editor", f"<p>{top}</p>"),
                                           el_widget("hdr-logo", "theme-site-logo", f'<a href="/"><img src="/wp-content/uploads/2023/05/logo-bsh.png" alt="{esc(self.name)}"></a>'),
                                           el_widget("hdr-lang", "polylang-language-switcher", langs)])
                      + el_section("nav", [el_widget("nav-menu", "nav-menu", f'<nav class="elementor-nav-menu--main"><ul id="menu-1-main" class="elementor-nav-menu">'
                                                                             f'<li class="menu-item"><a href="/">{bp("Trang chủ")}</a></li>{menu}</ul></nav>')])
                      + "</div>")
            footer = ('<div data-elementor-type="footer" data-elementor-id="45" class="elementor elementor-45 elementor-location-footer">'
                      + el_section("ftr", [el_widget(f"ftr-{k}", "text-editor", f"<p>{bp(t)}</p>") for k, t in enumerate(footer_lines)])
                      + "</div>")
        else:
            header = (f'<header id="masthead" class="site-header"><div class="top-bar"><span class="td-date">{top}</span>{langs}</div>'
                      f'<div class="site-branding"><a href="/" rel="home"><img src="/wp-content/uploads/2023/05/logo-bsh.png" alt="{esc(self.name)}"></a></div>'
                      f'<nav id="site-navigation" class="main-navigation"><ul id="primary-menu" class="menu"><li class="menu-item menu-item-home"><a href="/">{bp("Trang chủ")}</a></li>{menu}</ul></nav>'
                      f'<form role="search" method="get" class="search-form" action="/"><input type="search" class="search-field" name="s" placeholder="Tìm kiếm …"><button type="submit">{bp("Tìm kiếm")}</button></form></header>')
            footer = ('<footer id="colophon" class="site-footer"><div class="site-info">'
                      + "".join(f"<p>{bp(t)}</p>" for t in footer_lines) + "</div></footer>")
        cookie = (f'<div id="cookie-notice" role="dialog" class="cookie-notice-hidden cookie-revoke-hidden cn-position-bottom"><div class="cookie-notice-container">'
                  f'<span id="cn-notice-text" class="cn-text-container">{bp("Chúng tôi sử dụng cookie để cải thiện trải nghiệm của bạn trên website này.")}</span>'
                  f'<span id="cn-notice-buttons" class="cn-buttons-container"><a href="#" id="cn-accept-cookie" class="cn-set-cookie cn-button">{bp("Đồng ý")}</a></span></div></div>')
        scroll = (f'<a id="ast-scroll-top" class="ast-scroll-top-icon ast-scroll-to-top-right" href="#" aria-label="Scroll to top" data-on-devices="both">'
                  f'<span class="screen-reader-text">{bp("Scroll to top")}</span></a>')
        return f"""<!DOCTYPE html>
<html lang="{"vi" if lang == "vi" else "en-US"}" prefix="og: https://ogp.me/ns#">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="profile" href="https://gmpg.org/xfn/11">
{head}
<link rel='dns-prefetch' href='//static.addtoany.com' />
<link rel="alternate" type="application/rss+xml" title="{esc(self.name)} &raquo; Feed" href="{self.url('/feed/')}" />
<link rel='stylesheet' id='wp-block-library-css' href='/wp-includes/css/dist/block-library/style.min.css?ver=6.6.2' media='all' />
<link rel='stylesheet' id='elementor-frontend-css' href='/wp-content/plugins/elementor/assets/css/frontend.min.css?ver=3.24.4' media='all' />
<script src="/wp-includes/js/jquery/jquery.min.js?ver=3.7.1" id="jquery-core-js"></script>
<link rel="https://api.w.org/" href="{self.url('/wp-json/')}" /><meta name="generator" content="WordPress 6.6.2" />
</head>
<body class="{body_cls}"><!-- vnweb simulated site: {self.id} -->
<div id="page" class="site"><a class="skip-link screen-reader-text" href="#content">{bp("Chuyển đến nội dung")}</a>
{header}
<div id="content" class="site-content">{main}</div>
{footer}</div>
{cookie}{scroll}
<script id="addtoany-core-js-before">window.a2a_config=window.a2a_config||{{}};a2a_config.callbacks=[];a2a_config.overlays=[];a2a_config.templates={{}};a2a_localize = {{Share: "Chia sẻ",Save: "Lưu",Subscribe: "Đăng ký"}};</script>
<script defer src="https://static.addtoany.com/menu/page.js" id="addtoany-core-js"></script>
</body></html>"""

    def cards(self, bp: BP, aids) -> str:
        out = []
        for aid in aids:
            a, t, u = self.item(aid)
            login, display = self.account(a)
            d = ts_to_dt(a.pub)
            out.append(f'<div class="td_module_10 td_module_wrap td-animation-stack"><div class="td-module-thumb">'
                       f'<a href="{u}" rel="bookmark" class="td-image-wrap" title="{esc(t)}"><img width="218" height="150" class="entry-thumb" '
                       f'src="/wp-content/uploads/{d.year}/{d.month:02d}/{self.w.slug(a)[:48]}-218x150.jpg" alt="" title="{esc(t)}"></a></div>'
                       f'<div class="item-details"><h3 class="entry-title td-module-title"><a href="{u}" rel="bookmark" title="{esc(t)}">{bp(t)}</a></h3>'
                       f'<div class="td-module-meta-info"><span class="td-post-author-name"><a href="/author/{login}/">{bp(display)}</a> <span>-</span> </span>'
                       f'<span class="td-post-date"><time class="entry-date updated td-module-date" datetime="{iso(a.pub)}">{bp(dmy(a.pub))}</time></span></div>'
                       f'<div class="td-excerpt">{bp(teaser(self.w.lead(a), 160))}</div></div></div>')
        return "\n".join(out)

    def listing(self, bp: BP, title: str, aids, page: int, n: int, path_of) -> str:
        nav = ""
        if n > 1:
            nav = "".join(f'<span aria-current="page" class="page-numbers current">{p}</span>' if p == page else
                          f'<a class="page-numbers" href="{path_of(p)}">{p}</a>' for p in range(max(1, page - 2), min(n, page + 2) + 1))
            if page > 1:
                nav = f'<a class="prev page-numbers" href="{path_of(page - 1)}">{bp("« Trang trước")}</a>' + nav
            if page < n:
                nav += f'<a class="next page-numbers" href="{path_of(page + 1)}">{bp("Trang sau »")}</a>'
            nav = f'<nav class="navigation pagination" aria-label="Phân trang bài viết"><div class="nav-links">{nav}</div></nav>'
        return (f'<div class="td-pb-row"><div class="td-pb-span8 td-main-content"><h1 class="entry-title td-page-title">{bp(title)}</h1>'
                f"{self.cards(bp, aids)}{nav}</div>{self.sidebar(bp)}</div>")

    def render_home(self, bp):
        live = self.w.live_by_site[self.id]
        main = f'<div class="td-pb-row"><div class="td-pb-span8"><div class="td_block_wrap td_block_big_grid"><h4 class="block-title"><span>{bp("Tin nổi bật")}</span></h4>{self.cards(bp, live[:10])}</div>'
        for i, (_, n) in enumerate(self.categories):
            main += (f'<div class="td_block_wrap td_block_1"><h4 class="block-title"><a href="{self.category_path(i)}">{bp(n)}</a></h4>'
                     f'{self.cards(bp, self.live_cat(i)[:3])}<a class="td-more" href="{self.category_path(i)}">{bp("Xem thêm")}</a></div>')
        main += f"</div>{self.sidebar(bp)}</div>"
        head = self.seo_head(self.name, self.url("/"), "Tin tức, thời sự tỉnh Sông Hậu", "home")
        return self.page(bp, head, main, "home blog wp-custom-logo")

    def render_category(self, cat, page, bp):
        lst = self.live_cat(cat)
        n = pages(len(lst), self.per_page)
        name = self.categories[cat][1]
        main = self.listing(bp, name, lst[(page - 1) * self.per_page: page * self.per_page], page, n,
                            lambda p: self.category_path(cat, p))
        head = self.seo_head(name + (f" - Trang {page} trên {n}" if page > 1 else ""), self.url(self.category_path(cat, page)),
                             f"Tin {name.lower()} tỉnh Sông Hậu", "listing")
        return self.page(bp, head, main, f"archive category category-{self.categories[cat][0]}")

    def archive(self, bp, title, aids, path) -> str:
        head = self.seo_head(title, self.url(path), title, "listing")
        return self.page(bp, head, self.listing(bp, title, aids, 1, 1, lambda p: path), "archive")

    def author_archive(self, login) -> Resp:
        names = dict(EDITORS)
        lst = [x for x in self.w.live_by_site[self.id][:300] if self.account(self.w.articles[x])[0] == login][:self.per_page]
        if login not in names and not lst:
            return self.not_found()
        bp = BP()
        name = names.get(login) or self.account(self.w.articles[lst[0]])[1]
        return self.finish(self.archive(bp, f"Tác giả: {name}", lst, f"/author/{login}/"), kind="listing", lm=self.w.now())

    def tag_archive(self, slug) -> Resp:
        lst = []
        for x in self.w.live_by_site[self.id][:80]:
            if any(slugify(t) == slug for t in self.w.content(self.w.articles[x]).tags):
                lst.append(x)
        if not lst:
            return self.not_found()
        bp = BP()
        return self.finish(self.archive(bp, "Từ khóa", lst[:self.per_page], f"/tag/{slug}/"), kind="listing", lm=self.w.now())

    def static_page(self, bp, title) -> str:
        main = (f'<article class="page type-page status-publish"><header class="entry-header"><h1 class="entry-title">{bp(title)}</h1></header>'
                f'<div class="entry-content"><p>{bp("Báo Sông Hậu điện tử là cơ quan ngôn luận của Đảng bộ, chính quyền và nhân dân tỉnh Sông Hậu (mô phỏng).")}</p></div></article>')
        return self.page(bp, self.seo_head(title, self.url(f"/{slugify(title)}/"), title, "page"), main, "page-template-default page")

    # ------------------------------------------------------------------ English edition
    def en_route(self, path, q) -> Resp:
        posts = self.english_posts()
        if path == "/en/" or re.fullmatch(r"/en/category/news/(page/\d+/)?", path):
            m = re.search(r"page/(\d+)/", path)
            page = int(m.group(1)) if m else 1
            n = pages(len(posts), self.per_page)
            if page > n:
                return self.not_found()
            bp = BP()
            items = posts[(page - 1) * self.per_page: page * self.per_page]
            cards = "".join(f'<div class="td_module_10"><h3 class="entry-title td-module-title"><a href="{e["path"]}">{bp(e["title"])}</a></h3>'
                            f'<span class="td-post-date">{bp(ts_to_dt(e["pub"]).strftime("%B %d, %Y"))}</span>'
                            f'<div class="td-excerpt">{bp(teaser(e["body"][0], 160))}</div></div>' for e in items)
            nav = (f'<a class="next page-numbers" href="/en/category/news/page/{page + 1}/">{bp("Next »")}</a>' if page < n else "")
            main = f'<div class="td-pb-span8"><h1 class="td-page-title">{bp("News")}</h1>{cards}{nav}</div>'
            head = self.seo_head("News", self.url(path), "Song Hau Online - news in English", "listing", lang="en")
            return self.finish(self.page(bp, head, main, "archive category", lang="en"), kind="listing", lm=self.w.now())
        for e in posts:
            if e["path"] == path:
                bp = BP()
                return self.finish(self.render_english(e, bp), kind="article", lm=e["pub"])
        return self.not_found()

    def render_english(self, e, bp) -> str:
        a = self.w.articles[e["aid"]]
        login, display = EN_ACCOUNT
        d = ts_to_dt(e["pub"])
        when = d.strftime("%B %d, %Y %H:%M")
        body = "".join(f"<p>{esc(p)}</p>" for p in e["body"])
        end = (f"<p><strong>By {esc(e['author'])}</strong></p>" if h01(self.w.seed, "bsh-en-by", e["aid"]) < 0.7
               else f'<p style="text-align: right;"><em>By {esc(e["author"])}</em></p>')
        main = (f'<div class="td-pb-row"><div class="td-pb-span8 td-main-content"><article id="post-{self.post_id(a) + 1}" class="post type-post status-publish">'
                f'<div class="td-post-header"><header class="td-post-title"><h1 class="entry-title">{esc(e["title"])}</h1>'
                f'<div class="td-module-meta-info"><div class="td-post-author-name"><div class="td-author-by">{bp("By")}</div> <a href="/author/{login}/">{bp(display)}</a></div>'
                f'<span class="td-post-date"><time class="entry-date updated td-module-date" datetime="{iso(e["pub"])}">{bp(when)}</time></span></div></header></div>'
                f'<div class="td-post-content tagdiv-type">{body}{end}'
                f'<div class="addtoany_share_save_container addtoany_content addtoany_content_bottom"><div class="addtoany_header">{bp("Share:")}</div>'
                f'<div class="a2a_kit a2a_kit_size_32 addtoany_list"><a class="a2a_button_facebook" href="https://www.addtoany.com/add_to/facebook" rel="nofollow noopener" target="_blank"></a></div></div>'
                f"</div></article></div>{self.sidebar(bp)}</div>")
        head = self.seo_head(e["title"], e["url"], teaser(e["body"][0], 150), "article", a=a, c=None, lang="en",
                             image=e["image"], account=EN_ACCOUNT, pub=e["pub"], mod=e["pub"])
        return self.page(bp, head, main, f"post-template-default single single-post postid-{self.post_id(a) + 1}", lang="en")

    # ------------------------------------------------------------------ article pieces
    def figure(self, a, k, cap, ph, block: bool) -> str:
        d = ts_to_dt(a.pub)
        src = f"/wp-content/uploads/{d.year}/{d.month:02d}/{a.aid - XBASE}-{k}.jpg"
        att = self.post_id(a) + 100000 + k
        text = esc(self.caption(cap, ph))
        if block:
            return (f'<figure class="wp-block-image aligncenter size-large"><img decoding="async" width="1024" height="683" src="{src}" alt="" '
                    f'class="wp-image-{att}" srcset="{src} 1024w, {src[:-4]}-300x200.jpg 300w" sizes="(max-width: 1024px) 100vw, 1024px" />'
                    f'<figcaption class="wp-element-caption">{text}</figcaption></figure>')
        return (f'<figure id="attachment_{att}" aria-describedby="caption-attachment-{att}" style="width: 800px" class="wp-caption aligncenter">'
                f'<img decoding="async" class="size-full wp-image-{att}" src="{src}" alt="" width="800" height="533" />'
                f'<figcaption id="caption-attachment-{att}" class="wp-caption-text">{text}</figcaption></figure>')

    def credit_html(self, bp, a) -> str:
        kind, line, _ = self.credit(a)
        if line is None:
            return ""
        x = h01(self.w.seed, "bsh-credit-markup", a.aid)
        if x < 0.4:
            return f'<p style="text-align: right;"><strong>{bp(line)}</strong></p>'
        if x < 0.7:
            return f'<p class="has-text-align-right"><em>{bp(line)}</em></p>'
        return f"<p><strong>{bp(line)}</strong></p>"

    def share(self, bp, where: str, url: str, title: str) -> str:
        label = "Chia sẻ:" if where == "top" else "Chia sẻ bài viết:"
        btns = "".join(f'<a class="a2a_button_{n}" href="https://www.addtoany.com/add_to/{n}?linkurl={quote(url, safe="")}&amp;linkname={quote(title)}" '
                       f'title="{n.title()}" rel="nofollow noopener" target="_blank"></a>' for n in ("facebook", "zalo", "twitter", "email"))
        return (f'<div class="addtoany_share_save_container addtoany_content addtoany_content_{where}"><div class="addtoany_header">{bp(label)}</div>'
                f'<div class="a2a_kit a2a_kit_size_32 addtoany_list" data-a2a-url="{esc(url)}" data-a2a-title="{esc(title)}">{btns}'
                f'<a class="a2a_dd addtoany_share_save addtoany_share" href="https://www.addtoany.com/share"></a></div></div>')

    def inline_related(self, bp, items) -> str:
        lis = "".join(f'<li><a href="{u}">{bp(t)}</a></li>' for _, t, u in items)
        return f'<div class="crp_related crp-rounded-thumbs"><p><strong>{bp("Tin liên quan:")}</strong></p><ul>{lis}</ul></div>'

    def content_units(self, a, c, bp, block: bool, inline: list) -> list:
        """[(kind, html)]: "p" paragraphs, "fig" figures, "raw" inline boxes, in page order."""
        figs: dict[int, list] = {}
        for after, cap, ph in c.figures:
            figs.setdefault(after, []).append((cap, ph))
        units, k = [], 0
        justify = h01(self.w.seed, "bsh-justify", a.aid) < 0.4
        for i, p in enumerate(c.body()):
            units.append(("p", f'<p style="text-align: justify;">{esc(p)}</p>' if justify else f"<p>{esc(p)}</p>"))
            for cap, ph in figs.get(i, []):
                k += 1
                units.append(("fig", self.figure(a, k, cap, ph, block), cap, ph, k))
            if i == 1 and inline:
                units.append(("raw", self.inline_related(bp, inline)))
        return units

    def dates_td(self, bp, a) -> str:
        return (f'<span class="td-post-date"><time class="entry-date updated td-module-date" datetime="{iso(a.modified)}">'
                f'{bp(f"Cập nhật: {hm(a.modified)} | {dmy(a.modified)}")}</time></span>')

    def comments(self, bp, a) -> str:
        return (f'<div id="comments" class="comments-area"><div id="respond" class="comment-respond"><h3 id="reply-title" class="comment-reply-title">'
                f'{bp("Để lại một bình luận")} <small><a rel="nofollow" id="cancel-comment-reply-link" href="#respond" style="display:none;">{bp("Hủy")}</a></small></h3>'
                f'<form action="/wp-comments-post.php" method="post" id="commentform" class="comment-form">'
                f'<p class="comment-notes"><span id="email-notes">{bp("Email của bạn sẽ không được hiển thị công khai.")}</span> '
                f'<span class="required-field-message">{bp("Các trường bắt buộc được đánh dấu")} <span class="required">*</span></span></p>'
                f'<p class="comment-form-comment"><label for="comment">{bp("Bình luận")} <span class="required">*</span></label><textarea id="comment" name="comment"></textarea></p>'
                f'<p class="comment-form-author"><label for="author">{bp("Tên")} <span class="required">*</span></label><input id="author" name="author" type="text"></p>'
                f'<p class="comment-form-email"><label for="email">{bp("Email")} <span class="required">*</span></label><input id="email" name="email" type="email"></p>'
                f'<p class="comment-form-cookies-consent"><input id="wp-comment-cookies-consent" name="wp-comment-cookies-consent" type="checkbox" value="yes"> '
                f'<label for="wp-comment-cookies-consent">{bp("Lưu tên của tôi, email, và trang web trong trình duyệt này cho lần bình luận kế tiếp của tôi.")}</label></p>'
                f'<p class="form-submit"><input name="submit" type="submit" id="submit" class="submit" value="Gửi bình luận"><input type="hidden" name="comment_post_ID" value="{self.post_id(a)}"></p>'
                f"</form></div></div>")

    # ------------------------------------------------------------------ article page
    def render_article(self, a, c, bp, variant="canonical"):
        seed = self.w.seed
        x = h01(seed, "bsh-theme", a.aid)
        theme = "td" if x < 0.45 else "el" if x < 0.8 else "gp"
        canon = self.canonical(a)
        login, display = self.account(a)
        d = ts_to_dt(a.pub)
        image = self.url(f"/wp-content/uploads/{d.year}/{d.month:02d}/{self.w.slug(a)[:48]}.jpg")
        head = self.seo_head(c.title, canon, teaser(c.lead, 155), "article", a=a, c=c, image=image,
                             account=(login, display), pub=a.pub, mod=a.modified)
        head += f'\n<link rel="shortlink" href="{self.url(f"/?p={self.post_id(a)}")}" />'
        related = [self.static_item(x) for x in self.same_cat_before(a, 8)]
        inline = related[:2] if h01(seed, "bsh-inline", a.aid) < 0.35 else []
        bottom = related[2:6] if inline else related[:4]
        cat_slug, cat_name = self.categories[a.cat]
        tags = "".join(f'<li><a href="/tag/{slugify(t)}/">{bp(t)}</a></li>' for t in c.tags)
        share_top = self.share(bp, "top", canon, c.title) if h01(seed, "bsh-share-top", a.aid) < 0.4 else ""
        share_bottom = self.share(bp, "bottom", canon, c.title)
        credit = self.credit_html(bp, a)
        cls = (f"post-template-default single single-post postid-{self.post_id(a)} single-format-standard"
               + (" elementor-default elementor-kit-5 elementor-page-130" if theme == "el" else ""))
        prev = related[0] if related else None
        if theme == "td":
            units = self.content_units(a, c, bp, False, inline)
            main = (f'<div class="td-pb-row"><div class="td-pb-span8 td-main-content" role="main"><div class="td-ss-main-content">'
                    f'<div class="entry-crumbs"><span><a title="" class="entry-crumb" href="/">{bp("Trang chủ")}</a></span> <i class="td-icon-right td-bread-sep"></i> '
                    f'<span><a class="entry-crumb" href="{self.category_path(a.cat)}">{bp(cat_name)}</a></span></div>'
                    f'<article id="post-{self.post_id(a)}" class="post-{self.post_id(a)} post type-post status-publish format-standard has-post-thumbnail category-{cat_slug}">'
                    f'<div class="td-post-header"><ul class="td-category"><li class="entry-category"><a href="{self.category_path(a.cat)}">{bp(cat_name)}</a></li></ul>'
                    f'<header class="td-post-title"><h1 class="entry-title">{esc(c.title)}</h1><div class="td-module-meta-info">'
                    f'<div class="td-post-author-name"><div class="td-author-by">{bp("Bởi")}</div> <a href="/author/{login}/">{bp(display)}</a><div class="td-author-line"> - </div></div>'
                    f'{self.dates_td(bp, a)}<div class="td-post-views"><i class="td-icon-views"></i><span class="td-nr-views-{self.post_id(a)}">{bp(str(200 + int(h01(seed, "bsh-views", a.aid) * 4000)))}</span></div>'
                    f"</div></header></div>"
                    f'<div class="td-post-content tagdiv-type">{share_top}<div class="td-post-featured-image"><img src="{image}" alt="" width="696" height="464"></div>'
                    f'<p><strong>{esc(c.lead)}</strong></p>' + "\n".join(u[1] for u in units) + f"{credit}{share_bottom}</div>"
                    f'<footer><div class="td-post-source-tags"><ul class="td-tags td-post-small-box clearfix"><li><span>{bp("TỪ KHÓA")}</span></li>{tags}</ul></div></footer>'
                    f"</article>"
                    + (f'<div class="td_block_wrap td_block_related_posts"><h4 class="td-related-title"><a class="td-related-left td-cur-simple-item" href="#">{bp("Tin liên quan")}</a></h4>'
                       + "".join(f'<div class="td-related-span4"><div class="td_module_related_posts"><h3 class="entry-title td-module-title"><a href="{u}" rel="bookmark">{bp(t)}</a></h3></div></div>'
                                 for _, t, u in bottom) + "</div>" if bottom else "")
                    + f"{self.comments(bp, a)}</div></div>{self.sidebar(bp, a)}</div>")
            return self.page(bp, head, main, cls)
        if theme == "gp":
            units = self.content_units(a, c, bp, True, inline)
            upd = (f'<time class="updated" datetime="{iso(a.modified)}" itemprop="dateModified">{bp(dmy(a.modified))}</time>'
                   if a.modified != a.pub else "")
            main = (f'<div class="content-area" id="primary"><main class="site-main" id="main">'
                    f'<article id="post-{self.post_id(a)}" class="post-{self.post_id(a)} post type-post status-publish format-standard" itemtype="https://schema.org/CreativeWork" itemscope>'
                    f'<div class="inside-article"><header class="entry-header"><h1 class="entry-title" itemprop="headline">{esc(c.title)}</h1>'
                    f'<div class="entry-meta"><span class="posted-on">{upd}<time class="entry-date published" datetime="{iso(a.pub)}" itemprop="datePublished">'
                    f'{bp(f"Đăng ngày {dmy(a.pub)} lúc {hm(a.pub)}")}</time></span> <span class="byline">{bp("bởi")} <span class="author vcard" itemprop="author">'
                    f'<a class="url fn n" href="/author/{login}/" rel="author"><span class="author-name" itemprop="name">{bp(display)}</span></a></span></span></div></header>'
                    f'<div class="entry-content" itemprop="text">{share_top}<p class="sapo"><strong>{esc(c.lead)}</strong></p>'
                    + "\n".join(u[1] for u in units) + f"{credit}{share_bottom}"
                    + (f'<div id="jp-relatedposts" class="jp-relatedposts"><h3 class="jp-relatedposts-headline"><em>{bp("Tin liên quan")}</em></h3><div class="jp-relatedposts-items">'
                       + "".join(f'<div class="jp-relatedposts-post"><h4 class="jp-relatedposts-post-title"><a class="jp-relatedposts-post-a" href="{u}">{bp(t)}</a></h4>'
                                 f'<p class="jp-relatedposts-post-date">{bp(dmy(b.pub))}</p><p class="jp-relatedposts-post-context">{bp(f"Trong “{cat_name}”")}</p></div>'
                                 for b, t, u in bottom) + "</div></div>" if bottom else "")
                    + f'</div><footer class="entry-meta"><span class="cat-links"><a href="{self.category_path(a.cat)}" rel="category tag">{bp(cat_name)}</a></span>'
                    f'<span class="tags-links"><ul class="tags">{tags}</ul></span>'
                    + (f'<nav id="nav-below" class="post-navigation"><div class="nav-previous"><span class="prev"><a href="{prev[2]}" rel="prev">{bp(prev[1])}</a></span></div></nav>' if prev else "")
                    + f"</footer></div></article>{self.comments(bp, a)}</main></div>{self.sidebar(bp, a)}")
            return self.page(bp, head, main, cls)
        # Elementor Pro single-post template
        split = h01(seed, "bsh-el-split", a.aid) < 0.5
        both = h01(seed, "bsh-el-both", a.aid) < 0.5
        items = [f'<li class="elementor-icon-list-item elementor-repeater-item-{_hex("au")} elementor-inline-item" itemprop="author"><a href="/author/{login}/">'
                 f'<span class="elementor-icon-list-icon"><i aria-hidden="true" class="fas fa-user-circle"></i></span>'
                 f'<span class="elementor-icon-list-text elementor-post-info__item elementor-post-info__item--type-author">{bp(display)}</span></a></li>']
        if both:
            items.append(f'<li class="elementor-icon-list-item elementor-repeater-item-{_hex("pub")} elementor-inline-item" itemprop="datePublished">'
                         f'<span class="elementor-icon-list-text elementor-post-info__item elementor-post-info__item--type-date">'
                         f'{bp(f"Đăng lúc {hm(a.pub)}, {dmy(a.pub)}")}</span></li>')
        items.append(f'<li class="elementor-icon-list-item elementor-repeater-item-{_hex("mod")} elementor-inline-item" itemprop="dateModified">'
                     f'<span class="elementor-icon-list-text elementor-post-info__item elementor-post-info__item--type-custom">'
                     f'{bp(f"Cập nhật lúc {hm(a.modified)}, {dmy(a.modified)}")}</span></li>')
        info = f'<ul class="elementor-inline-items elementor-icon-list-items elementor-post-info">{"".join(items)}</ul>'
        units = self.content_units(a, c, bp, True, inline)
        if split:
            # the post itself built with Elementor: paragraphs in text-editor widgets, figures in image widgets
            content, run, n = [], [], 0
            for u in units:
                if u[0] == "p":
                    run.append(u[1])
                    if len(run) == 2:
                        n += 1
                        content.append(el_section(f"{a.aid}-t{n}", [el_widget(f"{a.aid}-te{n}", "text-editor", "".join(run))], inner=True))
                        run = []
                    continue
                if run:
                    n += 1
                    content.append(el_section(f"{a.aid}-t{n}", [el_widget(f"{a.aid}-te{n}", "text-editor", "".join(run))], inner=True))
                    run = []
                if u[0] == "fig":
                    _, _, cap, ph, k = u
                    dd = ts_to_dt(a.pub)
                    src = f"/wp-content/uploads/{dd.year}/{dd.month:02d}/{a.aid - XBASE}-{k}.jpg"
                    content.append(el_section(f"{a.aid}-i{k}", [el_widget(f"{a.aid}-im{k}", "image",
                        f'<figure class="wp-caption"><img decoding="async" width="800" height="533" src="{src}" class="attachment-large size-large" alt="" />'
                        f'<figcaption class="widget-image-caption wp-caption-text">{esc(self.caption(cap, ph))}</figcaption></figure>')], inner=True))
                else:
                    content.append(el_section(f"{a.aid}-r", [el_widget(f"{a.aid}-rel", "html", u[1])], inner=True))
            if run:
                n += 1
                content.append(el_section(f"{a.aid}-t{n}", [el_widget(f"{a.aid}-te{n}", "text-editor", "".join(run))], inner=True))
            if credit:
                content.append(el_section(f"{a.aid}-cr", [el_widget(f"{a.aid}-crw", "text-editor", credit)], inner=True))
            post_html = (f'<div data-elementor-type="wp-post" data-elementor-id="{self.post_id(a)}" class="elementor elementor-{self.post_id(a)}">'
                         + "".join(content) + f"</div>{share_bottom}")
        else:
            post_html = "\n".join(u[1] for u in units) + credit + share_bottom
        col = [el_widget("bc", "breadcrumbs", f'<p id="breadcrumbs"><span><span><a href="/">{bp("Trang chủ")}</a></span> » <span><a href="{self.category_path(a.cat)}">{bp(cat_name)}</a></span></span></p>'),
               el_widget("title", "theme-post-title", f'<h1 class="elementor-heading-title elementor-size-default">{esc(c.title)}</h1>'),
               el_widget("info", "post-info", info)]
        if share_top:
            col.append(el_widget("sh", "share-buttons", f'<div class="elementor-grid">{share_top}</div>'))
        col += [el_widget("excerpt", "theme-post-excerpt", f"<p>{esc(c.lead)}</p>"),
                el_widget("content", "theme-post-content", post_html),
                el_widget("tags", "post-info", f'<ul class="elementor-post-info"><li><span class="elementor-post-info__terms-list">{bp("Từ khóa:")} {tags.replace("<li>", "").replace("</li>", " ")}</span></li></ul>')]
        if bottom:
            col.append(el_widget("rel", "posts", f'<h2 class="elementor-heading-title">{bp("Tin liên quan")}</h2><div class="elementor-posts-container elementor-posts elementor-grid">'
                                 + "".join(f'<article class="elementor-post elementor-grid-item post type-post"><div class="elementor-post__text">'
                                           f'<h3 class="elementor-post__title"><a href="{u}">{bp(t)}</a></h3><div class="elementor-post__meta-data">'
                                           f'<span class="elementor-post-date">{bp(dmy(b.pub))}</span></div></div></article>' for b, t, u in bottom) + "</div>"))
        if prev:
            col.append(el_widget("nav", "post-navigation", f'<div class="elementor-post-navigation"><div class="elementor-post-navigation__prev elementor-post-navigation__link">'
                                 f'<a href="{prev[2]}" rel="prev"><span class="post-navigation__prev--label">{bp("Bài trước")}</span>'
                                 f'<span class="post-navigation__prev--title">{bp(prev[1])}</span></a></div></div>'))
        side = el_widget("side", "sidebar", self.sidebar(bp, a))
        main = (f'<div data-elementor-type="single-post" data-elementor-id="130" class="elementor elementor-130 elementor-location-single post-{self.post_id(a)} post type-post status-publish">'
                + el_section(f"{a.aid}-main", col, side_widgets=[side]) + "</div>")
        return self.page(bp, head, main, cls, elementor=True)


def el_widget(key: str, kind: str, html: str) -> str:
    i = _hex(f"w-{key}")
    return (f'<div class="elementor-element elementor-element-{i} elementor-widget elementor-widget-{kind}" data-id="{i}" '
            f'data-element_type="widget" data-widget_type="{kind}.default"><div class="elementor-widget-container">{html}</div></div>')


def el_section(key: str, widgets: list, side_widgets: list | None = None, inner: bool = False) -> str:
    """An Elementor section > container > column(s) > widget-wrap, as Elementor 3 writes it."""
    i = _hex(f"s-{key}")

    def column(k, ws, width):
        j = _hex(f"c-{key}-{k}")
        return (f'<div class="elementor-column elementor-col-{width} elementor-{"inner" if inner else "top"}-column elementor-element elementor-element-{j}" '
                f'data-id="{j}" data-element_type="column"><div class="elementor-widget-wrap elementor-element-populated">{"".join(ws)}</div></div>')
    cols = column(0, widgets, 66 if side_widgets else 100) + (column(1, side_widgets, 33) if side_widgets else "")
    return (f'<section class="elementor-section elementor-{"inner" if inner else "top"}-section elementor-element elementor-element-{i} '
            f'elementor-section-boxed elementor-section-height-default elementor-section-height-default" data-id="{i}" data-element_type="section">'
            f'<div class="elementor-container elementor-column-gap-default">{cols}</div></section>')


SITES = [BSH]
