"""Full-text search over the current version of every article, with or without Vietnamese diacritics.

The index is kept by database triggers (migration 0002: FTS5 on SQLite, tsvector/GIN on PostgreSQL), so it is
in step with every write that commits.  This module only reads it:

- ``parse_query`` turns what a person typed into terms: words (all must appear) and "quoted phrases".  Any
  Unicode form works (NFC first).  A query typed without marks matches every accented form ("Da Nang" finds
  "Đà Nẵng"); a query typed with marks matches exactly its words ("bà" does not find "bá", and in "triển
  khai" the bare "khai" does not find "khái").  Nothing the user types reaches FTS5's query language: every
  word is quoted, so AND, NEAR, *, ^ or : are only text.
- ``search`` ranks matches found with the letters as typed before those found only by folding, the words
  side by side before the words apart, then by bm25 (SQLite) or ts_rank (PostgreSQL), title above lead above
  text, and returns ``Hit`` records with a snippet whose matches are located in Python, identically on both
  backends; ``count`` is their total, for paging.  On SQLite a broad query (over ``RANK_WINDOW`` matches) ranks
  its newest matches by the tiers alone (bm25's cost grows with the archive; see ``RANK_WINDOW``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session

from storage.export import VN_TZ, iso
from storage.fold import exact, fold, has_marks, nfc, tokens
from storage.models import Article, Version

# bm25 column weights (title, lead, text); ts_rank uses the A/B/D weights set by the PostgreSQL trigger
WEIGHTS = (10.0, 4.0, 1.0)
MAX_WORDS = 32
MAX_LIMIT = 10_000
MAX_OFFSET = 1_000_000
# typographic quotes people paste from Vietnamese pages count as quotes
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})


class QueryError(ValueError):
    """A query that cannot be searched (nothing to search for, too long): its message is for the user."""


@dataclass(slots=True, frozen=True)
class Term:
    """One word, or the words of one quoted phrase (NFC, as typed)."""

    words: tuple[str, ...]
    phrase: bool = False



@dataclass(slots=True, frozen=True)
class Query:
    """Typed with a diacritic or đ anywhere ("triển khai"): every word is matched as typed, since people who
    type marks type them all, and "khai" then means khai, not khái.  Typed without any: every word folded."""

    terms: tuple[Term, ...]

    @property
    def words(self) -> list[str]:
        return [w for t in self.terms for w in t.words]

    @property
    def accented(self) -> bool:
        return any(has_marks(w) for w in self.words)

    def index_terms(self) -> list[str]:
        """The terms as the index to search holds them: exact (NFC, casefolded) if accented, else folded."""
        form = exact if self.accented else fold
        return [" ".join(form(w) for w in t.words) for t in self.terms]

    def exact_terms(self) -> list[str]:
        """The terms as the exact index holds them (NFC, casefolded, marks kept): for a query typed without
        marks, the articles that have these letters as typed, ranked before those found only by folding."""
        return [" ".join(exact(w) for w in t.words) for t in self.terms]

    def boost_phrase(self) -> str | None:
        """Unquoted words are ANDed; the same words side by side rank higher (as a phrase)."""
        if len(self.terms) > 1 and not any(t.phrase for t in self.terms):
            return " ".join(self.index_terms())
        return None


def parse_query(raw: str) -> Query:
    """Words and "quoted phrases"; an unmatched quote is ignored, punctuation separates words."""
    s = nfc(raw).translate(_QUOTES)
    parts = s.split('"')
    if len(parts) % 2 == 0:  # odd number of quotes: the last one opens nothing
        parts[-2:] = [parts[-2] + " " + parts[-1]]
    terms: list[Term] = []
    for i, part in enumerate(parts):
        words = tokens(part)
        if not words:
            continue
        if i % 2 == 1 and len(words) > 1:
            terms.append(Term(tuple(words), phrase=True))
        else:
            terms.extend(Term((w,)) for w in words)
    n = sum(len(t.words) for t in terms)
    if n == 0:
        raise QueryError(f"nothing to search for in {raw!r}: give words, or \"a phrase\" in quotes")
    if n > MAX_WORDS:
        raise QueryError(f"the query has {n} words; at most {MAX_WORDS} are searched")
    return Query(tuple(dict.fromkeys(terms)))


def fts5_string(words: str) -> str:
    """A quoted FTS5 string: the only way user text enters a MATCH expression."""
    return '"' + words.replace('"', '""') + '"'


def fts5_and(terms: Sequence[str]) -> str:
    return " AND ".join(fts5_string(t) for t in terms)


# ---------------------------------------------------------------- highlighting, the same on every backend

def _letter_classes() -> dict[str, str]:
    """ASCII letter -> regex class of every precomposed Latin letter that folds to it ("d" -> [dDđĐ...])."""
    variants: dict[str, set[str]] = {}
    for lo, hi in ((0x41, 0x7B), (0xC0, 0x250), (0x1E00, 0x1F00)):
        for cp in range(lo, hi):
            ch = chr(cp)
            f = fold(ch)
            if len(f) == 1 and f.isascii() and f.isalpha():
                variants.setdefault(f, set()).update({ch, ch.lower(), ch.upper()})
    return {k: "[" + "".join(sorted(re.escape(c) for c in v if len(c) == 1)) + "]" for k, v in variants.items()}


_CLASSES = _letter_classes()
_SEP = r"[\W_]+"


def _word_pattern(word: str, marked: bool) -> str:
    if marked:
        return re.escape(exact(word))
    return "".join(_CLASSES.get(ch, re.escape(ch)) for ch in fold(word))


@dataclass(slots=True)
class Highlighter:
    """Finds where a query matched in a text: folded words match any accents, accented ones only themselves."""

    query: Query
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        marked = self.query.accented
        alts = [_SEP.join(_word_pattern(w, marked) for w in t.words) for t in self.query.terms]
        alts.sort(key=len, reverse=True)
        self.regex = re.compile(r"(?<![^\W_])(?:" + "|".join(alts) + r")(?![^\W_])", re.IGNORECASE)

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in self.regex.finditer(text)]

    def snippet(self, text: str, width: int = 240) -> tuple[str, list[tuple[int, int]]]:
        """A one-line excerpt around the densest matches, and where the matches are in it."""
        matches = list(self.regex.finditer(text))[:200]
        keys = [fold(m.group()) for m in matches]
        start = 0
        if matches:
            best, best_n = matches[0].start(), 0
            for m in matches:
                lo = max(0, m.start() - width // 4)
                seen = {k for x, k in zip(matches, keys, strict=True) if lo <= x.start() and x.end() <= lo + width}
                if len(seen) > best_n:
                    best, best_n = lo, len(seen)
            start = best
        end = min(len(text), start + width)
        # widen to whole words
        while start > 0 and not text[start - 1].isspace() and start > end - width - 40:
            start -= 1
        while end < len(text) and not text[end].isspace() and end < start + width + 40:
            end += 1
        body = " ".join(text[start:end].split())
        out = ("… " if start > 0 else "") + body + (" …" if end < len(text) else "")
        return out, self.spans(out)


# ---------------------------------------------------------------- results

@dataclass(slots=True)
class Hit:
    id: int
    source: str
    url: str
    title: str
    published: dt.datetime | None
    utc_offset_minutes: int | None
    status: str
    version: int
    score: float
    snippet: str
    highlights: list[tuple[int, int]]
    title_highlights: list[tuple[int, int]]
    match: str = "exact"  # "exact": found with the letters as typed; "folded": only once diacritics were ignored

    def record(self) -> dict[str, Any]:
        """The JSON form (one object per line in ``vnarchive search --json``)."""
        return {"id": self.id, "source": self.source, "url": self.url, "title": self.title,
                "published": iso(self.published, self.utc_offset_minutes), "status": self.status,
                "version": self.version, "score": round(self.score, 4), "match": self.match,
                "snippet": self.snippet, "highlights": [list(s) for s in self.highlights]}


def day_start(value: dt.date | dt.datetime) -> dt.datetime:
    """A date means its first moment in Vietnam; a naive datetime is Vietnam time too."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=VN_TZ)
    return dt.datetime.combine(value, dt.time(), VN_TZ)


def day_end(value: dt.date | dt.datetime) -> dt.datetime:
    """Exclusive upper bound: a date includes its whole (Vietnamese) day."""
    if isinstance(value, dt.datetime):
        return day_start(value)
    return day_start(value + dt.timedelta(days=1))


def parse_day(value: str, option: str = "date") -> dt.date | dt.datetime:
    """``2024-05-31`` or an ISO date-time; a clear error otherwise."""
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{option}: expected a date like 2024-05-31 (or an ISO date-time), not {value!r}") from None


def _filters(source: str | None, since: dt.date | dt.datetime | None,
             until: dt.date | dt.datetime | None) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if source:
        filters.append(Article.source_id == source)
    when = func.coalesce(Article.published, Article.first_seen)
    if since is not None:
        filters.append(when >= day_start(since))
    if until is not None:
        filters.append(when < day_end(until))
    return filters


SORTS = ("relevance", "date")


def search(session: Session, query: str | Query, source: str | None = None,
           since: dt.date | dt.datetime | None = None, until: dt.date | dt.datetime | None = None,
           limit: int = 20, offset: int = 0, sort: str = "relevance") -> list[Hit]:
    """The best ``limit`` current articles for ``query`` after the first ``offset``, best first (removed
    articles included).  Best first means: found with the letters as typed before found only by folding
    ("da nang" written without marks before "Đà Nẵng"; a query typed with marks is only ever exact), then
    the words side by side before the words apart, then by score (bm25 / ts_rank, title above lead above text).
    ``sort="date"``: newest published first instead (articles without a date last)."""
    q = parse_query(query) if isinstance(query, str) else query
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    if not 0 <= offset <= MAX_OFFSET:
        raise ValueError(f"offset must be between 0 and {MAX_OFFSET}, not {offset}")
    filters = _filters(source, since, until)
    dialect = session.get_bind().dialect.name
    ranked = (_ranked_postgresql if dialect == "postgresql" else _ranked_sqlite)(session, q, filters, limit, offset,
                                                                                 sort)
    if not ranked:
        return []
    rows = session.execute(
        select(Article, Version)
        .join(Version, and_(Version.article_id == Article.id, Version.number == Article.current_version))
        .where(Article.id.in_([i for i, _, _ in ranked]))
    ).all()
    by_id = {a.id: (a, v) for a, v in rows}
    hl = Highlighter(q)
    hits = []
    for aid, score, is_exact in ranked:
        if aid not in by_id:
            continue
        a, v = by_id[aid]
        body = "\n".join(p for p in (v.lead, v.text) if p)
        snippet, spans = hl.snippet(body)
        hits.append(Hit(id=a.id, source=a.source_id, url=a.canonical_url, title=v.title,
                        published=v.published or a.published, utc_offset_minutes=v.utc_offset_minutes,
                        status=a.status, version=v.number, score=score, snippet=snippet, highlights=spans,
                        title_highlights=hl.spans(v.title), match="exact" if is_exact else "folded"))
    return hits


def count(session: Session, query: str | Query, source: str | None = None,
          since: dt.date | dt.datetime | None = None, until: dt.date | dt.datetime | None = None) -> int:
    """How many current articles ``search`` would find for ``query`` in all (its total, for paging)."""
    q = parse_query(query) if isinstance(query, str) else query
    filters = _filters(source, since, until)
    if session.get_bind().dialect.name == "postgresql":
        docs = table("search_docs", column("article_id", Integer), column("folded"), column("exact"))
        vector = docs.c.exact if q.accented else docs.c.folded
        stmt = select(func.count()).select_from(docs).where(vector.op("@@")(_tsquery(q.index_terms())))
        if filters:
            stmt = stmt.join(Article, Article.id == docs.c.article_id).where(*filters)
    else:
        name = "search_exact" if q.accented else "search_folded"
        fts = table(name, column("rowid", Integer))
        stmt = (select(func.count()).select_from(fts)
                .where(literal_column(name).op("MATCH")(literal(fts5_and(q.index_terms())))))
        if filters:
            stmt = stmt.join(Article, Article.id == fts.c.rowid).where(*filters)
    return int(session.execute(stmt).scalar_one())


def _fts5_rows(name: str, match: str, param: str, newest_from: int | None = None) -> Any:
    """``SELECT rowid FROM name(match)``: a tier's membership test (FTS5's table-valued form; ``name`` is ours,
    ``match`` a bound parameter), within the ranking window when there is one (FTS5 reads only that rowid
    range of its doclists)."""
    if newest_from is None:
        return text(f"SELECT rowid FROM {name}(:{param})").bindparams(**{param: match}).columns(column("rowid", Integer))
    return (text(f"SELECT rowid FROM {name}(:{param}) WHERE rowid >= :{param}_from")
            .bindparams(**{param: match, f"{param}_from": newest_from}).columns(column("rowid", Integer)))


# bm25 reads, for each word of the query, its whole doclist (to weigh rare words above common ones), so its cost
# grows with the archive: a query for common words costs a full scan of their lists however few rows it ranks.
# Past RANK_WINDOW matches (a broad query) the newest RANK_WINDOW matches (articles are numbered as they are first
# archived) are ranked by tiers alone, which FTS5 reads within that rowid range: the letters as typed, the words
# side by side, the words in the title, in the lead, then newest first.  Its cost no longer grows with the
# archive; older matches still count and come out of ``sort="date"`` and deeper pages (which rank every match).
RANK_WINDOW = 1000
# the windowed order's score: the tiers an article is in, as points (higher is better, like bm25's here)
TIER_POINTS = (8.0, 4.0, 2.0, 1.0)


def _window(session: Session, name: str, match: str, filters: list[ColumnElement[bool]],
            depth: int) -> tuple[int | None, int | None]:
    """(the smallest article id of the newest RANK_WINDOW matches, how many matches were seen): the first is
    None when the query matches fewer (then every match is ranked, and the second says how many: 0 is no
    answer at all) or when the page asked for lies deeper (both None).  FTS5 walks its doclists newest first
    and stops at the window's end."""
    if depth > RANK_WINDOW:
        return None, None
    fts = table(name, column("rowid", Integer))
    stmt = select(fts.c.rowid).select_from(fts).where(literal_column(name).op("MATCH")(literal(match)))
    if filters:
        stmt = stmt.join(Article, Article.id == fts.c.rowid).where(*filters)
    ids = list(session.execute(stmt.order_by(fts.c.rowid.desc()).limit(RANK_WINDOW)).scalars())
    return (int(ids[-1]) if len(ids) == RANK_WINDOW else None), len(ids)


def _by_date(stmt: Any, article_id: Any, joined: bool) -> Any:
    """Newest published first, undated last, then the newest article."""
    if not joined:
        stmt = stmt.join(Article, Article.id == article_id)
    return stmt.order_by(Article.published.desc().nulls_last(), article_id.desc())


def _ranked_sqlite(session: Session, q: Query, filters: list[ColumnElement[bool]],
                   limit: int, offset: int, sort: str = "relevance") -> list[tuple[int, float, bool]]:
    name = "search_exact" if q.accented else "search_folded"
    fts = table(name, column("rowid", Integer))
    words = fts5_and(q.index_terms())
    boost = q.boost_phrase()
    start, seen = _window(session, name, words, filters, offset + limit) if sort != "date" else (None, None)
    if seen == 0:
        return []  # no match: the ranking query would read the same doclists again to find none
    exact_tier: ColumnElement[Any] = literal(True) if q.accented else \
        fts.c.rowid.in_(_fts5_rows("search_exact", fts5_and(q.exact_terms()), "exact_tier", start))
    phrase_tier: ColumnElement[Any] = fts.c.rowid.in_(_fts5_rows(name, fts5_string(boost), "phrase_tier", start)) \
        if boost else literal(False)
    if start is not None:
        in_title = fts.c.rowid.in_(_fts5_rows(name, "{title} : (" + words + ")", "title_tier", start))
        in_lead = fts.c.rowid.in_(_fts5_rows(name, "{lead} : (" + words + ")", "lead_tier", start))
        tiers = (exact_tier, phrase_tier, in_title, in_lead)
        stmt = (select(fts.c.rowid, *(t.label(f"t{i}") for i, t in enumerate(tiers)))
                .select_from(fts).where(literal_column(name).op("MATCH")(literal(words)), fts.c.rowid >= start))
        if filters:
            stmt = stmt.join(Article, Article.id == fts.c.rowid).where(*filters)
        stmt = (stmt.order_by(*(literal_column(f"t{i}").desc() for i in range(len(tiers))), fts.c.rowid.desc())
                .limit(limit).offset(offset))
        return [(int(i), sum(p for p, t in zip(TIER_POINTS, ts, strict=True) if t), bool(ts[0]))
                for i, *ts in session.execute(stmt)]
    # bm25 sums over phrases: the boosted match (same rows as the AND) scores adjacent words higher
    match = f"({fts5_string(boost)}) OR ({words})" if boost else words
    score = func.bm25(literal_column(name), *WEIGHTS)
    stmt = (select(fts.c.rowid, score.label("score"), exact_tier.label("exact"), phrase_tier.label("phrase"))
            .select_from(fts).where(literal_column(name).op("MATCH")(literal(match))))
    if filters:
        stmt = stmt.join(Article, Article.id == fts.c.rowid).where(*filters)
    if sort == "date":
        stmt = _by_date(stmt, fts.c.rowid, bool(filters)).limit(limit).offset(offset)
    else:
        stmt = (stmt.order_by(literal_column("exact").desc(), literal_column("phrase").desc(),
                              literal_column("score"), fts.c.rowid).limit(limit).offset(offset))
    # bm25 is lower-is-better; report higher-is-better like ts_rank
    return [(int(i), -float(s), bool(e)) for i, s, e, _ in session.execute(stmt)]


def _tsquery(terms: Sequence[str]) -> ColumnElement[Any]:
    simple: ColumnElement[Any] = literal_column("'simple'::regconfig")
    parts: list[ColumnElement[Any]] = [func.phraseto_tsquery(simple, literal(t)) for t in terms]
    return reduce(lambda a, b: a.op("&&")(b), parts)


def _ranked_postgresql(session: Session, q: Query, filters: list[ColumnElement[bool]],
                       limit: int, offset: int, sort: str = "relevance") -> list[tuple[int, float, bool]]:
    docs = table("search_docs", column("article_id", Integer), column("folded"), column("exact"))
    vector = docs.c.exact if q.accented else docs.c.folded
    tsq = _tsquery(q.index_terms())
    score: ColumnElement[Any] = func.ts_rank(vector, tsq)
    boost = q.boost_phrase()
    phrase_tier: ColumnElement[Any] = literal(False)
    if boost:
        score = score + func.ts_rank(vector, _tsquery([boost]))
        phrase_tier = vector.op("@@")(_tsquery([boost]))
    exact_tier: ColumnElement[Any] = literal(True) if q.accented else \
        docs.c.exact.op("@@")(_tsquery(q.exact_terms()))
    stmt = (select(docs.c.article_id, score.label("score"), exact_tier.label("exact"), phrase_tier.label("phrase"))
            .where(vector.op("@@")(tsq)))
    if filters:
        stmt = stmt.join(Article, Article.id == docs.c.article_id).where(*filters)
    if sort == "date":
        stmt = _by_date(stmt, docs.c.article_id, bool(filters)).limit(limit).offset(offset)
    else:
        stmt = (stmt.order_by(literal_column("exact").desc(), literal_column("phrase").desc(),
                              literal_column("score").desc(), docs.c.article_id).limit(limit).offset(offset))
    return [(int(i), float(s), bool(e)) for i, s, e, _ in session.execute(stmt)]


# ---------------------------------------------------------------- maintenance

def rebuild(session: Session) -> None:
    """Re-create the index from the archive (after a restore, or a bulk load with triggers off)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("DELETE FROM search_docs"))
        session.execute(text("SELECT search_reindex(id) FROM articles WHERE current_version > 0"))
        return
    for t in ("search_exact", "search_folded"):
        session.execute(text(f"INSERT INTO {t}({t}) VALUES('rebuild')"))


def check(session: Session) -> None:
    """Raise if the SQLite index disagrees with the archive (FTS5 integrity-check); no-op on PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return
    for t in ("search_exact", "search_folded"):
        session.execute(text(f"INSERT INTO {t}({t}, rank) VALUES('integrity-check', 1)"))
