"""What each page of the web view shows: plain functions from (session, the request's raw parameters) to a
page record, with no HTTP and no HTML in them (app.py adapts them to Flask, the templates render them).

Every parameter arrives as the text the browser sent and is checked here: a value that cannot be what it
names is ``BadRequest`` (400), a well-formed one that names nothing in the archive is ``NotFound`` (404), each
with a message for the reader; nothing a visitor types reaches the database unchecked or ends in a traceback.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.sources import Source
from crawler.web.diff import Row, paragraphs, side_by_side
from pipelines.decode import decode_html
from storage import browse
from storage.browse import Change, Listed, Removal, Slice
from storage.db import ArchiveError
from storage.export import iso
from storage.models import Article, SourceRow, Version
from storage.reading import ArticleView, SourceStats, Stats, article_view, find_article, raw_capture, stats
from storage.search import Hit, QueryError, count, parse_day, search

PER_PAGE = 20  # articles on a page of search results or of any list
MAX_PAGE = 50_000
MAX_ID = 2**63 - 1  # the largest integer SQLite (and PostgreSQL's bigint) can hold
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also takes "²" and "١"
_REFRESH = re.compile(r"""(http-equiv\s*=\s*["']?)refresh""", re.IGNORECASE)


class PageError(Exception):
    """A request that cannot be answered with the page asked for; ``message`` is shown to the reader."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(PageError):
    status = 400


class NotFound(PageError):
    status = 404


def _shown(raw: str, limit: int = 40) -> str:
    return raw if len(raw) <= limit else raw[:limit] + "…"


def article_id(raw: str) -> int:
    """The id in ``/article/<id>``: anything that is not an id an article can have is a page that is not there."""
    if not _DIGITS.fullmatch(raw) or len(raw.lstrip("0")) > len(str(MAX_ID)) or not 0 < int(raw) <= MAX_ID:
        raise NotFound(f"no article {_shown(raw)}")
    return int(raw)


def version_number(raw: str | None, name: str = "v") -> int | None:
    """A version parameter: absent or empty is None; not a number is a 400; a number too large to be a version
    is returned as one that no article has (the caller's lookup says so)."""
    if not raw:
        return None
    if not _DIGITS.fullmatch(raw):
        raise BadRequest(f"{name} must be a version number, not {_shown(raw)!r}")
    return int(raw) if len(raw.lstrip("0")) <= 18 else MAX_ID


def page_number(raw: str | None) -> int:
    """``?page=``: absent or empty is the first page; anything but a page number is a 400."""
    if not raw:
        return 1
    if not _DIGITS.fullmatch(raw) or len(raw) > 6 or not 1 <= int(raw) <= MAX_PAGE:
        raise BadRequest(f"page must be a number from 1 to {MAX_PAGE}, not {_shown(raw)!r}")
    return int(raw)


def per_page(raw: str | None, default: int = PER_PAGE) -> int:
    """``?per_page=`` (the JSON API): 1 to browse.MAX_PER_PAGE."""
    if not raw:
        return default
    if not _DIGITS.fullmatch(raw) or len(raw) > 4 or not 1 <= int(raw) <= browse.MAX_PER_PAGE:
        raise BadRequest(f"per_page must be a number from 1 to {browse.MAX_PER_PAGE}, not {_shown(raw)!r}")
    return int(raw)


def source_id(session: Session, raw: str) -> str:
    """A source the archive has (in a path: anything else is a page that is not there)."""
    if len(raw) > 40 or session.get(SourceRow, raw) is None:
        raise NotFound(f"no source {_shown(raw)!r} in the archive")
    return raw


def source_filter(session: Session, raw: str | None) -> str | None:
    """``?source=``: empty is every source; an unknown one is a 400 that names the known ones."""
    if not raw:
        return None
    if len(raw) > 40 or session.get(SourceRow, raw) is None:
        known = ", ".join(session.execute(select(SourceRow.id).order_by(SourceRow.id)).scalars())
        raise BadRequest(f"no source {_shown(raw)!r} in the archive (known: {known or 'none'})")
    return raw


def day_param(raw: str) -> dt.date:
    """A day in a path, ``2024-05-01`` (Vietnam time)."""
    try:
        if len(raw) != 10:
            raise ValueError
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise NotFound(f"no day {_shown(raw)!r}: days are written 2024-05-01") from None


def get_article(session: Session, raw_id: str) -> Article:
    a = session.get(Article, article_id(raw_id))
    if a is None:
        raise NotFound(f"no article {_shown(raw_id)}")
    return a


def get_view(session: Session, raw_id: str, raw_version: str | None) -> ArticleView:
    """The article with its history, at the version asked for (default: its current one)."""
    a = get_article(session, raw_id)
    try:
        return article_view(session, a, version_number(raw_version))
    except ArchiveError as e:
        raise NotFound(str(e)) from None


# ---------------------------------------------------------------- search

@dataclass(slots=True)
class SearchPage:
    q: str
    source: str
    since: str
    until: str
    sources: list[str]
    results: Slice[Hit] | None = None  # None: nothing searched yet
    error: str | None = None  # a query that cannot be searched, said in words

    @property
    def hits(self) -> list[Hit] | None:
        return self.results.items if self.results is not None else None

    def args(self) -> dict[str, str]:
        """The query's parameters, for links to its other pages."""
        return {k: v for k, v in (("q", self.q), ("source", self.source), ("since", self.since),
                                  ("until", self.until)) if v}


def search_page(session: Session, q: str | None, source: str | None, since: str | None,
                until: str | None, raw_page: str | None = None, size: int = PER_PAGE) -> SearchPage:
    """The ``page``-th ``size`` best articles for ``q``, with the total."""
    page = SearchPage(q=(q or "").strip(), source=source or "", since=since or "", until=until or "",
                      sources=list(session.execute(select(SourceRow.id).order_by(SourceRow.id)).scalars()))
    number = page_number(raw_page)
    if not page.q:
        return page
    try:
        kw: dict[str, Any] = {"source": page.source or None,
                              "since": parse_day(page.since, "since") if page.since else None,
                              "until": parse_day(page.until, "until") if page.until else None}
        total = count(session, page.q, **kw)
        offset = (number - 1) * size
        hits = search(session, page.q, limit=size, offset=offset, **kw) if offset < total else []
        page.results = Slice(hits, total, number, size)
    except (QueryError, ValueError) as e:
        page.error = str(e)
    return page


# ---------------------------------------------------------------- looking up a URL

def lookup(session: Session, sources: Sequence[Source], raw: str | None) -> Article:
    """The article an id or any form of any URL it was seen under names, through the URL identity of
    ``vnarchive show`` (pipelines.urls.lookup_forms); a clear 404 otherwise, saying when the page was
    fetched but skipped, and suggesting archived URLs that contain what was typed."""
    from pipelines.urls import lookup_forms
    from storage.reading import urls_matching
    from storage.skips import skip_of

    ref = (raw or "").strip()
    if not ref:
        raise BadRequest("give an article id or a URL: /lookup?url=https://…")
    if len(ref) > 4000:
        raise BadRequest("that URL is too long to be one the archive has")
    if _DIGITS.fullmatch(ref) and not 0 < int(ref) <= MAX_ID:
        raise NotFound(f"no article {_shown(ref)}")
    urls, keys = lookup_forms(ref, sources)
    a = find_article(session, ref, keys, urls)
    if a is not None:
        return a
    skip = skip_of(session, urls)
    if skip is not None:
        raise NotFound(f"{_shown(ref, 200)} was fetched but not archived: skipped as {skip.reason} "
                       f"(last fetched {when(skip.last_seen)}); see `vnarchive skipped`")
    near = urls_matching(session, ref) if len(ref) >= 8 else []
    raise NotFound(f"no archived article has id or URL {_shown(ref, 200)!r}" +
                   (f"; archived URLs containing it: {', '.join(near)}" if near else ""))


# ---------------------------------------------------------------- sources

def sources_page(session: Session) -> Stats:
    return stats(session)


@dataclass(slots=True)
class SourcePage:
    stats: SourceStats
    articles: Slice[Listed]


def source_page(session: Session, raw_source: str, raw_page: str | None, size: int = PER_PAGE) -> SourcePage:
    """A source's figures and its newest articles, a page at a time."""
    sid = source_id(session, raw_source)
    st = next(s for s in stats(session).sources if s.id == sid)
    return SourcePage(st, browse.source_articles(session, sid, page_number(raw_page), size))


# ---------------------------------------------------------------- by day, changes, removals

@dataclass(slots=True)
class DaysPage:
    source: str | None
    days: Slice[tuple[dt.date, int]]


def days_page(session: Session, raw_source: str | None, raw_page: str | None) -> DaysPage:
    source = source_filter(session, raw_source)
    return DaysPage(source, browse.days(session, source, page_number(raw_page)))


@dataclass(slots=True)
class DayPage:
    day: dt.date
    source: str | None
    articles: Slice[Listed]
    before: dt.date | None
    after: dt.date | None


def day_page(session: Session, raw_day: str, raw_source: str | None, raw_page: str | None,
             size: int = PER_PAGE) -> DayPage:
    d = day_param(raw_day)
    source = source_filter(session, raw_source)
    before, after = browse.neighbour_days(session, d, source)
    return DayPage(d, source, browse.day_articles(session, d, source, page_number(raw_page), size), before, after)


@dataclass(slots=True)
class FeedPage:
    source: str | None
    sources: list[str]
    changes: Slice[Change] | None = None
    removals: Slice[Removal] | None = None


def changes_page(session: Session, raw_source: str | None, raw_page: str | None, size: int = PER_PAGE) -> FeedPage:
    source = source_filter(session, raw_source)
    return FeedPage(source, _source_ids(session), changes=browse.changes(session, source, page_number(raw_page), size))


def removed_page(session: Session, raw_source: str | None, raw_page: str | None, size: int = PER_PAGE) -> FeedPage:
    source = source_filter(session, raw_source)
    return FeedPage(source, _source_ids(session),
                    removals=browse.removals(session, source, page_number(raw_page), size))


def _source_ids(session: Session) -> list[str]:
    return list(session.execute(select(SourceRow.id).order_by(SourceRow.id)).scalars())


# ---------------------------------------------------------------- one article

@dataclass(slots=True, frozen=True)
class DateChange:
    """A publication or modification time that a version changed: (version, field, before, after)."""

    version: int
    name: str  # published | modified
    old: str  # for people (when()), "" when the version before had none
    new: str


def date_changes(versions: Sequence[Version]) -> list[DateChange]:
    out = []
    for a, b in zip(versions, versions[1:], strict=False):
        for name in ("published", "modified"):
            x, y = _when_or_empty(getattr(a, name), a.utc_offset_minutes), \
                _when_or_empty(getattr(b, name), b.utc_offset_minutes)
            if getattr(a, name) != getattr(b, name):
                out.append(DateChange(b.number, name, x, y))
    return out


@dataclass(slots=True)
class ArticlePage:
    view: ArticleView
    title: str
    paragraphs: list[str] = field(default_factory=list)
    dates: list[DateChange] = field(default_factory=list)

    @property
    def article(self) -> Article:
        return self.view.article

    @property
    def version(self) -> Version | None:
        return self.view.version


def article_page(session: Session, raw_id: str, raw_version: str | None) -> ArticlePage:
    view = get_view(session, raw_id, raw_version)
    v = view.version
    return ArticlePage(view, v.title if v else "(no version archived)", paragraphs(v.text) if v else [],
                       date_changes(view.versions))


@dataclass(slots=True)
class FieldDiff:
    name: str
    rows: list[Row] | None  # None: unchanged


@dataclass(slots=True)
class DiffPage:
    article: Article
    old: Version
    new: Version
    fields: list[FieldDiff]
    dates: list[tuple[str, str, str]]  # (published | modified, old, new) for each time that changed


def diff_page(session: Session, raw_id: str, raw_old: str | None, raw_new: str | None) -> DiffPage:
    """Version ``a`` (default: the one before ``b``) against ``b`` (default: the current one)."""
    a = get_article(session, raw_id)
    new = version_number(raw_new, "b")
    old = version_number(raw_old, "a")
    new = a.current_version if new is None else new
    old = new - 1 if old is None else old
    view = article_view(session, a)
    by_number = {x.number: x for x in view.versions}
    if old not in by_number or new not in by_number:
        raise NotFound(f"article {a.id} has versions {', '.join(map(str, by_number)) or 'none'}; "
                       f"cannot compare {_shown(str(old))} and {_shown(str(new))}")
    va, vb = by_number[old], by_number[new]
    fields = []
    for name in ("title", "author", "lead", "text"):
        x, y = getattr(va, name) or "", getattr(vb, name) or ""
        fields.append(FieldDiff(name, None if x == y else side_by_side(x, y)))
    dates = []
    for name in ("published", "modified"):
        x, y = getattr(va, name), getattr(vb, name)
        if x != y:
            dates.append((name, _when_or_empty(x, va.utc_offset_minutes), _when_or_empty(y, vb.utc_offset_minutes)))
    return DiffPage(a, va, vb, fields, dates)


# ---------------------------------------------------------------- the archived page

@dataclass(slots=True)
class CapturePage:
    article: Article
    version: int


def capture_page(session: Session, raw_id: str, raw_version: str | None) -> CapturePage:
    view = get_view(session, raw_id, raw_version)
    if view.version is None or view.version.capture_id is None:
        raise NotFound("the page's bytes were not kept for this version")
    return CapturePage(view.article, view.version.number)


def raw_page(session: Session, raw_id: str, raw_version: str | None, raw_as: str | None) -> tuple[str, bool]:
    """The archived HTML of a version, decoded, and whether to send it as plain text (``as=text``). As HTML a
    refresh is disabled (it would navigate the frame to the live web); the response's CSP holds back the rest."""
    if raw_as not in (None, "", "html", "text"):
        raise BadRequest(f"as must be text or html, not {_shown(raw_as)!r}")
    view = get_view(session, raw_id, raw_version)
    cap = raw_capture(session, view.version) if view.version else None
    if cap is None:
        raise NotFound("the page's bytes were not kept for this version")
    text = decode_html(cap.body, cap.content_type).text
    if raw_as == "text":
        return text, True
    return _REFRESH.sub(r"\1x-refresh-disabled", text), False


# ---------------------------------------------------------------- for people

def when(value: dt.datetime | None, offset_minutes: int | None = None) -> str:
    """A time for people: minutes and the offset (Vietnam time unless the page said otherwise)."""
    s = iso(value, offset_minutes)
    return f"{s[:16].replace('T', ' ')} {s[-6:]}" if s else "–"


def _when_or_empty(value: dt.datetime | None, offset_minutes: int | None) -> str:
    return when(value, offset_minutes) if value is not None else ""


def day(value: dt.datetime | None, offset_minutes: int | None = None) -> str:
    return (iso(value, offset_minutes) or "")[:10]


def segments(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """``text`` cut at the given spans: (piece, is it a match)."""
    out, pos = [], 0
    for a, b in spans:
        out += [(text[pos:a], False), (text[a:b], True)]
        pos = b
    out.append((text[pos:], False))
    return [(t, hit) for t, hit in out if t]
