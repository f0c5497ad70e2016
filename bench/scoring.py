"""The acceptance scores, so bench figures and acceptance figures are the same numbers.

``norm``, ``tokens``, ``reference_text``, ``token_f1`` and ``leaked_boilerplate`` come from
``../shared/acceptance/fidelity.py`` when it is there (the exact scoring), else from the copies below.
``predicted_text``, ``date_ok`` and ``url_index`` mirror the small helpers of ``accept.py``.
"""

from __future__ import annotations

import collections
import datetime as dt
import importlib.util
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ACCEPTANCE = Path(__file__).resolve().parents[2] / "shared" / "acceptance" / "fidelity.py"


def _load_shared() -> ModuleType | None:
    if not ACCEPTANCE.exists():
        return None
    spec = importlib.util.spec_from_file_location("vnweb_acceptance_fidelity", ACCEPTANCE)
    if spec is None or spec.loader is None:
        return None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------- copies (used only without ../shared)
_TOKEN = re.compile(r"[\w\u0300-\u036f]+", re.UNICODE)


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", s)).strip().casefold()


def _tokens(s: str) -> list[str]:
    return _TOKEN.findall(_norm(s))


def _reference_text(rec: dict[str, Any]) -> str:
    parts = [rec.get("lead") or ""] + list(rec.get("body") or []) + list(rec.get("captions") or [])
    return "\n".join(p for p in parts if p)


def _token_f1(pred: str, ref: str) -> tuple[float, float, float]:
    p, r = collections.Counter(_tokens(pred)), collections.Counter(_tokens(ref))
    if not p or not r:
        return 0.0, 0.0, 0.0
    common = sum((p & r).values())
    if not common:
        return 0.0, 0.0, 0.0
    prec, rec = common / sum(p.values()), common / sum(r.values())
    return prec, rec, 2 * prec * rec / (prec + rec)


def _leaked_boilerplate(pred: str, rec: dict[str, Any]) -> list[str]:
    article = _norm(_reference_text(rec) + "\n" + (rec.get("title") or "") + "\n" + (rec.get("author") or ""))
    lines = {_norm(line.strip(" |")) for line in pred.splitlines() if line.strip(" |")}
    whole = _norm(pred)
    out = []
    for b in rec.get("boilerplate") or []:
        nb = _norm(b)
        if len(nb) < 2 or nb in article:
            continue
        if nb in lines or (len(nb) >= 20 and nb in whole):
            out.append(b)
    return out


_shared = _load_shared()
SOURCE = str(ACCEPTANCE) if _shared else "bench/scoring.py (copy)"
norm: Callable[[str], str] = _shared.norm if _shared else _norm
tokens: Callable[[str], list[str]] = _shared.tokens if _shared else _tokens
reference_text: Callable[[dict[str, Any]], str] = _shared.reference_text if _shared else _reference_text
token_f1: Callable[[str, str], tuple[float, float, float]] = _shared.token_f1 if _shared else _token_f1
leaked_boilerplate: Callable[[str, dict[str, Any]], list[str]] = (
    _shared.leaked_boilerplate if _shared else _leaked_boilerplate)


# ---------------------------------------------------------------- as accept.py does it
VN = dt.timezone(dt.timedelta(hours=7))
SHOWS_TIME = {"tgvn", "tinh", "bao"}  # mps pages state the date only


def predicted_text(row: dict[str, Any]) -> str:
    text = "\n".join(p for p in [row.get("lead") or "", row.get("text") or ""] if p)
    author = norm(row.get("author") or "")
    # a byline kept as the last line of the text is neither rewarded nor penalised
    return "\n".join(line for line in text.splitlines() if not author or norm(line) != author)


def when(s: str | None) -> dt.datetime | None:
    if not s:
        return None
    try:
        d = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else None


def date_ok(row: dict[str, Any], rec: dict[str, Any], shows_time: set[str] | None = None) -> bool:
    got, want = when(row.get("published")), when(rec["published"])
    if not got or not want:
        return False
    got, want = got.astimezone(VN), want.astimezone(VN)
    if rec["site"] in (SHOWS_TIME if shows_time is None else shows_time):
        return got.replace(second=0, microsecond=0) == want.replace(second=0, microsecond=0)
    return got.date() == want.date()


def url_index(truth: list[dict[str, Any]]) -> dict[str, str]:
    """Every URL of a current truth article -> its article_id."""
    idx: dict[str, str] = {}
    for r in truth:
        if not r["current"]:
            continue
        for u in [r["canonical_url"], *r.get("url_variants", []), *r.get("previous_urls", [])]:
            idx[u] = r["article_id"]
            idx[u.rstrip("/")] = r["article_id"]
    return idx


def live(truth: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in truth if r["current"] and r.get("http_status") == 200 and not r.get("hostile")]
