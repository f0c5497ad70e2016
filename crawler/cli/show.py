"""`vnarchive show`: one article, its versions, its text, or the archived bytes it was extracted from."""

from __future__ import annotations

import re
import sys
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from crawler.cli.common import (
    DbOpt,
    JsonOpt,
    UsageFailure,
    configured_sources,
    emit,
    expected_errors,
    fail,
    out,
    reading,
    short_time,
)

_META = re.compile(r"<meta\b[^>]*>", re.I)
_META_CHARSET = re.compile(r"(\bcharset\s*=\s*[\"']?)([^\"'\s;/>]+)", re.I)
_XML_ENCODING = re.compile(r"^(\s*<\?xml\b[^>]*?\bencoding\s*=\s*[\"'])([^\"']+)", re.I)
_HEAD = re.compile(r"<head\b[^>]*>", re.I)


def as_utf8(body: bytes, content_type: str | None) -> bytes:
    """The page decoded as the extractor decodes it (windows-1258 recognised, NFC), as UTF-8 bytes whose
    ``<meta charset>`` / ``http-equiv`` / ``<?xml encoding?>`` declarations say utf-8 (one is added after
    ``<head>`` when the page declared none), so a browser or a file reads it right."""
    from pipelines.decode import decode_html

    text = decode_html(body, content_type).text.lstrip("\ufeff")
    declared = False

    def fix_meta(m: re.Match[str]) -> str:
        nonlocal declared
        tag = m.group(0)
        if re.search(r"\bcharset\s*=", tag, re.I) and (re.match(r"<meta\s+charset", tag, re.I)
                                                       or re.search(r"http-equiv", tag, re.I)):
            declared = True
            return _META_CHARSET.sub(lambda c: c.group(1) + "utf-8", tag)
        return tag

    text = _META.sub(fix_meta, text)
    text, n_xml = _XML_ENCODING.subn(lambda m: m.group(1) + "utf-8", text)
    if not declared and not n_xml:
        head = _HEAD.search(text)
        at = head.end() if head else 0
        text = text[:at] + '<meta charset="utf-8">' + text[at:]
    return text.encode("utf-8")


def show_cmd(
    article: Annotated[str, typer.Argument(metavar="ARTICLE", help="Article id, or any URL it was seen under.",
                                           show_default=False)],
    version: Annotated[int | None, typer.Option("--version", help="This version instead of the current one.",
                                                show_default=False)] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Write the archived bytes the version was extracted from, "
                                      "exactly (their sha256 is the capture's).")] = False,
    utf8: Annotated[bool, typer.Option("--utf8", help="With --raw: the page decoded as the extractor read it, "
                                       "written as UTF-8 with its charset declaration saying so.")] = False,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Show one article: metadata, URLs, story copies, versions and text."""
    from pipelines.urls import lookup_forms
    from storage.export import iso
    from storage.reading import article_view, find_article, raw_capture
    from storage.skips import skip_of

    if utf8 and not raw:
        fail("--utf8 goes with --raw")
    with expected_errors(), reading(db) as session:
        urls, keys = lookup_forms(article, configured_sources(db))
        a = find_article(session, article, keys, urls)
        if a is None:
            skip = skip_of(session, urls)
            if skip is not None:
                under = f" under {skip.url}" if skip.url != article.strip() else ""
                raise UsageFailure(f"{article.strip()}: not archived: skipped as {skip.reason}{under} (last fetched "
                                   f"{short_time(iso(skip.last_seen))}); see `vnarchive skipped`")
            raise UsageFailure(f"no archived article has id or URL {article!r}")
        view = article_view(session, a, version)
        v = view.version
        if raw:
            if v is None:
                raise UsageFailure(f"article {a.id} has no archived version")
            cap = raw_capture(session, v)
            if cap is None:
                raise UsageFailure(f"article {a.id} version {v.number}: the page's bytes were not kept")
            # the bytes as archived (a windows-1258 page stays windows-1258, under its own <meta charset>)
            sys.stdout.flush()
            sys.stdout.buffer.write(as_utf8(cap.body, cap.content_type) if utf8 else cap.body)
            sys.stdout.buffer.flush()
            return
    if json_:
        rec: dict[str, Any] = {
            "id": a.id, "source": a.source_id, "url": a.canonical_url, "urls": view.urls, "status": a.status,
            "first_seen": iso(a.first_seen), "last_seen": iso(a.last_seen), "removed_at": iso(a.removed_at),
            "story": a.story_id, "copies": [{"id": c.id, "source": c.source_id, "url": c.canonical_url,
                                             "title": t} for c, t in view.copies],
            "events": [{"at": iso(e.at), "kind": e.kind, "detail": e.detail} for e in view.events],
            "versions": [{"number": x.number, "captured_at": iso(x.created_at), "content_sha256": x.content_sha256,
                          "capture_id": x.capture_id, "title": x.title} for x in view.versions],
        }
        if v is not None:
            rec.update(version=v.number, title=v.title, author=v.author, lead=v.lead, text=v.text,
                       published=iso(v.published, v.utc_offset_minutes),
                       modified=iso(v.modified, v.utc_offset_minutes))
        emit(rec)
        return
    out.print(Text(v.title if v else "(no version archived)", style="bold"))
    meta = Table.grid(padding=(0, 2))
    meta.add_column(style="dim")
    meta.add_column()
    meta.add_row("id", f"{a.id}   source {a.source_id}   status {a.status}" +
                 (f" since {short_time(iso(a.removed_at))}" if a.removed_at else ""))
    if v is not None:
        meta.add_row("published", short_time(iso(v.published, v.utc_offset_minutes)) if v.published else "unknown")
        if v.modified:
            meta.add_row("modified", short_time(iso(v.modified, v.utc_offset_minutes)))
        if v.author:
            meta.add_row("author", v.author)
    meta.add_row("seen", f"{short_time(iso(a.first_seen))} … {short_time(iso(a.last_seen))}")
    for i, u in enumerate(view.urls):
        meta.add_row("urls" if i == 0 else "", u)
    for i, (c, t) in enumerate(view.copies):
        meta.add_row(f"story {a.story_id}" if i == 0 else "", f"{c.id}  {c.source_id}  {t}  {c.canonical_url}")
    for e in view.events:
        meta.add_row("event", f"{short_time(iso(e.at))}  {e.kind}" + (f"  {e.detail}" if e.detail else ""))
    out.print(meta)
    vt = Table(title=f"{len(view.versions)} version{'s' if len(view.versions) != 1 else ''}", title_justify="left")
    for col in ("#", "captured", "content sha256", "title"):
        vt.add_column(col)
    for x in view.versions:
        mark = "*" if x.number == a.current_version else ""
        vt.add_row(f"{x.number}{mark}", short_time(iso(x.created_at)), x.content_sha256[:16],
                   x.title if not v or x.title != v.title else "")
    out.print(vt)
    if v is not None:
        out.print(Text(f"--- version {v.number}" + (" (current)" if v.number == a.current_version else ""),
                       style="dim"))
        for part in (v.lead, v.text):
            if part:
                out.print(Text(part))
                out.print()


def register(app: typer.Typer) -> None:
    """Add show to the vnarchive command."""
    app.command("show")(show_cmd)
