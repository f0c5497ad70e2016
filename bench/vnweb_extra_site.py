"""An extra vnweb site template whose boilerplate generic class-name pruning cannot see.

Load it into the simulator with ``VNWEB_EXTRA_SITES=bench/vnweb_extra_site.py`` (or ``--extra-sites``); it is
served at the next loopback address after the built-in sites, with stories of its own.

``sokh`` is a provincial department portal on an old DotNetNuke-style CMS: every box is a plain ``<div>`` or
``<table>`` with layout classes only (``row``, ``col-md-9``, ``DnnModule``) or none, and the boilerplate sits
*inside* the article module, next to and within the body:

- a kicker (the category in capitals) above the headline, the headline in a styled ``<div>`` (no ``<h1>``),
  ``<title>`` with a `` | site`` suffix and no ``og:``/JSON-LD metadata at all;
- an unclassed date line with the view counter under the headline ("14:25 | Thứ Năm, 03/10/2024");
- a "follow us" line between lead and body;
- inside the body: an inline "Xem thêm: <other title>" paragraph, one of three promo paragraphs, captions
  printed in the image's own paragraph after a ``<br>``, some paragraphs as ``<div>`` and some as
  ``<br><br>``-separated runs;
- still inside the body container: a tags line, a print/email line, "Các tin đã đưa" (other titles with dates)
  and a table of related titles with teasers;
- the byline after all that, as "Tác giả: <b>Name</b>";
- a right column of "Tin xem nhiều" in a table, a poll, links and a visit counter; an unclassed footer.

Everything that is not article text goes through ``bp`` so the truth lists it as boilerplate.
"""

from __future__ import annotations

import re

from vnweb_lib.sitebase import BP, Site, dmy, esc, hm, teaser
from vnweb_lib.util import h01, ts_to_dt, vn_weekday

PROMOS = (
    "Mời bạn đọc theo dõi Bản tin Khoa học và Công nghệ phát sóng lúc 20 giờ thứ Bảy hằng tuần trên sóng "
    "Đài Phát thanh - Truyền hình tỉnh.",
    "Sở Khoa học và Công nghệ tiếp nhận đề xuất nhiệm vụ khoa học và công nghệ cấp tỉnh năm 2025 qua "
    "Cổng dịch vụ công trực tuyến; mọi thắc mắc xin liên hệ đường dây nóng của Sở.",
    "Bạn đọc có thể gửi tin, bài, ảnh về hoạt động khoa học và công nghệ tại địa phương qua hộp thư điện "
    "tử của Ban biên tập Cổng thông tin.",
)


class SoKH(Site):
    """Provincial department of science and technology (DotNetNuke-style portal)."""

    id, template = "sokh", "sokh"
    name = "Sở Khoa học và Công nghệ tỉnh Hà Giang"
    categories = [("tin-hoat-dong", "Tin hoạt động"), ("khoa-hoc-cong-nghe", "Khoa học - Công nghệ"),
                  ("so-huu-tri-tue", "Sở hữu trí tuệ"), ("tieu-chuan-do-luong", "Tiêu chuẩn - Đo lường - Chất lượng")]
    id_offset = 730000
    per_page = 12
    author_style = "full"
    weight = 0.4
    rss_paths = ["/rss/tin-moi.rss"]
    # for bench/fidelity.py --crawl: how vnarchive should see this site (a [[source]] table of the sources file)
    vnarchive = {
        "article_patterns": [r"/tin-tuc/[a-z0-9-]+/[a-z0-9-]+-a\d+\.html$"],
        "listing_patterns": [r"/chuyen-muc/[a-z0-9-]+(\?trang=\d+)?$"],
        "deny_patterns": ["/tim-kiem", "/admin"],
    }
    shows_time = True

    # ------------------------------------------------------------------ URL scheme
    def article_path(self, a, slug=None):
        return f"/tin-tuc/{self.categories[a.cat][0]}/{slug or self.w.slug(a)}-a{a.aid % 10**6 + self.id_offset}.html"

    def parse_article_path(self, path):
        m = re.fullmatch(r"/tin-tuc/([a-z0-9-]+)/([a-z0-9-]+)-a(\d+)\.html", path)
        if not m:
            return None
        aid = 10**9 + int(m.group(3)) - self.id_offset
        a = self.w.get(aid)
        if a is None or a.site != self.id or self.categories[a.cat][0] != m.group(1):
            return (-1, "")
        return aid, m.group(2)

    def category_path(self, cat, page=1):
        return f"/chuyen-muc/{self.categories[cat][0]}" + (f"?trang={page}" if page > 1 else "")

    def parse_category(self, path, q):
        m = re.fullmatch(r"/chuyen-muc/([a-z0-9-]+)", path)
        if not m:
            return None
        slugs = [c for c, _ in self.categories]
        if m.group(1) not in slugs:
            return (-1, 1)
        p = q.get("trang", "1")
        return slugs.index(m.group(1)), (int(p) if p.isdigit() else -1)

    def rss_route(self, path, q):
        if path == "/rss/tin-moi.rss":
            return self.w.live_by_site[self.id], self.name
        return None

    def caption(self, cap, photographer):
        return f"{cap} (Ảnh: {photographer})"

    # ------------------------------------------------------------------ layout
    def layout(self, bp: BP, title: str, center: str, head_extra: str = "") -> str:
        menu = " | ".join(f'<a href="{u}">{bp(t)}</a>' for t, u in [
            ("Trang chủ", "/"), ("Giới thiệu", "/gioi-thieu"), ("Tin tức", self.category_path(0)),
            ("Văn bản", "/van-ban"), ("Thủ tục hành chính", "/thu-tuc"), ("Liên hệ", "/lien-he")])
        cats = "".join(f'<div><a href="{self.category_path(i)}">{bp(n)}</a></div>' for i, (_, n) in enumerate(self.categories))
        most = "".join(f'<tr><td><a href="{u}">{bp(t)}</a></td></tr>'
                       for _, t, u in (self.item(x) for x in self.w.live_by_site[self.id][3:9]))
        day = self.w.day
        return f"""<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{esc(title)}</title><meta name="description" content="Cổng thông tin điện tử Sở Khoa học và Công nghệ tỉnh Hà Giang">
<link href="/Portals/_default/skin.css" rel="stylesheet"><script src="/js/dnn.js"></script>{head_extra}</head>
<body><!-- vnweb simulated site: {self.id} -->
<form id="Form" action="/" method="post"><div id="dnn_wrap">
<div class="row"><div class="col-12"><img src="/Portals/0/banner.jpg" alt="{esc(self.name)}"></div>
<div class="col-12">{menu}</div>
<div class="col-12">{bp(vn_weekday(self.w.now()) + ", " + dmy(self.w.now()))}</div></div>
<div class="row"><div class="col-md-3" id="dnn_LeftPane"><div><b>{bp("Chuyên mục")}</b></div>{cats}</div>
<div class="col-md-6" id="dnn_ContentPane">{center}</div>
<div class="col-md-3" id="dnn_RightPane">
<table width="100%" cellpadding="2"><tr><td><b>{bp("Tin xem nhiều")}</b></td></tr>{most}</table>
<div><b>{bp("Thăm dò ý kiến")}</b><div>{bp("Bạn đánh giá thế nào về giao diện mới của Cổng thông tin?")}</div>
<div><input type="radio" name="poll"> {bp("Rất hài lòng")}</div><div><input type="radio" name="poll"> {bp("Hài lòng")}</div>
<div><input type="radio" name="poll"> {bp("Chưa hài lòng")}</div><div><input type="button" value="Bình chọn"> <a href="/ket-qua">{bp("Xem kết quả")}</a></div></div>
<div><b>{bp("Liên kết web")}</b><div><a href="http://most.gov.vn">{bp("Bộ Khoa học và Công nghệ")}</a></div>
<div><a href="http://hagiang.gov.vn">{bp("Cổng thông tin điện tử tỉnh")}</a></div></div>
<div>{bp("Đang truy cập:")} {21 + day}<br>{bp("Tổng lượt truy cập:")} {812345 + 311 * day}</div></div></div>
<div class="row"><div class="col-12" align="center">
<div><b>{bp("SỞ KHOA HỌC VÀ CÔNG NGHỆ TỈNH HÀ GIANG")}</b></div>
<div>{bp("Địa chỉ: Số 5, đường Nguyễn Trãi, thành phố Hà Giang. Điện thoại: 0219.3866.xxx (mô phỏng)")}</div>
<div>{bp("Chịu trách nhiệm chính: Giám đốc Sở Khoa học và Công nghệ")}</div>
<div>{bp("Ghi rõ nguồn Sở Khoa học và Công nghệ tỉnh Hà Giang khi phát hành lại thông tin từ website này.")}</div>
</div></div></div></form></body></html>"""

    def rows(self, bp: BP, aids) -> str:
        out = []
        for aid in aids:
            a, t, u = self.item(aid)
            out.append(f'<tr><td width="120"><a href="{u}"><img src="/images/{a.aid}.jpg" width="110"></a></td>'
                       f'<td><a href="{u}"><b>{bp(t)}</b></a> <span>({dmy(a.pub)})</span><br>{bp(teaser(self.w.lead(a), 180))}</td></tr>')
        return "\n".join(out)

    def render_home(self, bp: BP) -> str:
        center = (f'<table width="100%">{self.rows(bp, self.w.live_by_site[self.id][:12])}</table>'
                  + "".join(f'<div><a href="{self.category_path(i)}">{bp(n)}</a></div>' for i, (_, n) in enumerate(self.categories)))
        return self.layout(bp, self.name, center)

    def render_category(self, cat: int, page: int, bp: BP) -> str:
        from vnweb_lib.world import pages

        lst = self.live_cat(cat)
        n = pages(len(lst), self.per_page)
        items = lst[(page - 1) * self.per_page: page * self.per_page]
        nav = " ".join(f'<a href="{self.category_path(cat, p)}">{p}</a>' for p in range(1, n + 1))
        center = (f'<div><b>{bp(self.categories[cat][1].upper())}</b></div><table width="100%">{self.rows(bp, items)}</table>'
                  f'<div>{bp("Trang:")} {nav}</div>')
        return self.layout(bp, f"{self.categories[cat][1]} | {self.name}", center)

    def render_article(self, a, c, bp: BP, variant: str = "canonical") -> str:
        author = self.w.author(a, self.author_style)
        d = ts_to_dt(a.pub)
        weekday = vn_weekday(a.pub).title()   # "Thứ Năm": capitalised, unlike the other sites
        others = [self.static_item(x) for x in self.same_cat_before(a, 8)]
        see_also = others[0] if others else None
        promo = PROMOS[int(h01(self.w.seed, "promo", a.aid) * len(PROMOS))]
        style = h01(self.w.seed, "style", a.aid)
        figs: dict[int, list] = {}
        for after, cap, ph in c.figures:
            figs.setdefault(after, []).append((cap, ph))
        units: list[tuple[str, str]] = []   # ("p", paragraph text) or ("raw", html)
        k = 0
        paras = c.body()
        for i, p in enumerate(paras):
            units.append(("p", p))
            for cap, ph in figs.get(i, []):
                k += 1
                units.append(("raw", f'<p style="text-align:center"><img src="/images/{a.aid}-{k}.jpg" width="500">'
                                     f"<br><em>{esc(self.caption(cap, ph))}</em></p>"))
            if i == 1 and see_also is not None:
                _, t, u = see_also
                units.append(("raw", f'<p><strong>{bp("Xem thêm:")}</strong> <a href="{u}">{bp(t)}</a></p>'))
            if i == min(2, len(paras) - 2):
                units.append(("raw", f"<p><em>{bp(promo)}</em></p>"))
        out: list[str] = []
        run: list[str] = []
        for n, (kind, x) in enumerate(units):
            if kind == "p" and style > 0.7:
                run.append(esc(x))             # <br><br>-separated runs of two paragraphs
                if len(run) == 2:
                    out.append("<div>" + "<br><br>".join(run) + "</div>")
                    run = []
                continue
            if run:
                out.append("<div>" + "<br><br>".join(run) + "</div>")
                run = []
            if kind == "raw":
                out.append(x)
            elif style < 0.3 and n % 3 == 2:
                out.append(f"<div>{esc(x)}</div>")   # some paragraphs as plain divs
            else:
                out.append(f'<p style="text-align:justify">{esc(x)}</p>')
        if run:
            out.append("<div>" + "<br><br>".join(run) + "</div>")
        body = "\n".join(out)
        tags = ", ".join(f'<a href="/tim-kiem?tu-khoa={esc(t)}">{bp(t)}</a>' for t in c.tags)
        older = "".join(f'<div>» <a href="{u}">{bp(t)}</a> <span>{bp("(" + dmy(b.pub) + ")")}</span></div>'
                        for b, t, u in others[1:7])
        related = "".join(f'<tr><td width="90"><a href="{u}"><img src="/images/{b.aid}.jpg" width="80"></a></td>'
                          f'<td><a href="{u}">{bp(t)}</a><br>{bp(teaser(self.w.lead(b, 1), 150))}</td></tr>'
                          for b, t, u in others[5:8])
        views = 50 + int(h01(self.w.seed, "views", a.aid) * 3000)
        center = f"""<div class="DnnModule DnnModule-4521"><a name="4521"></a>
<div>{bp(self.categories[a.cat][1].upper())}</div>
<div style="font-size:22px;color:#00427a"><b>{esc(c.title)}</b></div>
<div><span>{hm(a.pub)} | {weekday}, {d.day:02d}/{d.month:02d}/{d.year}</span> &nbsp; <span>{bp(f"Lượt xem: {views}")}</span></div>
<div><b>{esc(c.lead)}</b></div>
<div>{bp("Theo dõi Sở Khoa học và Công nghệ trên")} <a href="https://zalo.me/sokhcn">{bp("Zalo")}</a> <a href="https://facebook.com/sokhcn">{bp("Facebook")}</a></div>
<div id="dnn_ctr4521_ViewNews_noidung">
{body}
<div>{bp("Từ khóa:")} {tags}</div>
<div><a href="javascript:window.print()">{bp("In bài viết")}</a> | <a href="mailto:?subject=tin">{bp("Gửi email")}</a> | <a href="#top">{bp("Về đầu trang")}</a></div>
<div><b>{bp("Các tin đã đưa")}</b>{older}</div>
<table width="100%"><tr><td colspan="2"><b>{bp("Bài viết liên quan")}</b></td></tr>{related}</table>
</div>
<div align="right">{bp("Tác giả:")} <b>{esc(author)}</b></div>
</div>"""
        return self.layout(bp, f"{c.title} | {self.name}", center)


SITES = [SoKH]
