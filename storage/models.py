"""The archive's tables.  One place for the schema; Alembic migrations must agree with it (a test checks).

Identity rules live in unique constraints, so that two writers racing cannot duplicate anything:
an article is one row per canonical URL, every URL seen for it maps to exactly one article, and a version is
one row per (article, content hash).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from config.settings import host_name

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware datetimes stored as UTC; SQLite keeps no offset, so we put it back on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the archive; attach a timezone")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SourceRow(Base):
    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SourceCounts(Base):
    """A source's figures for ``vnarchive stats``, kept by triggers on SQLite (migration 0008); empty on
    PostgreSQL, which counts with its aggregates."""

    __tablename__ = "source_counts"

    source_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    articles: Mapped[int] = mapped_column(Integer)
    removed: Mapped[int] = mapped_column(Integer)
    versions: Mapped[int] = mapped_column(Integer)
    last_new_article: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CrawlRun(Base):
    """One crawl of one source, started by hand or by the scheduler."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    trigger: Mapped[str] = mapped_column(String(20), default="manual")  # manual | schedule | run-now
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # running | finished | failed | timeout | interrupted | skipped | killed
    status: Mapped[str] = mapped_column(String(20), default="running")
    exit_code: Mapped[int | None] = mapped_column(Integer)
    pid: Mapped[int | None] = mapped_column(Integer)
    # the machine (or `vnarchive worker`) whose process wrote the run: a pid means something on it only
    host: Mapped[str | None] = mapped_column(String(255), default=lambda: host_name())
    pages_fetched: Mapped[int] = mapped_column(Integer, default=0)
    articles_new: Mapped[int] = mapped_column(Integer, default=0)
    articles_updated: Mapped[int] = mapped_column(Integer, default=0)
    articles_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    articles_removed: Mapped[int] = mapped_column(Integer, default=0)
    pages_skipped: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class Article(Base):
    """One article of one source, whatever URLs it was reached under."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    canonical_url: Mapped[str] = mapped_column(Text, unique=True)
    status: Mapped[str] = mapped_column(String(10), default="live")  # live | removed | moved
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_fetched: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    published: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    # the page's own modification time (current version) and the sitemap <lastmod> it was fetched for:
    # a later, newer <lastmod> is a reason to fetch it again
    modified: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    listed_lastmod: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # validators for conditional revisits
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    story_id: Mapped[int | None] = mapped_column(Integer, index=True)

    urls: Mapped[list[ArticleUrl]] = relationship(back_populates="article", order_by="ArticleUrl.id")
    versions: Mapped[list[Version]] = relationship(back_populates="article", order_by="Version.number")


class ArticleUrl(Base):
    """Every URL an article was seen under, with its identity key: variants collapse on the key."""

    __tablename__ = "article_urls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    key: Mapped[str] = mapped_column(Text, index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    article: Mapped[Article] = relationship(back_populates="urls")


class ArticleEvent(Base):
    """What happened to an article besides edits: removed, reappeared, moved (with the new URL)."""

    __tablename__ = "article_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(20))  # removed | reappeared | moved | redirected_away
    detail: Mapped[str | None] = mapped_column(Text)


class Capture(Base):
    """One HTTP response as fetched: raw body (zlib), its sha256 and the headers."""

    __tablename__ = "captures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(Text, index=True)
    final_url: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    body_size: Mapped[int] = mapped_column(BigInteger, default=0)
    # what became of it: archived | unchanged | skipped:<reason> | removed | not_modified
    outcome: Mapped[str] = mapped_column(String(60))
    # set when the body had bytes that could not be decoded (U+FFFD was substituted)
    decode_errors: Mapped[int] = mapped_column(Integer, default=0)


class Version(Base):
    """The extracted content of an article at one time.  New content, new row: never an overwrite."""

    __tablename__ = "versions"
    # (article, number) is unique so racing writers cannot both add "version 2"; a content hash may recur
    # (an edit reverted is a change worth keeping), so it is indexed, not unique
    __table_args__ = (UniqueConstraint("article_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    title: Mapped[str] = mapped_column(Text)
    lead: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    published: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    modified: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # the offset the page stated (Vietnamese pages: +07:00), so exports show the page's own time
    utc_offset_minutes: Mapped[int | None] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(12))
    page_canonical: Mapped[str | None] = mapped_column(Text)
    extractor: Mapped[str] = mapped_column(String(60))
    extractor_version: Mapped[str] = mapped_column(String(30))

    article: Mapped[Article] = relationship(back_populates="versions")


class SkippedPage(Base):
    """A fetched page that is not archived as an article, with why (latest outcome per URL)."""

    __tablename__ = "skipped_pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    reason: Mapped[str] = mapped_column(String(60))
    capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id", ondelete="SET NULL"))
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime)


Index("ix_captures_sha", Capture.body_sha256)


class StoryBand(Base):
    """MinHash LSH bands of an article's body: articles sharing a band are near-duplicate candidates.

    Persisted and indexed, so a near-duplicate lookup is a few index probes whatever the archive's size.
    """

    __tablename__ = "story_bands"
    __table_args__ = (Index("ix_story_bands_band_hash", "band", "hash"),)

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    band: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[int] = mapped_column(BigInteger)


class ArticleSignature(Base):
    """The MinHash signature of an article's current text, to confirm LSH candidates."""

    __tablename__ = "article_signatures"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    shingles: Mapped[int] = mapped_column(Integer)


class TemplateBlock(Base):
    """A text block seen on a source's pages, with on how many: blocks on many pages are its template."""

    __tablename__ = "template_blocks"

    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    block_hash: Mapped[str] = mapped_column(String(32), primary_key=True)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    sample: Mapped[str] = mapped_column(Text)  # the text, for people inspecting what was learnt
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # "b" a block, "t" a title, "l" a lead's opening (template_keys.block_hash's kind, which the hash itself
    # cannot be read back for); NULL in rows learnt before revision 0009
    kind: Mapped[str | None] = mapped_column(String(1), nullable=True)


class TemplatePages(Base):
    """How many pages of a source the template was learnt from."""

    __tablename__ = "template_pages"

    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    pages: Mapped[int] = mapped_column(Integer, default=0)


class ReextractProgress(Base):
    """How far an interrupted ``vnarchive reextract`` of a source got, so a rerun need not redo it.

    Only a shortcut: re-extraction is idempotent, so a rerun without this row does the same work again and
    changes nothing twice.  ``fingerprint`` names the extractor code, hints and --since the row was made
    for; a row with another fingerprint is ignored.  The row goes when the source's run completes.
    """

    __tablename__ = "reextract_progress"

    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str] = mapped_column(String(10))  # articles | skipped
    after_id: Mapped[int] = mapped_column(Integer)  # the last article / skipped_pages id done in that phase
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ListingState(Base):
    """How far one listing of a source (a category and its pages: one ``listing_family``) has been walked.

    ``backfilled_at``: when it was first paged back to ``revisit.backfill_listing_pages`` (or its end) with
    nothing lost; until then every crawl pages it back again, whatever it already knows.  ``clean_run_id``:
    the last crawl that walked it to its stop without losing a page; when that is not the source's previous
    crawl (it was killed, stopped by its page budget, a page failed), the next crawl walks it back again
    instead of stopping at the first page of known articles, so nothing an interrupted crawl missed is lost.
    """

    __tablename__ = "listing_state"

    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    family: Mapped[str] = mapped_column(Text, primary_key=True)
    backfilled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    clean_run_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class PendingPage(Base):
    """An article page fetched and stored (its capture, outcome ``pending``) but not yet archived.

    The fetch is committed before extraction, so a crawl killed between the two loses no work: the next crawl
    of the source archives these from their captures before it fetches anything (``pipelines.archive``).
    The row goes in the transaction that archives the page.  ``page`` holds what the capture does not: the
    URLs the page was discovered under, the redirects, the article it revisits and the sitemap ``lastmod``.
    """

    __tablename__ = "pending_pages"

    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id", ondelete="CASCADE"), primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    page: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)


# the template's scheduled pruning (pipelines.template_store.prune_blocks) and its frequent-rows read
Index("ix_template_blocks_prune", TemplateBlock.source_id, TemplateBlock.pages, TemplateBlock.last_seen)
# revisits are picked oldest check first, a source at a time, in batches (crawler.revisit_store)
Index("ix_articles_source_checked", Article.source_id, Article.last_fetched)
