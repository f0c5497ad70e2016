"""`vnarchive history` and `vnarchive diff`: an article's versions and events, and what changed between two."""

from __future__ import annotations

import re
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from crawler.cli.common import (
    DbOpt,
    JsonOpt,
    UsageFailure,
    emit,
    expected_errors,
    out,
    reading,
    resolve_article,
)

ArticleArg = Annotated[str, typer.Argument(metavar="ARTICLE", help="Article id or any URL it was seen under.")]


def _find(session: Any, ref: str, db: str | None = None) -> Any:
    """By id or URL, through the one URL identity ``show`` uses too (common.resolve_article)."""
    from storage.history import NotFound

    a = resolve_article(session, ref, db)
    if a is None:
        raise NotFound(f"no archived article with id or URL {ref.strip()!r}")
    return a


def history(article: ArticleArg, json_: JsonOpt = False, db: DbOpt = None) -> None:
    """List an article's versions and events (removed, reappeared, moved) with their times."""
    from storage.export import iso
    from storage.history import NotFound, events, versions

    with expected_errors():
        try:
            with reading(db) as session:
                a = _find(session, article, db)
                vs, evs = versions(session, a.id), events(session, a.id)
        except NotFound as e:
            raise UsageFailure(str(e)) from None
    if json_:
        emit({"id": a.id, "source": a.source_id, "url": a.canonical_url, "status": a.status,
               "current_version": a.current_version,
               "versions": [{"number": v.number, "captured_at": iso(v.created_at), "title": v.title,
                             "words": len(v.text.split()), "content_sha256": v.content_sha256,
                             "capture_id": v.capture_id, "published": iso(v.published, v.utc_offset_minutes),
                             "modified": iso(v.modified, v.utc_offset_minutes),
                             "extractor_version": v.extractor_version} for v in vs],
               "events": [{"at": iso(ev.at), "kind": ev.kind, "detail": ev.detail} for ev in evs]})
        return
    out.print(f"article {a.id} [{a.source_id}] {a.status}: {a.canonical_url}", markup=False, highlight=False)
    t = Table()
    for c in ("version", "captured", "title", "words", "content sha256"):
        t.add_column(c)
    for v in vs:
        t.add_row(str(v.number), iso(v.created_at) or "", v.title, str(len(v.text.split())), v.content_sha256[:16])
    out.print(t)
    for ev in evs:
        out.print(f"{iso(ev.at)}  {ev.kind}" + (f"  {ev.detail}" if ev.detail else ""), markup=False, highlight=False)


def diff(
    article: ArticleArg,
    v1: Annotated[int | None, typer.Argument(help="Older version (default: the one before V2).")] = None,
    v2: Annotated[int | None, typer.Argument(help="Newer version (default: the current one).")] = None,
    color: Annotated[bool, typer.Option("--color/--no-color", help="Colour removed/added words "
                                        "(default: when writing to a terminal).")] = sys.stdout.isatty(),
    json_: Annotated[bool, typer.Option("--json", help="One JSON object: per changed field, the runs of kept (=), "
                                        "removed (-) and added (+) text.")] = False,
    db: DbOpt = None,
) -> None:
    """Show what changed between two versions of an article, word by word ([-removed-] {+added+})."""
    from storage.history import NotFound, diff_versions, version

    with expected_errors():
        try:
            with reading(db) as session:
                a = _find(session, article, db)
                new = v2 or a.current_version
                old = v1 or new - 1
                if old < 1:
                    raise UsageFailure(f"article {a.id} has only one version")
                changes = diff_versions(version(session, a.id, old), version(session, a.id, new))
        except NotFound as e:
            raise UsageFailure(str(e)) from None
    if json_:
        emit({"id": a.id, "from": old, "to": new,
               "changes": {f: [{"op": ch.op, "text": ch.text} for ch in parts] for f, parts in changes.items()}})
        return
    out.print(f"article {a.id}: version {old} -> {new}", markup=False, highlight=False)
    if not changes:
        out.print("no difference in title, lead, text, author or dates")
    marks = {"-": ("\x1b[31;9m", "\x1b[0m"), "+": ("\x1b[32;1m", "\x1b[0m")} if color else \
        {"-": ("[-", "-]"), "+": ("{+", "+}")}
    for field, parts in changes.items():
        out.print(f"\n== {field} ==", markup=False, highlight=False)
        # \x00/\x01 bracket changed words, so unchanged paragraphs can be left out of a long text
        rendered = "".join(ch.text if ch.op == "=" else "\n\n".join(f"\x00{ch.op}{piece}\x01" if piece.strip() else piece
                                                                   for piece in ch.text.split("\n\n"))
                           for ch in parts)
        paragraphs = rendered.split("\n\n")
        shown = [p for p in paragraphs if "\x00" in p]
        for i, para in enumerate(shown):
            para = re.sub(r"\x00([-+])(.*?)\x01", lambda m: marks[m[1]][0] + m[2] + marks[m[1]][1], para, flags=re.S)
            sys.stdout.write(("\n…\n" if i else "") + para + "\n")
        if len(shown) < len(paragraphs):
            out.print(f"({len(paragraphs) - len(shown)} unchanged paragraphs not shown)", highlight=False)


def register(app: typer.Typer) -> None:
    """Add history and diff to the vnarchive command."""
    app.command("history")(history)
    app.command("diff")(diff)
