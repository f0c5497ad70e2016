"""When a known article is worth fetching again.  Pure: the archive's dates in, a decision out.

Every revisit of a run counts against ``revisit.max_per_run``, whatever its reason: a sitemap <lastmod> newer
than what we archived (``lastmod``), a removed article listed again (``listed_again``), a live article missing
from a complete sitemap (``vanished``), an age checkpoint (``age``), or nothing telling when it changes (no
sitemap gave it a <lastmod>: ``turn``, so a portal known only by its listings still has its edits and removals
seen, a budget's worth per crawl).  Revisits come after every new article
of the run (the spider schedules them when nothing else is left), oldest check first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass

from config.sources import Revisit

# how far a site's clock and ours may disagree, at most, where the crawl compares one with the other
CLOCK_MARGIN = dt.timedelta(days=1)


@dataclass(slots=True)
class KnownArticle:
    """What the crawl needs to know of an archived article (asked of the archive when a URL is found)."""

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
    modification/publication time), not with our clock: a site's clock and ours need not agree.  Never having
    seen one, a <lastmod> over a day older than our last fetch is not a change either: that fetch came after it
    (an article first requested from a feed, answered before the sitemap that dates it was read).
    """
    if lastmod is None:
        return False
    if a.listed_lastmod is not None:
        return lastmod > a.listed_lastmod
    if a.last_fetched is not None and lastmod < a.last_fetched - CLOCK_MARGIN:
        return False
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


def pick_revisits(candidates: Iterable[KnownArticle], now: dt.datetime, policy: Revisit, limit: int,
                  exclude: Container[int] = (), listed: Container[int] | None = None,
                  signalled: Container[int] | None = None) -> Iterator[tuple[KnownArticle, str]]:
    """(article, reason) for at most ``limit`` of ``candidates`` (given oldest check first) worth a revisit:
    a live one missing from the run's sitemaps when those were complete (``listed`` is then the ids they
    listed: ``vanished``), one due by age (``age``), or, with ``policy.in_turn_without_lastmod``, a live one
    whose id is not in ``signalled`` (the ids a sitemap gave a <lastmod> for: nothing tells when the others
    change, so they come in turn: ``turn``); ``exclude`` were requested already this run."""
    if limit <= 0:
        return
    n = 0
    in_turn = policy.in_turn_without_lastmod and signalled is not None
    for k in candidates:
        if k.article_id in exclude:
            continue
        here = k.status in ("live", "moved")  # a moved article lives on at its new URL (k.url)
        if listed is not None and here and k.article_id not in listed:
            reason = "vanished"
        elif due_by_age(k, now, policy):
            reason = "age"
        elif in_turn and here and k.article_id not in signalled:  # type: ignore[operator]
            reason = "turn"
        else:
            continue
        yield k, reason
        n += 1
        if n >= limit:
            return
