"""The archive as plain records (one per article, or one per version), for JSON Lines and CSV export."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Article, ArticleUrl, SourceRow, Version

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FIELDS = ["id", "source", "url", "urls", "title", "lead", "text", "author", "published", "published_day", "modified",
          "language",
          "version", "versions", "content_sha256", "first_seen", "last_seen", "captured_at", "status",
          "removed_at", "story", "story_first", "extractor", "extractor_version"]


def iso(value: dt.datetime | None, offset_minutes: int | None = None) -> str | None:
    """ISO 8601 with the page's own offset (Vietnam time unless the page said otherwise)."""
    if value is None:
        return None
    tz: dt.tzinfo = VN_TZ if offset_minutes is None else dt.timezone(dt.timedelta(minutes=offset_minutes))
    return value.astimezone(tz).isoformat()


def source_ids(session: Session) -> list[str]:
    """The sources the archive has records of (whether or not the sources file still lists them)."""
    return list(session.execute(select(SourceRow.id).order_by(SourceRow.id)).scalars())


def _urls_by_article(session: Session, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in ids}
    for aid, url in session.execute(select(ArticleUrl.article_id, ArticleUrl.url)
                                    .where(ArticleUrl.article_id.in_(ids)).order_by(ArticleUrl.id)):
        out[aid].append(url)
    return out


def record(a: Article, v: Version, urls: list[str], versions: int, story_first: bool | None = None) -> dict[str, Any]:
    return {
        "id": a.id,
        "source": a.source_id,
        "url": a.canonical_url,
        "urls": list(dict.fromkeys([a.canonical_url, *urls])),
        "title": v.title,
        "lead": v.lead,
        "text": v.text,
        "author": v.author,
        "published": iso(v.published, v.utc_offset_minutes),
        # the publication day as the page states it (its own offset): what "date(published)" should mean
        "published_day": (iso(v.published, v.utc_offset_minutes) or "")[:10] or None,
        "modified": iso(v.modified, v.utc_offset_minutes),
        "language": v.language,
        "version": v.number,
        "versions": versions,
        "content_sha256": v.content_sha256,
        "first_seen": iso(a.first_seen),
        "last_seen": iso(a.last_seen),
        "captured_at": iso(v.created_at),
        "status": a.status,
        "removed_at": iso(a.removed_at),
        "story": a.story_id,
        "story_first": story_first,
        "extractor": v.extractor,
        "extractor_version": v.extractor_version,
    }


def iter_records(session: Session, versions: bool = False, source: str | None = None,
                 batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every archived article (removed ones too) with its current version, or every version."""
    last_id = 0
    while True:
        q = select(Article).where(Article.id > last_id, Article.current_version > 0)
        if source:
            q = q.where(Article.source_id == source)
        articles = list(session.execute(q.order_by(Article.id).limit(batch)).scalars())
        if not articles:
            return
        ids = [a.id for a in articles]
        urls = _urls_by_article(session, ids)
        vq = select(Version).where(Version.article_id.in_(ids)).order_by(Version.article_id, Version.number)
        by_article: dict[int, list[Version]] = {}
        for v in session.execute(vq).scalars():
            by_article.setdefault(v.article_id, []).append(v)
        firsts = _story_firsts(session, articles)
        for a in articles:
            vs = by_article.get(a.id, [])
            chosen = vs if versions else [v for v in vs if v.number == a.current_version][:1]
            for v in chosen:
                yield record(a, v, urls[a.id], len(vs), firsts.get(a.id))
        last_id = ids[-1]


def _story_firsts(session: Session, articles: list[Article]) -> dict[int, bool]:
    """For articles in a story: whether each is the story's earliest publication."""
    stories = {a.story_id for a in articles if a.story_id is not None}
    if not stories:
        return {}
    rows = session.execute(select(Article.id, Article.story_id, Article.published, Article.first_seen)
                           .where(Article.story_id.in_(stories))).all()
    first: dict[int, tuple[Any, int]] = {}
    for aid, sid, pub, seen in rows:
        if sid is None:
            continue
        k = (pub or seen, aid)
        if sid not in first or k < first[sid]:
            first[sid] = k
    return {a.id: first[a.story_id][1] == a.id for a in articles if a.story_id is not None and a.story_id in first}
