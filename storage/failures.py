"""URLs a crawl gave up on (timeouts, data loss, 429s after its retries, a Retry-After past the cap), kept in
``skipped_pages`` with the reason ``unreachable:<error>`` or ``deferred:<error>`` and no capture: listed by
``vnarchive skipped``, named by ``show``, and asked for again by the next crawls of the source.

A URL that answers later stops being one: archived, it is no longer "not archived" (every skips query leaves
archived URLs out); skipped for what its page says, its reason is replaced; answering 404 or any other final
status, its record goes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import ColumnElement, delete, exists, or_, select
from sqlalchemy.orm import Session

from storage import repo
from storage.models import ArticleUrl, SkippedPage

PREFIXES = ("unreachable:", "deferred:")
RETRY_FOR = dt.timedelta(days=30)  # a URL that failed on every crawl for this long is not asked for again


def _ours() -> ColumnElement[bool]:
    return or_(*(SkippedPage.reason.like(p + "%") for p in PREFIXES))


def reason_for(kind: str) -> str:
    """``timeout`` -> ``unreachable:timeout``; ``deferred`` (a Retry-After past the cap) -> ``deferred:retry_after``."""
    return "deferred:retry_after" if kind == "deferred" else f"unreachable:{kind}"[:60]


def record(session: Session, source_id: str, given_up: Iterable[tuple[str, str]], answered: Iterable[str],
           when: dt.datetime) -> None:
    """``given_up``: (url, error kind) of this run; ``answered``: URLs that got a final answer this run."""
    answered = list(answered)
    for i in range(0, len(answered), 500):
        session.execute(delete(SkippedPage).where(SkippedPage.source_id == source_id,
                                                  SkippedPage.url.in_(answered[i:i + 500]), _ours()))
    for url, kind in given_up:
        current = session.execute(select(SkippedPage.reason).where(SkippedPage.url == url)).scalar_one_or_none()
        if current is not None and not current.startswith(PREFIXES):
            continue  # the page was fetched before and skipped for what it says: that reason stands
        repo.record_skip(session, source_id, url, reason_for(kind), None, when)


def to_retry(session: Session, source_id: str, now: dt.datetime, limit: int) -> list[str]:
    """URLs of ``source_id`` given up on in the last RETRY_FOR and not archived since, oldest failure first."""
    archived = exists().where(ArticleUrl.url == SkippedPage.url)
    stmt = (select(SkippedPage.url).where(SkippedPage.source_id == source_id, _ours(), ~archived,
                                          SkippedPage.last_seen >= now - RETRY_FOR)
            .order_by(SkippedPage.last_seen, SkippedPage.id).limit(limit))
    return list(session.execute(stmt).scalars())
