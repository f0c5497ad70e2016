"""An article's history: its versions and events, and a word-level diff between two versions."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Article, ArticleEvent, ArticleUrl, Version

_TOKENS = re.compile(r"\s+|[^\s]+")


class NotFound(LookupError):
    """No article or version answers to what the user gave."""


def find_article(session: Session, ref: str, keys: Sequence[str] = (), urls: Sequence[str] = ()) -> Article:
    """An article by id, by any URL it was seen under (``ref`` itself or the cleaned forms of it the caller
    computed, ``urls``), or by one of the URL keys the caller computed."""
    ref = ref.strip()
    if ref.isdigit():
        a = session.get(Article, int(ref))
        if a is not None:
            return a
    for cand in dict.fromkeys([ref, ref.rstrip("/"), *urls]):
        row = session.execute(select(Article).join(ArticleUrl).where(ArticleUrl.url == cand).limit(1)).scalar()
        if row is None:
            row = session.execute(select(Article).where(Article.canonical_url == cand)).scalar()
        if row is not None:
            return row
    if keys:
        row = session.execute(select(Article).join(ArticleUrl).where(ArticleUrl.key.in_(list(keys))).limit(1)).scalar()
        if row is not None:
            return row
    raise NotFound(f"no archived article with id or URL {ref!r}")


def versions(session: Session, article_id: int) -> list[Version]:
    return list(session.execute(select(Version).where(Version.article_id == article_id)
                                .order_by(Version.number)).scalars())


def events(session: Session, article_id: int) -> list[ArticleEvent]:
    return list(session.execute(select(ArticleEvent).where(ArticleEvent.article_id == article_id)
                                .order_by(ArticleEvent.at, ArticleEvent.id)).scalars())


def version(session: Session, article_id: int, number: int) -> Version:
    v = session.execute(select(Version).where(Version.article_id == article_id, Version.number == number)).scalar()
    if v is None:
        raise NotFound(f"article {article_id} has no version {number}")
    return v


@dataclass(slots=True, frozen=True)
class Change:
    op: str  # "=" kept, "-" removed, "+" added
    text: str


def word_diff(old: str, new: str) -> list[Change]:
    """Word-level differences, whitespace kept, so the result reads as the text itself."""
    a, b = _TOKENS.findall(old or ""), _TOKENS.findall(new or "")
    out: list[Change] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(Change("=", "".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            out.append(Change("-", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            out.append(Change("+", "".join(b[j1:j2])))
    return out


FIELDS = ("title", "lead", "text", "author")


def diff_versions(v1: Version, v2: Version) -> dict[str, list[Change]]:
    """Per field, the word diff from v1 to v2; fields that did not change are left out."""
    out = {}
    for f in FIELDS:
        a, b = getattr(v1, f) or "", getattr(v2, f) or ""
        if a != b:
            out[f] = word_diff(a, b)
    for f in ("published", "modified"):
        a, b = getattr(v1, f), getattr(v2, f)
        if a != b:
            out[f] = [Change("-", a.isoformat() if a else "—"), Change("+", b.isoformat() if b else "—")]
    return out
