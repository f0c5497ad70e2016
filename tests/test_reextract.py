"""`vnarchive reextract`: the current extractor on stored captures, on real temporary archives (SQLite, or
PostgreSQL with VNARCHIVE_TEST_BACKEND).

Each archive is built the way the crawl builds it (pipelines.archive.archive_page with a RawPage and an
Extracted or Skipped), from the saved page bytes of tests/fixtures/pages, but with an older, worse extraction:
a version whose text misses a paragraph and names an older extractor version, or a page an older extractor
skipped.  The "better" extraction is whatever the current extractor makes of the same bytes, so these tests
follow the extractor as it improves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import resource
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from config import load_sources
from config.sources import Source
from pipelines import reextract as rx
from pipelines.archive import archive_page
from pipelines.extract import EXTRACTOR_VERSION, extract_article
from pipelines.items import Extracted, RawPage, Skipped
from storage import repo
from storage.db import make_engine, make_session_factory
from storage.models import (
    Article,
    ArticleEvent,
    ArticleUrl,
    Capture,
    ReextractProgress,
    SkippedPage,
    Version,
)
from tests.conftest import is_sqlite, sqlite_file

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "tests" / "fixtures" / "pages"
T0 = dt.datetime(2024, 10, 3, 1, 0, tzinfo=dt.UTC)
OLD_VERSION = "0.9/old"
ARTICLES = ("nhandan", "vnexpress", "baochinhphu", "seed_mps", "seed_tgvn")

SOURCES_TOML = """
[[source]]
id = "bao"
name = "Báo thử"
allowed_domains = ["nhandan.vn", "vnexpress.net", "baochinhphu.vn", "bocongan.gov.vn", "baoquocte.vn",
                   "example.vn"]
start_urls = ["https://nhandan.vn/"]
article_patterns = ['\\.html?$']

[[source]]
id = "khac"
name = "Nguồn khác"
allowed_domains = ["khac.example.vn"]
start_urls = ["https://khac.example.vn/"]
article_patterns = ['\\.html$']
"""


@pytest.fixture
def sources_file(tmp_path: Path) -> Path:
    p = tmp_path / "sources.toml"
    p.write_text(SOURCES_TOML, encoding="utf-8")
    return p


@pytest.fixture
def source(sources_file: Path) -> Source:
    return load_sources(sources_file).get("bao")


@pytest.fixture
def archive(session_factory: sessionmaker[Session], sources_file: Path) -> sessionmaker[Session]:
    with session_factory.begin() as s:
        repo.ensure_sources(s, [(x.id, x.name) for x in load_sources(sources_file).sources])
    return session_factory


def fixture(name: str) -> tuple[bytes, str, str]:
    meta = json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))
    return (PAGES / f"{name}.html").read_bytes(), meta["url"], meta.get("content_type") or "text/html"


def current(name: str, source: Source) -> Extracted:
    body, url, ctype = fixture(name)
    ex = extract_article(body, url, ctype, source.extraction)
    assert isinstance(ex, Extracted), f"{name} is not an article for the current extractor: {ex}"
    return ex


def older(ex: Extracted) -> Extracted:
    """What an older, worse extractor made of the page: its last paragraph lost, its version older."""
    paras = ex.text.split("\n\n")
    assert len(paras) > 1
    return dataclasses.replace(ex, text="\n\n".join(paras[:-1]), extractor_version=OLD_VERSION)


def crawl(factory: sessionmaker[Session], source: Source, name: str, result: Extracted | Skipped | None = None,
          when: dt.datetime = T0, url: str | None = None) -> Any:
    """Archive a saved page as the crawl does; ``result`` is what the (older) extractor made of it."""
    body, page_url, ctype = fixture(name)
    url = url or page_url
    raw = RawPage(source_id=source.id, url=url, final_url=url, status=200,
                  headers={"Content-Type": ctype, "ETag": '"e1"'}, body=body, fetched_at=when)
    with factory.begin() as s:
        return archive_page(s, source, raw, result if result is not None else older(current(name, source)), None)


def in_process(body: bytes, url: str, ctype: str | None, hints: Any) -> Extracted | Skipped:
    return extract_article(body, url, ctype, hints)


def run(factory: sessionmaker[Session], source: Source, **kw: Any) -> rx.Report:
    kw.setdefault("extract", in_process)
    return rx.reextract(factory, [source], **kw)


def count(factory: sessionmaker[Session], model: Any, *where: Any) -> int:
    with factory() as s:
        return int(s.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def versions(factory: sessionmaker[Session], article_id: int) -> list[Version]:
    with factory() as s:
        return list(s.execute(select(Version).where(Version.article_id == article_id)
                              .order_by(Version.number)).scalars())


def dump(db_url: str) -> list[str]:
    """Everything the archive holds: SQLite's own dump, or on PostgreSQL every table's rows."""
    if is_sqlite(db_url):
        conn = sqlite3.connect(sqlite_file(db_url))
        try:
            return list(conn.iterdump())
        finally:
            conn.close()
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as c:
            return [f"{t}: {row!r}" for t in sorted(inspect(c).get_table_names())
                    for row in sorted(c.execute(text(f'SELECT * FROM "{t}"')).fetchall(), key=repr)]
    finally:
        engine.dispose()


# ---------------------------------------------------------------- a better extraction reaches old pages

def test_reextract_adds_one_better_version_then_nothing(archive: sessionmaker[Session], source: Source) -> None:
    out = crawl(archive, source, "nhandan")
    assert out.kind == "new"
    (v1,) = versions(archive, out.article_id)
    captures = count(archive, Capture)

    report = run(archive, source)
    c = report.sources["bao"]
    assert (c.examined, c.changed, c.unchanged, c.failed) == (1, 1, 0, 0)
    v1b, v2 = versions(archive, out.article_id)
    best = current("nhandan", source)
    assert v2.number == 2 and v2.text == best.text and v2.text != v1.text
    assert best.text.split("\n\n")[-1] in v2.text and best.text.split("\n\n")[-1] not in v1.text
    assert (v2.extractor, v2.extractor_version) == (best.extractor, EXTRACTOR_VERSION)
    assert v2.capture_id == v1.capture_id  # the same raw page, not a new one
    assert v2.created_at > v1.created_at
    assert (v1b.text, v1b.extractor_version) == (v1.text, OLD_VERSION)  # the old version is kept as it was
    assert count(archive, Capture) == captures  # nothing fetched, nothing stored twice
    with archive() as s:
        a = s.get(Article, out.article_id)
        assert a is not None and a.current_version == 2
        (ev,) = s.execute(select(ArticleEvent).where(ArticleEvent.article_id == a.id)).scalars()
    assert ev.kind == "reextracted" and ev.detail == f"{OLD_VERSION} -> {EXTRACTOR_VERSION}"
    assert count(archive, ReextractProgress) == 0  # a completed run leaves no marker

    again = run(archive, source).sources["bao"]
    assert (again.examined, again.changed, again.unchanged) == (1, 0, 1)
    assert len(versions(archive, out.article_id)) == 2
    assert count(archive, ArticleEvent) == 1


def test_a_page_extracted_as_now_is_unchanged(archive: sessionmaker[Session], source: Source) -> None:
    out = crawl(archive, source, "vnexpress", current("vnexpress", source))
    c = run(archive, source).sources["bao"]
    assert (c.examined, c.unchanged, c.changed) == (1, 1, 0)
    assert len(versions(archive, out.article_id)) == 1


def test_a_different_identity_that_reads_the_same_is_unchanged(archive: sessionmaker[Session],
                                                                 source: Source) -> None:
    """An archive made by an older vnarchive hashed versions differently: same text is still no change."""
    out = crawl(archive, source, "vnexpress", dataclasses.replace(current("vnexpress", source),
                                                                   extractor_version=OLD_VERSION))
    with archive.begin() as s:
        v = s.execute(select(Version).where(Version.article_id == out.article_id)).scalar_one()
        v.content_sha256 = "0" * 64
    c = run(archive, source).sources["bao"]
    assert (c.changed, c.unchanged) == (0, 1)


def test_dry_run_writes_nothing_and_says_what_would_change(archive: sessionmaker[Session], source: Source,
                                                            db_url: str) -> None:
    crawl(archive, source, "nhandan")
    crawl(archive, source, "vnexpress", Skipped("photo_page"))
    crawl(archive, source, "soft_404", Skipped("soft_404"))
    before = dump(db_url)
    reader = make_session_factory(make_engine(db_url, readonly=True))
    report = run(reader, source, reader=reader, dry_run=True)
    c = report.sources["bao"]
    assert report.dry_run
    assert (c.examined, c.changed, c.newly_archived, c.still_skipped) == (3, 1, 1, 1)
    assert dump(db_url) == before
    # and the real run does what the dry run said
    c = run(archive, source).sources["bao"]
    assert (c.examined, c.changed, c.newly_archived, c.still_skipped) == (3, 1, 1, 1)


# ---------------------------------------------------------------- skipped pages

def test_a_skipped_page_that_is_an_article_now_is_archived(archive: sessionmaker[Session], source: Source) -> None:
    crawl(archive, source, "vnexpress", Skipped("photo_page"))
    crawl(archive, source, "soft_404", Skipped("soft_404"))
    with archive() as s:
        skip = s.execute(select(SkippedPage).where(SkippedPage.reason == "photo_page")).scalar_one()
        skip_capture = skip.capture_id
    captures = count(archive, Capture)

    c = run(archive, source).sources["bao"]
    assert (c.examined, c.newly_archived, c.still_skipped, c.changed) == (2, 1, 1, 0)
    assert count(archive, Capture) == captures  # archived from the capture already stored
    with archive() as s:
        assert s.execute(select(SkippedPage.reason)).scalars().all() == ["soft_404"]
        a = s.execute(select(Article)).scalar_one()
        v = s.execute(select(Version).where(Version.article_id == a.id)).scalar_one()
        cap = s.get(Capture, skip_capture)
        urls = s.execute(select(ArticleUrl.url).where(ArticleUrl.article_id == a.id)).scalars().all()
        ev = s.execute(select(ArticleEvent).where(ArticleEvent.article_id == a.id)).scalar_one()
    assert v.capture_id == skip_capture and v.text == current("vnexpress", source).text
    assert v.extractor_version == EXTRACTOR_VERSION
    assert cap is not None and cap.body is not None and cap.article_id == a.id and cap.outcome == "archived"
    assert a.first_seen == T0 and a.current_version == 1 and a.etag == '"e1"'
    assert fixture("vnexpress")[1] in urls
    assert ev.kind == "reextracted" and "photo_page" in (ev.detail or "")

    again = run(archive, source).sources["bao"]
    assert (again.examined, again.unchanged, again.still_skipped, again.newly_archived) == (2, 1, 1, 0)
    assert count(archive, Article) == 1 and count(archive, Version) == 1


def test_a_skipped_copy_of_an_archived_article_joins_it(archive: sessionmaker[Session], source: Source) -> None:
    """The same page under another URL was skipped: now it is that article's URL, not a second article."""
    crawl(archive, source, "vnexpress", current("vnexpress", source))
    crawl(archive, source, "vnexpress", Skipped("photo_page"), when=T0 + dt.timedelta(hours=1),
          url="https://vnexpress.net/ban-in/ha-noi-gia-han.html")
    c = run(archive, source).sources["bao"]
    assert (c.unchanged, c.newly_archived) == (2, 0)
    assert count(archive, Article) == 1 and count(archive, Version) == 1 and count(archive, SkippedPage) == 0
    assert count(archive, ArticleUrl, ArticleUrl.url == "https://vnexpress.net/ban-in/ha-noi-gia-han.html") == 1


def test_an_older_skip_never_overwrites_a_newer_version(archive: sessionmaker[Session], source: Source) -> None:
    """Skipped on day 0, archived from a later fetch on day 1: the day-0 page is not put on top."""
    body_url = fixture("nhandan")[1]
    crawl(archive, source, "vnexpress", Skipped("photo_page"), url=body_url)  # another page under that URL
    out = crawl(archive, source, "nhandan", current("nhandan", source), when=T0 + dt.timedelta(days=1))
    c = run(archive, source).sources["bao"]
    assert (c.unchanged, c.superseded, c.changed) == (1, 1, 0)
    assert len(versions(archive, out.article_id)) == 1


def test_an_article_that_now_extracts_as_skipped_is_kept(archive: sessionmaker[Session], source: Source) -> None:
    out = crawl(archive, source, "soft_404", current("nhandan", source))  # an older extractor took it for one
    c = run(archive, source).sources["bao"]
    assert (c.examined, c.now_skipped, c.changed) == (1, 1, 0)
    with archive() as s:
        a = s.get(Article, out.article_id)
        assert a is not None and a.status == "live" and a.current_version == 1
    assert len(versions(archive, out.article_id)) == 1
    assert count(archive, SkippedPage) == 0


# ---------------------------------------------------------------- failures, interrupts, resumes

def test_a_page_that_fails_to_extract_is_counted_and_the_run_goes_on(archive: sessionmaker[Session],
                                                                     source: Source) -> None:
    crawl(archive, source, "nhandan")
    crawl(archive, source, "vnexpress")
    crawl(archive, source, "baochinhphu")
    nhandan_url = fixture("nhandan")[1]
    vnexpress_url = fixture("vnexpress")[1]

    def flaky(body: bytes, url: str, ctype: str | None, hints: Any) -> Extracted | Skipped:
        if url == nhandan_url:
            raise RuntimeError("parser bug")
        if url == vnexpress_url:
            return Skipped("extraction_timeout")
        return extract_article(body, url, ctype, hints)

    c = run(archive, source, extract=flaky, batch=1).sources["bao"]
    assert (c.examined, c.failed, c.changed, c.now_skipped) == (3, 2, 1, 0)
    c = run(archive, source).sources["bao"]  # the next run retries them
    assert (c.failed, c.changed, c.unchanged) == (0, 2, 1)


def failing_after(monkeypatch: pytest.MonkeyPatch, calls: int, exc: BaseException) -> list[int]:
    """repo.add_version fails on its ``calls``-th call (a disk that fills up, a kill)."""
    made: list[int] = []
    real = repo.add_version

    def add_version(*args: Any, **kw: Any) -> Any:
        made.append(1)
        if len(made) == calls:
            raise exc
        return real(*args, **kw)

    monkeypatch.setattr(repo, "add_version", add_version)
    return made


def five_old_articles(archive: sessionmaker[Session], source: Source) -> list[int]:
    return [crawl(archive, source, name).article_id for name in ARTICLES]


def assert_all_upgraded_once(archive: sessionmaker[Session], ids: list[int]) -> None:
    for aid in ids:
        vs = versions(archive, aid)
        assert [v.number for v in vs] == [1, 2], (aid, [v.number for v in vs])
        assert vs[1].extractor_version == EXTRACTOR_VERSION and vs[0].extractor_version == OLD_VERSION
    assert count(archive, ArticleEvent) == len(ids)
    with archive() as s:
        dupes = s.execute(select(Version.article_id, Version.content_sha256).group_by(
            Version.article_id, Version.content_sha256).having(func.count() > 1)).all()
    assert dupes == []


def test_a_batch_that_fails_keeps_the_batches_before_and_a_rerun_completes(
        archive: sessionmaker[Session], source: Source, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = five_old_articles(archive, source)
    failing_after(monkeypatch, 3, OperationalError("INSERT", {}, Exception("database or disk is full")))
    with pytest.raises(OperationalError):
        run(archive, source, batch=2)
    # batch 1 (two articles) committed, batch 2 rolled back whole, batch 3 never written
    assert [len(versions(archive, aid)) for aid in ids] == [2, 2, 1, 1, 1]
    with archive() as s:
        mark = s.get(ReextractProgress, "bao")
        assert mark is not None and (mark.phase, mark.after_id) == ("articles", ids[1])
    monkeypatch.undo()

    report = run(archive, source, batch=2)
    c = report.sources["bao"]
    assert report.resumed == {"bao": ("articles", ids[1])}  # the marker saved re-extracting batch 1
    assert (c.examined, c.changed) == (3, 3)
    assert_all_upgraded_once(archive, ids)
    assert count(archive, ReextractProgress) == 0
    c = run(archive, source, batch=2).sources["bao"]
    assert (c.examined, c.changed, c.unchanged) == (5, 0, 5)


def test_an_interrupt_rolls_back_the_batch_in_flight_and_a_rerun_resumes(
        archive: sessionmaker[Session], source: Source, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = five_old_articles(archive, source)
    failing_after(monkeypatch, 4, KeyboardInterrupt())
    report = run(archive, source, batch=2)
    assert report.interrupted and report.record()["interrupted"] is True
    assert report.sources["bao"].changed == 2
    assert [len(versions(archive, aid)) for aid in ids] == [2, 2, 1, 1, 1]
    monkeypatch.undo()
    assert run(archive, source, batch=2).sources["bao"].changed == 3
    assert_all_upgraded_once(archive, ids)


def test_without_the_marker_a_rerun_is_still_exact(archive: sessionmaker[Session], source: Source,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Correctness comes from idempotence: a lost (or stale) marker only costs work."""
    ids = five_old_articles(archive, source)
    failing_after(monkeypatch, 3, KeyboardInterrupt())
    run(archive, source, batch=2)
    monkeypatch.undo()
    with archive.begin() as s:
        mark = s.get(ReextractProgress, "bao")
        assert mark is not None
        mark.fingerprint = "made by another extractor"
    c = run(archive, source, batch=2).sources["bao"]
    assert (c.examined, c.changed, c.unchanged) == (5, 3, 2)
    assert_all_upgraded_once(archive, ids)


def test_since_keeps_pages_fetched_from_that_day_in_vietnam_time(archive: sessionmaker[Session],
                                                                   source: Source) -> None:
    crawl(archive, source, "nhandan", when=dt.datetime(2024, 10, 2, 17, 0, tzinfo=dt.UTC))  # 3 Oct 00:00 VN
    crawl(archive, source, "vnexpress", when=dt.datetime(2024, 10, 2, 16, 59, tzinfo=dt.UTC))  # 2 Oct 23:59 VN
    since = rx.day_start(dt.date(2024, 10, 3))
    assert since == dt.datetime(2024, 10, 2, 17, 0, tzinfo=dt.UTC)
    c = run(archive, source, since=since).sources["bao"]
    assert (c.examined, c.changed) == (1, 1)


def test_only_the_chosen_sources(archive: sessionmaker[Session], source: Source, sources_file: Path) -> None:
    crawl(archive, source, "nhandan")
    other = load_sources(sources_file).get("khac")
    c = rx.reextract(archive, [other], extract=in_process).sources["khac"]
    assert c.examined == 0
    assert count(archive, Version) == 1


def test_the_worker_pool_path(archive: sessionmaker[Session], source: Source) -> None:
    """The default extraction: spawned worker processes (signatures computed there, stories linked)."""
    out = crawl(archive, source, "seed_tgvn")
    report = rx.reextract(archive, [source], workers=1)
    assert report.sources["bao"].changed == 1
    assert versions(archive, out.article_id)[-1].text == current("seed_tgvn", source).text


def test_the_worker_pool_applies_the_template_in_the_workers(archive: sessionmaker[Session], source: Source,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """With the pool, each page's template is applied in the worker that extracted it (from its own read-only
    view of the archive), as in the crawl: the writing process never applies it, and the verdicts are the same."""
    from pipelines import template_store

    out = crawl(archive, source, "seed_tgvn")
    crawl(archive, source, "seed_mps")
    applied: list[str] = []
    real_apply = template_store.apply_stored

    def counted(session: Session, source_id: str, *a: Any, **kw: Any) -> Any:
        applied.append(source_id)
        return real_apply(session, source_id, *a, **kw)

    monkeypatch.setattr(template_store, "apply_stored", counted)
    report = rx.reextract(archive, [source], workers=1)
    assert report.sources["bao"].examined == 2 and report.sources["bao"].failed == 0
    assert versions(archive, out.article_id)[-1].text == current("seed_tgvn", source).text
    assert applied == []  # not in this process: the workers did it


# ---------------------------------------------------------------- the command

def cli(*args: str, env: dict[str, str], preexec: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crawler", "reextract", *args], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300,
                          preexec_fn=preexec)


def test_cli_help() -> None:
    r = cli("--help", env={})
    assert r.returncode == 0
    for opt in ("--source", "--since", "--dry-run", "--batch", "--json", "never refetches"):
        assert opt in r.stdout


def test_cli_reextracts_twice_and_reports(archive: sessionmaker[Session], source: Source, db_url: str,
                                          sources_file: Path) -> None:
    ids = [crawl(archive, source, name).article_id for name in ARTICLES[:2]]
    crawl(archive, source, "video_page", Skipped("video_page"))
    env = {"VNARCHIVE_DB": db_url, "VNARCHIVE_SOURCES": str(sources_file)}

    r = cli("--json", "--dry-run", env=env)
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["dry_run"] is True and rec["total"]["changed"] == 2
    assert all(len(versions(archive, aid)) == 1 for aid in ids)

    r = cli("--json", "--source", "bao", env=env)
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["dry_run"] is False and rec["interrupted"] is False
    assert {k: rec["total"][k] for k in rx.OUTCOMES} == {
        "changed": 2, "unchanged": 0, "newly_archived": 0, "still_skipped": 1, "now_skipped": 0, "failed": 0,
        "superseded": 0}
    assert rec["sources"]["bao"]["examined"] == 3 and rec["total"]["seconds"] >= 0
    assert all(len(versions(archive, aid)) == 2 for aid in ids)

    with archive.begin() as s:  # a source the sources file no longer has: no hints, so not examined
        repo.ensure_sources(s, [("cu", "Nguồn cũ")])
    r = cli(env=env)  # the table
    assert r.returncode == 0, r.stderr
    assert "examined" in r.stdout and "0 articles were given a new version" in r.stdout
    assert "not re-extracted: cu" in r.stderr


def test_cli_usage_errors_exit_2(db_url: str, sources_file: Path, tmp_path: Path) -> None:
    env = {"VNARCHIVE_DB": db_url, "VNARCHIVE_SOURCES": str(sources_file)}
    for args, says in ((("--source", "nope"), "no source 'nope'"), (("--since", "3/10/2024"), "--since"),
                       (("--batch", "0"), "--batch")):
        r = cli(*args, env=env)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("error: ") and says in r.stderr and "Traceback" not in r.stderr
    missing = tmp_path / "none.db"
    r = cli(env={**env, "VNARCHIVE_DB": f"sqlite:///{missing}"})
    assert r.returncode == 2 and r.stderr.startswith("error: ") and not missing.exists()


@pytest.mark.sqlite_only("a full disk under SQLite's own files (RLIMIT_FSIZE on the archive and its WAL); "
                         "a PostgreSQL server's disk is not the client's")
def test_cli_exits_1_when_the_archive_cannot_be_written(archive: sessionmaker[Session], source: Source,
                                                        db_url: str, sources_file: Path) -> None:
    for name in ARTICLES:
        crawl(archive, source, name)
    conn = sqlite3.connect(sqlite_file(db_url))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = dump(db_url)

    def no_room() -> None:  # a full disk: no file grows past 32 KiB (the WAL index's size; Python ignores SIGXFSZ)
        resource.setrlimit(resource.RLIMIT_FSIZE, (32768, 32768))

    r = cli(env={"VNARCHIVE_DB": db_url, "VNARCHIVE_SOURCES": str(sources_file)}, preexec=no_room)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in r.stderr
    assert dump(db_url) == before
