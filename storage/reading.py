"""Reading the archive for people: one article with its history (``show``), per-source health (``stats``),
and a read-only engine for the commands and the web view that only look.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from storage.db import ArchiveError, make_engine
from storage.models import (
    Article,
    ArticleEvent,
    ArticleUrl,
    Capture,
    CrawlRun,
    SourceCounts,
    SourceRow,
    Version,
)
from storage.repo import capture_body
from storage.skips import skipped_by_source

FAILED = ("failed", "timeout", "interrupted")
RECENT_RUNS = 10


# ---------------------------------------------------------------- a read-only engine

def open_reader(db_url: str) -> Engine:
    """An engine that cannot write and never waits for the crawler's write lock (storage.db, readonly)."""
    return make_engine(db_url, readonly=True)


# ---------------------------------------------------------------- one article

@dataclass(slots=True)
class ArticleView:
    article: Article
    urls: list[str]
    versions: list[Version]
    events: list[ArticleEvent]
    copies: list[tuple[Article, str]]  # other articles of the same story, with their current title
    version: Version | None  # the one asked for (default: current)


def find_article(session: Session, ref: str, keys: Sequence[str] = (), urls: Sequence[str] = ()) -> Article | None:
    """By id, or by any URL (a cleaned form of it, or its URL key) it was seen under; None when nothing answers."""
    from storage.history import NotFound
    from storage.history import find_article as lookup

    try:
        return lookup(session, ref, keys, urls)
    except NotFound:
        return None


def article_view(session: Session, article: Article, version: int | None = None) -> ArticleView:
    """Everything ``show`` and the article page display; ``version`` must exist if given."""
    versions = list(session.execute(select(Version).where(Version.article_id == article.id)
                                    .order_by(Version.number)).scalars())
    want = article.current_version if version is None else version
    chosen = next((v for v in versions if v.number == want), None)
    if version is not None and chosen is None:
        known = ", ".join(str(v.number) for v in versions) or "none"
        raise ArchiveError(f"article {article.id} has no version {version} (versions: {known})")
    urls = list(session.execute(select(ArticleUrl.url).where(ArticleUrl.article_id == article.id)
                                .order_by(ArticleUrl.id)).scalars())
    events = list(session.execute(select(ArticleEvent).where(ArticleEvent.article_id == article.id)
                                  .order_by(ArticleEvent.at, ArticleEvent.id)).scalars())
    copies: list[tuple[Article, str]] = []
    if article.story_id is not None:
        rows = session.execute(
            select(Article, Version.title)
            .outerjoin(Version, (Version.article_id == Article.id) & (Version.number == Article.current_version))
            .where(Article.story_id == article.story_id, Article.id != article.id)
            .order_by(func.coalesce(Article.published, Article.first_seen), Article.id)).all()
        copies = [(a, t or "") for a, t in rows]
    return ArticleView(article, list(dict.fromkeys([article.canonical_url, *urls])), versions, events, copies,
                       chosen)


@dataclass(slots=True, frozen=True)
class RawCapture:
    capture_id: int
    url: str
    fetched_at: dt.datetime
    status: int
    content_type: str | None
    body: bytes


def raw_capture(session: Session, version: Version) -> RawCapture | None:
    """The archived HTTP body a version was extracted from (None when none was kept)."""
    if version.capture_id is None:
        return None
    cap = session.get(Capture, version.capture_id)
    body = capture_body(cap) if cap is not None else None
    if cap is None or body is None:
        return None
    ctype = next((v for k, v in (cap.headers or {}).items() if k.lower() == "content-type"), None)
    return RawCapture(cap.id, cap.final_url or cap.url, cap.fetched_at, cap.status, ctype, body)


# ---------------------------------------------------------------- health

@dataclass(slots=True)
class SourceStats:
    id: str
    name: str
    articles: int = 0
    versions: int = 0
    removed: int = 0
    skipped: int = 0  # pages fetched but not archived as articles (and not archived since)
    last_crawl: dt.datetime | None = None
    last_crawl_status: str | None = None
    last_new_article: dt.datetime | None = None
    recent_runs: int = 0
    failures: int = 0  # failed, timed out or interrupted among the last RECENT_RUNS runs
    last_error: str | None = None

    @property
    def health(self) -> str:
        if self.last_crawl is None:
            return "never crawled"
        if self.last_crawl_status in FAILED:
            return "failing"
        if self.last_crawl_status == "running":
            return "crawling"
        return "degraded" if self.failures else "ok"

    def record(self) -> dict[str, Any]:
        from storage.export import iso

        return {"source": self.id, "name": self.name, "articles": self.articles, "versions": self.versions,
                "removed": self.removed, "skipped": self.skipped, "last_crawl": iso(self.last_crawl),
                "last_crawl_status": self.last_crawl_status, "last_new_article": iso(self.last_new_article),
                "recent_runs": self.recent_runs, "failures": self.failures, "last_error": self.last_error,
                "health": self.health}


@dataclass(slots=True)
class Stats:
    sources: list[SourceStats]
    articles: int
    versions: int
    removed: int
    captures: int
    runs: int
    database_bytes: int | None
    totals: dict[str, int] = field(default_factory=dict)
    skipped: int = 0

    def record(self) -> dict[str, Any]:
        return {"articles": self.articles, "versions": self.versions, "removed": self.removed,
                "skipped": self.skipped, "captures": self.captures, "runs": self.runs,
                "database_bytes": self.database_bytes}


def stats(session: Session) -> Stats:
    by: dict[str, SourceStats] = {sid: SourceStats(sid, name) for sid, name in
                                  session.execute(select(SourceRow.id, SourceRow.name).order_by(SourceRow.id))}

    def get(sid: str) -> SourceStats:
        return by.setdefault(sid, SourceStats(sid, sid))

    for sid, n, r, v, newest in _source_counts(session):
        s = get(sid)
        s.articles, s.removed, s.versions, s.last_new_article = n, r, v, newest
    for sid, n in skipped_by_source(session).items():
        get(sid).skipped = n
    for s in by.values():
        runs = list(session.execute(select(CrawlRun).where(CrawlRun.source_id == s.id)
                                    .order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc())
                                    .limit(RECENT_RUNS)).scalars())
        if runs:
            s.last_crawl, s.last_crawl_status = runs[0].started_at, runs[0].status
            s.recent_runs = len(runs)
            failed = [r for r in runs if r.status in FAILED]
            s.failures = len(failed)
            s.last_error = next((r.error for r in failed if r.error), None)
    count = lambda model: session.execute(select(func.count()).select_from(model)).scalar_one()  # noqa: E731
    return Stats(sources=list(by.values()), articles=sum(s.articles for s in by.values()),
                 versions=sum(s.versions for s in by.values()), removed=sum(s.removed for s in by.values()),
                 captures=count(Capture), runs=count(CrawlRun), database_bytes=database_size(session),
                 skipped=sum(s.skipped for s in by.values()))


def _source_counts(session: Session) -> list[tuple[str, int, int, int, dt.datetime | None]]:
    """(source, articles, removed, versions, newest first_seen) of every source with articles: on SQLite the
    counters its triggers keep (migration 0008: one row a source, whatever the archive's size), on
    PostgreSQL its aggregates."""
    if session.get_bind().dialect.name == "sqlite":
        return [(sid, int(n), int(r), int(v), newest) for sid, n, r, v, newest in session.execute(
            select(SourceCounts.source_id, SourceCounts.articles, SourceCounts.removed, SourceCounts.versions,
                   SourceCounts.last_new_article).where(SourceCounts.articles > 0))]
    removed = func.sum(case((Article.status == "removed", 1), else_=0))
    versions = dict(session.execute(select(Article.source_id, func.count(Version.id))
                                    .join(Version, Version.article_id == Article.id).group_by(Article.source_id)).all())
    return [(sid, int(n), int(r or 0), int(versions.get(sid, 0)), newest) for sid, n, r, newest in session.execute(
        select(Article.source_id, func.count(), removed, func.max(Article.first_seen)).group_by(Article.source_id))]


def database_size(session: Session) -> int | None:
    """Bytes on disk: the SQLite file with its WAL, or pg_database_size."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        return int(session.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    if bind.dialect.name == "sqlite":
        rows = session.execute(text("PRAGMA database_list")).all()
        path = next((r[2] for r in rows if r[1] == "main"), None)
        if path:
            files = [Path(path), Path(path + "-wal")]
            return sum(f.stat().st_size for f in files if f.exists())
    return None


def urls_matching(session: Session, ref: str) -> list[str]:
    """A few archived URLs containing ``ref``, to suggest when ``show`` finds nothing."""
    return list(session.execute(select(ArticleUrl.url).where(ArticleUrl.url.contains(ref, autoescape=True))
                                .limit(5)).scalars())
