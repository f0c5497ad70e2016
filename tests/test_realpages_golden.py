"""Golden extraction tests on real pages as their publishers served them (tests/fixtures/realpages).

Each page (``html/<id>.html.gz``, see PROVENANCE.md there) has its hand-checked truth in ``truth.json`` (title,
body, authors, published) and in ``expectations.json`` sentences of the body that must be in the extracted
lead + text and strings of the page that must not be in title, lead or text (related headlines, newsletter
and subscribe prompts, share bars, teasers, credits the truth leaves out).  The extractor runs as a source
configured for any language would run it: config only, no hints.

The last test holds the rule "never worse than the library underneath": vnarchive's mean bag-of-token F1 over
all these pages is at least plain trafilatura's (``trafilatura.extract(html, include_comments=False)``),
both measured here with the scorer of ``../shared/acceptance/fidelity.py`` (reimplemented below, so the test
needs nothing outside the repository).
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import gzip
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import trafilatura

from config.sources import Extraction
from pipelines.extract import extract_article
from pipelines.items import Extracted, Skipped

REALPAGES = Path(__file__).resolve().parent / "fixtures" / "realpages"
TRUTH: dict[str, dict[str, Any]] = json.loads((REALPAGES / "truth.json").read_text(encoding="utf-8"))
EXPECT: dict[str, dict[str, list[str]]] = json.loads((REALPAGES / "expectations.json").read_text(encoding="utf-8"))
IDS = sorted(EXPECT)

_TOKEN = re.compile(r"[\w\u0300-\u036f]+", re.UNICODE)
_AUTHOR_SEP = re.compile(r"\s*(?:,|;| and | und | và |&)\s*")  # as the realpages scorer splits an author field


def nfc_ws(s: str) -> str:
    """NFC, whitespace runs as one space, stripped."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", s)).strip()


def norm(s: str) -> str:
    """The acceptance scorer's normalisation: NFC, whitespace collapsed, case-folded."""
    return nfc_ws(s).casefold()


def token_f1(pred: str, ref: str) -> tuple[float, float, float]:
    """Bag-of-token precision, recall and F1 over case-folded NFC word tokens (acceptance/fidelity.py)."""
    p, r = collections.Counter(_TOKEN.findall(norm(pred))), collections.Counter(_TOKEN.findall(norm(ref)))
    if not p or not r:
        return 0.0, 0.0, 0.0
    common = sum((p & r).values())
    if not common:
        return 0.0, 0.0, 0.0
    prec, rec = common / sum(p.values()), common / sum(r.values())
    return prec, rec, 2 * prec * rec / (prec + rec)


def any_language() -> Extraction:
    """The extraction settings of a source that accepts every language: ``languages = ["*"]`` where the config
    has that key, else the single ``language`` key set to a value that disables the Vietnamese-only filter."""
    setting: dict[str, Any] = (
        {"languages": ["*"]} if "languages" in Extraction.model_fields else {"language": "mul"})
    return Extraction(**setting)


def page(pid: str) -> bytes:
    return gzip.decompress((REALPAGES / "html" / f"{pid}.html.gz").read_bytes())


@functools.cache
def extracted(pid: str) -> Extracted | Skipped:
    return extract_article(page(pid), TRUTH[pid]["url"], "text/html", any_language())


@functools.cache
def plain_text(pid: str) -> str:
    return trafilatura.extract(page(pid).decode("utf-8", "replace"), include_comments=False) or ""


def _time(s: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")) if s else None


def published_problem(got: dt.datetime | None, want_s: str | None) -> str | None:
    """Why ``got`` is not the truth's publication time, or None.  An aware truth is compared as an instant, to
    the minute (less than 60 s apart, as the realpages scorer does).  A truth without offset (as some publishers
    state it) is a wall-clock time in an unknown zone: ``got`` must be that wall clock in some UTC offset (a
    whole number of quarter hours within ±14 h).  A truth of midnight without offset is a day only."""
    want = _time(want_s)
    if want is None:
        return None
    if got is None:
        return f"published: expected {want_s}, got None"
    if want.tzinfo is not None:
        ok = abs((got - want).total_seconds()) < 60
    elif want.time() == dt.time(0, 0):
        ok = got.date() == want.date()
    else:
        diff = (got.astimezone(dt.UTC).replace(tzinfo=None) - want).total_seconds()
        rest = diff % 900
        ok = abs(diff) <= 14 * 3600 + 60 and (rest < 60 or rest > 840)
    return None if ok else f"published: expected {want_s}, got {got.isoformat()}"


def author_set(names: list[str] | str | None) -> set[str]:
    if isinstance(names, str):
        names = [a for a in _AUTHOR_SEP.split(names) if a.strip()]
    return {norm(a) for a in names or []}


@pytest.mark.parametrize("pid", IDS)
def test_realpage(pid: str) -> None:
    truth, expect = TRUTH[pid], EXPECT[pid]
    result = extracted(pid)
    assert isinstance(result, Extracted), f"{pid}: not archived: {result}"
    problems: list[str] = []
    if norm(result.title) != norm(truth["title"]):
        problems.append(f"title: expected {truth['title']!r}, got {result.title!r}")
    whole = nfc_ws(f"{result.lead}\n{result.text}")
    for sentence in expect["must_contain"]:
        if nfc_ws(sentence) not in whole:
            problems.append(f"missing: {sentence!r}")
    fields = {"title": nfc_ws(result.title), "lead": nfc_ws(result.lead), "text": nfc_ws(result.text)}
    for phrase in expect["must_not_contain"]:
        where = [k for k, v in fields.items() if nfc_ws(phrase) in v]
        if where:
            problems.append(f"not article text, kept in {'/'.join(where)}: {phrase!r}")
    if truth.get("authors") and author_set(result.author) != author_set(truth["authors"]):
        problems.append(f"authors: expected {truth['authors']!r}, got {result.author!r}")
    why = published_problem(result.published, truth.get("published"))
    if why:
        problems.append(why)
    assert not problems, f"{pid}:\n  " + "\n  ".join(problems)


def test_expectations_are_consistent() -> None:
    """Every fixture page has its truth and expectations; no must-not-contain string is article text."""
    pages = {p.name[: -len(".html.gz")] for p in (REALPAGES / "html").glob("*.html.gz")}
    assert pages == set(TRUTH) == set(EXPECT)
    for pid in IDS:
        truth = norm(TRUTH[pid]["body"] + "\n" + TRUTH[pid]["title"])
        assert 3 <= len(EXPECT[pid]["must_contain"]) <= 4, pid
        assert 2 <= len(EXPECT[pid]["must_not_contain"]) <= 4, pid
        for s in EXPECT[pid]["must_contain"]:
            assert norm(s) in truth, (pid, s)
        for s in EXPECT[pid]["must_not_contain"]:
            assert norm(s) not in truth, (pid, s)


def test_never_worse_than_plain_trafilatura() -> None:
    """Mean token F1 of lead + text against the truth body over all fixture pages (a page not archived scores
    0) is at least what plain trafilatura scores on the same pages, measured in this run."""
    ours: dict[str, float] = {}
    plain: dict[str, float] = {}
    for pid in IDS:
        ex = extracted(pid)
        pred = "\n".join(x for x in (ex.lead, ex.text) if x) if isinstance(ex, Extracted) else ""
        ours[pid] = token_f1(pred, TRUTH[pid]["body"])[2]
        plain[pid] = token_f1(plain_text(pid), TRUTH[pid]["body"])[2]
    mean_ours, mean_plain = sum(ours.values()) / len(ours), sum(plain.values()) / len(plain)
    worse = sorted((ours[p] - plain[p], p) for p in IDS if ours[p] < plain[p] - 0.02)
    detail = ", ".join(f"{p} {ours[p]:.3f} < {plain[p]:.3f}" for _, p in worse)
    assert mean_ours >= mean_plain, (
        f"vnarchive mean F1 {mean_ours:.4f} < plain trafilatura {mean_plain:.4f} on {len(IDS)} pages; "
        f"worse on: {detail}")
