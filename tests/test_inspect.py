"""`vnarchive show` and `vnarchive stats`, and the read-only engine they use."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import InternalError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from storage import repo
from tests.conftest import is_sqlite
from tests.test_search import T0, put

PLANTED = b"<html><head><title>x</title><script>window.pwned = 1</script></head><body><h1>Trang g\xe1\xbb\x91c</h1></body></html>"


@pytest.fixture
def archive(session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch,
            db_url: str) -> dict[str, int]:
    monkeypatch.setenv("VNARCHIVE_DB", db_url)
    f = session_factory
    a = put(f, "http://bao.test/a", "Bão số 3 đổ bộ", "Gió mạnh cấp 12.", html=PLANTED)
    put(f, "http://bao.test/a", "Bão số 3 đổ bộ Quảng Ninh", "Gió mạnh cấp 13.", when=T0 + dt.timedelta(hours=3))
    b = put(f, "http://tgvn.test/b", "Bão số 3 đổ bộ (bản đăng lại)", "Gió mạnh cấp 12.", source="tgvn")
    gone = put(f, "http://bao.test/gone", "Bài bị gỡ", "Nội dung.")
    with f.begin() as s:
        s.execute(text("UPDATE articles SET story_id = :a WHERE id IN (:a, :b)"), {"a": a, "b": b})
        s.execute(text("UPDATE articles SET status = 'removed', removed_at = '2024-05-02 00:00:00' WHERE id = :i"),
                  {"i": gone})
        repo.add_urls(s, a, [("http://bao.test/a?utm_source=x", "k")], T0)
        ok = repo.start_run(s, "bao", "manual")
        repo.finish_run(s, ok.id, "finished", 0)
        bad = repo.start_run(s, "tgvn", "schedule")
        repo.finish_run(s, bad.id, "failed", 1, error="connection refused\nmore detail")
    return {"a": a, "b": b, "gone": gone}


def invoke(*args: str) -> object:
    from crawler.cli import app

    return CliRunner().invoke(app, list(args))


def test_show_by_id_and_by_any_url(archive: dict[str, int]) -> None:
    for ref in (str(archive["a"]), "http://bao.test/a", "http://bao.test/a/", "http://bao.test/a?utm_source=x"):
        r = invoke("show", ref)
        assert r.exit_code == 0, r.output
        out = r.stdout
        assert "Bão số 3 đổ bộ Quảng Ninh" in out and "Gió mạnh cấp 13." in out
        assert "2 versions" in out and "status live" in out
        assert "http://tgvn.test/b" in out  # the story's other copy
        assert "http://bao.test/a?utm_source=x" in out


def test_show_json_and_an_older_version(archive: dict[str, int]) -> None:
    r = invoke("show", str(archive["a"]), "--json", "--version", "1")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    assert rec["version"] == 1 and rec["text"] == "Gió mạnh cấp 12."
    assert [v["number"] for v in rec["versions"]] == [1, 2]
    assert all(len(v["content_sha256"]) == 64 for v in rec["versions"])
    assert rec["copies"] == [{"id": archive["b"], "source": "tgvn", "url": "http://tgvn.test/b",
                              "title": "Bão số 3 đổ bộ (bản đăng lại)"}]
    assert rec["published"] == "2024-05-01T10:00:00+07:00"


def test_show_raw_prints_the_archived_html(archive: dict[str, int]) -> None:
    r = invoke("show", str(archive["a"]), "--raw", "--version", "1")
    assert r.exit_code == 0, r.output
    assert r.stdout == PLANTED.decode("utf-8")


@pytest.mark.parametrize(("args", "message"), [
    (["show", "999"], "no archived article"),
    (["show", "http://nowhere.test/x"], "no archived article"),
    (["show", "1", "--version", "9"], "has no version 9"),
])
def test_show_errors_are_one_line(archive: dict[str, int], args: list[str], message: str) -> None:
    r = invoke(*args)
    assert r.exit_code == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_removed_article_shows_its_status(archive: dict[str, int]) -> None:
    r = invoke("show", str(archive["gone"]))
    assert r.exit_code == 0 and "status removed since 2024-05-02" in r.stdout


def test_stats(archive: dict[str, int]) -> None:
    r = invoke("stats", "--json")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    by = {x["source"]: x for x in rows if "source" in x}
    total = rows[-1]["total"]
    assert (by["bao"]["articles"], by["bao"]["versions"], by["bao"]["removed"]) == (2, 3, 1)
    assert by["bao"]["health"] == "ok" and by["bao"]["failures"] == 0
    assert by["tgvn"]["health"] == "failing" and by["tgvn"]["failures"] == 1
    assert by["tgvn"]["last_error"].startswith("connection refused")
    assert by["bao"]["last_new_article"].endswith("+07:00") and by["bao"]["last_crawl"]
    assert (total["articles"], total["versions"], total["removed"], total["runs"]) == (3, 4, 1, 2)
    assert total["database_bytes"] > 0
    r = invoke("stats")
    assert r.exit_code == 0 and "database" in r.stdout and "failing" in r.stdout
    assert "tgvn: last failure: connection refused" in r.stdout


def test_reader_cannot_write(db_url: str, archive: dict[str, int]) -> None:
    from storage.reading import open_reader

    engine = open_reader(db_url)
    refused = OperationalError if is_sqlite(db_url) else InternalError  # PostgreSQL: ReadOnlySqlTransaction
    with engine.connect() as conn, pytest.raises(refused, match="readonly|read-only|query_only"):
        conn.execute(text("DELETE FROM articles"))
    engine.dispose()


def test_reader_does_not_wait_for_a_writer(db_url: str, session_factory: sessionmaker[Session],
                                           archive: dict[str, int]) -> None:
    """A crawl holds the write lock for a transaction at a time; search and the web view must not queue."""
    from storage.reading import open_reader
    from storage.search import search

    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with session_factory.begin() as s:
            s.execute(text("UPDATE articles SET last_seen = last_seen"))
            holding.set()
            release.wait(20)

    t = threading.Thread(target=writer)
    t.start()
    assert holding.wait(10)
    engine = open_reader(db_url)
    started = time.monotonic()
    try:
        with Session(engine) as s:
            assert [h.id for h in search(s, "bao so 3")]
    finally:
        release.set()
        t.join()
        engine.dispose()
    assert time.monotonic() - started < 2


def test_reader_refuses_a_missing_file(tmp_path: object) -> None:
    from storage.db import ArchiveError
    from storage.reading import open_reader

    with pytest.raises(ArchiveError, match="does not exist"):
        open_reader(f"sqlite:///{tmp_path}/none.db")


# ---------------------------------------------------------------- pages fetched but not archived

SOURCES = """\
[[source]]
id = "bao"
name = "Bao"
allowed_domains = ["bao.test"]
start_urls = ["http://bao.test/"]
article_patterns = ['/p']
ignore_params = ["ref"]
"""


def skip(f: sessionmaker[Session], url: str, reason: str, when: dt.datetime, source: str = "bao") -> None:
    """Record a skipped page the way pipelines/archive.py does: its capture, then the skip."""
    with f.begin() as s:
        repo.ensure_sources(s, [(source, source.upper())])
        cap = repo.store_capture(s, source_id=source, run_id=None, url=url, final_url=url, status=200, headers={},
                                 fetched_at=when, body=b"<html></html>", outcome=f"skipped:{reason}")
        repo.record_skip(s, source, url, reason, cap, when)


@pytest.fixture
def skips(archive: dict[str, int], session_factory: sessionmaker[Session], tmp_path: object,
          monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    from pathlib import Path

    sources = Path(str(tmp_path)) / "sources.toml"
    sources.write_text(SOURCES, encoding="utf-8")
    monkeypatch.setenv("VNARCHIVE_SOURCES", str(sources))
    f = session_factory
    skip(f, "http://bao.test/photos", "photo_page", T0)
    skip(f, "http://bao.test/list", "listing_page", T0 + dt.timedelta(days=1))
    skip(f, "http://bao.test/en", "language_en", T0 + dt.timedelta(days=2))
    skip(f, "http://tgvn.test/gallery", "photo_page", T0 + dt.timedelta(days=3), source="tgvn")
    # skipped once, archived since (a later crawl, a better extractor): no longer "not archived"
    skip(f, "http://bao.test/a", "no_article_text", T0 - dt.timedelta(days=1))
    skip(f, "http://bao.test/gone", "photo_page", T0 - dt.timedelta(days=1))
    with f.begin() as s:
        repo.add_urls(s, archive["a"], [("http://bao.test/k", "bao.test/k")], T0)
    return archive


def test_skipped_lists_pages_not_archived_newest_first(skips: dict[str, int]) -> None:
    r = invoke("skipped")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["last", "fetched", "source", "reason", "url"]
    urls = [line.split()[-1] for line in lines[1:5]]
    assert urls == ["http://tgvn.test/gallery", "http://bao.test/en", "http://bao.test/list", "http://bao.test/photos"]
    assert lines[1].startswith("2024-05-04 10:00 +07:00") and "photo_page" in lines[1]
    assert "4 skipped pages not archived: photo_page 2, language_en 1, listing_page 1" in r.stdout
    assert "http://bao.test/a" not in r.stdout and "/gone" not in r.stdout and "no_article_text" not in r.stdout
    assert "photo_page: a photo gallery" in r.stdout and "language_en: in a language" in r.stdout
    assert "vnarchive reextract" in r.stdout


@pytest.mark.parametrize(("args", "urls"), [
    (["--source", "tgvn"], ["http://tgvn.test/gallery"]),
    (["--reason", "photo_page"], ["http://tgvn.test/gallery", "http://bao.test/photos"]),
    (["--reason", "language_*"], ["http://bao.test/en"]),
    (["--source", "bao", "--reason", "photo_page"], ["http://bao.test/photos"]),
    (["--since", "2024-05-02"], ["http://tgvn.test/gallery", "http://bao.test/en", "http://bao.test/list"]),
    (["--since", "2024-05-03T10:00:00+07:00"], ["http://tgvn.test/gallery", "http://bao.test/en"]),
    (["--reason", "soft_404"], []),  # a reason this vnarchive gives, none recorded: no error
])
def test_skipped_filters(skips: dict[str, int], args: list[str], urls: list[str]) -> None:
    r = invoke("skipped", "--json", *args)
    assert r.exit_code == 0, r.output
    assert [json.loads(line)["url"] for line in r.stdout.splitlines()] == urls


def test_skipped_limit_says_how_many_there_are(skips: dict[str, int]) -> None:
    r = invoke("skipped", "--limit", "2")
    assert r.exit_code == 0, r.output
    assert "4 skipped pages not archived (the newest 2; raise --limit for more)" in r.stdout
    assert "http://bao.test/photos" not in r.stdout


def test_skipped_json(skips: dict[str, int]) -> None:
    r = invoke("skipped", "--json", "--source", "bao", "--reason", "photo_page")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    assert set(rec) == {"url", "source", "reason", "last_seen", "capture_id"}
    assert (rec["url"], rec["source"], rec["reason"]) == ("http://bao.test/photos", "bao", "photo_page")
    assert rec["last_seen"] == "2024-05-01T10:00:00+07:00" and isinstance(rec["capture_id"], int)


def test_skipped_of_an_empty_archive(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VNARCHIVE_DB", db_url)
    r = invoke("skipped")
    assert r.exit_code == 0 and r.stdout.strip() == "no skipped page"
    r = invoke("skipped", "--json")
    assert r.exit_code == 0 and r.stdout == ""


@pytest.mark.parametrize(("args", "message"), [
    (["--source", "nosuch"], "error: no source 'nosuch' in the archive (known: bao, tgvn)"),
    # a NUL PostgreSQL refuses in a query: no source id has one, so it is never looked up
    (["--source", "bao\x00"], "error: no source 'bao\\x00' in the archive (known: bao, tgvn)"),
    (["--reason", "nosuch"], "error: --reason: no skip reason 'nosuch' (known: empty_body, "),
    (["--reason", "nosuch*"], "error: --reason: no skip reason 'nosuch*'"),
    (["--since", "yesterday"], "error: --since: expected a date like 2024-05-31"),
    (["--limit", "0"], "error: --limit must be at least 1, not 0"),
])
def test_skipped_errors_are_one_line_and_exit_2(skips: dict[str, int], args: list[str], message: str) -> None:
    r = invoke("skipped", *args)
    assert r.exit_code == 2, r.output
    assert r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.startswith(message) and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_skipped_accepts_a_reason_recorded_by_another_version(skips: dict[str, int],
                                                              session_factory: sessionmaker[Session]) -> None:
    skip(session_factory, "http://bao.test/old", "not_article", T0)
    r = invoke("skipped", "--reason", "not_article", "--json")
    assert r.exit_code == 0, r.output
    assert [json.loads(line)["url"] for line in r.stdout.splitlines()] == ["http://bao.test/old"]
    r = invoke("skipped", "--reason", "not_article")
    assert "not_article: recorded by another version of vnarchive" in r.stdout


@pytest.mark.parametrize("ref", ["http://bao.test/photos", "http://bao.test/photos/",
                                 "http://bao.test/photos?utm_source=fb&ref=home#comments",
                                 " http://bao.test/photos#top"])
def test_show_of_a_skipped_url_says_so(skips: dict[str, int], ref: str) -> None:
    for args in (["show", ref], ["show", ref, "--json"]):
        r = invoke(*args)
        assert r.exit_code == 2, r.output
        assert r.stdout == ""
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(f"error: {ref.strip()}: not archived: skipped as photo_page")
        assert lines[0].endswith("(last fetched 2024-05-01 10:00 +07:00); see `vnarchive skipped`")
        assert ("under http://bao.test/photos " in lines[0]) == (ref.strip() != "http://bao.test/photos")
        assert "no archived article" not in r.stderr


def test_show_of_a_url_archived_since_it_was_skipped_shows_the_article(skips: dict[str, int]) -> None:
    r = invoke("show", "http://bao.test/a")
    assert r.exit_code == 0, r.output
    assert "Bão số 3 đổ bộ Quảng Ninh" in r.stdout


def test_show_finds_an_article_by_its_url_key(skips: dict[str, int]) -> None:
    # mobile host, https, trailing slash, tracking and ignored parameters: the same article (url_key)
    r = invoke("show", "https://m.bao.test/k/?utm_source=x&ref=home")
    assert r.exit_code == 0, r.output
    assert "Bão số 3 đổ bộ Quảng Ninh" in r.stdout


def test_show_of_an_unknown_url_is_still_no_archived_article(skips: dict[str, int]) -> None:
    r = invoke("show", "http://bao.test/never")
    assert r.exit_code == 2 and "no archived article" in r.stderr


def test_stats_counts_skipped_pages(skips: dict[str, int]) -> None:
    r = invoke("stats", "--json")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    by = {x["source"]: x for x in rows if "source" in x}
    assert (by["bao"]["skipped"], by["tgvn"]["skipped"], rows[-1]["total"]["skipped"]) == (3, 1, 4)
    r = invoke("stats")
    assert r.exit_code == 0 and "skipped" in r.stdout and "4 pages skipped" in r.stdout
