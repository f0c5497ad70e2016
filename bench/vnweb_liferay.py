"""An extra vnweb site template: a ministry portal on Liferay (6.2-style portlets, a 7.x-style sitemap).

Load it with ``VNWEB_EXTRA_SITES=bench/vnweb_liferay.py`` (or ``--extra-sites``); the simulator serves it at the
next loopback address after the built-in sites, with stories of its own, edits, removals and moves like the
others (the truth is written through the hook: ``author_of``, ``caption`` and ``bp``).

``bnv`` is "Cổng Thông tin điện tử Bộ Nội vụ" as such portals are really built on Liferay:

- every box is a portlet: ``<div class="portlet-boundary portlet-boundary_101_ ... portlet-asset-publisher"
  id="p_p_id_101_INSTANCE_<inst>_">`` with a ``portlet-topper`` header, breadcrumb portlet (73), asset
  publisher full content (``asset-full-content`` > ``asset-content`` > ``journal-content-article``), related
  assets (``asset-links``), social bookmarks, view counter;
- layouts are ``/web/guest/<section>``; an article is
  ``/web/guest/<section>/-/asset_publisher/<inst>/content/<urlTitle>`` (the urlTitle is the slug, no id); links
  from listings carry ``?inheritRedirect=false&redirect=<listing URL with p_p_id=...>``; the home page's asset
  publisher links to the same article under ``/web/guest/trang-chu/-/asset_publisher/<home inst>/...``; most
  pages (not all) have ``rel=canonical``;
- listings page with ``?p_p_id=101_INSTANCE_<inst>&p_p_lifecycle=0&...&_101_INSTANCE_<inst>_cur=N`` and the
  Liferay paginator ("Đầu", "Trước", "Tiếp", "Cuối", "Hiển thị 1 - 10 của N kết quả.");
- RSS 2.0 from the asset publisher: ``/c/asset_publisher/rss?p_l_id=<layout>&portletId=101_INSTANCE_<inst>``;
- ``/sitemap.xml`` is a Liferay 7 sitemap index of per-layout sitemaps
  (``/sitemap.xml?layoutUuid=...&groupId=20126&privateLayout=false``) that list **layouts only** (home,
  sections, static pages): articles are found through listings and feeds, as on the real portals;
- three article templates: (A) title in the asset publisher ``taglib-header`` ``<h3 class="header-title">``,
  "Ngày đăng: 08:15 | 03/10/2024" and sometimes "Cập nhật: 14:02 | 04/10/2024" (before or after it);
  (B) a web content template with ``<h1 class="title-news">`` and the same date line; (C) the date only in the
  portlet header ("Thứ năm, 03/10/2024 08:15"), no date in the article;
- "Cập nhật" shows the time of the current version (``modified``), never the publication; it is shown always
  on some pages, only once edited on others, never on the rest;
- some bodies are pasted from Word (``<p class="MsoNormal"><span style=...>``); figures as a centred table or
  ``<p><img></p><p><em>caption</em></p>``; the lead in ``div.sapo`` (bold);
- the credit line is the last line of the body, in one of the real forms: "Theo Công Hùng (Báo Chính phủ)",
  "Nguồn: TTXVN", "Nguyễn Văn A - TTXVN", "PV", "Minh Anh (tổng hợp)", or the name alone in ``<strong>``;
  the truth ``author`` is the credited person or agency and the credit line is boilerplate, not body;
- no JSON-LD on most pages (an Organization-authored ``NewsArticle`` on ~15 %), ``og:`` tags on ~40 %
  (``og:type`` "website", as Liferay writes it), ``<title>`` "<title> - <section> - <portal>".

Everything that is not article text goes through ``bp`` so the truth lists it as boilerplate (date lines,
credit lines, view counts, menus, related titles ...).

Config-only source entry (what a new user writes; ``bench/fidelity.py --crawl --extra-sites`` builds it from
the manifest and ``BNV.vnarchive``)::

    [[source]]
    id = "bnv"
    name = "Cổng Thông tin điện tử Bộ Nội vụ"
    allowed_domains = ["127.0.0.8"]          # the first extra address; take host and URLs from the manifest
    start_urls = ["http://127.0.0.8:PORT/", "http://127.0.0.8:PORT/web/guest/tin-hoat-dong", ...]
    feeds = ["http://127.0.0.8:PORT/c/asset_publisher/rss?p_l_id=10180&portletId=101_INSTANCE_..."]
    sitemaps = ["http://127.0.0.8:PORT/sitemap.xml"]
    article_patterns = ['/-/asset_publisher/[A-Za-z0-9]+/content/[a-z0-9-]+/?(\\?.*)?$']
    listing_patterns = ['/web/guest/[a-z0-9-]+/?(\\?p_p_id=101_INSTANCE_.*)?$']
    deny_patterns = ["/tim-kiem", "/admin"]
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from urllib.parse import quote

from vnweb_lib.sitebase import BP, Resp, Site, clean_query, dmy, esc, hm, teaser, xml
from vnweb_lib.util import h01, iso, rng, ts_to_dt, vn_weekday
from vnweb_lib.world import XBASE, pages

GROUP_ID = 20126
AGENCY_PAPERS = ["Báo Chính phủ", "baochinhphu.vn", "Cổng TTĐT Chính phủ", "Báo Nhân Dân", "Báo Pháp luật Việt Nam"]
DOCS = ["Thông tư hướng dẫn về vị trí việc làm công chức", "Quyết định công bố thủ tục hành chính mới ban hành",
        "Kế hoạch cải cách hành chính năm 2025", "Quyết định phê duyệt Đề án tinh gọn bộ máy",
        "Công văn hướng dẫn thi đua, khen thưởng năm 2024", "Thông tư quy định chế độ báo cáo thống kê ngành Nội vụ"]


def _inst(key: str) -> str:
    """A Liferay portlet instance id (12 characters, letters and digits), stable for a key."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    n = int.from_bytes(hashlib.sha256(key.encode()).digest()[:12], "big")
    out = ""
    for _ in range(12):
        n, r = divmod(n, len(alphabet))
        out += alphabet[r]
    return out


def _uuid(key: str) -> str:
    h = hashlib.md5(key.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class SlugIndex:
    """urlTitle -> article: the URL has no id, as on Liferay and WordPress.  Rebuilt when the day changes."""

    def __init__(self):
        self.key = None
        self.by_url: dict = {}      # url slug -> (aid, world slug)
        self.url_of: dict = {}      # (aid, world slug) -> url slug
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
            u = p if p not in by_url else f"{p}-{a.aid - XBASE}"   # Liferay adds a suffix to a taken urlTitle
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


class BNV(Site):
    """Ministry portal on Liferay."""

    id, template = "bnv", "liferay"
    name = "Cổng Thông tin điện tử Bộ Nội vụ"
    short = "Bộ Nội vụ"
    categories = [("tin-hoat-dong", "Tin hoạt động"), ("chi-dao-dieu-hanh", "Chỉ đạo điều hành"),
                  ("cai-cach-hanh-chinh", "Cải cách hành chính"), ("tin-dia-phuong", "Tin địa phương"),
                  ("thong-cao-bao-chi", "Thông cáo báo chí")]
    per_page = 10
    weight = 0.3
    author_style = "short"
    HOME_INST = _inst("bnv-home")
    HOME_PLID = 10180
    robots_disallow = ["/tim-kiem", "/admin", "/web/guest/tim-kiem"]
    # for bench/fidelity.py --crawl: the rest of the [[source]] table a new user writes (no extraction hints)
    vnarchive = {
        "article_patterns": [r"/-/asset_publisher/[A-Za-z0-9]+/content/[a-z0-9-]+/?(\?.*)?$"],
        "listing_patterns": [r"/web/guest/[a-z0-9-]+/?(\?p_p_id=101_INSTANCE_.*)?$"],
        "deny_patterns": ["/tim-kiem", "/admin"],
    }
    shows_time = True
    STATIC_PAGES = [("gioi-thieu", "Giới thiệu"), ("lien-he", "Liên hệ"), ("so-do-cong", "Sơ đồ cổng"), ("van-ban", "Văn bản")]

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.slugs = SlugIndex()
        self.rss_paths = [f"/c/asset_publisher/rss?p_l_id={self.HOME_PLID}&portletId=101_INSTANCE_{self.HOME_INST}"]
        self.rss_paths += [f"/c/asset_publisher/rss?p_l_id={self.HOME_PLID + 1 + i}&portletId=101_INSTANCE_{self.inst(i)}"
                           for i in range(len(self.categories))]

    # ------------------------------------------------------------------ URL scheme
    def inst(self, cat: int) -> str:
        return _inst(f"bnv-{self.categories[cat][0]}")

    def article_path(self, a, slug=None, layout=None):
        u = self.slugs.url_slug(self, a, slug or self.w.slug(a))
        if layout == "home":
            return f"/web/guest/trang-chu/-/asset_publisher/{self.HOME_INST}/content/{u}"
        return f"/web/guest/{self.categories[a.cat][0]}/-/asset_publisher/{self.inst(a.cat)}/content/{u}"

    def parse_article_path(self, path):
        m = re.fullmatch(r"/web/guest/([a-z0-9-]+)/-/asset_publisher/([A-Za-z0-9]+)/content/([a-z0-9-]+)/?", path)
        if not m:
            return None
        hit = self.slugs.find(self, m.group(3))
        if hit is None:
            return (-1, "")
        aid, slug = hit
        a = self.w.get(aid)
        layout, inst = m.group(1), m.group(2)
        if layout == "trang-chu":
            ok = inst == self.HOME_INST
        else:
            ok = layout == self.categories[a.cat][0] and inst == self.inst(a.cat)
        return (aid, slug) if ok else (-1, "")

    def page_params(self, cat: int, page: int) -> str:
        p = f"_101_INSTANCE_{self.inst(cat)}_"
        return (f"p_p_id=101_INSTANCE_{self.inst(cat)}&p_p_lifecycle=0&p_p_state=normal&p_p_mode=view"
                f"&p_p_col_id=column-1&p_p_col_count=1&{p}delta={self.per_page}&{p}keywords=&{p}advancedSearch=false"
                f"&{p}andOperator=true&p_r_p_564233524_resetCur=false&{p}cur={page}")

    def category_path(self, cat, page=1):
        base = f"/web/guest/{self.categories[cat][0]}"
        return base if page <= 1 else f"{base}?{self.page_params(cat, page)}"

    def parse_category(self, path, q):
        m = re.fullmatch(r"/web/guest/([a-z0-9-]+)/?", path)
        if not m:
            return None
        slugs = [c for c, _ in self.categories]
        if m.group(1) not in slugs:
            return None
        cat = slugs.index(m.group(1))
        p = q.get(f"_101_INSTANCE_{self.inst(cat)}_cur", "1")
        return cat, (int(p) if p.isdigit() else -1)

    def redirect_param(self, cat: int) -> str:
        listing = (f"/web/guest/{self.categories[cat][0]}?p_p_id=101_INSTANCE_{self.inst(cat)}&p_p_lifecycle=0"
                   f"&p_p_state=normal&p_p_mode=view&p_p_col_id=column-1&p_p_col_count=1")
        return "inheritRedirect=false&redirect=" + quote(self.url(listing), safe="")

    def listing_link(self, a) -> str:
        return self.url(self.article_path(a)) + "?" + self.redirect_param(a.cat)

    def print_params(self, a) -> str:
        p = f"_101_INSTANCE_{self.inst(a.cat)}_"
        return (f"p_p_id=101_INSTANCE_{self.inst(a.cat)}&p_p_lifecycle=0&p_p_state=pop_up&p_p_mode=view"
                f"&{p}struts_action=%2Fasset_publisher%2Fview_content&{p}type=content&{p}viewMode=print")

    def url_variants(self, a):
        c = self.canonical(a)
        return [c + "?" + self.redirect_param(a.cat), self.url(self.article_path(a, layout="home")),
                c + "?" + self.print_params(a), c + "?utm_source=zalo&utm_medium=social&utm_campaign=chia-se",
                c + "?fbclid=IwAR0vnweb" + str(a.aid)]

    def article_variant(self, path, q, host):
        return "print" if q.get("p_p_state") == "pop_up" else "canonical"

    def rss_route(self, path, q):
        if path != "/c/asset_publisher/rss":
            return None
        pid = q.get("portletId", "")
        if pid == f"101_INSTANCE_{self.HOME_INST}":
            return self.w.live_by_site[self.id], self.name
        for i, (_, n) in enumerate(self.categories):
            if pid == f"101_INSTANCE_{self.inst(i)}":
                return self.live_cat(i), f"{n} - {self.name}"
        return None

    def caption(self, cap, photographer):
        return f"{cap} Ảnh: {photographer}"

    # ------------------------------------------------------------------ credit lines and truth author
    def credit(self, a) -> tuple[str, str, str]:
        """(kind, credit line as printed, the credited person or agency = truth author)."""
        r = rng(self.w.seed, "bnv-credit", a.aid)
        x = h01(self.w.seed, "bnv-credit-kind", a.aid)
        short = self.w.author(a, "short")
        full = self.w.author(a, "full")
        if x < 0.22:
            return "theo", f"Theo {short} ({r.choice(AGENCY_PAPERS)})", short
        if x < 0.38:
            return "nguon", "Nguồn: TTXVN", "TTXVN"
        if x < 0.52:
            return "dash", f"{full} - TTXVN", full
        if x < 0.62:
            return "pv", "PV", "PV"
        if x < 0.78:
            return "tonghop", f"{short} (tổng hợp)", short
        name = full if r.random() < 0.6 else short
        return "strong", name, name

    def author_of(self, a):
        return self.credit(a)[2]

    # ------------------------------------------------------------------ routing extras
    def robots(self):
        return "\n".join(["User-agent: *"] + [f"Disallow: {p}" for p in self.robots_disallow] +
                         ["Allow: /", "", f"Sitemap: {self.url('/sitemap.xml')}", ""])

    def layouts(self) -> list:
        """(friendly URL, name, plid) of the public layouts, as the sitemap lists them."""
        out = [("/web/guest/trang-chu", "Trang chủ", self.HOME_PLID)]
        out += [(f"/web/guest/{c}", n, self.HOME_PLID + 1 + i) for i, (c, n) in enumerate(self.categories)]
        out += [(f"/web/guest/{c}", n, self.HOME_PLID + 20 + i) for i, (c, n) in enumerate(self.STATIC_PAGES)]
        return out

    def route(self, method, path, query, host="desktop"):
        q = clean_query(query)
        if path == "/sitemap.xml":
            return self.sitemap(q)
        if path.startswith(("/documents/", "/image/", "/o/", "/html/")):
            return Resp(body=b"GIF89a", ctype="image/gif", kind="static")
        if path in ("/web/guest/trang-chu", "/web/guest", "/web/guest/"):
            bp = BP()
            return self.finish(self.render_home(bp), kind="home", lm=self.w.now())
        for slug, title in self.STATIC_PAGES:
            if path == f"/web/guest/{slug}":
                bp = BP()
                return self.finish(self.static_page(bp, title), kind="page")
        return super().route(method, path, query, host)

    def sitemap(self, q):
        lays = self.layouts()
        uuid = q.get("layoutUuid")
        if uuid is None:
            parts = "".join(f"<sitemap><loc>{xml(self.url('/sitemap.xml') + f'?layoutUuid={_uuid(p)}&groupId={GROUP_ID}&privateLayout=false')}"
                            f"</loc></sitemap>" for p, _, _ in lays)
            body = ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                    + parts + "</sitemapindex>")
            return Resp(body=body.encode(), ctype="application/xml;charset=UTF-8", kind="sitemap", last_modified=self.w.now())
        for p, _, _ in lays:
            if _uuid(p) == uuid:
                u = self.url(p)
                body = ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                        'xmlns:xhtml="http://www.w3.org/1999/xhtml">'
                        f"<url><loc>{xml(u)}</loc><changefreq>daily</changefreq><priority>0.5</priority>"
                        f'<xhtml:link href="{xml(u)}" hreflang="vi-VN" rel="alternate"/>'
                        f'<xhtml:link href="{xml(u)}" hreflang="x-default" rel="alternate"/></url></urlset>')
                return Resp(body=body.encode(), ctype="application/xml;charset=UTF-8", kind="sitemap")
        return self.not_found()

    # ------------------------------------------------------------------ chrome
    def portlet(self, pid: str, inst: str, title_html: str, body: str, extra_cls: str = "",
                header_extra: str = "") -> str:
        full = f"{pid}_INSTANCE_{inst}" if inst else pid
        return (f'<div class="portlet-boundary portlet-boundary_{pid}_ portlet-static portlet-static-end {extra_cls}" '
                f'id="p_p_id_{full}_"><span id="p_{full}"></span><section class="portlet" id="portlet_{full}">'
                + (f'<header class="portlet-topper"><h2 class="portlet-title"><span class="portlet-title-text">{title_html}</span>'
                   f"</h2>{header_extra}</header>" if title_html else "")
                + f'<div class="portlet-content"><div class=" portlet-content-container" style=""><div class="portlet-body">'
                  f"{body}</div></div></div></section></div>")

    def layout(self, bp: BP, title: str, col1: str, head_extra: str = "", crumbs: list | None = None) -> str:
        now = self.w.now()
        nav = "".join(f'<li class="lfr-nav-item" role="presentation"><a aria-labelledby="layout_{i + 2}" href="{self.category_path(i)}" '
                      f'role="menuitem"><span>{bp(n)}</span></a></li>' for i, (_, n) in enumerate(self.categories))
        nav = (f'<li class="lfr-nav-item selected" role="presentation"><a href="/web/guest/trang-chu" role="menuitem"><span>'
               f'{bp("Trang chủ")}</span></a></li>{nav}<li class="lfr-nav-item"><a href="/web/guest/gioi-thieu"><span>{bp("Giới thiệu")}</span></a></li>')
        crumb_html = ""
        if crumbs:
            trail = [("Trang chủ", "/web/guest/trang-chu")] + crumbs
            lis = "".join(f'<li class="{"active last" if k == len(trail) - 1 else "first" if k == 0 else ""}"><a href="{u}">{bp(t)}</a>'
                          + ('<span class="divider">/</span>' if k < len(trail) - 1 else "") + "</li>"
                          for k, (t, u) in enumerate(trail))
            crumb_html = self.portlet("73", _inst("bnv-crumb"), "", f'<ul aria-label="Breadcrumb" class="breadcrumb breadcrumb-horizontal">{lis}</ul>',
                                      "portlet-borderless portlet-breadcrumb")
        docs = "".join(f'<li><a href="/web/guest/van-ban?p_p_id=vanban_WAR_bnvportlet&amp;_vanban_WAR_bnvportlet_id={4000 + k}">'
                       f'{bp(f"{d} (số {k + 10}/2024/TT-BNV)")}</a></li>' for k, d in enumerate(DOCS[:5]))
        links = "".join(f'<option value="{u}">{bp(t)}</option>' for t, u in [
            ("Cổng TTĐT Chính phủ", "https://chinhphu.vn"), ("Văn phòng Chính phủ", "https://vpcp.chinhphu.vn"),
            ("Cơ sở dữ liệu quốc gia về văn bản pháp luật", "https://vbpl.vn")])
        col2 = (self.portlet("56", _inst("bnv-vanban"), bp("VĂN BẢN MỚI"), f'<ul class="list-vanban">{docs}</ul>', "portlet-journal-content")
                + self.portlet("56", _inst("bnv-links"), bp("LIÊN KẾT WEBSITE"),
                               f'<select onchange="window.open(this.value)"><option>{bp("-- Chọn liên kết --")}</option>{links}</select>',
                               "portlet-journal-content")
                + self.portlet("counter_WAR_bnvportlet", "", bp("THỐNG KÊ TRUY CẬP"),
                               f'<div class="counter"><p>{bp(f"Đang truy cập: {37 + self.w.day}")}</p>'
                               f'<p>{bp(f"Tổng lượt truy cập: {4_812_345 + 977 * self.w.day:,}".replace(",", "."))}</p></div>'))
        return f"""<!DOCTYPE html>
<html class="ltr" dir="ltr" lang="vi-VN">
<head>
<title>{esc(title)}</title>
<meta content="initial-scale=1.0, width=device-width" name="viewport" />
<meta content="text/html; charset=UTF-8" http-equiv="content-type" />
<link href="/bnv-theme/images/favicon.ico" rel="Shortcut Icon" />
<link class="lfr-css-file" href="/bnv-theme/css/main.css?browserId=other&amp;themeId=bnv_WAR_bnvtheme&amp;languageId=vi_VN&amp;b=6210" rel="stylesheet" type="text/css" />
<script type="text/javascript">var themeDisplay=Liferay.ThemeDisplay={{getLayoutId:function(){{return"1";}},getPlid:function(){{return"{self.HOME_PLID}";}},getScopeGroupId:function(){{return"{GROUP_ID}";}},getLanguageId:function(){{return"vi_VN";}}}};</script>
<script src="/html/js/barebone.jsp?browserId=other&amp;themeId=bnv_WAR_bnvtheme&amp;minifierType=js&amp;languageId=vi_VN&amp;b=6210" type="text/javascript"></script>
{head_extra}</head>
<body class="yui3-skin-sam controls-visible guest-site signed-out public-page site"><!-- vnweb simulated site: {self.id} -->
<a href="#main-content" id="skip-to-content">{bp("Chuyển đến nội dung")}</a>
<div class="container-fluid" id="wrapper">
<header id="banner" role="banner"><div id="heading"><h1 class="site-title"><a class="logo custom-logo" href="/web/guest/trang-chu" title="{esc(self.name)}">
<img alt="{esc(self.name)}" height="90" src="/image/layout_set_logo?img_id=20331&amp;t=1727900000" width="600" /></a></h1>
<div class="top-date">{bp(vn_weekday(now) + ", ngày " + dmy(now))}</div>
<form action="/web/guest/tim-kiem" class="search-form" method="get"><input name="_3_keywords" placeholder="Tìm kiếm" type="text" /><button type="submit">{bp("Tìm kiếm")}</button></form></div>
<nav class="sort-pages modify-pages" id="navigation" role="navigation"><ul aria-label="Trang web" role="menubar">{nav}</ul></nav></header>
<div id="content"><div class="columns-2" id="main-content" role="main"><div class="portlet-layout row-fluid">
<div class="portlet-column portlet-column-first span8" id="column-1"><div class="portlet-dropzone portlet-column-content portlet-column-content-first" id="layout-column_column-1">
{crumb_html}{col1}
</div></div>
<div class="portlet-column portlet-column-last span4" id="column-2"><div class="portlet-dropzone portlet-column-content portlet-column-content-last" id="layout-column_column-2">
{col2}
</div></div></div></div></div>
<footer id="footer" role="contentinfo"><div class="footer-info">
<p><strong>{bp("CỔNG THÔNG TIN ĐIỆN TỬ BỘ NỘI VỤ")}</strong></p>
<p>{bp("Cơ quan chủ quản: Bộ Nội vụ. Chịu trách nhiệm chính: Giám đốc Trung tâm Thông tin (mô phỏng)")}</p>
<p>{bp("Địa chỉ: Số 8 Tôn Thất Thuyết, Cầu Giấy, Hà Nội. Điện thoại: 024.6282.xxxx")}</p>
<p>{bp("Giấy phép số 120/GP-TTĐT do Cục Phát thanh, truyền hình và thông tin điện tử cấp.")}</p>
<p>{bp("Ghi rõ nguồn “Cổng Thông tin điện tử Bộ Nội vụ” khi phát hành lại thông tin từ Cổng thông tin này.")}</p>
</div></footer></div>
<script type="text/javascript">AUI().use("aui-base","liferay-menu","liferay-notice","liferay-poller",function(a){{Liferay.Portlet.runtimePortletIds=["73_INSTANCE_x","101_INSTANCE_y"];}});</script>
</body></html>"""

    def abstracts(self, bp: BP, aids, home: bool = False) -> str:
        out = []
        for aid in aids:
            a, t, _ = self.item(aid)
            u = self.url(self.article_path(a, layout="home")) if home else self.listing_link(a)
            out.append(f'<div class="asset-abstract "><div class="lfr-meta-actions asset-actions"></div>'
                       f'<h3 class="asset-title"><a href="{esc(u)}"><img alt="" src="/image/journal/article?img_id={a.aid}&amp;t=1" /> {bp(t)}</a></h3>'
                       f'<div class="asset-content"><div class="asset-summary">{bp(teaser(self.w.lead(a), 200))}</div>'
                       f'<div class="asset-more"><a href="{esc(u)}">{bp("Xem thêm")} <span class="hide-accessible">{bp("về " + t)}</span> »</a></div></div>'
                       f'<div class="asset-metadata"><span class="metadata-entry metadata-publish-date">{bp(dmy(a.pub) + " " + hm(a.pub))}</span></div></div>')
        return "\n".join(out)

    def render_home(self, bp):
        live = self.w.live_by_site[self.id]
        rss = self.url(self.rss_paths[0])
        col1 = self.portlet("101", self.HOME_INST, bp("TIN NỔI BẬT"),
                            f'<div class="subscribe-rss"><a href="{esc(rss)}" title="RSS">{bp("Đăng ký RSS")}</a></div>'
                            + self.abstracts(bp, live[:8], home=True), "portlet-asset-publisher")
        for i, (_, n) in enumerate(self.categories):
            col1 += self.portlet("101", _inst(f"bnv-home-{i}"), f'<a href="{self.category_path(i)}">{bp(n.upper())}</a>',
                                 self.abstracts(bp, self.live_cat(i)[:3]), "portlet-asset-publisher")
        return self.layout(bp, f"Trang chủ - {self.name}", col1)

    def paginator(self, bp: BP, cat: int, page: int, n: int, total: int) -> str:
        def li(label, p, cls=""):
            if p is None:
                return f'<li class="disabled {cls}"><a href="javascript:;">{bp(label)}</a></li>'
            return f'<li class="{cls}"><a href="{esc(self.category_path(cat, p))}">{bp(label)}</a></li>'
        first, last = (page - 1) * self.per_page + 1, min(total, page * self.per_page)
        return (f'<div class="taglib-page-iterator"><div class="clearfix lfr-pagination"><div class="lfr-pagination-config">'
                f'<div class="lfr-pagination-page-selector"><a class="dropdown-toggle" href="javascript:;">{bp(f"Trang {page} trong {n}")}</a></div>'
                f'<small class="search-results">{bp(f"Hiển thị {first} - {last} của {total} kết quả.")}</small></div>'
                f'<ul class="lfr-pagination-buttons pager">{li("Đầu", 1 if page > 1 else None, "first")}'
                f'{li("Trước", page - 1 if page > 1 else None)}{li("Tiếp", page + 1 if page < n else None)}'
                f'{li("Cuối", n if page < n else None, "last")}</ul></div></div>')

    def render_category(self, cat, page, bp):
        lst = self.live_cat(cat)
        n = pages(len(lst), self.per_page)
        items = lst[(page - 1) * self.per_page: page * self.per_page]
        name = self.categories[cat][1]
        rss = self.url(self.rss_paths[1 + cat])
        body = (self.abstracts(bp, items) + self.paginator(bp, cat, page, n, len(lst))
                + f'<div class="subscribe-rss"><a href="{esc(rss)}">{bp("RSS")}</a></div>')
        col1 = self.portlet("101", self.inst(cat), bp(name), body, "portlet-asset-publisher")
        head = f'<link href="{esc(self.url(self.category_path(cat, page)))}" rel="canonical" />'
        return self.layout(bp, f"{name} - {self.name}", col1, head, crumbs=[(name, self.category_path(cat))])

    def static_page(self, bp, title):
        col1 = self.portlet("56", _inst("bnv-static-" + title), bp(title),
                            f'<div class="journal-content-article"><p>{bp("Bộ Nội vụ là cơ quan của Chính phủ, thực hiện chức năng quản lý nhà nước về tổ chức hành chính, công vụ, công chức (mô phỏng).")}</p></div>',
                            "portlet-journal-content")
        return self.layout(bp, f"{title} - {self.name}", col1, crumbs=[(title, "#")])

    # ------------------------------------------------------------------ article
    def body_html(self, a, c, word: bool) -> str:
        figs: dict[int, list] = {}
        for after, cap, ph in c.figures:
            figs.setdefault(after, []).append((cap, ph))
        out, k = [], 0
        table_figs = h01(self.w.seed, "bnv-figtable", a.aid) < 0.5
        for i, p in enumerate(c.body()):
            if word:
                out.append(f'<p class="MsoNormal" style="margin-bottom:6.0pt;text-align:justify;text-indent:36.0pt;line-height:normal">'
                           f'<span lang="VI" style="font-size:14.0pt;font-family:&quot;Times New Roman&quot;,serif">{esc(p)}</span></p>')
            else:
                out.append(f'<p style="text-align: justify;">{esc(p)}</p>')
            for cap, ph in figs.get(i, []):
                k += 1
                src = f"/documents/{GROUP_ID}/{5000 + a.aid % 997}/{a.aid}-{k}.jpg/{_uuid(f'{a.aid}-{k}')}?t=1727{a.aid % 10**6:06d}"
                if table_figs:
                    out.append(f'<table align="center" border="0" cellpadding="1" cellspacing="1" style="width: 600px;"><tbody>'
                               f'<tr><td><img alt="" src="{src}" style="width: 600px; height: 400px;" /></td></tr>'
                               f'<tr><td style="text-align: center;"><em>{esc(self.caption(cap, ph))}</em></td></tr></tbody></table>')
                else:
                    out.append(f'<p style="text-align: center;"><img alt="" src="{src}" style="width: 600px; height: 400px;" /></p>'
                               f'<p style="text-align: center;"><em>{esc(self.caption(cap, ph))}</em></p>')
        return "\n".join(out)

    def credit_html(self, bp: BP, a) -> str:
        kind, line, _ = self.credit(a)
        x = h01(self.w.seed, "bnv-credit-markup", a.aid)
        if kind == "strong":
            return f'<p style="text-align: right;"><strong>{bp(line)}</strong></p>' if x < 0.5 else f"<p><strong>{bp(line)}</strong></p>"
        if x < 0.45:
            return f'<p style="text-align: right;"><strong>{bp(line)}</strong></p>'
        if x < 0.75:
            return f'<p style="text-align: right;"><em>{bp(line)}</em></p>'
        return f'<div style="text-align:right"><b>{bp(line)}</b></div>'

    def date_lines(self, bp: BP, a) -> str:
        mode = h01(self.w.seed, "bnv-upd", a.aid)
        show_upd = mode < 0.4 or (mode < 0.8 and a.modified != a.pub)
        pub = f'<span class="publish-date">{bp(f"Ngày đăng: {hm(a.pub)} | {dmy(a.pub)}")}</span>'
        if not show_upd:
            return f'<div class="date-time">{pub}</div>'
        upd = f'<span class="modified-date">{bp(f"Cập nhật: {hm(a.modified)} | {dmy(a.modified)}")}</span>'
        if h01(self.w.seed, "bnv-upd-first", a.aid) < 0.3:
            return f'<div class="date-time">{upd}</div><div class="date-time">{pub}</div>'
        return f'<div class="date-time">{pub} &nbsp;-&nbsp; {upd}</div>'

    def jsonld(self, a, c) -> str:
        d = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": c.title,
             "datePublished": iso(a.pub), "dateModified": iso(a.modified),
             "author": {"@type": "Organization", "name": self.name},
             "publisher": {"@type": "Organization", "name": self.name,
                           "logo": {"@type": "ImageObject", "url": self.url("/image/layout_set_logo?img_id=20331")}},
             "mainEntityOfPage": self.canonical(a)}
        return '<script type="application/ld+json">' + json.dumps(d, ensure_ascii=False) + "</script>"

    def render_article(self, a, c, bp, variant="canonical"):
        seed = self.w.seed
        style = h01(seed, "bnv-style", a.aid)
        style = "A" if style < 0.4 else "B" if style < 0.75 else "C"
        word = h01(seed, "bnv-word", a.aid) < 0.3
        cat_name = self.categories[a.cat][1]
        canon = self.canonical(a)
        body = self.body_html(a, c, word)
        credit = self.credit_html(bp, a)
        lead = f'<div class="sapo"><strong>{esc(c.lead)}</strong></div>'
        if variant == "print":
            return (f'<!DOCTYPE html><html lang="vi-VN"><head><meta charset="UTF-8"><title>{esc(c.title)}</title>'
                    f'<meta name="robots" content="noindex,nofollow"></head><body class="portal-popup" onload="window.print()">'
                    f'<div class="journal-content-article"><h1 class="title-news">{esc(c.title)}</h1>{self.date_lines(bp, a)}'
                    f'{lead}<div class="content">{body}{credit}</div></div>'
                    f'<p><a href="javascript:window.close()">{bp("Đóng cửa sổ")}</a></p></body></html>')
        head = ""
        if h01(seed, "bnv-canon", a.aid) < 0.85:
            head += f'<link href="{esc(canon)}" rel="canonical" />'
        head += f'<meta content="{esc(teaser(c.lead, 250))}" lang="vi-VN" name="description" />'
        if h01(seed, "bnv-og", a.aid) < 0.4:
            head += (f'<meta property="og:title" content="{esc(c.title)}" /><meta property="og:type" content="website" />'
                     f'<meta property="og:url" content="{esc(canon)}" /><meta property="og:description" content="{esc(teaser(c.lead, 200))}" />'
                     f'<meta property="og:image" content="{self.url(f"/image/journal/article?img_id={a.aid}")}" />'
                     f'<meta property="og:site_name" content="{esc(self.name)}" />')
        if h01(seed, "bnv-ld", a.aid) < 0.15:
            head += self.jsonld(a, c)
        views = 120 + int(h01(seed, "bnv-views", a.aid) * 5000) + 13 * (self.w.day - a.born)
        print_url = canon + "?" + self.print_params(a)
        tools = (f'<div class="taglib-social-bookmarks"><span class="share-label">{bp("Chia sẻ:")}</span> '
                 f'<a class="social-bookmark facebook" href="https://www.facebook.com/sharer.php?u={quote(canon, safe="")}" rel="nofollow" target="_blank">{bp("Facebook")}</a> '
                 f'<a class="social-bookmark twitter" href="https://twitter.com/intent/tweet?url={quote(canon, safe="")}" rel="nofollow" target="_blank">{bp("Twitter")}</a> '
                 f'<a href="javascript:_101_INSTANCE_{self.inst(a.cat)}_printPage_0();" class="print-link">{bp("In trang")}</a> '
                 f'<a href="mailto:?subject={quote(c.title)}" class="email-link">{bp("Gửi email")}</a></div>'
                 f'<script type="text/javascript">function _101_INSTANCE_{self.inst(a.cat)}_printPage_0(){{window.open("{print_url}","","directories=0,height=480,left=80,location=1,menubar=1,resizable=1,scrollbars=yes,status=0,toolbar=0,top=180,width=640");}}</script>')
        related = [self.static_item(x) for x in self.same_cat_before(a, 9)]
        links = "".join(f'<li class="asset-links-list-item"><a class="asset-title" href="{esc(u)}">{bp(t)}</a></li>'
                        for _, t, u in related[:4])
        asset_links = f'<div class="asset-links"><h2 class="asset-links-title">{bp("Tin liên quan")}</h2><ul class="asset-links-list">{links}</ul></div>' if links else ""
        others = "".join(f'<li><a href="{esc(u)}">{bp(t)}</a> <span class="date">{bp("(" + dmy(b.pub) + ")")}</span></li>'
                         for b, t, u in related[4:9])
        other_box = (self.portlet("101", _inst(f"bnv-other-{a.cat}"), bp("CÁC TIN KHÁC"), f'<ul class="other-news">{others}</ul>',
                                  "portlet-asset-publisher") if others else "")
        meta = f'<div class="asset-metadata"><span class="metadata-entry metadata-view-count">{bp(f"Lượt xem: {views}")}</span></div>'
        if style == "A":
            header = (f'<div class="taglib-header "><span class="header-back-to"><a class="icon-circle-arrow-left previous-level" '
                      f'href="{self.category_path(a.cat)}" title="Quay lại"><span class="helper-hidden-accessible">{bp("Quay lại")}</span></a></span>'
                      f'<h3 class="header-title"><span>{esc(c.title)}</span></h3></div>')
            article = (f'<div class="journal-content-article"><div class="news-detail">{self.date_lines(bp, a)}{lead}'
                       f'<div class="content">{body}{credit}</div></div></div>')
            top_extra = ""
        elif style == "B":
            header = ""
            article = (f'<div class="journal-content-article"><div class="news-detail"><h1 class="title-news">{esc(c.title)}</h1>'
                       f'{self.date_lines(bp, a)}{lead}<div class="content">{body}{credit}</div></div></div>')
            top_extra = ""
        else:
            d = ts_to_dt(a.pub)
            header = f'<h1 class="news-title">{esc(c.title)}</h1>'
            article = f'<div class="journal-content-article">{lead}<div class="content">{body}{credit}</div></div>'
            top_extra = f'<span class="portlet-title-date">{bp(f"{vn_weekday(a.pub)}, {d.day:02d}/{d.month:02d}/{d.year} {hm(a.pub)}")}</span>'
        inner = (f'{header}<div class="asset-full-content default-asset-publisher no-title">'
                 f'<div class="asset-content" id="_101_INSTANCE_{self.inst(a.cat)}_{_uuid(str(a.aid))}">{article}</div>'
                 f"{tools}{asset_links}{meta}</div>")
        col1 = self.portlet("101", self.inst(a.cat), bp(cat_name), inner, "portlet-asset-publisher", top_extra) + other_box
        return self.layout(bp, f"{c.title} - {cat_name} - {self.name}", col1, head, crumbs=[(cat_name, self.category_path(a.cat))])


SITES = [BNV]
