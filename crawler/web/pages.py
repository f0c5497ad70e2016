"""What each page of the web view shows: plain functions from (session, the request's raw parameters) to a
page record, with no HTTP and no HTML in them (app.py adapts them to Flask, the templates render them).

Every parameter arrives as the text the browser sent and is checked here: a value that cannot be what it
names is ``BadRequest`` (400), a well-formed one that names nothing in the archive is ``NotFound`` (404), each
with a message for the reader; nothing a visitor types reaches the database unchecked or ends in a traceback.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.web.diff import Row, paragraphs, side_by_side
from pipelines.decode import decode_html
from storage.db import ArchiveError
from storage.export import iso
from storage.inspect import ArticleView, Stats, article_view, raw_capture, stats
from storage.models import Article, SourceRow, Version
from storage.search import Hit, QueryError, parse_day, search

SEARCH_LIMIT = 50
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
    hits: list[Hit] | None = None  # None: nothing searched yet
    error: str | None = None  # a query that cannot be searched, said in words
    limit: int = SEARCH_LIMIT


def search_page(session: Session, q: str | None, source: str | None, since: str | None,
                until: str | None) -> SearchPage:
    page = SearchPage(q=(q or "").strip(), source=source or "", since=since or "", until=until or "",
                      sources=list(session.execute(select(SourceRow.id).order_by(SourceRow.id)).scalars()))
    if not page.q:
        return page
    try:
        page.hits = search(session, page.q, source=page.source or None,
                           since=parse_day(page.since, "since") if page.since else None,
                           until=parse_day(page.until, "until") if page.until else None, limit=page.limit)
    except (QueryError, ValueError) as e:
        page.error = str(e)
    return page


# ---------------------------------------------------------------- sources

def sources_page(session: Session) -> Stats:
    return stats(session)


# ---------------------------------------------------------------- one article

@dataclass(slots=True)
class ArticlePage:
    view: ArticleView
    title: str
    paragraphs: list[str] = field(default_factory=list)

    @property
    def article(self) -> Article:
        return self.view.article

    @property
    def version(self) -> Version | None:
        return self.view.version


def article_page(session: Session, raw_id: str, raw_version: str | None) -> ArticlePage:
    view = get_view(session, raw_id, raw_version)
    v = view.version
    return ArticlePage(view, v.title if v else "(no version archived)", paragraphs(v.text) if v else [])


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
    published: tuple[str, str] | None  # (old, new) when the publication time changed


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
    pa, pb = iso(va.published, va.utc_offset_minutes), iso(vb.published, vb.utc_offset_minutes)
    return DiffPage(a, va, vb, fields, (pa or "", pb or "") if pa != pb else None)


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
