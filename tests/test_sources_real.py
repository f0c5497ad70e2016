"""config/sources.toml against the public evidence (../shared/SOURCES-FACTS.md, both surveys): every article
URL quoted there is an article of its source, listings are listings, and what is not an article is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import load_sources
from crawler.discovery import is_article, is_denied, is_listing, partial_by_name

SF = load_sources(Path(__file__).resolve().parent.parent / "config" / "sources.toml")

ARTICLES = [
    ("baochinhphu", "https://baochinhphu.vn/pho-thu-tuong-nguyen-van-thang-xu-ly-den-cung-cac-vuong-mac-khong-day-doanh-nghiep-di-vong-10226080815310734.htm"),
    ("nhandan", "https://nhandan.vn/xung-dang-la-thanh-bao-kiem-sac-ben-trong-dau-tranh-phong-chong-toi-pham-post980623.html"),
    ("nhandan", "https://nhandan.vn/ocop/hoi-nghi-tap-huan-cong-tac-nhan-quyen-toan-quoc-nam-2023-post767601.html"),
    ("qdnd", "https://www.qdnd.vn/chinh-tri/tin-tuc/dai-tuong-phan-van-giang-tiep-thu-y-kien-dai-bieu-quoc-hoi-ve-du-an-luat-phong-chong-pho-bien-vu-khi-huy-diet-hang-loat-1052548"),
    ("qdnd", "https://www.qdnd.vn/kinh-te/cac-van-de/tao-dong-luc-cho-cong-dong-khoi-nghiep-sang-tao-521717"),
    ("cand", "https://cand.vn/canh-sat-kinh-te-phai-chu-dong-phong-ngua-rui-ro-tu-som-tu-xa-post818972.html"),
    ("cand", "https://cand.com.vn/Hoat-dong-LL-CAND/Tap-huan-nghiep-vu-389642/"),
    ("mofa", "https://mofa.gov.vn/tin-chi-tiet/chi-tiet/viet-nam-39-s-visa-exemption-list-57163-596.html"),
    ("mofa", "https://mofa.gov.vn/tin-chi-tiet/chi-tiet/thong-tin-co-ban-ve-nhat-ban-va-quan-he-voi-viet-nam-59199-652.html"),
    ("mofa", "https://mofa.gov.vn/tin-chi-tiet/chi-tiet/hop-bao-quoc-te-ve-tinh-hinh-bien-dong-254.html"),
    ("mofa", "https://mofa.gov.vn/tt_baochi/pbnfn/ns240608114321"),
    ("vietnamplus", "https://www.vietnamplus.vn/giai-quyet-kho-khan-vuong-mac-trong-linh-vuc-thue-va-hai-quan-post1128969.vnp"),
    ("vietnamplus", "https://www.vietnamplus.vn/hoi-nghi-tong-ket/123456.vnp"),
    ("vnexpress", "https://vnexpress.net/ha-noi-xem-xet-gia-han-thu-tuc-6-du-an-lon-5106755.html"),
    ("bocongan", "https://www.bocongan.gov.vn/bai-viet/bo-cong-an-hop-bao-1751782739"),
    ("quochoi", "https://quochoi.vn/tintuc/Pages/tin-hoat-dong-cua-quoc-hoi.aspx?ItemID=89123"),
]

NOT_ARTICLES = [
    ("nhandan", "https://nhandan.vn/ocop/gao-st25-prod1234.html"),
    ("nhandan", "https://nhandan.vn/special/hanh-trinh-vi-nhan-quyen/index.html"),
    ("bocongan", "https://www.bocongan.gov.vn/chuyen-muc/chi-dao-dieu-hanh?page=2"),
    ("quochoi", "https://quochoi.vn/tintuc/Pages/tin-hoat-dong-cua-quoc-hoi.aspx"),
]

LISTINGS = [
    ("bocongan", "https://www.bocongan.gov.vn/chuyen-muc/hoat-dong-cua-bo-cong-an-1754966863"),
    ("mofa", "https://mofa.gov.vn/nguoi-phat-ngon"),
    ("vietnamplus", "https://www.vietnamplus.vn/thegioi/"),
    ("vnexpress", "https://vnexpress.net/thoi-su-p2"),
    ("thanhnien", "https://thanhnien.vn/timelinelist/1855/2.htm"),
    ("quochoi", "https://quochoi.vn/tintuc/Pages/tin-hoat-dong-cua-quoc-hoi.aspx"),
]


@pytest.mark.parametrize("sid, url", ARTICLES)
def test_quoted_article_urls_are_articles(sid: str, url: str) -> None:
    assert is_article(SF.get(sid), url), url


@pytest.mark.parametrize("sid, url", NOT_ARTICLES)
def test_what_is_not_an_article_is_not(sid: str, url: str) -> None:
    assert not is_article(SF.get(sid), url), url


@pytest.mark.parametrize("sid, url", LISTINGS)
def test_listings(sid: str, url: str) -> None:
    assert is_listing(SF.get(sid), url), url


def test_start_urls_are_listings_or_home_pages_and_not_denied() -> None:
    for s in SF.sources:
        for url in s.start_urls:
            assert not is_denied(s, url), (s.id, url)
            assert not is_article(s, url), (s.id, url)


def test_partial_sitemaps_are_recognised_and_the_frozen_one_declared() -> None:
    for sid in ("baochinhphu", "nhandan", "qdnd", "vietnamplus", "tuoitre", "thanhnien"):
        assert all(partial_by_name(u) for u in SF.get(sid).sitemaps), sid
    assert SF.get("bocongan").sitemaps_complete is False  # 500 URLs with a frozen lastmod


def test_the_seven_new_sources_are_marked_not_checked_live() -> None:
    text = (Path(__file__).resolve().parent.parent / "config" / "sources.toml").read_text(encoding="utf-8")
    for sid in ("chinhphu", "quochoi", "dangcongsan", "baotintuc", "vov", "tuoitre", "thanhnien"):
        assert SF.get(sid)
        block = text[:text.index(f'id = "{sid}"')].rsplit("# ====", 1)[1]
        assert "NOT CHECKED LIVE" in block, sid
