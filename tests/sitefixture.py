"""A small Vietnamese news site for end-to-end crawl tests: articles, listings, feed, sitemap, traps."""

from __future__ import annotations

import random

from tests.conftest import Page

WORDS = ("công an tỉnh hội nghị triển khai nhiệm vụ năm nhân dân chính quyền địa phương phát triển kinh tế xã hội "
         "bảo đảm an ninh trật tự đồng chí chủ trì đại biểu tham dự thành phố huyện thôn bản cán bộ chiến sĩ "
         "phòng chống tội phạm ma túy thiên tai dịch bệnh đầu tư hạ tầng giao thông nông thôn mới giáo dục y tế "
         "Hà Nội Đà Nẵng Quy Nhơn Bình Định Cao Bằng Đồng Tháp thượng tá trung tướng bộ trưởng thứ trưởng").split()


def paragraphs(seed: int, n: int = 6) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(35, 55))]
        out.append(" ".join(words).capitalize() + ".")
    return out


def article_html(n: int, title: str, paras: list[str], *, extra: str = "") -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paras)
    return f"""<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">
<title>{title} - Báo Thử Nghiệm</title><meta property="og:site_name" content="Báo Thử Nghiệm">
<meta property="article:published_time" content="2024-10-0{1 + n % 3}T0{n % 10}:15:00+07:00">
<link rel="canonical" href="{{base}}/bai-viet/bai-so-{n}.html"></head>
<body><div class="menu"><a href="/">Trang chủ</a> <a href="/chuyen-muc/tin-tuc">Tin tức</a></div>
<div class="share-bar"><a href="#">Chia sẻ</a> <a href="#">In</a></div>
<h1>{title}</h1><div class="sapo">Tóm tắt bài số {n}: {paras[0][:80]}</div>
<div class="article-body">{body}<p style="text-align:right"><b>Nguyễn Văn An</b></p></div>
<div class="related"><h3>Tin liên quan</h3><ul><li><a href="/bai-viet/bai-so-1.html">Bài số 1</a></li></ul></div>
{extra}<div class="footer">Bản quyền thuộc về Báo Thử Nghiệm</div></body></html>""".encode()


def listing_html(links: list[str], next_url: str | None = None) -> bytes:
    items = "".join(f'<li><a href="{u}">Tiêu đề {u}</a></li>' for u in links)
    nxt = f'<a class="next" href="{next_url}">Trang sau</a>' if next_url else ""
    return (f'<html><head><meta charset="utf-8"><title>Tin tức</title></head><body><ul>{items}</ul>{nxt}'
            "</body></html>").encode()


def sitemap_xml(entries: list[tuple[str, str]]) -> bytes:
    urls = "".join(f"<url><loc>{{base}}{p}</loc><lastmod>{lm}</lastmod></url>" for p, lm in entries)
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{urls}</urlset>").encode()


def rss_xml(paths: list[str]) -> bytes:
    items = "".join(f"<item><title>x</title><link>{{base}}{p}</link></item>" for p in paths)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def build_site() -> dict[str, Page]:
    """Articles 1-6 reachable by listing (1-4, with pagination and a utm variant), feed (5), sitemap (all)."""
    pages: dict[str, Page] = {}
    for n in range(1, 7):
        pages[f"/bai-viet/bai-so-{n}.html"] = Page(
            article_html(n, f"Hội nghị số {n} về an ninh trật tự tại Bình Định", paragraphs(n)),
            headers={"Content-Type": "text/html; charset=utf-8", "ETag": f'"a{n}-v1"'})
    pages["/robots.txt"] = Page(b"User-agent: *\nDisallow: /private/\nSitemap: {base}/sitemap.xml\n",
                                headers={"Content-Type": "text/plain"})
    pages["/"] = Page(listing_html(["/chuyen-muc/tin-tuc", "/lien-he", "/private/bai-viet/bi-mat-9.html",
                                    "/bai-viet/khong-ton-tai-98.html", "/bai-viet/video-99.html"]))
    pages["/chuyen-muc/tin-tuc"] = Page(listing_html(
        ["/bai-viet/bai-so-1.html", "/bai-viet/bai-so-2.html", "/bai-viet/bai-so-3.html"],
        "/chuyen-muc/tin-tuc?page=2"))
    pages["/chuyen-muc/tin-tuc?page=2"] = Page(listing_html(
        ["/bai-viet/bai-so-4.html", "/bai-viet/bai-so-1.html?utm_source=facebook&utm_medium=social"]))
    pages["/lien-he"] = Page(b"<html><body><h1>Li\xc3\xaan h\xe1\xbb\x87</h1><p>Email: toasoan@example.vn</p></body></html>")
    pages["/private/bai-viet/bi-mat-9.html"] = Page(article_html(9, "Bí mật", paragraphs(9)))
    pages["/bai-viet/khong-ton-tai-98.html"] = Page(
        "<html><head><title>Không tìm thấy trang</title></head><body><h1>Không tìm thấy trang</h1>"
        "<p>Trang bạn yêu cầu không tồn tại.</p></body></html>".encode())
    pages["/bai-viet/video-99.html"] = Page(
        '<html><head><meta property="og:type" content="video.other"><title>Video: lễ ra quân</title></head>'
        '<body><h1>Video: lễ ra quân</h1><video src="/v.mp4"></video><p>Xem video.</p></body></html>'.encode())
    pages["/rss.xml"] = Page(rss_xml(["/bai-viet/bai-so-5.html"]), headers={"Content-Type": "application/rss+xml"})
    pages["/sitemap.xml"] = Page(sitemap_xml([(f"/bai-viet/bai-so-{n}.html", "2024-10-03T08:00:00+07:00")
                                              for n in range(1, 7)]), headers={"Content-Type": "application/xml"})
    return pages


def sources_toml(base: str) -> str:
    return f"""
[[source]]
id = "fixture"
name = "Báo Thử Nghiệm"
allowed_domains = ["127.0.0.1"]
start_urls = ["{base}/"]
feeds = ["{base}/rss.xml"]
sitemaps = ["{base}/sitemap.xml"]
article_patterns = ['/bai-viet/[a-z0-9-]+-\\d+\\.html']
listing_patterns = ['/chuyen-muc/[a-z-]+(\\?page=\\d+)?$']
schedule = "*/5 * * * *"
[source.politeness]
download_delay = 0
concurrency = 4
autothrottle = false
retries = 0
"""
