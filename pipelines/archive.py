"""Archive an extracted page: find its article (URL variants, exact copies), add a version if it changed.

A fetched page is committed first, as a *pending* capture (``write_fetched``; ``storage.pending``), then
extracted in a worker process, then archived by ``archive_page`` in one transaction: the capture settled,
article, URLs and version together or not at all.  So a kill at any moment loses nothing committed and
duplicates nothing, and a page fetched before a kill is archived by the next crawl from its stored bytes
(``ArchivePipeline.open_spider``), not fetched again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.sources import Source
from pipelines import stories, template_store
from pipelines.dates import http_date
from pipelines.items import ArchiveOutcome, Extracted, PageStatus, RawPage, Skipped
from pipelines.urls import clean_url, url_key
from storage import pending, repo
from storage.models import Article

logger = logging.getLogger(__name__)


def key_for(source: Source, url: str) -> str:
    return url_key(url, source.ignore_params, source.host_aliases, source.case_insensitive_paths)


def content_of(ex: Extracted, identity: str = "") -> repo.Content:
    """The stored fields; NUL bytes go before hashing, so the hash is the hash of what is stored."""
    nul = repo.strip_nul
    return repo.Content(title=nul(ex.title) or "", lead=nul(ex.lead) or "", text=nul(ex.text) or "",
                        author=nul(ex.author), published=ex.published,
                        modified=ex.modified, language=ex.language, page_canonical=ex.page_canonical,
                        extractor=ex.extractor, extractor_version=ex.extractor_version, identity=identity)


def version_content(session: Session, source_id: str, ex: Extracted) -> repo.Content:
    """What a version of this extraction stores: the text cleaned by the source's learned template, identified
    by the hash of the extraction itself, so the version changes when the page does, not when the model does."""
    identity = ex.identity or content_of(ex).sha256()
    if ex.template_text is not None:  # applied in the extraction worker, with the template as it was then
        cleaned: Extracted | Skipped = dataclasses.replace(ex, text=ex.template_text)
    else:
        cleaned = template_store.apply_stored(session, source_id, ex)
    assert isinstance(cleaned, Extracted)
    return content_of(cleaned, identity)


def same_reading(version: Any, content: repo.Content) -> bool:
    """Whether a stored version reads exactly as ``content`` (the fields the content hash covers)."""
    return repo.content_hash(version.title, version.lead, version.text, version.author, version.published) == \
        repo.content_hash(content.title, content.lead, content.text, content.author, content.published)


# a modification time this close to the fetch is the time the page was rendered, not an edit
RENDER_TIME = dt.timedelta(minutes=2)


def restated(before: dt.datetime | None, now: dt.datetime | None, fetched: dt.datetime) -> bool:
    """Whether the page now states a modification time later than what the latest version stated (its
    modification time, else its publication): the publisher says it edited the article, even where the words
    read the same (a correction of markup, a photo), and that is a version.  A time at the moment of the fetch
    is the page's render time and says nothing.  (The caller compares versions of one extractor only: a newer
    extractor that finds a time the old one missed is not the page changing.)"""
    if now is None or before is None or abs(now - fetched) <= RENDER_TIME:
        return False
    return now > before + dt.timedelta(minutes=1)


# a Last-Modified younger than this may be a cache's regeneration time (a CDN, a page cache), not an edit
CACHE_AGE = dt.timedelta(days=1)


def _server_modified(raw: RawPage, published: dt.datetime | None) -> dt.datetime | None:
    """The HTTP ``Last-Modified`` of a page that states no modification time itself (old portals say an edit
    only there), when it is a stored date: after the publication, and older than a cache's regeneration (a
    day before the fetch), so that a page cache rebuilt every hour does not make every revisit an "edit"."""
    when = http_date(_validators(raw.headers)[1])
    if when is None or when > raw.fetched_at - CACHE_AGE:
        return None
    if published is not None and when < published:
        return None
    return when.astimezone(published.tzinfo) if published is not None and published.tzinfo else when


def _urls(source: Source, raw: RawPage, ex: Extracted | None) -> dict[str, str]:
    """Every URL this page answers for -> its identity key (a URL that cannot be read is left out)."""
    urls = [raw.url, raw.final_url, *raw.seen_urls, *raw.redirected_from]
    if ex is not None and ex.page_canonical:
        urls.insert(0, ex.page_canonical)
    out: dict[str, str] = {}
    for u in urls:
        try:
            if u:
                out[clean_url(u, source.ignore_params)] = key_for(source, u)
        except ValueError:  # pipelines.urls.BadURL: a rel=canonical with a bad port, say
            continue
    return out


def _canonical(source: Source, raw: RawPage, ex: Extracted) -> str:
    for u in (ex.page_canonical, raw.final_url, raw.url):
        try:
            if u:
                return clean_url(u, source.ignore_params)
        except ValueError:
            continue
    return raw.url


def _validators(headers: dict[str, str]) -> tuple[str | None, str | None]:
    low = {k.lower(): v for k, v in headers.items()}
    return low.get("etag"), low.get("last-modified")


def _capture(session: Session, source: Source, raw: RawPage, run_id: int | None, capture_id: int | None, *,
             outcome: str, article_id: int | None = None, decode_errors: int = 0, keep_body: bool = True) -> int:
    """The page's capture id: its pending capture settled, or (a page archived straight away) a new one."""
    if capture_id is not None:
        return pending.settle(session, capture_id, outcome=outcome, article_id=article_id,
                              decode_errors=decode_errors, keep_body=keep_body)
    return repo.store_capture(session, source_id=source.id, run_id=run_id, url=raw.url, final_url=raw.final_url,
                              status=raw.status, headers=raw.headers, fetched_at=raw.fetched_at, body=raw.body,
                              outcome=outcome, article_id=article_id, decode_errors=decode_errors,
                              keep_body=keep_body)


def archive_page(session: Session, source: Source, raw: RawPage, result: Extracted | Skipped,
                 run_id: int | None, capture_id: int | None = None) -> ArchiveOutcome:
    """Archive one extracted page; ``capture_id`` is its pending capture, when it was stored on fetch."""
    when = raw.fetched_at
    if isinstance(result, Skipped):
        cap = _capture(session, source, raw, run_id, capture_id, outcome=f"skipped:{result.reason}",
                       decode_errors=result.decode_errors)
        repo.record_skip(session, source.id, raw.url, result.reason, cap, when)
        return ArchiveOutcome("skipped", reason=result.reason)

    urls = _urls(source, raw, result)
    if result.modified is None:
        result = dataclasses.replace(result, modified=_server_modified(raw, result.published))
    content = version_content(session, source.id, result)
    sha = content.sha256()
    article = repo.find_article_by_keys(session, list(dict.fromkeys(urls.values())))
    if article is None:
        article = repo.find_article_by_content(session, source.id, sha)
    is_new = article is None
    if article is None:
        article = repo.create_article(session, source.id, _canonical(source, raw, result), when, result.published)
        is_new = article.current_version == 0
    repo.add_urls(session, article.id, urls.items(), when)

    latest = None if is_new else repo.latest_version(session, article.id)  # a new article has no version yet
    etag, last_modified = _validators(raw.headers)
    # another extraction that cleans to what the latest version already says (the site swapped a promo line
    # the template removes) is no edit
    changed = latest is None or (latest.content_sha256 != sha and not same_reading(latest, content)) or \
        (latest.extractor_version == content.extractor_version and
         restated(latest.modified or latest.published, content.modified, when))
    cap = _capture(session, source, raw, run_id, capture_id, outcome="archived" if changed else "unchanged",
                   article_id=article.id, decode_errors=result.decode_errors,
                   # an unchanged refetch keeps its headers and hash, not another copy of the bytes
                   keep_body=changed)
    _seen(session, article, when, etag, last_modified)
    if raw.lastmod is not None:
        article.listed_lastmod = raw.lastmod
    moved: dict[str, object] = {"moved": True} if _detect_move(session, source, article, raw, result, when) else {}
    if not changed:
        return ArchiveOutcome("unchanged", article.id, latest.number if latest else None, extra=moved)
    v = repo.add_version(session, article, content, cap, when)
    _link_story(session, article, result.signature, result.shingle_count, first=is_new)
    return ArchiveOutcome("new" if is_new else "updated", article.id, v.number, extra=moved)


def _link_story(session: Session, article: Article, signature: bytes, shingle_count: int, first: bool = False) -> None:
    """Near-duplicate copies (other URLs, other sources) join one story; looked up by LSH bands.  ``first``: the
    article's first version (it has no signature to replace)."""
    if not signature:
        return
    bands = stories.bands(signature)
    matches = [(aid, sid) for aid, sid, sig in repo.story_candidates(session, bands, article.id)
               if stories.similarity(signature, sig) >= stories.SAME_STORY_JACCARD]
    repo.set_signature(session, article.id, signature, shingle_count, bands, replace=not first)
    if matches:
        repo.join_story(session, article.id, matches)


def _detect_move(session: Session, source: Source, article: Article, raw: RawPage, ex: Extracted,
                 when: dt.datetime) -> bool:
    """A redirect from one of the article's URLs to a new article URL: the article moved there."""
    if not raw.redirected_from:
        return False
    new_url = _canonical(source, raw, ex)
    if key_for(source, new_url) == key_for(source, article.canonical_url):
        return False
    if session.execute(select(Article.id).where(Article.canonical_url == new_url)).first() is None:
        repo.record_event(session, article.id, "moved", when, f"{article.canonical_url} -> {new_url}")
        article.canonical_url = new_url
        article.status = "moved"
        return True
    return False


# ---------------------------------------------------------------- the same bytes again: unchanged, unextracted

def archive_same_bytes(session: Session, source: Source, raw: RawPage, sha: str,
                       run_id: int | None) -> ArchiveOutcome | None:
    """A page whose body is byte for byte its article's latest capture is ``unchanged``, recorded without
    extracting it (so no extractor or template change can make it a version); None when it is not such a page."""
    urls = _urls(source, raw, None)
    article = session.get(Article, raw.known_article_id) if raw.known_article_id is not None else None
    if article is None:
        article = repo.find_article_by_keys(session, list(dict.fromkeys(urls.values())))
    if article is None or repo.latest_capture_sha(session, article.id) != sha:
        return None
    repo.add_urls(session, article.id, urls.items(), raw.fetched_at)
    repo.store_capture(session, source_id=source.id, run_id=run_id, url=raw.url, final_url=raw.final_url,
                       status=raw.status, headers=raw.headers, fetched_at=raw.fetched_at, body=raw.body,
                       outcome="unchanged", article_id=article.id, keep_body=False, sha256=sha)
    _seen(session, article, raw.fetched_at, *_validators(raw.headers))
    if raw.lastmod is not None:
        article.listed_lastmod = raw.lastmod
    return ArchiveOutcome("unchanged", article.id, article.current_version or None, reason="same_bytes")


def apply_status(session: Session, st: PageStatus, run_id: int | None) -> ArchiveOutcome:
    """A revisit without a page: 304 keeps the article fresh, 404/410 or a redirect away marks it removed."""
    article = session.get(Article, st.article_id)
    if article is None:
        return ArchiveOutcome("skipped", reason="unknown_article")
    repo.store_capture(session, source_id=st.source_id, run_id=run_id, url=st.url, final_url=st.final_url,
                       status=st.status, headers=st.headers, fetched_at=st.fetched_at, body=None,
                       outcome=st.kind, article_id=article.id)
    article.last_fetched = st.fetched_at
    if st.lastmod is not None and st.kind == "not_modified":
        article.listed_lastmod = st.lastmod
    if st.kind == "not_modified":
        article.last_seen = max(article.last_seen, st.fetched_at)
        if article.status == "removed":
            repo.record_event(session, article.id, "reappeared", st.fetched_at)
            article.status, article.removed_at = "live", None
        return ArchiveOutcome("not_modified", article.id)
    if article.status != "removed":
        detail = f"HTTP {st.status}" if st.kind == "gone" else f"redirected to {st.final_url}"
        repo.record_event(session, article.id, "removed", st.fetched_at, detail)
        article.status, article.removed_at = "removed", st.fetched_at
        return ArchiveOutcome("removed", article.id)
    return ArchiveOutcome("unchanged", article.id)


def _seen(session: Session, article: Article, when: dt.datetime, etag: str | None, last_modified: str | None) -> None:
    article.last_seen = max(article.last_seen, when)
    article.last_fetched = when
    article.etag, article.last_modified = etag, last_modified
    if article.status == "removed":
        repo.record_event(session, article.id, "reappeared", when)
        article.status, article.removed_at = "live", None


