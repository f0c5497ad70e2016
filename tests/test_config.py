"""config/sources.py and config/settings.py: the shipped files load, bad files are rejected precisely."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import SourcesError, from_env, load_sources, parse_sources
from config.settings import DEFAULT_DB, DEFAULT_SOURCES, Settings

ROOT = Path(__file__).resolve().parent.parent
VNWEB_TOML = ROOT / "config" / "vnweb.toml"
SOURCES_TOML = ROOT / "config" / "sources.toml"
PATH = "/etc/vnarchive/sources.toml"  # what messages must name

GOOD = """\
[[source]]
id = "tgvn"
name = "TGVN"
allowed_domains = ["baoquocte.vn"]
start_urls = ["https://baoquocte.vn/"]
article_patterns = ['-\\d+\\.html$']
"""

SECOND = """\
[[source]]
id = "mofa"
name = "MOFA"
allowed_domains = ["mofa.gov.vn"]
feeds = ["https://mofa.gov.vn/rss"]
article_patterns = ['/tin-chi-tiet/']
"""


def _reject(text: str) -> str:
    with pytest.raises(SourcesError) as ei:
        parse_sources(text, PATH)
    msg = str(ei.value)
    assert PATH in msg, msg
    return msg


# ---------------------------------------------------------------- the shipped files

@pytest.mark.parametrize("path", [VNWEB_TOML, SOURCES_TOML], ids=["vnweb", "sources"])
def test_shipped_files_load_with_unique_ids_and_valid_patterns(path: Path) -> None:
    sf = load_sources(path)
    assert sf.path == str(path)
    assert len(sf.ids) >= 4
    assert len(set(sf.ids)) == len(sf.ids)
    for s in sf.sources:
        assert s.article_patterns, s.id
        for p in (*s.article_patterns, *s.listing_patterns, *s.deny_patterns):
            re.compile(p)
        assert s.allowed_domains, s.id
        assert s.start_urls or s.feeds or s.sitemaps, s.id


def test_vnweb_toml_has_the_four_simulator_sites() -> None:
    sf = load_sources(VNWEB_TOML)
    assert sf.ids == ["mps", "tgvn", "tinh", "bao"]
    bao = sf.get("bao")
    assert bao.host_aliases == {"127.0.0.6:8080": "127.0.0.5:8080"}
    assert sf.get("tinh").case_insensitive_paths is True
    assert sf.get("tinh").ignore_params == ("lang",)
    assert sf.get("mps").case_insensitive_paths is False


def test_vnweb_defaults_overlay_every_source() -> None:
    for s in load_sources(VNWEB_TOML).sources:
        assert s.schedule == "*/30 * * * *"
        assert s.expect_new_within_hours == 24
        assert s.politeness.download_delay == 0
        assert s.politeness.concurrency == 4
        assert s.politeness.autothrottle is False
        assert s.limits.max_pages == 20000
        # not in [defaults.limits]: the model's default survives the overlay
        assert s.limits.max_sitemap_urls == 50000


def test_sources_toml_table_overlay_is_merged_key_by_key() -> None:
    sf = load_sources(SOURCES_TOML)
    b = sf.get("bocongan")
    # [source.politeness] sets only download_delay; the rest comes from [defaults.politeness]
    assert b.politeness.download_delay == 2.0
    assert b.politeness.concurrency == 1
    assert b.politeness.autothrottle is True
    # [source.limits] max_pages overrides, [defaults.limits] max_depth survives
    assert b.limits.max_pages == 1000
    assert b.limits.max_depth == 2
    assert b.limits.max_sitemap_urls == 5000
    assert b.schedule == "15 3-23/6 * * *"
    assert b.revisit.max_per_run == 500
    # a source without its own tables gets the defaults unchanged
    n = sf.get("nhandan")
    assert n.politeness.download_delay == 1.5
    assert n.limits.max_pages == 2000


def test_get_unknown_id_lists_known_ones() -> None:
    sf = load_sources(VNWEB_TOML)
    with pytest.raises(SourcesError) as ei:
        sf.get("nope")
    msg = str(ei.value)
    assert "'nope'" in msg and str(VNWEB_TOML) in msg
    for sid in ("mps", "tgvn", "tinh", "bao"):
        assert sid in msg


def test_sources_are_frozen() -> None:
    s = load_sources(VNWEB_TOML).get("mps")
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type is an implementation detail
        s.id = "other"  # type: ignore[misc]
    with pytest.raises(Exception):  # noqa: B017
        s.politeness.download_delay = 5  # type: ignore[misc]


# ---------------------------------------------------------------- good minimal file

def test_minimal_file_parses_with_model_defaults() -> None:
    sf = parse_sources(GOOD + SECOND, PATH)
    assert sf.ids == ["tgvn", "mofa"]
    s = sf.get("tgvn")
    assert s.schedule == "0 */3 * * *"
    assert s.politeness.download_delay == 1.0
    assert s.limits.max_pages == 5000
    assert s.revisit.schedule_hours == (6, 24, 72, 168, 720)
    assert s.ignore_params == () and s.host_aliases == {}


def test_defaults_overlay_merges_nested_tables_key_by_key() -> None:
    text = """\
[defaults]
schedule = "5 * * * *"
[defaults.politeness]
download_delay = 3
concurrency = 1
[defaults.limits]
max_depth = 7
""" + GOOD + """\
[source.politeness]
concurrency = 2
""" + SECOND + """\
schedule = "10 * * * *"
"""
    sf = parse_sources(text, PATH)
    t, m = sf.get("tgvn"), sf.get("mofa")
    assert t.politeness.download_delay == 3  # from [defaults.politeness]
    assert t.politeness.concurrency == 2  # from [source.politeness]
    assert t.politeness.timeout == 45  # model default, untouched
    assert t.limits.max_depth == 7 and t.limits.max_pages == 5000
    assert t.schedule == "5 * * * *"
    assert m.schedule == "10 * * * *"  # a source's scalar overrides the default
    assert m.politeness.concurrency == 1 and m.politeness.download_delay == 3


# ---------------------------------------------------------------- rejections: file, key, what was expected

# ---------------------------------------------------------------- languages

def _languages(extraction: str, defaults: str = "") -> tuple[str, ...]:
    src = parse_sources(defaults + GOOD + "[source.extraction]\n" + extraction, PATH).get("tgvn")
    return src.extraction.languages


def test_languages_default_to_vietnamese() -> None:
    ex = parse_sources(GOOD, PATH).get("tgvn").extraction
    assert ex.languages == ("vi",) and ex.language == "vi"


@pytest.mark.parametrize(("toml", "languages", "first"), [
    ('languages = ["vi", "en"]', ("vi", "en"), "vi"),
    ('languages = ["en", "vi", "en"]', ("en", "vi"), "en"),
    ('languages = ["*"]', ("*",), None),
    ('languages = ["vie"]', ("vie",), "vie"),
    # the old single key stays accepted
    ('language = "en"', ("en",), "en"),
    ('language = "mul"', ("*",), None),
    ('language = "*"', ("*",), None),
])
def test_languages_list_and_the_old_single_key(toml: str, languages: tuple[str, ...], first: str | None) -> None:
    ex = parse_sources(GOOD + "[source.extraction]\n" + toml + "\n", PATH).get("tgvn").extraction
    assert ex.languages == languages
    assert ex.language == first


@pytest.mark.parametrize(("toml", "key", "message"), [
    ('languages = ["VI"]', "extraction.languages", "write 'vi'"),
    ('languages = ["english"]', "extraction.languages", "ISO 639 code of 2 or 3 letters"),
    ('languages = ["vi-VN"]', "extraction.languages", "not 'vi-VN'"),
    ("languages = []", "extraction.languages", "at least one language"),
    ('languages = ["*", "vi"]', "extraction.languages", "give it alone"),
    ('languages = "vi"', "extraction.languages", 'expected a list of language codes, like ["vi"]'),
    ('language = "VI"', "extraction.language", "write 'vi'"),
    ("language = 1", "extraction.language", "expected an ISO 639 code"),
    ('language = "vi"\nlanguages = ["en"]', "extraction.language", "not both"),
])
def test_bad_languages_name_file_and_key(toml: str, key: str, message: str) -> None:
    msg = _reject(GOOD + "[source.extraction]\n" + toml + "\n")
    assert f"{PATH}: source[0] (tgvn).{key}: " in msg and message in msg, msg
    assert len(msg.splitlines()) == 1


def test_languages_in_defaults_and_a_source_overriding_them() -> None:
    defaults = '[defaults.extraction]\nlanguages = ["vi", "en"]\n'
    assert _languages("", defaults) == ("vi", "en")
    # the source's own choice replaces the defaults', whichever key each uses
    assert _languages('language = "fr"\n', defaults) == ("fr",)
    assert _languages('languages = ["*"]\n', '[defaults.extraction]\nlanguage = "en"\n') == ("*",)
    assert _languages("", '[defaults.extraction]\nlanguage = "en"\n') == ("en",)


def test_both_language_keys_in_defaults_is_an_error() -> None:
    msg = _reject('[defaults.extraction]\nlanguage = "en"\nlanguages = ["vi"]\n' + GOOD)
    assert "extraction.language: " in msg and "not both" in msg


def test_languages_are_dumped_as_a_list() -> None:
    dumped = parse_sources(GOOD + '[source.extraction]\nlanguage = "en"\n', PATH).get("tgvn").model_dump(mode="json")
    assert dumped["extraction"]["languages"] == ["en"] and "language" not in dumped["extraction"]


def test_unknown_key_is_a_typo() -> None:
    msg = _reject(GOOD.replace("start_urls", "start_url"))
    assert "source[0] (tgvn).start_url" in msg
    assert "unknown key" in msg


def test_unknown_nested_key() -> None:
    msg = _reject(GOOD + "[source.politeness]\ndownload_dealy = 1\n")
    assert "source[0] (tgvn).politeness.download_dealy" in msg
    assert "unknown key" in msg


def test_unknown_key_in_defaults_is_reported_under_defaults() -> None:
    msg = _reject('[defaults]\nschedul = "0 * * * *"\n' + GOOD)
    assert "defaults.schedul" in msg


def test_unknown_top_level_key() -> None:
    msg = _reject("sources = 1\n" + GOOD)
    assert "sources" in msg and "unknown top-level key" in msg


def test_invalid_article_regex_names_source_index_and_id() -> None:
    msg = _reject(GOOD.replace("tgvn", "first") + GOOD.replace("['-\\d+\\.html$']", "['ok', '(unclosed']"))
    assert "source[1] (tgvn).article_patterns" in msg
    assert "'(unclosed'" in msg
    assert "not a valid regular expression" in msg


@pytest.mark.parametrize("key", ["listing_patterns", "deny_patterns"])
def test_invalid_listing_and_deny_regex(key: str) -> None:
    msg = _reject(GOOD + f"{key} = ['[a-']\n")
    assert f"source[0] (tgvn).{key}" in msg
    assert "not a valid regular expression" in msg


def test_missing_required_key() -> None:
    msg = _reject(GOOD.replace('name = "TGVN"\n', ""))
    assert "source[0] (tgvn).name" in msg
    assert "required key is missing" in msg


def test_missing_article_patterns() -> None:
    msg = _reject(GOOD.replace("article_patterns = ['-\\d+\\.html$']\n", ""))
    assert "source[0] (tgvn).article_patterns" in msg and "required key is missing" in msg


def test_empty_article_patterns() -> None:
    msg = _reject(GOOD.replace("['-\\d+\\.html$']", "[]"))
    assert "source[0] (tgvn).article_patterns" in msg
    assert "at least one regular expression" in msg


@pytest.mark.parametrize("cron", ["61 * * * *", "every hour", "* * * *", "0 25 * * *"])
def test_invalid_cron(cron: str) -> None:
    msg = _reject(GOOD + f'schedule = "{cron}"\n')
    assert "source[0] (tgvn).schedule" in msg
    assert repr(cron) in msg
    assert "5-field cron expression" in msg


def test_invalid_cron_in_defaults_is_rejected_for_every_source() -> None:
    msg = _reject('[defaults]\nschedule = "99 * * * *"\n' + GOOD)
    assert "schedule" in msg and "'99 * * * *'" in msg


def test_duplicate_id() -> None:
    msg = _reject(GOOD + SECOND + GOOD)
    assert "source[2] (tgvn).id" in msg
    assert "duplicate id 'tgvn'" in msg


def test_not_toml() -> None:
    msg = _reject("this is = = not toml")
    assert "not valid TOML" in msg


def test_source_without_entry_points() -> None:
    msg = _reject(GOOD.replace('start_urls = ["https://baoquocte.vn/"]\n', ""))
    assert "source[0] (tgvn)" in msg
    assert "start_urls, feeds or sitemaps" in msg


def test_source_with_empty_allowed_domains() -> None:
    msg = _reject(GOOD.replace('["baoquocte.vn"]', "[]"))
    assert "source[0] (tgvn)" in msg and "allowed_domains" in msg


def test_no_source_table() -> None:
    msg = _reject('[defaults]\nschedule = "0 * * * *"\n')
    assert "at least one [[source]]" in msg


def test_non_http_entry_point() -> None:
    msg = _reject(GOOD.replace("https://baoquocte.vn/", "ftp://baoquocte.vn/"))
    assert "source[0] (tgvn).start_urls" in msg and "'ftp://baoquocte.vn/'" in msg and "http(s) URL" in msg


def test_bad_id_shape() -> None:
    msg = _reject(GOOD.replace('id = "tgvn"', 'id = "TG VN"'))
    assert "source[0] (TG VN).id" in msg
    assert "lower-case" in msg


def test_wrong_type_and_out_of_range() -> None:
    msg = _reject(GOOD.replace('["baoquocte.vn"]', '"baoquocte.vn"'))
    assert "source[0] (tgvn).allowed_domains" in msg
    msg = _reject(GOOD + "[source.limits]\nmax_pages = 0\n")
    assert "source[0] (tgvn).limits.max_pages" in msg and "greater than or equal to 1" in msg


def test_every_problem_of_a_source_is_reported_one_per_line() -> None:
    bad = GOOD.replace('name = "TGVN"\n', 'nme = "TGVN"\n').replace("['-\\d+\\.html$']", "['(']")
    lines = _reject(bad).splitlines()
    assert len(lines) == 3, lines
    assert all(line.startswith(PATH + ": ") for line in lines)
    joined = "\n".join(lines)
    assert "source[0] (tgvn).name: required key is missing" in joined
    assert "source[0] (tgvn).nme: unknown key" in joined
    assert "source[0] (tgvn).article_patterns:" in joined


def test_load_sources_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "nope.toml"
    with pytest.raises(SourcesError) as ei:
        load_sources(p)
    assert str(p) in str(ei.value) and "not found" in str(ei.value)


def test_load_sources_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "latin.toml"
    p.write_bytes(GOOD.replace("TGVN", "Th\xe9").encode("latin-1"))
    with pytest.raises(SourcesError) as ei:
        load_sources(p)
    assert str(p) in str(ei.value)


def test_load_sources_bad_file_names_its_path(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(GOOD.replace("article_patterns", "article_pattern"), encoding="utf-8")
    with pytest.raises(SourcesError) as ei:
        load_sources(p)
    assert str(ei.value).startswith(f"{p}: source[0] (tgvn).")


# ---------------------------------------------------------------- settings from the environment

def test_from_env_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("VNARCHIVE_DB", "VNARCHIVE_SOURCES", "VNARCHIVE_SCHEDULE_EVERY", "VNARCHIVE_USER_AGENT",
              "VNARCHIVE_MAX_PARALLEL_CRAWLS", "VNARCHIVE_CRAWL_TIMEOUT", "VNARCHIVE_STOP_GRACE",
              "VNARCHIVE_LOG_FILE"):
        monkeypatch.delenv(k, raising=False)
    s = from_env({})
    assert s == Settings()
    assert s.db_url == DEFAULT_DB
    assert s.sources_path == Path(DEFAULT_SOURCES)
    assert s.schedule_every == 0


def test_from_env_reads_vnarchive_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VNARCHIVE_DB", "sqlite:////tmp/x.db")
    monkeypatch.setenv("VNARCHIVE_SOURCES", "config/vnweb.toml")
    monkeypatch.setenv("VNARCHIVE_SCHEDULE_EVERY", "30")
    s = from_env()
    assert s.db_url == "sqlite:////tmp/x.db"
    assert s.sources_path == Path("config/vnweb.toml")
    assert s.schedule_every == 30


def test_from_env_reads_strings_from_a_given_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VNARCHIVE_DB", raising=False)
    s = from_env({"VNARCHIVE_DB": "sqlite:////tmp/x.db", "VNARCHIVE_SOURCES": "config/vnweb.toml"})
    assert s.db_url == "sqlite:////tmp/x.db" and s.sources_path == Path("config/vnweb.toml")


def test_from_env_reads_numbers_from_a_given_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VNARCHIVE_SCHEDULE_EVERY", raising=False)
    assert from_env({"VNARCHIVE_SCHEDULE_EVERY": "30"}).schedule_every == 30
    with pytest.raises(ValueError, match="VNARCHIVE_SCHEDULE_EVERY"):
        from_env({"VNARCHIVE_SCHEDULE_EVERY": "abc"})


def test_from_env_empty_values_mean_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("VNARCHIVE_DB", "VNARCHIVE_SOURCES", "VNARCHIVE_SCHEDULE_EVERY"):
        monkeypatch.setenv(k, "")
    s = from_env()
    assert s.db_url == DEFAULT_DB and s.sources_path == Path(DEFAULT_SOURCES) and s.schedule_every == 0


@pytest.mark.parametrize("bad", ["abc", "1.5", "10s", "0x10"])
def test_from_env_bad_schedule_every(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("VNARCHIVE_SCHEDULE_EVERY", bad)
    with pytest.raises(ValueError) as ei:
        from_env()
    msg = str(ei.value)
    assert "VNARCHIVE_SCHEDULE_EVERY" in msg and repr(bad) in msg and "whole number" in msg


def test_from_env_negative_schedule_every_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VNARCHIVE_SCHEDULE_EVERY", "-5")
    with pytest.raises(ValueError, match="VNARCHIVE_SCHEDULE_EVERY"):
        from_env()


def test_with_overrides_ignores_none() -> None:
    s = from_env({"VNARCHIVE_DB": "sqlite:////tmp/a.db"})
    t = s.with_overrides(db_url=None, sources_path=Path("x.toml"))
    assert t.db_url == "sqlite:////tmp/a.db" and t.sources_path == Path("x.toml")
    assert s.sources_path == Path(DEFAULT_SOURCES)  # frozen: the original is unchanged
