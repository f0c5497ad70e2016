"""The read-only JSON API: the same records, field for field, as the commands' ``--json`` outputs.

- ``/api/search``: ``{"query", "total", "page", "per_page", "pages", "results": [...]}``, each result a
  ``vnarchive search --json`` line (storage.search.Hit.record).
- ``/api/article/N`` (and ``/api/lookup?url=``): ``vnarchive show N --json``.
- ``/api/article/N/versions``: ``vnarchive history N --json``; ``/api/article/N/diff?a=&b=``: ``vnarchive diff N
  A B --json``.
- ``/api/sources``: ``{"sources": [...], "total": {...}}``, the lines of ``vnarchive stats --json``.
- ``/api/source/S``, ``/api/day/D``, ``/api/changes``, ``/api/removed``: the web view's lists, paged.

Functions from (session, the request's raw parameters) to a dict; pages.PageError for a bad parameter (400)
or nothing there (404), which app.py answers as ``{"error": message}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from config.sources import Source
from crawler.web import pages
from storage.export import iso
from storage.history import NotFound as HistoryNotFound
from storage.history import diff_versions, events, version, versions
from storage.models import Article
from storage.reading import ArticleView, article_view, stats


def search(session: Session, q: str | None, source: str | None, since: str | None, until: str | None,
           raw_page: str | None, raw_per_page: str | None) -> dict[str, Any]:
    if not (q or "").strip():
        raise pages.BadRequest("give a query: /api/search?q=words")
    pages.source_filter(session, source)
    page = pages.search_page(session, q, source, since, until, raw_page, pages.per_page(raw_per_page))
    if page.error or page.results is None:
        raise pages.BadRequest(page.error or "nothing to search for")
    return {"query": page.q, **page.results.record("results", [h.record() for h in page.results.items])}


def show_record(view: ArticleView) -> dict[str, Any]:
    """``vnarchive show --json``."""
    a, v = view.article, view.version
    rec: dict[str, Any] = {
        "id": a.id, "source": a.source_id, "url": a.canonical_url, "urls": view.urls, "status": a.status,
        "first_seen": iso(a.first_seen), "last_seen": iso(a.last_seen), "removed_at": iso(a.removed_at),
        "story": a.story_id, "copies": [{"id": c.id, "source": c.source_id, "url": c.canonical_url, "title": t}
                                        for c, t in view.copies],
        "events": [{"at": iso(e.at), "kind": e.kind, "detail": e.detail} for e in view.events],
        "versions": [{"number": x.number, "captured_at": iso(x.created_at), "content_sha256": x.content_sha256,
                      "capture_id": x.capture_id, "title": x.title} for x in view.versions],
    }
    if v is not None:
        rec.update(version=v.number, title=v.title, author=v.author, lead=v.lead, text=v.text,
                   published=iso(v.published, v.utc_offset_minutes), modified=iso(v.modified, v.utc_offset_minutes))
    return rec


def article(session: Session, raw_id: str, raw_version: str | None) -> dict[str, Any]:
    return show_record(pages.get_view(session, raw_id, raw_version))


def lookup(session: Session, sources: Sequence[Source], raw: str | None) -> dict[str, Any]:
    return show_record(article_view(session, pages.lookup(session, sources, raw)))


def history_record(session: Session, a: Article) -> dict[str, Any]:
    """``vnarchive history --json``."""
    return {"id": a.id, "source": a.source_id, "url": a.canonical_url, "status": a.status,
            "current_version": a.current_version,
            "versions": [{"number": v.number, "captured_at": iso(v.created_at), "title": v.title,
                          "words": len(v.text.split()), "content_sha256": v.content_sha256,
                          "capture_id": v.capture_id, "published": iso(v.published, v.utc_offset_minutes),
                          "modified": iso(v.modified, v.utc_offset_minutes),
                          "extractor_version": v.extractor_version} for v in versions(session, a.id)],
            "events": [{"at": iso(ev.at), "kind": ev.kind, "detail": ev.detail} for ev in events(session, a.id)]}


def history(session: Session, raw_id: str) -> dict[str, Any]:
    return history_record(session, pages.get_article(session, raw_id))


def diff(session: Session, raw_id: str, raw_old: str | None, raw_new: str | None) -> dict[str, Any]:
    """``vnarchive diff --json``: version ``a`` (default: the one before ``b``) to ``b`` (default: current)."""
    a = pages.get_article(session, raw_id)
    new = pages.version_number(raw_new, "b") or a.current_version
    old = pages.version_number(raw_old, "a") or new - 1
    if old < 1:
        raise pages.NotFound(f"article {a.id} has only one version")
    try:
        changes = diff_versions(version(session, a.id, old), version(session, a.id, new))
    except HistoryNotFound as e:
        raise pages.NotFound(str(e)) from None
    return {"id": a.id, "from": old, "to": new,
            "changes": {f: [{"op": ch.op, "text": ch.text} for ch in parts] for f, parts in changes.items()}}


def sources(session: Session) -> dict[str, Any]:
    """The lines of ``vnarchive stats --json``: one per source, and the totals."""
    st = stats(session)
    return {"sources": [s.record() for s in st.sources], "total": st.record()}


def source(session: Session, raw_source: str, raw_page: str | None, raw_per_page: str | None) -> dict[str, Any]:
    sp = pages.source_page(session, raw_source, raw_page, pages.per_page(raw_per_page))
    return {"source": sp.stats.record(),
            **sp.articles.record("articles", [x.record() for x in sp.articles.items])}


def day(session: Session, raw_day: str, raw_source: str | None, raw_page: str | None,
        raw_per_page: str | None) -> dict[str, Any]:
    dp = pages.day_page(session, raw_day, raw_source, raw_page, pages.per_page(raw_per_page))
    return {"day": dp.day.isoformat(), "source": dp.source,
            "before": dp.before.isoformat() if dp.before else None,
            "after": dp.after.isoformat() if dp.after else None,
            **dp.articles.record("articles", [x.record() for x in dp.articles.items])}


def days(session: Session, raw_source: str | None, raw_page: str | None) -> dict[str, Any]:
    dp = pages.days_page(session, raw_source, raw_page)
    return {"source": dp.source,
            **dp.days.record("days", [{"day": d.isoformat(), "articles": n} for d, n in dp.days.items])}


def changes(session: Session, raw_source: str | None, raw_page: str | None,
            raw_per_page: str | None) -> dict[str, Any]:
    fp = pages.changes_page(session, raw_source, raw_page, pages.per_page(raw_per_page))
    assert fp.changes is not None
    return {"source": fp.source, **fp.changes.record("changes", [c.record() for c in fp.changes.items])}


def removed(session: Session, raw_source: str | None, raw_page: str | None,
            raw_per_page: str | None) -> dict[str, Any]:
    fp = pages.removed_page(session, raw_source, raw_page, pages.per_page(raw_per_page))
    assert fp.removals is not None
    return {"source": fp.source, **fp.removals.record("removed", [r.record() for r in fp.removals.items])}

