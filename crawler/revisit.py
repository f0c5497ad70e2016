"""When a known article is worth fetching again.  Pure: the archive's dates in, a decision out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from config.sources import Revisit


@dataclass(slots=True)
class KnownArticle:
    """What the crawl needs to know of an archived article (loaded once per run)."""

    article_id: int
    url: str
    status: str
    published: dt.datetime | None
    first_seen: dt.datetime
    last_fetched: dt.datetime | None
    etag: str | None
    last_modified: str | None
    modified: dt.datetime | None = None
    listed_lastmod: dt.datetime | None = None


def changed_since_capture(a: KnownArticle, lastmod: dt.datetime | None) -> bool:
    """Whether a sitemap <lastmod> says the article changed after what we archived.

    Compared with the <lastmod> we fetched it for (or, never having seen one, with the page's own
    modification/publication time), not with our clock: a site's clock and ours need not agree.
    """
    if lastmod is None:
        return False
    if a.listed_lastmod is not None:
        return lastmod > a.listed_lastmod
    reference = a.modified or a.published
    return reference is None or lastmod > reference + dt.timedelta(minutes=1)


def due_by_age(a: KnownArticle, now: dt.datetime, policy: Revisit) -> bool:
    """Due when a checkpoint (hours after publication) has passed since the last fetch.

    With checkpoints (6, 24, 72, 168, 720) an article is re-checked about five times in its first month, then
    every 720 hours: often while young, when edits are likely, rarely once old.
    """
    if not policy.enabled or not policy.schedule_hours:
        return False
    born = a.published or a.first_seen
    last = a.last_fetched or a.first_seen
    age_h = (now - born).total_seconds() / 3600
    last_h = (last - born).total_seconds() / 3600
    checkpoints = sorted(policy.schedule_hours)
    period = checkpoints[-1]
    # the most recent checkpoint at or before now
    passed = [c for c in checkpoints if c <= age_h]
    if age_h > period:
        passed.append(period * int(age_h // period))
    return bool(passed) and max(passed) > last_h
