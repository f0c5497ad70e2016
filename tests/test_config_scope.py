"""Sources that could not be crawled as written are rejected at load time, naming the file and the key
(issue 11: quoted numbers, hosts that are no hosts, patterns that match everything, entry points outside
allowed_domains, CSS hints that do not parse)."""

from __future__ import annotations

import pytest

from config import SourcesError, from_env, parse_sources

PATH = "/etc/vnarchive/sources.toml"
GOOD = """\
[[source]]
id = "tgvn"
name = "TGVN"
allowed_domains = ["baoquocte.vn"]
start_urls = ["https://baoquocte.vn/"]
article_patterns = ['-\\d+\\.html$']
"""


def _reject(text: str) -> str:
    with pytest.raises(SourcesError) as ei:
        parse_sources(text, PATH)
    msg = str(ei.value)
    assert msg.startswith(PATH + ": source[0] (tgvn)."), msg
    return msg


def test_the_good_one_loads() -> None:
    assert parse_sources(GOOD, PATH).sources[0].allowed_domains == ("baoquocte.vn",)


def test_a_quoted_number_is_not_a_number() -> None:
    msg = _reject(GOOD + '[source.politeness]\nconcurrency = "4"\n')
    assert "politeness.concurrency" in msg and "not the string '4'" in msg
    msg = _reject(GOOD + '[source.politeness]\ndownload_delay = "1.5"\n')
    assert "politeness.download_delay" in msg


@pytest.mark.parametrize(("entry", "says"), [
    ('""', "is not a host"),
    ('"*"', "wildcards are not hosts"),
    ('"*.baoquocte.vn"', "wildcards are not hosts"),
    ('"https://baoquocte.vn/"', "is a URL, not a host: write 'baoquocte.vn'"),
    ('"baoquocte.vn/tin"', "is a URL, not a host"),
    ('"bao quocte.vn"', "is not a host name or address"),
])
def test_allowed_domains_must_be_hosts(entry: str, says: str) -> None:
    msg = _reject(GOOD.replace('["baoquocte.vn"]', f'["baoquocte.vn", {entry}]'))
    assert "allowed_domains" in msg and says in msg, msg


@pytest.mark.parametrize("entry", ['"m.baoquocte.vn"', '"127.0.0.2"', '"127.0.0.2:8080"', '"[::1]"',
                                   '"báoquốctế.vn"'])
def test_hosts_addresses_ports_and_idn_are_hosts(entry: str) -> None:
    parse_sources(GOOD.replace('["baoquocte.vn"]', f'["baoquocte.vn", {entry}]'), PATH)


def test_an_empty_pattern_matches_everything() -> None:
    msg = _reject(GOOD.replace("['-\\d+\\.html$']", "['']"))
    assert "article_patterns" in msg and "matches every URL" in msg
    msg = _reject(GOOD + "deny_patterns = ['']\n")
    assert "deny_patterns" in msg


@pytest.mark.parametrize("key", ["start_urls", "feeds", "sitemaps"])
def test_entry_points_outside_allowed_domains(key: str) -> None:
    text = GOOD + f'{key} = ["https://evil-baoquocte.vn/rss"]\n' if key != "start_urls" else \
        GOOD.replace('start_urls = ["https://baoquocte.vn/"]', 'start_urls = ["https://baoquocte.vn.evil.test/"]')
    msg = _reject(text)
    assert f"source[0] (tgvn).{key}" in msg and "outside allowed_domains" in msg, msg


def test_entry_points_on_a_subdomain_are_inside() -> None:
    parse_sources(GOOD + 'feeds = ["https://rss.baoquocte.vn/home.rss"]\n', PATH)


@pytest.mark.parametrize("key", ["content_selectors", "prune_selectors", "title_selectors", "lead_selectors"])
def test_a_bad_css_hint_is_reported_at_load_time(key: str) -> None:
    msg = _reject(GOOD + f"[source.extraction]\n{key} = ['div.ok', 'div[class=']\n")
    assert f"extraction.{key}" in msg and "'div[class=' is not a valid CSS selector" in msg, msg


def test_good_css_hints_load() -> None:
    parse_sources(GOOD + "[source.extraction]\ncontent_selectors = ['div.detail-content > p', '#main article']\n",
                  PATH)


def test_allow_addresses_from_the_environment() -> None:
    assert from_env({}).allow_addresses == ()
    s = from_env({"VNARCHIVE_ALLOW_ADDRESSES": "127.0.0.0/8, ::1 10.1.2.3"})
    assert s.allow_addresses == ("127.0.0.0/8", "::1/128", "10.1.2.3/32")
    with pytest.raises(ValueError, match="VNARCHIVE_ALLOW_ADDRESSES='localhost'"):
        from_env({"VNARCHIVE_ALLOW_ADDRESSES": "localhost"})
    assert from_env({"VNARCHIVE_MAX_RETRY_AFTER": "30"}).max_retry_after == 30
