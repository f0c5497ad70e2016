"""Repository functions: take a session, never commit (the caller owns the transaction)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from storage.models import (
    Article,
    ArticleEvent,
    ArticleSignature,
    ArticleUrl,
    Capture,
    CrawlRun,
    ListingState,
    ReextractProgress,
    SkippedPage,
    SourceRow,
    StoryBand,
    Version,
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def dialect_insert(session: Session, model: Any) -> Any:
    """INSERT ... ON CONFLICT for the session's dialect (SQLite and PostgreSQL)."""
    return insert_for(session.get_bind().dialect.name, model)


def insert_for(dialect: str, model: Any) -> Any:
    """INSERT ... ON CONFLICT for the dialect named ``dialect`` (for statements built once and kept).  Each
    dialect is imported here, when used: PostgreSQL's brings its async drivers' modules and asyncio, 70 ms of
    every process's start (the extraction workers', every command's) on a SQLite archive."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)


def strip_nul(s: str | None) -> str | None:
    # PostgreSQL text rejects NUL; SQLite would keep it and confuse every reader
    return s.replace("\x00", "") if s else s


@dataclass(slots=True, frozen=True)
class Content:
    """Extracted fields of one version, as stored."""

    title: str
    lead: str
    text: str
    author: str | None
    published: dt.datetime | None
    modified: dt.datetime | None
    language: str | None
    page_canonical: str | None
    extractor: str
    extractor_version: str
    # the hash of the extraction this content was cleaned from (before the learned template): set, it is the
    # version's identity, so a template that learns more never makes a byte-identical page a new version
    identity: str = ""

    def sha256(self) -> str:
        """The content identity: ``identity`` when set, else the hash of the stored fields."""
        return self.identity or content_hash(self.title, self.lead, self.text, self.author, self.published)


def content_hash(title: str, lead: str, text: str, author: str | None, published: dt.datetime | None) -> str:
    """What a reader sees, not the HTML (date bars and counters change daily); whitespace runs count as one
    space and the time as the UTC instant (``01:00Z`` and ``08:00+07:00`` are the same publication)."""
    when = ""
    if published is not None:
        when = (published.astimezone(dt.UTC) if published.tzinfo else published).isoformat()
    parts = [title, lead, text, author or "", when]
    blob = "\x1f".join(" ".join(p.split()) for p in parts)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def ensure_sources(session: Session, sources: Iterable[tuple[str, str]]) -> None:
    for sid, name in sources:
        stmt = dialect_insert(session, SourceRow).values(id=sid, name=name, created_at=utcnow())
        session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_={"name": name}))


def start_run(session: Session, source_id: str, trigger: str, pid: int | None = None) -> CrawlRun:
    run = CrawlRun(source_id=source_id, trigger=trigger, started_at=utcnow(), status="running", pid=pid,
                   errors={})
    session.add(run)
    session.flush()
    return run


def finish_run(session: Session, run_id: int, status: str, exit_code: int | None = None,
               counts: dict[str, int] | None = None, errors: dict[str, int] | None = None,
               error: str | None = None) -> None:
    values: dict[str, Any] = {"status": status, "ended_at": utcnow(), "exit_code": exit_code}
    if counts:
        values.update(counts)
    if errors is not None:
        values["errors"] = errors
    if error is not None:
        values["error"] = error[:4000]
    session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(**values))


# zlib level 3: a real article page (300 kB) compresses in 2.4 ms, 12 % larger than at level 6 (5.2 ms, in
# the archive writer's thread, on every page fetched); any zlib reader still reads it (docs/schema.md)
COMPRESS_LEVEL = 3


def store_capture(session: Session, *, source_id: str, run_id: int | None, url: str, final_url: str, status: int,
                  headers: dict[str, str], fetched_at: dt.datetime, body: bytes | None, outcome: str,
                  article_id: int | None = None, decode_errors: int = 0, keep_body: bool = True,
                  sha256: str | None = None) -> int:
    """A capture row; returns its id.  ``sha256``: the body's, when the caller hashed it already (the writer's
    hot path hashes once).  A Core insert on the session's connection: the ORM's unit of work for a row nobody
    changes afterwards cost the writer more than the insert."""
    sha = sha256 or (hashlib.sha256(body).hexdigest() if body is not None else None)
    session.flush()  # what the ORM holds goes first (the article this capture may name)
    res = session.connection().execute(_statements()["add_capture"], {
        "source_id": source_id, "run_id": run_id, "url": url, "final_url": final_url, "status": status,
        "headers": headers, "fetched_at": fetched_at,
        "body": zlib.compress(body, COMPRESS_LEVEL) if body is not None and keep_body else None,
        "body_sha256": sha, "body_size": len(body or b""), "outcome": outcome, "article_id": article_id,
        "decode_errors": decode_errors})
    pk = res.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def capture_body(cap: Capture) -> bytes | None:
    return zlib.decompress(cap.body) if cap.body is not None else None


# The archive writer runs the statements below for every page: each is built once, its parameters bound at
# execution.  Built per call, SQLAlchemy's construction and cache-key work cost more than running them.

@functools.cache
def _statements() -> dict[str, Any]:
    by_keys = (select(Article).join(ArticleUrl, ArticleUrl.article_id == Article.id)
               .where(ArticleUrl.key.in_(bindparam("keys", expanding=True))).order_by(Article.id).limit(1))
    by_content = (select(Article).join(Version, Version.article_id == Article.id)
                  .where(Article.source_id == bindparam("source_id"), Version.content_sha256 == bindparam("sha"))
                  .order_by(Article.id).limit(1))
    latest = (select(Version).where(Version.article_id == bindparam("article_id"))
              .order_by(Version.number.desc()).limit(1))
    last_number = select(func.max(Version.number)).where(Version.article_id == bindparam("article_id"))
    by_canonical = select(Article).where(Article.canonical_url == bindparam("canonical_url"))
    latest_capture_sha = (select(Capture.body_sha256)
                          .where(Capture.article_id == bindparam("article_id"), Capture.body_sha256.is_not(None))
                          .order_by(Capture.id.desc()).limit(1))
    return {"by_keys": by_keys, "by_content": by_content, "latest": latest, "last_number": last_number,
            "by_canonical": by_canonical, "add_version": insert(Version), "add_capture": insert(Capture),
            "latest_capture_sha": latest_capture_sha,
            "drop_bands": delete(StoryBand).where(StoryBand.article_id == bindparam("article_id")),
            "drop_signature": delete(ArticleSignature).where(ArticleSignature.article_id == bindparam("article_id")),
            "add_signature": insert(ArticleSignature), "add_bands": insert(StoryBand)}


@functools.cache
def _upserts(dialect: str) -> dict[str, Any]:
    # on the tables, run on the session's connection: the ORM's bulk-insert path cost the archive writer more than
    # the statements (articles and their URLs are inserted only here, so no pending ORM object is bypassed)
    article = insert_for(dialect, Article.__table__).values(
        source_id=bindparam("source_id"), canonical_url=bindparam("canonical_url"), status="live",
        first_seen=bindparam("first_seen"), last_seen=bindparam("last_seen"), published=bindparam("published"),
        current_version=0).on_conflict_do_nothing(index_elements=["canonical_url"])
    urls = insert_for(dialect, ArticleUrl.__table__).on_conflict_do_nothing(index_elements=["url"])
    return {"article": article, "urls": urls}


def find_article_by_keys(session: Session, keys: Sequence[str]) -> Article | None:
    if not keys:
        return None
    return session.execute(_statements()["by_keys"], {"keys": list(keys)}).scalar_one_or_none()


def find_article_by_content(session: Session, source_id: str, sha: str) -> Article | None:
    """An exact copy of a known article of this source under another URL is that article."""
    return session.execute(_statements()["by_content"], {"source_id": source_id, "sha": sha}).scalar_one_or_none()


def add_urls(session: Session, article_id: int, urls: Iterable[tuple[str, str]], when: dt.datetime) -> None:
    """Record (url, key) pairs for an article; a URL already known stays with its article.  One executemany."""
    rows = [{"url": url, "key": key, "article_id": article_id, "first_seen": when} for url, key in dict(urls).items()]
    if rows:
        session.connection().execute(_upserts(session.get_bind().dialect.name)["urls"], rows)


def create_article(session: Session, source_id: str, canonical_url: str, when: dt.datetime,
                   published: dt.datetime | None) -> Article:
    """The article at ``canonical_url``: a new one (``current_version`` 0), or the one already there."""
    session.flush()  # what session.execute would: an article moved to this URL in this transaction is the one here
    session.connection().execute(_upserts(session.get_bind().dialect.name)["article"], {
        "source_id": source_id, "canonical_url": canonical_url, "first_seen": when, "last_seen": when,
        "published": published})
    return session.execute(_statements()["by_canonical"], {"canonical_url": canonical_url}).scalar_one()


def latest_version(session: Session, article_id: int) -> Version | None:
    return session.execute(_statements()["latest"], {"article_id": article_id}).scalar_one_or_none()


@dataclass(slots=True, frozen=True)
class NewVersion:
    """The version ``add_version`` added."""

    id: int
    number: int


def add_version(session: Session, article: Article, content: Content, capture_id: int | None,
                when: dt.datetime) -> NewVersion:
    """The article's next version (a Core insert on the session's connection, as for captures: nothing
    changes a version in the transaction that adds it); the article says it is current."""
    # on the connection, like the insert, no autoflush: versions are added only here, with Core (the refinement
    # edits some with the ORM, but in transactions of its own)
    number = (session.connection().execute(_statements()["last_number"], {"article_id": article.id})
              .scalar_one() or 0) + 1
    offset = content.published.utcoffset() if content.published else None
    res = session.connection().execute(_statements()["add_version"], {
        "article_id": article.id, "number": number, "content_sha256": content.sha256(), "capture_id": capture_id,
        "created_at": when, "title": strip_nul(content.title) or "", "lead": strip_nul(content.lead) or "",
        "text": strip_nul(content.text) or "", "author": strip_nul(content.author),
        "published": content.published, "modified": content.modified,
        "utc_offset_minutes": int(offset.total_seconds() // 60) if offset is not None else None,
        "language": content.language, "page_canonical": content.page_canonical,
        "extractor": content.extractor, "extractor_version": content.extractor_version})
    pk = res.inserted_primary_key
    assert pk is not None
    article.current_version = number
    article.modified = content.modified
    if content.published:
        article.published = content.published
    return NewVersion(int(pk[0]), number)


def record_event(session: Session, article_id: int, kind: str, when: dt.datetime, detail: str | None = None) -> None:
    session.add(ArticleEvent(article_id=article_id, kind=kind, at=when, detail=detail))


def record_skip(session: Session, source_id: str, url: str, reason: str, capture_id: int | None,
                when: dt.datetime) -> None:
    stmt = dialect_insert(session, SkippedPage).values(source_id=source_id, url=url, reason=reason,
                                                capture_id=capture_id, last_seen=when)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["url"], set_={"reason": reason, "capture_id": capture_id, "last_seen": when}))


def known_article_rows(session: Session, source_id: str) -> Iterator[Any]:
    """(key, article fields) for every URL key of every article of a source: what a crawl needs to know."""
    stmt = (select(ArticleUrl.key, Article.id, Article.canonical_url, Article.status, Article.published,
                   Article.first_seen, Article.last_fetched, Article.etag, Article.last_modified,
                   Article.modified, Article.listed_lastmod)
            .join(Article, Article.id == ArticleUrl.article_id).where(Article.source_id == source_id))
    yield from session.execute(stmt)


@functools.cache  # one statement per band count (16 in practice)
def _story_candidates(n: int) -> Any:
    """Articles with one of ``n`` given (band, hash) pairs: ``(band = :b0 AND hash = :h0) OR ...``, one exact
    probe of the (band, hash) index per band (SQLite's MULTI-INDEX OR; a bitmap OR on PostgreSQL).  The
    ``band IN (...) AND hash IN (...)`` it replaces probed every band with every hash (256 probes: 0.42 ms
    against 0.04 at 100,000 articles) and a row-value IN scans the table in SQLite.  Built once per n:
    constructing the conditions per page cost the archive writer more than the query."""
    pairs = [and_(StoryBand.band == bindparam(f"b{i}"), StoryBand.hash == bindparam(f"h{i}")) for i in range(n)]
    return (select(Article.id, Article.story_id, ArticleSignature.signature)
            .join(ArticleSignature, ArticleSignature.article_id == Article.id)
            .where(Article.id.in_(
                select(StoryBand.article_id)
                .where(or_(*pairs), StoryBand.article_id != bindparam("exclude"))
                .distinct())))


def story_candidates(session: Session, bands: Sequence[tuple[int, int]], exclude: int) -> list[Any]:
    """Articles sharing at least one LSH band: (article_id, story_id, signature) rows."""
    pairs = sorted(set(bands))
    if not pairs:
        return []
    params: dict[str, int] = {"exclude": exclude}
    for i, (b, h) in enumerate(pairs):
        params[f"b{i}"], params[f"h{i}"] = b, h
    # on the connection: no autoflush of the page's own article (a second UPDATE of it per page); what is read
    # here, bands, signatures and story ids, is only ever written with Core statements, never held by the ORM
    return list(session.connection().execute(_story_candidates(len(pairs)), params))


def set_signature(session: Session, article_id: int, signature: bytes, shingles: int,
                  bands: Sequence[tuple[int, int]], replace: bool = True) -> None:
    """The article's current signature and bands (an edit replaces them: a version is not a copy; ``replace``
    False: the article has none yet).  Core inserts, one executemany for the bands, not an ORM object per band
    on the writer's hot path."""
    st = _statements()
    if replace:
        session.execute(st["drop_bands"], {"article_id": article_id})
        session.execute(st["drop_signature"], {"article_id": article_id})
    session.flush()  # the article row first (the foreign keys)
    conn = session.connection()
    conn.execute(st["add_signature"], [{"article_id": article_id, "signature": signature, "shingles": shingles}])
    if bands:
        conn.execute(st["add_bands"], [{"article_id": article_id, "band": b, "hash": h} for b, h in bands])


def join_story(session: Session, article_id: int, others: Sequence[tuple[int, int | None]]) -> int:
    """Put an article and its near-duplicates (id, story_id) in one story; merges stories they bridge.

    The story id is the smallest article id of the group, so it is stable whatever order copies arrive in.
    """
    own = session.get(Article, article_id)
    stories = {s for _, s in others if s is not None} | ({own.story_id} if own and own.story_id else set())
    members = {article_id, *(i for i, _ in others)}
    if stories:
        members |= set(session.execute(select(Article.id).where(Article.story_id.in_(stories))).scalars())
    story = min(members)
    session.execute(update(Article).where(Article.id.in_(members)).values(story_id=story))
    return story


# ---------------------------------------------------------------- re-extraction (pipelines.reextract)

def current_captures(session: Session, source_id: str, after_article_id: int, since: dt.datetime | None,
                     limit: int) -> list[Any]:
    """(article id, version number, capture) of the next ``limit`` articles of a source, in id order after
    ``after_article_id``: the capture each one's current version was extracted from, when its body was kept."""
    q = (select(Article.id, Version.number, Capture)
         .join(Version, (Version.article_id == Article.id) & (Version.number == Article.current_version))
         .join(Capture, Capture.id == Version.capture_id)
         .where(Article.source_id == source_id, Article.id > after_article_id, Capture.body.is_not(None))
         .order_by(Article.id).limit(limit))
    if since is not None:
        q = q.where(Capture.fetched_at >= since)
    return list(session.execute(q))


def skipped_captures(session: Session, source_id: str, after_skip_id: int, since: dt.datetime | None,
                     limit: int) -> list[Any]:
    """(skipped page, capture) of the next ``limit`` skipped URLs of a source whose skipped page was kept."""
    q = (select(SkippedPage, Capture)
         .join(Capture, Capture.id == SkippedPage.capture_id)
         .where(SkippedPage.source_id == source_id, SkippedPage.id > after_skip_id, Capture.body.is_not(None),
                Capture.outcome.like("skipped:%"))
         .order_by(SkippedPage.id).limit(limit))
    if since is not None:
        q = q.where(Capture.fetched_at >= since)
    return list(session.execute(q))


def delete_skip(session: Session, skip_id: int) -> None:
    """The URL is an article now: it is no longer listed as skipped."""
    session.execute(delete(SkippedPage).where(SkippedPage.id == skip_id))


def reextract_progress(session: Session, source_id: str) -> ReextractProgress | None:
    return session.get(ReextractProgress, source_id)


def save_reextract_progress(session: Session, source_id: str, fingerprint: str, phase: str, after_id: int,
                            when: dt.datetime) -> None:
    values = {"fingerprint": fingerprint, "phase": phase, "after_id": after_id, "updated_at": when}
    stmt = dialect_insert(session, ReextractProgress).values(source_id=source_id, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=["source_id"], set_=values))


def clear_reextract_progress(session: Session, source_id: str) -> None:
    session.execute(delete(ReextractProgress).where(ReextractProgress.source_id == source_id))


# ---------------------------------------------------------------- the crawl's view of the archive (crawler.revisit_store)

def _known_columns() -> tuple[Any, ...]:
    return (Article.id, Article.canonical_url, Article.status, Article.published, Article.first_seen,
            Article.last_fetched, Article.etag, Article.last_modified, Article.modified, Article.listed_lastmod)


def known_by_keys(session: Session, source_id: str, keys: Sequence[str]) -> list[Any]:
    """(key, article fields...) for those of ``keys`` that are URL keys of an article of this source
    (indexed lookups: the caller batches the keys, a few hundred at a time)."""
    if not keys:
        return []
    stmt = (select(ArticleUrl.key, *_known_columns())
            .join(Article, Article.id == ArticleUrl.article_id)
            .where(ArticleUrl.key.in_(list(keys)), Article.source_id == source_id))
    return list(session.execute(stmt))


def learn_listed_lastmods(session: Session, source_id: str, lastmods: dict[str, dt.datetime]) -> None:
    """Each article of this source under one of the keys learns that key's sitemap <lastmod> as the one its
    archived version was listed with, unless it holds a later one already."""
    if not lastmods:
        return
    rows = session.execute(select(ArticleUrl.key, Article.id, Article.listed_lastmod)
                           .join(Article, Article.id == ArticleUrl.article_id)
                           .where(ArticleUrl.key.in_(list(lastmods)), Article.source_id == source_id))
    best: dict[int, dt.datetime] = {}
    for key, aid, held in rows:
        when = lastmods[key]
        if (held is None or held < when) and (aid not in best or best[aid] < when):
            best[aid] = when
    if best:  # one executemany on the connection, not a statement per article
        session.connection().execute(
            update(Article).where(Article.id == bindparam("aid")).values(listed_lastmod=bindparam("when")),
            [{"aid": aid, "when": when} for aid, when in best.items()])


def revisit_batch(session: Session, source_id: str, after: tuple[dt.datetime | None, int], limit: int,
                  seen_before: dt.datetime | None = None) -> list[Any]:
    """The next ``limit`` articles of a source that a revisit may pick, oldest check first: ordered by
    (last_fetched, id), never-fetched first, those first seen since ``seen_before`` (new in this crawl) left
    out; ``after`` is the last row's (last_fetched, id) of the previous batch ((None, 0) to begin).  Keyset
    pages over an index."""
    when, last_id = after
    base = select(*_known_columns()).where(Article.source_id == source_id)
    if seen_before is not None:
        base = base.where(Article.first_seen < seen_before)
    rows: list[Any] = []
    if when is None:
        rows = list(session.execute(base.where(Article.last_fetched.is_(None), Article.id > last_id)
                                    .order_by(Article.id).limit(limit)))
        if len(rows) == limit:
            return rows
        rest = base.where(Article.last_fetched.is_not(None))
    else:
        rest = base.where(or_(Article.last_fetched > when, and_(Article.last_fetched == when, Article.id > last_id)))
    rows += list(session.execute(rest.order_by(Article.last_fetched, Article.id).limit(limit - len(rows))))
    return rows


def count_live(session: Session, source_id: str) -> int:
    """Articles of the source still online: live, or moved to a new URL."""
    return int(session.execute(select(func.count()).select_from(Article).where(
        Article.source_id == source_id, Article.status.in_(("live", "moved")))).scalar_one())


def previous_run_id(session: Session, source_id: str, run_id: int | None) -> int | None:
    """The source's crawl before ``run_id`` (skipped runs, which crawled nothing, do not count)."""
    q = select(func.max(CrawlRun.id)).where(CrawlRun.source_id == source_id, CrawlRun.status != "skipped")
    if run_id is not None:
        q = q.where(CrawlRun.id < run_id)
    return session.execute(q).scalar_one()


def listing_states(session: Session, source_id: str) -> dict[str, tuple[dt.datetime | None, int | None]]:
    """family -> (backfilled_at, clean_run_id) of every listing of a source walked so far."""
    rows = session.execute(select(ListingState.family, ListingState.backfilled_at, ListingState.clean_run_id)
                           .where(ListingState.source_id == source_id))
    return {f: (b, c) for f, b, c in rows}


def save_listing_states(session: Session, source_id: str, run_id: int, walked_back: dict[str, bool],
                        when: dt.datetime) -> None:
    """Listings this crawl walked to their stop without losing a page: clean as of ``run_id``; those it paged
    back as far as a backfill goes (``walked_back``) are backfilled from now on (the first time is kept)."""
    for family, back in walked_back.items():
        stmt = dialect_insert(session, ListingState).values(
            source_id=source_id, family=family, backfilled_at=when if back else None, clean_run_id=run_id,
            updated_at=when)
        session.execute(stmt.on_conflict_do_update(
            index_elements=["source_id", "family"],
            set_={"clean_run_id": run_id, "updated_at": when,
                  "backfilled_at": func.coalesce(ListingState.backfilled_at, stmt.excluded.backfilled_at)}))


def latest_capture_sha(session: Session, article_id: int) -> str | None:
    """The body sha256 of the article's latest capture that had a body (304s and 404s have none)."""
    return session.execute(_statements()["latest_capture_sha"], {"article_id": article_id}).scalar_one_or_none()
