"""The item contract between the spider and the pipelines: small typed records, nothing else."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(slots=True)
class RawPage:
    """An article response as fetched, before anything is made of it."""

    source_id: str
    url: str  # the URL requested (tracking parameters removed)
    final_url: str  # after redirects
    status: int
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)  # logs of dropped items must not carry whole pages
    fetched_at: dt.datetime
    seen_urls: tuple[str, ...] = ()  # every URL the article was discovered under
    known_article_id: int | None = None  # set on revisits of an archived article
    redirected_from: tuple[str, ...] = ()
    lastmod: dt.datetime | None = None  # the sitemap <lastmod> that led here


@dataclass(slots=True)
class PageStatus:
    """A revisit that brought no page to extract: 304 Not Modified, 404/410 gone, or a redirect away."""

    source_id: str
    url: str
    kind: str  # not_modified | gone | redirected_away
    status: int
    article_id: int
    fetched_at: dt.datetime
    headers: dict[str, str]
    final_url: str
    lastmod: dt.datetime | None = None


@dataclass(slots=True)
class Extracted:
    """What a page says, normalised (NFC text, aware datetimes)."""

    title: str
    lead: str
    text: str  # paragraphs separated by blank lines
    author: str | None
    published: dt.datetime | None
    modified: dt.datetime | None
    language: str | None
    page_canonical: str | None
    decode_errors: int = 0
    signature: bytes = b""  # MinHash of the body (pipelines.stories), computed in the worker
    shingle_count: int = 0
    extractor: str = "trafilatura"
    extractor_version: str = ""
    # the page's visible text blocks (each once, at most 300 characters), for learning the source's template
    # (pipelines.template); not archived
    blocks: tuple[str, ...] = ()
    # what the page teaches the template (``template.page_hashes``: hash -> (kind, sample)), computed in the
    # worker so the archive writer, which holds the GIL the crawl needs, does not hash every block of every page
    learned: dict[str, tuple[str, str]] | None = None
    # the text as the source's learnt template leaves it, when the worker applied the template (read from the
    # archive there, off the writer's thread); None: the archive writer applies it
    template_text: str | None = None
    # the version identity (``archive.content_of(self).sha256()``, the extraction before the template), hashed in
    # the worker for the same reason; None: the archive writer hashes it.  The template keeps it (it changes the
    # text, not the identity); anything else that changes a hashed field after the worker must clear it
    identity: str | None = None


@dataclass(slots=True)
class Skipped:
    """A page that is not an article (or could not be read), with why."""

    reason: str
    decode_errors: int = 0


@dataclass(slots=True)
class ArchiveOutcome:
    """What the archive did with a page; counted in the crawl summary."""

    kind: str  # new | updated | unchanged | skipped | removed | not_modified
    article_id: int | None = None
    version: int | None = None
    reason: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
