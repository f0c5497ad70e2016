"""Pages fetched but not archived as articles (``skipped_pages``), for people: ``vnarchive skipped``, the skip
notice of ``show`` and the skipped counts of ``stats``.

A URL archived as an article since it was skipped (a later crawl, a better extractor, ``reextract``) is no
longer "not archived": every query here leaves it out, in SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, not_, select
from sqlalchemy.orm import Session

from storage.models import Article, ArticleUrl, SkippedPage

# what each reason means, and what a user can do; the README's table says the same
REASONS: dict[str, str] = {
    "empty_body": "the server answered with no content",
    "binary_body": "the answer was not a web page (compressed or binary data)",
    "legacy_encoding_tcvn3": "written in the legacy TCVN3 (ABC) font encoding, which would be stored as mojibake",
    "legacy_encoding_vni": "written in the legacy VNI font encoding, which would be stored as mojibake",
    "unparseable": "the HTML could not be parsed",
    "login_wall": "the text is behind a login or subscription (could be wrong on a short article)",
    "soft_404": "an error page ('page not found') served with a success status",
    "video_page": "a video with little or no text (could be wrong: check it)",
    "photo_page": "a photo gallery with little or no text (could be wrong: check it)",
    "listing_page": "a list of links to other articles under an article-like URL (could be wrong: check it)",
    "no_article_text": "less article text than extraction.min_text_chars (could be wrong: check it)",
    "no_title": "no headline was found",
    "too_large_to_parse": "the page was too large to extract",
    "too_deeply_nested": "the page's HTML was nested too deeply to extract",
    "extraction_crashed": "the extraction worker died on this page (memory cap?)",
    "extraction_timeout": "extraction took longer than the per-page limit",
}
# reasons that carry a value: language_en, extraction_error:KeyError
REASON_PREFIXES: dict[str, str] = {
    "language_": "in a language the source does not list in extraction.languages",
    "extraction_error:": "a bug in the extractor (the raw page is kept)",
    # recorded by the crawl itself (storage.failures), with no page: every later crawl asks for the URL again
    "unreachable:": "given up on after its retries (timeout, data_loss, http_429...): asked for again next crawl",
    "deferred:": "the server asked to wait longer than VNARCHIVE_MAX_RETRY_AFTER: asked for again next crawl",
}
# reasons that are judgements, not facts: worth a look, and fixed by a config change or a newer extractor
DOUBTFUL = ("photo_page", "video_page", "listing_page", "no_article_text", "login_wall", "language_")


def explain(reason: str) -> str | None:
    """What a skip reason means, or None for a reason this vnarchive does not know (an older one's)."""
    if reason in REASONS:
        return REASONS[reason]
    return next((text for prefix, text in REASON_PREFIXES.items() if reason.startswith(prefix)), None)


def is_doubtful(reason: str) -> bool:
    return reason.startswith(DOUBTFUL)


@dataclass(slots=True, frozen=True)
class Skip:
    url: str
    source_id: str
    reason: str
    capture_id: int | None
    last_seen: dt.datetime

    def record(self) -> dict[str, Any]:
        from storage.export import iso

        return {"url": self.url, "source": self.source_id, "reason": self.reason,
                "last_seen": iso(self.last_seen), "capture_id": self.capture_id}


@dataclass(slots=True, frozen=True)
class SkipList:
    skips: list[Skip]  # newest first, at most ``limit``
    total: int  # every skipped page that matches, whatever the limit
    by_reason: dict[str, int]  # of the total, most frequent first


def not_archived() -> ColumnElement[bool]:
    """The skipped page's URL is not (or no longer) one of an article's URLs."""
    return and_(not_(exists().where(ArticleUrl.url == SkippedPage.url)),
                not_(exists().where(Article.canonical_url == SkippedPage.url)))


def _reason_filter(reason: str) -> ColumnElement[bool]:
    """``photo_page`` exactly; ``language_*`` (a trailing ``*``) every reason starting so."""
    if reason.endswith("*"):
        return SkippedPage.reason.startswith(reason[:-1], autoescape=True)
    return SkippedPage.reason == reason


def check_reason(session: Session, reason: str) -> None:
    """A reason this vnarchive gives (``language_*`` for a family) or the archive holds; else ValueError."""
    names = (*REASONS, *REASON_PREFIXES)
    if reason.endswith("*"):
        prefix = reason[:-1]
        if any(n.startswith(prefix) or prefix.startswith(n) for n in names):
            return
    elif explain(reason) is not None:
        return
    if session.execute(select(SkippedPage.id).where(_reason_filter(reason)).limit(1)).first() is not None:
        return  # recorded by another version of vnarchive
    known = ", ".join([*REASONS, *(f"{p}<...>" for p in REASON_PREFIXES)])
    raise ValueError(f"--reason: no skip reason {reason!r} (known: {known}; 'language_*' for every language)")


def skipped(session: Session, source: str | None = None, reason: str | None = None,
            since: dt.datetime | None = None, limit: int = 50) -> SkipList:
    """Skipped pages not archived since, newest first, with how many there are in all and per reason."""
    if limit < 1:
        raise ValueError(f"--limit must be at least 1, not {limit}")
    filters = [not_archived()]
    if source is not None:
        filters.append(SkippedPage.source_id == source)
    if reason is not None:
        filters.append(_reason_filter(reason))
    if since is not None:
        filters.append(SkippedPage.last_seen >= since)
    rows = session.execute(select(SkippedPage).where(*filters)
                           .order_by(SkippedPage.last_seen.desc(), SkippedPage.id.desc()).limit(limit)).scalars()
    skips = [Skip(r.url, r.source_id, r.reason, r.capture_id, r.last_seen) for r in rows]
    n = func.count().label("n")
    counts = session.execute(select(SkippedPage.reason, n).where(*filters).group_by(SkippedPage.reason)
                             .order_by(n.desc(), SkippedPage.reason)).all()
    by_reason = {r: int(c) for r, c in counts}
    return SkipList(skips, sum(by_reason.values()), by_reason)


def skip_of(session: Session, urls: Sequence[str]) -> Skip | None:
    """The skip record of the first of ``urls`` (the URL as given, then its cleaned forms) that was skipped
    and not archived since; None when none was."""
    urls = list(dict.fromkeys(u for u in urls if u))
    if not urls:
        return None
    rows = {r.url: r for r in session.execute(select(SkippedPage).where(SkippedPage.url.in_(urls),
                                                                        not_archived())).scalars()}
    r = next((rows[u] for u in urls if u in rows), None)
    return Skip(r.url, r.source_id, r.reason, r.capture_id, r.last_seen) if r is not None else None


def skipped_by_source(session: Session) -> dict[str, int]:
    """How many pages of each source are skipped and not archived."""
    return {sid: int(n) for sid, n in session.execute(
        select(SkippedPage.source_id, func.count()).where(not_archived()).group_by(SkippedPage.source_id))}

