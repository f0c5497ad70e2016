"""pipelines/urls.py: which URLs are the same article (clean_url, url_key) and which canonicals we trust."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import load_sources
from pipelines.urls import BadURL, clean_url, same_site, try_url_key, url_key

VNWEB = load_sources(Path(__file__).resolve().parent.parent / "config" / "vnweb.toml")
BAO, TINH = VNWEB.get("bao"), VNWEB.get("tinh")

ART = "https://baoquocte.vn/thoi-su/thu-tuong-hop-162662.html"


def key(url: str, **kw: object) -> str:
    return url_key(url, **kw)  # type: ignore[arg-type]


def bao_key(url: str) -> str:
    return url_key(url, BAO.ignore_params, BAO.host_aliases, BAO.case_insensitive_paths)


def tinh_key(url: str) -> str:
    return url_key(url, TINH.ignore_params, TINH.host_aliases, TINH.case_insensitive_paths)


# ---------------------------------------------------------------- clean_url: what we request

@pytest.mark.parametrize("variant", [
    ART + "?utm_source=facebook&utm_medium=social&utm_campaign=x",
    ART + "?UTM_Source=zalo",
    ART + "?fbclid=IwAR0abc",
    ART + "?gclid=Cj0KCQ",
    ART + "?zarsrc=30&utm_source=zalo",
    ART + "?print=1",
    ART + "?amp=1",
    ART + "#binh-luan",
    ART + "?utm_source=x#top",
    "HTTPS://BaoQuocTe.VN/thoi-su/thu-tuong-hop-162662.html",
    "https://baoquocte.vn:443/thoi-su/thu-tuong-hop-162662.html",
    "https://baoquocte.vn/amp/thoi-su/thu-tuong-hop-162662.html",
    "https://baoquocte.vn/thoi-su/thu-tuong-hop-162662.amp.html",
    "https://baoquocte.vn/thoi-su/thu-tuong-hop-162662.html/amp",
    "https://baoquocte.vn/thoi-su/thu-tuong-hop-%31%36%32%36%36%32.html",
    "https://baoquocte.vn/thoi-su/thu%2Dtuong%2dhop-162662.html",
    "  https://baoquocte.vn/thoi-su/thu-tuong-hop-162662.html  ",
])
def test_clean_url_removes_what_never_changes_the_page(variant: str) -> None:
    assert clean_url(variant) == ART


def test_clean_url_keeps_what_identifies_the_page() -> None:
    assert clean_url("http://x.vn/tin?id=1&cat=2") == "http://x.vn/tin?cat=2&id=1"  # sorted, both kept
    assert clean_url("http://x.vn:8080/a") == "http://x.vn:8080/a"  # a non-default port stays
    assert clean_url("http://x.vn:443/a") == "http://x.vn:443/a"  # 443 is not http's default
    assert clean_url("http://x.vn/a/") == "http://x.vn/a/"  # the request keeps the trailing slash
    assert clean_url("http://x.vn/camp/ampere-1") == "http://x.vn/camp/ampere-1"  # 'amp' only as a segment
    assert clean_url("http://x.vn/tin?q=a%2Bb") != clean_url("http://x.vn/tin?q=a+b")  # '+' vs ' '
    assert clean_url("http://x.vn/a?page=2") == "http://x.vn/a?page=2"


def test_clean_url_ignore_params_per_source() -> None:
    assert clean_url("http://x.vn/a?lang=vi&id=3", ("lang",)) == "http://x.vn/a?id=3"
    assert clean_url("http://x.vn/a?LANG=vi&id=3", ("lang",)) == "http://x.vn/a?id=3"
    assert clean_url("http://x.vn/a?lang=vi&id=3") == "http://x.vn/a?id=3&lang=vi"


def test_clean_url_percent_encoding_is_uniform() -> None:
    nfc_raw = "http://x.vn/tin/Đà-Nẵng-1"
    lower = "http://x.vn/tin/%c4%90%c3%a0-N%e1%ba%b5ng-1"
    upper = "http://x.vn/tin/%C4%90%C3%A0-N%E1%BA%B5ng-1"
    assert clean_url(nfc_raw) == clean_url(lower) == clean_url(upper) == upper


def test_clean_url_idn_host_is_punycode() -> None:
    assert clean_url("http://ĐÀ.vn/x") == clean_url("http://xn--0ca1h.vn/x") == "http://xn--0ca1h.vn/x"


# ---------------------------------------------------------------- url_key: one key per article

ART_KEY = "baoquocte.vn/thoi-su/thu-tuong-hop-162662.html"


@pytest.mark.parametrize("variant", [
    ART,
    "http://baoquocte.vn/thoi-su/thu-tuong-hop-162662.html",
    "http://baoquocte.vn:80/thoi-su/thu-tuong-hop-162662.html",
    "https://www.baoquocte.vn/thoi-su/thu-tuong-hop-162662.html",
    "https://m.baoquocte.vn/thoi-su/thu-tuong-hop-162662.html",
    "https://mobile.baoquocte.vn/thoi-su/thu-tuong-hop-162662.html",
    "https://BAOQUOCTE.VN/thoi-su/thu-tuong-hop-162662.html/",
    ART + "/",
    ART + "?utm_source=fb&fbclid=1#x",
    "https://baoquocte.vn/amp/thoi-su/thu-tuong-hop-162662.html",
    "https://m.baoquocte.vn/thoi-su/thu-tuong-hop-162662.amp.html?gclid=1",
    "https://baoquocte.vn/thoi-su/thu-tuong-hop-%31%36%32%36%36%32.html",
])
def test_url_key_collapses_variants(variant: str) -> None:
    assert key(variant) == ART_KEY


@pytest.mark.parametrize("a, b", [
    ("http://x.vn/tin?id=1", "http://x.vn/tin?id=2"),
    ("http://x.vn/tin-1.html", "http://x.vn/tin-2.html"),
    ("http://x.vn/a/tin-1", "http://x.vn/b/tin-1"),
    ("http://x.vn/Tin-1", "http://x.vn/tin-1"),  # paths are case-sensitive unless the source says otherwise
    ("http://x.vn/tin?id=1", "http://x.vn/tin"),
    ("http://x.vn/tin?id=1&cat=a", "http://x.vn/tin?id=1&cat=b"),
    ("http://x.vn/tin?q=a%2Bb", "http://x.vn/tin?q=a+b"),
    ("http://x.vn/a", "http://y.vn/a"),
    ("http://x.vn:8080/a", "http://x.vn:8081/a"),
    ("http://en.x.vn/a", "http://x.vn/a"),
    ("http://x.vn/tin?page=1", "http://x.vn/tin?page=2"),
])
def test_url_key_keeps_different_articles_apart(a: str, b: str) -> None:
    assert key(a) != key(b)


def test_url_key_has_no_scheme_and_sorted_query() -> None:
    assert key("https://x.vn/a?b=2&a=1") == "x.vn/a?a=1&b=2"
    assert key("http://x.vn/a?b=2&a=1") == key("https://x.vn/a?a=1&b=2")
    assert key("http://x.vn/") == key("https://x.vn") == "x.vn/"


def test_url_key_host_aliases_for_the_bao_mobile_host() -> None:
    base = bao_key("http://127.0.0.5:8080/thoi-su/x-4800010")
    assert base == "127.0.0.5:8080/thoi-su/x-4800010"
    for v in ("http://127.0.0.6:8080/thoi-su/x-4800010",
              "http://127.0.0.6:8080/thoi-su/x-4800010/",
              "http://127.0.0.5:8080/amp/thoi-su/x-4800010",
              "http://127.0.0.6:8080/amp/thoi-su/x-4800010?utm_source=zalo",
              "https://127.0.0.5:8080/thoi-su/x-4800010#comments"):
        assert bao_key(v) == base, v
    # an alias maps a host:port, not any port of that host
    assert bao_key("http://127.0.0.6:9090/thoi-su/x-4800010") != base
    # a host not in the aliases keeps its identity
    assert bao_key("http://127.0.0.7:8080/thoi-su/x-4800010") != base


def test_url_key_case_insensitive_paths_and_ignore_params_for_tinh() -> None:
    base = tinh_key("http://127.0.0.4:8080/portal/pages/2024-08-25/x-5002.aspx")
    for v in ("http://127.0.0.4:8080/Portal/Pages/2024-08-25/X-5002.aspx",
              "http://127.0.0.4:8080/PORTAL/pages/2024-08-25/x-5002.aspx?lang=vi",
              "http://127.0.0.4:8080/Portal/pages/2024-08-25/x-5002.aspx?Lang=en&utm_source=x"):
        assert tinh_key(v) == base, v
    # case folding is for the path; query values still tell pages apart
    assert tinh_key("http://127.0.0.4:8080/p.aspx?cat=A") != tinh_key("http://127.0.0.4:8080/p.aspx?cat=a")
    # without the source's settings, the same variants stay apart
    assert key("http://127.0.0.4:8080/Portal/x.aspx") != key("http://127.0.0.4:8080/portal/x.aspx")
    assert key("http://127.0.0.4:8080/x.aspx?lang=vi") != key("http://127.0.0.4:8080/x.aspx")


def test_encoded_slash_is_not_a_path_separator() -> None:
    assert clean_url("http://x.vn/tin/a%2Fb-1") != clean_url("http://x.vn/tin/a/b-1")
    assert key("http://x.vn/tin/a%2Fb-1") != key("http://x.vn/tin/a/b-1")


# ---------------------------------------------------------------- same_site: which canonicals we trust

@pytest.mark.parametrize("a, b", [
    ("https://chinhphu.vn/a", "https://chinhphu.vn/b"),
    ("https://chinhphu.vn/a", "https://www.chinhphu.vn/b"),
    ("https://CHINHPHU.VN/a", "https://chinhphu.vn/b"),
    ("https://bocongan.gov.vn/a", "https://www.bocongan.gov.vn/b"),
    ("https://en.bocongan.gov.vn/a", "https://bocongan.gov.vn/b"),
    ("https://cand.com.vn/a", "https://amp.cand.com.vn/b"),
    ("https://hust.edu.vn/a", "https://ctt.hust.edu.vn/b"),
    ("http://127.0.0.5:8080/a", "http://127.0.0.5:8080/b"),
])
def test_same_site_true(a: str, b: str) -> None:
    assert same_site(a, b) is True


@pytest.mark.parametrize("a, b", [
    ("https://chinhphu.vn/a", "https://chinhphu.vn.evil.test/b"),
    ("https://chinhphu.vn/a", "https://evil-chinhphu.vn/b"),
    ("https://chinhphu.vn/a", "https://baochinhphu.vn/b"),
    ("https://chinhphu.vn/a", "https://chinhphu.vn@evil.test/b"),
    ("https://bocongan.gov.vn/a", "https://mofa.gov.vn/b"),
    ("https://bocongan.gov.vn/a", "https://gov.vn/b"),
    ("https://cand.com.vn/a", "https://vnexpress.com.vn/b"),
    ("https://x.org.vn/a", "https://y.org.vn/b"),
    ("https://x.net.vn/a", "https://y.net.vn/b"),
    ("http://127.0.0.5:8080/a", "http://127.0.0.6:8080/b"),
    ("http://1.0.0.5/a", "http://2.0.0.5/a"),
    ("https://x.vn/a", "/relative/path"),
    ("https://x.vn/a", ""),
])
def test_same_site_false(a: str, b: str) -> None:
    assert same_site(a, b) is False
    assert same_site(b, a) is False


@pytest.mark.parametrize("a, b", [
    ("https://vnu.ac.vn/a", "https://evil.ac.vn/b"),
    ("https://who.int.vn/a", "https://evil.int.vn/b"),
    ("https://benhvien.health.vn/a", "https://evil.health.vn/b"),
])
def test_same_site_other_vn_second_level_registries(a: str, b: str) -> None:
    assert same_site(a, b) is False


# ---------------------------------------------------------------- encoding: the bytes as the site sent them

def test_windows_1258_escapes_are_distinct_articles() -> None:
    # a windows-1258 portal: "thông-báo" and "thâng-bào" in its own encoding are two different pages
    a = "http://tinh.gov.vn/Pages/tin.aspx?tieude=th%F4ng-b%E1o"
    b = "http://tinh.gov.vn/Pages/tin.aspx?tieude=th%E2ng-b%E0o"
    assert key(a) != key(b)
    assert clean_url(a) == a and clean_url(b) == b  # the bytes kept, as sent
    assert "%EF%BF%BD" not in key(a) + key(b)  # never decoded as UTF-8 (U+FFFD)
    # the same bytes with lower-case escapes are the same URL
    assert key(a.replace("%F4", "%f4").replace("%E1", "%e1")) == key(a)
    # in the path too
    assert key("http://x.vn/tin/th%F4ng-b%E1o-1.aspx") != key("http://x.vn/tin/th%E2ng-b%E0o-1.aspx")


def test_utf8_and_raw_unicode_are_one_url() -> None:
    raw = "http://x.vn/tin?tieude=thông-báo"
    assert key(raw) == key("http://x.vn/tin?tieude=th%C3%B4ng-b%C3%A1o") == key(
        "http://x.vn/tin?tieude=th%c3%b4ng-b%c3%a1o")


def test_case_insensitive_paths_keep_escapes_upper_case() -> None:
    a = url_key("http://x.vn/Tin/%C4%90%C3%A0-N%E1%BA%B5ng-1.aspx", case_insensitive=True)
    assert a == url_key("http://x.vn/tin/%c4%90%c3%a0-n%e1%ba%b5ng-1.aspx", case_insensitive=True)
    assert "%C4%90" in a


def test_policy_by_hand_encoding_by_w3lib() -> None:
    # tracking parameters go by name, whatever their values' bytes
    assert clean_url("http://x.vn/a?tieude=th%F4ng&utm_source=%FF") == "http://x.vn/a?tieude=th%F4ng"
    # dot segments, query order, host case and the default port
    assert clean_url("HTTP://X.VN:80/a/./b/../c?b=1&a=2#f") == "http://x.vn/a/c?a=2&b=1"
    assert clean_url("http://x.vn./a") == "http://x.vn/a"
    assert key("http://[::1]:8080/bai-viet/a-1") == "[::1]:8080/bai-viet/a-1"


@pytest.mark.parametrize("bad", [
    "http://a.vn:abc/x", "http://a.vn:99999/x", "http://a.vn:-1/x", "http://[::1/x", "http:///x",
    "ftp://a.vn/x", "http://a.vn/" + "x" * 2100,
])
def test_malformed_urls_raise_bad_url_and_try_url_key_gives_none(bad: str) -> None:
    with pytest.raises(BadURL):
        url_key(bad)
    with pytest.raises(ValueError):  # BadURL is a ValueError: callers that catch ValueError keep working
        clean_url(bad)
    assert try_url_key(bad) is None


def test_a_url_that_used_to_raise_is_keyed() -> None:
    assert try_url_key("http://[::1]:1/x") == "[::1]:1/x"
