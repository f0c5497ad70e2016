"""Browsing the archive a page at a time, with totals: a source's newest articles, the articles of one day
(Vietnam time), the days that have articles, the articles that changed (a new version from a new fetch of the
page) and the removals.  Read-only queries for the web view (crawler.web) and its JSON API; every list is a
``Slice`` of plain records, newest first, with the total the whole list has.

"Changed" follows ``article_events_view``'s ``updated`` rows: a version after the first one whose capture is
not the one the version before it came from (a version made by ``vnarchive reextract`` from the same bytes is
a re-extraction, not a change of the page).  "Removed" is every ``removed`` event (an article removed, back,
and removed again appears twice), with the article's status now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, and_, exists, func, literal_column, select
from sqlalchemy.orm import Session, aliased

from storage.export import iso
from storage.models import Article, ArticleEvent, SourceRow, Version
from storage.search import day_end, day_start

T = TypeVar("T")
MAX_PER_PAGE = 100


@dataclass(slots=True)
class Slice(Generic[T]):
    """Page ``page`` (from 1) of a list of ``total`` items, ``per_page`` a page."""

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        """The position (from 1) of the first item shown."""
        return (self.page - 1) * self.per_page + 1

    def record(self, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"total": self.total, "page": self.page, "per_page": self.per_page, "pages": self.pages,
                key: items}


def offset_of(page: int, per_page: int) -> int:
    if page < 1:
        raise ValueError(f"page must be 1 or more, not {page}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}, not {per_page}")
    return (page - 1) * per_page


@dataclass(slots=True)
class Listed:
    """One article in a list: its current version's title and dates."""

    id: int
    source: str
    url: str
    title: str
    status: str
    published: dt.datetime | None
    modified: dt.datetime | None
    utc_offset_minutes: int | None
    first_seen: dt.datetime
    version: int

    def record(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "url": self.url, "title": self.title, "status": self.status,
                "published": iso(self.published, self.utc_offset_minutes),
                "modified": iso(self.modified, self.utc_offset_minutes), "first_seen": iso(self.first_seen),
                "version": self.version}


_CURRENT = and_(Version.article_id == Article.id, Version.number == Article.current_version)
_LISTED = (Article.id, Article.source_id, Article.canonical_url, Version.title, Article.status, Version.published,
           Version.modified, Version.utc_offset_minutes, Article.first_seen, Article.current_version)


def _listed(session: Session, where: Sequence[ColumnElement[bool]], order: Sequence[Any], page: int,
            per_page: int) -> Slice[Listed]:
    offset = offset_of(page, per_page)
    total = session.execute(select(func.count()).select_from(Article).join(Version, _CURRENT).where(*where)
                            ).scalar_one()
    rows = session.execute(select(*_LISTED).join(Version, _CURRENT).where(*where).order_by(*order)
                           .limit(per_page).offset(offset)).all()
    return Slice([Listed(i, s, u, t, st, p, m, o, f, v) for i, s, u, t, st, p, m, o, f, v in rows], int(total),
                 page, per_page)


def source_articles(session: Session, source: str, page: int = 1, per_page: int = 20) -> Slice[Listed]:
    """A source's articles, newest first (by publication time, or first seen when the page gave none)."""
    newest = func.coalesce(Article.published, Article.first_seen)
    return _listed(session, [Article.source_id == source], [newest.desc(), Article.id.desc()], page, per_page)


def day_articles(session: Session, day: dt.date, source: str | None = None, page: int = 1,
                 per_page: int = 20) -> Slice[Listed]:
    """The articles published on ``day`` in Vietnam (00:00 to 24:00 +07:00), newest first."""
    where = [Article.published >= day_start(day), Article.published < day_end(day)]
    if source:
        where.append(Article.source_id == source)
    return _listed(session, where, [Article.published.desc(), Article.id.desc()], page, per_page)


def _vn_day(session: Session, col: Any) -> ColumnElement[str]:
    """``col`` (UTC) as its Vietnamese day, ``YYYY-MM-DD`` text, as the analyst views compute it."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(col.op("AT TIME ZONE")(literal_column("INTERVAL '+07:00'")), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", col, "+7 hours")


def days(session: Session, source: str | None = None, page: int = 1, per_page: int = 31
         ) -> Slice[tuple[dt.date, int]]:
    """The Vietnamese days that have published articles, newest first, with how many each."""
    offset = offset_of(page, per_page)
    d = _vn_day(session, Article.published).label("day")
    where: list[ColumnElement[bool]] = [Article.published.is_not(None), Article.current_version > 0]
    if source:
        where.append(Article.source_id == source)
    grouped = select(d, func.count().label("n")).where(*where).group_by(d).subquery()
    total = session.execute(select(func.count()).select_from(grouped)).scalar_one()
    rows = session.execute(select(grouped.c.day, grouped.c.n).order_by(grouped.c.day.desc())
                           .limit(per_page).offset(offset)).all()
    return Slice([(dt.date.fromisoformat(day), int(n)) for day, n in rows], int(total), page, per_page)


def neighbour_days(session: Session, day: dt.date, source: str | None = None
                   ) -> tuple[dt.date | None, dt.date | None]:
    """The nearest days before and after ``day`` that have published articles."""
    where: list[ColumnElement[bool]] = [Article.current_version > 0]
    if source:
        where.append(Article.source_id == source)
    before = session.execute(select(func.max(Article.published)).where(Article.published < day_start(day), *where)
                             ).scalar_one()
    after = session.execute(select(func.min(Article.published)).where(Article.published >= day_end(day), *where)
                            ).scalar_one()
    return _as_day(before), _as_day(after)


def _as_day(value: Any) -> dt.date | None:
    """The Vietnamese day of a func.max()/min() of a time column (SQLite returns it as naive UTC text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return dt.date.fromisoformat(iso(value)[:10])  # type: ignore[index]


@dataclass(slots=True)
class Change:
    """A new version of an article from a new fetch of its page: what it was and is."""

    article_id: int
    source: str
    url: str
    status: str
    version: int
    at: dt.datetime  # when that version was archived
    title: str
    old_title: str
    fields: list[str] = field(default_factory=list)  # what changed: title, lead, text, author, published, modified

    def record(self) -> dict[str, Any]:
        return {"id": self.article_id, "source": self.source, "url": self.url, "status": self.status,
                "version": self.version, "at": iso(self.at), "title": self.title, "old_title": self.old_title,
                "changed": self.fields}


COMPARED = ("title", "lead", "text", "author", "published", "modified")


def changes(session: Session, source: str | None = None, page: int = 1, per_page: int = 20) -> Slice[Change]:
    """Versions after the first that came from a new fetch of the page, newest first."""
    offset = offset_of(page, per_page)
    prev = aliased(Version)
    where: list[ColumnElement[bool]] = [
        Version.number > 1,
        ~exists().where(prev.article_id == Version.article_id, prev.number == Version.number - 1,
                        prev.capture_id == Version.capture_id),
    ]
    if source:
        where.append(Article.source_id == source)
    base = select(Version, Article).join(Article, Article.id == Version.article_id).where(*where)
    total = session.execute(select(func.count()).select_from(Version).join(Article, Article.id == Version.article_id)
                            .where(*where)).scalar_one()
    rows = session.execute(base.order_by(Version.created_at.desc(), Version.id.desc()).limit(per_page)
                           .offset(offset)).all()
    wanted = [(v.article_id, v.number - 1) for v, _ in rows]
    before: dict[tuple[int, int], Version] = {}
    if wanted:
        for old in session.execute(select(Version).where(
                Version.article_id.in_([a for a, _ in wanted]),
                Version.number.in_([n for _, n in wanted]))).scalars():
            before[(old.article_id, old.number)] = old
    out = []
    for v, a in rows:
        p = before.get((v.article_id, v.number - 1))
        changed = [f for f in COMPARED if p is None or getattr(p, f) != getattr(v, f)]
        out.append(Change(a.id, a.source_id, a.canonical_url, a.status, v.number, v.created_at, v.title,
                          p.title if p is not None else "", changed))
    return Slice(out, int(total), page, per_page)


@dataclass(slots=True)
class Removal:
    """An article found removed (its page answered 404/410, or was gone from a complete sitemap...)."""

    article_id: int
    source: str
    url: str
    status: str  # now: removed, or live again
    at: dt.datetime
    detail: str | None
    title: str

    def record(self) -> dict[str, Any]:
        return {"id": self.article_id, "source": self.source, "url": self.url, "status": self.status,
                "at": iso(self.at), "detail": self.detail, "title": self.title}


def removals(session: Session, source: str | None = None, page: int = 1, per_page: int = 20) -> Slice[Removal]:
    """Every ``removed`` event, newest first."""
    offset = offset_of(page, per_page)
    where: list[ColumnElement[bool]] = [ArticleEvent.kind == "removed"]
    if source:
        where.append(Article.source_id == source)
    total = session.execute(select(func.count()).select_from(ArticleEvent)
                            .join(Article, Article.id == ArticleEvent.article_id).where(*where)).scalar_one()
    rows = session.execute(
        select(ArticleEvent, Article, Version.title).join(Article, Article.id == ArticleEvent.article_id)
        .outerjoin(Version, _CURRENT).where(*where).order_by(ArticleEvent.at.desc(), ArticleEvent.id.desc())
        .limit(per_page).offset(offset)).all()
    return Slice([Removal(a.id, a.source_id, a.canonical_url, a.status, e.at, e.detail, t or a.canonical_url)
                  for e, a, t in rows], int(total), page, per_page)


def source_name(session: Session, source: str) -> str | None:
    """The source's name, or None when the archive has no such source."""
    row = session.get(SourceRow, source)
    return row.name if row is not None else None
