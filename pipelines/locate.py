"""Locating the article body: the density container, and trafilatura run on it."""

from __future__ import annotations

from typing import Any

import trafilatura

from pipelines.clean import BLOCKS, inside, link_density, text_len
from pipelines.metadata import clean_text


def density_container(root: Any, title_el: Any | None) -> Any | None:
    """The element whose direct paragraphs hold the most non-link text (readability's core idea); climbing to an
    ancestor when the prose is split between siblings (broken markup nests paragraphs in odd places)."""
    scores: dict[int, float] = {}
    elems: dict[int, Any] = {}
    prose: list[tuple[Any, int]] = []
    for p in root.iter("p", "td", "pre", "blockquote", "li", "div"):
        if p.tag in ("div", "td", "li"):
            # only text-bearing divs/cells count as paragraphs (no block children)
            if any(isinstance(c.tag, str) and c.tag in BLOCKS and c.tag != "br" for c in p):
                continue
        n = text_len(p)
        if n < 25 or link_density(p) > 0.5:
            continue
        parent = p.getparent()
        if parent is None:
            continue
        prose.append((p, n))
        for anc, w in ((parent, 1.0), (parent.getparent(), 0.3)):
            if anc is None:
                continue
            scores[id(anc)] = scores.get(id(anc), 0) + n * w
            elems[id(anc)] = anc
    if not scores:
        return None
    best = max(scores, key=lambda k: scores[k])
    if scores[best] < 150:
        return None
    el = elems[best]

    def mass(a: Any) -> int:
        return sum(n for p, n in prose if inside(p, a))

    inner = mass(el)
    for _ in range(3):
        up = el.getparent()
        if up is None or up.tag in ("body", "html"):
            break
        outer = mass(up)
        if outer < 1.5 * inner:
            break
        el, inner = up, outer
    # a table row or body is no document on its own (trafilatura loses text of a bare <tr>): the whole table
    while el.tag in ("tr", "tbody", "thead", "tfoot") and el.getparent() is not None:
        el = el.getparent()
    return el


def paragraphs(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        line = clean_text(line.strip().strip("|").replace(" | ", " ").replace("\\|", "|"))
        if line and line not in ("\xa0",):
            out.append(line)
    return out


def trafilatura_text(doc_html: str, url: str) -> str:
    text = trafilatura.extract(doc_html, url=url, include_comments=False, include_tables=True,
                               favor_recall=True, deduplicate=False, with_metadata=False, output_format="txt")
    return text or ""

