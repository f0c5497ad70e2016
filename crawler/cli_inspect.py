"""`vnarchive search`, `show`, `skipped`, `stats` and `serve`: looking inside the archive, never writing to it.

crawler.cli calls ``register(app)`` while it is itself being imported, so its helpers (consoles,
``expected_errors``) are imported inside the commands, at run time, not at the top of this module.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from config import SourcesError, load_sources

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from config.sources import Source

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the archive (default: $VNARCHIVE_DB "
                                           "or sqlite:///archive.db).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table.")]


@contextmanager
def reading(db: str | None) -> Iterator[Session]:
    """A read-only session on an archive whose schema is current."""
    from crawler.cli import settings_for
    from storage.migrate import check_current
    from storage.reading import open_reader

    engine = open_reader(settings_for(db).db_url)
    try:
        check_current(engine)
        with engine.connect() as conn:
            from sqlalchemy.orm import Session

            with Session(conn) as session:
                yield session
    finally:
        engine.dispose()


def _emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


def _styled(s: str, spans: list[tuple[int, int]], style: str = "bold yellow") -> Text:
    t = Text(s)
    for a, b in spans:
        t.stylize(style, a, b)
    return t


def _day(iso_value: str | None) -> str:
    return (iso_value or "")[:16].replace("T", " ")


def _time(iso_value: str | None) -> str:
    """Minutes and offset: "2024-05-01 10:00 +07:00"."""
    return f"{_day(iso_value)} {iso_value[-6:]}" if iso_value else "-"


def search_cmd(
    query: Annotated[list[str], typer.Argument(metavar="QUERY...", show_default=False,
                                               help='Words (all must appear) or "a phrase" in quotes; '
                                                    "diacritics optional.")],
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Published on or after this date (YYYY-MM-DD, "
                                              "Vietnam time).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Published on or before this date.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show at most this many articles.")] = 20,
    sort: Annotated[str, typer.Option("--sort", help="relevance (exact letters, then words side by side, then "
                                      "score) or date (newest published first).")] = "relevance",
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Find articles by words in their title, lead or text, with or without diacritics."""

    from crawler.cli import UsageFailure, expected_errors, out
    from storage.search import count, parse_day, search

    with expected_errors(), reading(db) as session:
        since_v = parse_day(since, "--since") if since else None
        until_v = parse_day(until, "--until") if until else None
        check_source(session, source, db)
        if sort not in ("relevance", "date"):
            raise UsageFailure(f"--sort is relevance or date, not {sort!r}")
        hits = search(session, " ".join(query), source=source, since=since_v, until=until_v, limit=limit,
                      sort=sort)
        total = count(session, " ".join(query), source=source, since=since_v, until=until_v) if not json_ else 0
    if json_:
        for h in hits:
            _emit(h.record())
        return
    if not hits:
        out.print("no article matches", highlight=False)
        return
    for n, h in enumerate(hits, 1):
        rec = h.record()
        head = Text(f"{n:>3}. ")
        head.append_text(_styled(h.title, h.title_highlights))
        if h.status != "live":
            head.append(f"  [{h.status}]", style="red")
        out.print(head)
        out.print(Text(f"     {h.source} · {_day(rec['published'])} · id {h.id} · {h.url}", style="dim"))
        out.print(Text("     ").append_text(_styled(h.snippet, h.highlights)))
    total = max(total, len(hits))
    out.print(Text(f"{total} article{'s' if total != 1 else ''} match" + ("" if total != 1 else "es") +
                   (f"; the best {len(hits)} shown (raise --limit for more)" if total > len(hits) else ""),
                   style="dim"))


def _lookup_forms(ref: str, db: str | None) -> tuple[list[str], list[str]]:
    """``lookup_forms`` with the configured sources (none when the sources file cannot be read)."""
    from crawler.cli import settings_for

    if "://" not in ref:
        return [], []
    try:
        sources = load_sources(settings_for(db).sources_path).sources
    except SourcesError:
        sources = ()  # the archive can be read without a sources file: the URL's generic rules only
    return lookup_forms(ref, sources)


def lookup_forms(ref: str, sources: Sequence[Source]) -> tuple[list[str], list[str]]:
    """A URL as given and as the crawler stores it (``clean_url`` with each source's parameters), and its
    identity keys (``key_for`` of each source, and the generic ``url_key``): the one identity ``show``,
    ``history``, ``diff`` and the web view's lookup find a URL by, so ``?utm_source=…``, ``?fbclid=…``,
    ``?print=1``, ``#fragment``, a mobile host or a trailing slash find the article.  Not a URL: nothing."""
    from pipelines.urls import clean_url, url_key

    ref = ref.strip()
    if "://" not in ref:
        return [], []
    urls, keys = [ref, ref.rstrip("/")], []
    try:
        urls += [clean_url(ref), *(clean_url(ref, s.ignore_params) for s in sources)]
        # pipelines.archive.key_for's rule, without importing the archiving pipeline to read a URL
        keys = [*(url_key(ref, s.ignore_params, s.host_aliases, s.case_insensitive_paths) for s in sources),
                url_key(ref)]
    except ValueError:  # not a URL after all (a bad port...): looked up as given
        pass
    return list(dict.fromkeys(urls)), list(dict.fromkeys(keys))


def resolve_article(session: Session, ref: str, db: str | None = None) -> Any:
    """The article ``ref`` (an id or any URL form) names, or None."""
    from storage.reading import find_article

    urls, keys = _lookup_forms(ref, db)
    return find_article(session, ref, keys, urls)


def check_source(session: Session, source: str | None, db: str | None = None) -> None:
    """An unknown ``--source`` is a usage error naming the archive's sources (never an empty, successful
    answer).  A source of the sources file the archive has nothing of yet is known: its answer is empty."""
    if source is None:
        return
    from sqlalchemy import select

    from crawler.cli import UsageFailure, settings_for
    from storage.models import SourceRow

    if session.get(SourceRow, source) is not None:
        return
    try:
        if source in load_sources(settings_for(db).sources_path).ids:
            return
    except SourcesError:
        pass
    known = ", ".join(session.execute(select(SourceRow.id).order_by(SourceRow.id)).scalars())
    raise UsageFailure(f"no source {source!r} in the archive (known: {known or 'none'})")


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
    json_: Annotated[bool, typer.Option("--json", help="One JSON object instead of text.")] = False,
    db: DbOpt = None,
) -> None:
    """Show one article: metadata, URLs, story copies, versions and text."""
    from crawler.cli import UsageFailure, expected_errors, fail, out
    from storage.export import iso
    from storage.reading import article_view, find_article, raw_capture
    from storage.skips import skip_of

    if utf8 and not raw:
        fail("--utf8 goes with --raw")
    with expected_errors(), reading(db) as session:
        urls, keys = _lookup_forms(article, db)
        a = find_article(session, article, keys, urls)
        if a is None:
            skip = skip_of(session, urls)
            if skip is not None:
                under = f" under {skip.url}" if skip.url != article.strip() else ""
                raise UsageFailure(f"{article.strip()}: not archived: skipped as {skip.reason}{under} (last fetched "
                                   f"{_time(iso(skip.last_seen))}); see `vnarchive skipped`")
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
        _emit(rec)
        return
    out.print(Text(v.title if v else "(no version archived)", style="bold"))
    meta = Table.grid(padding=(0, 2))
    meta.add_column(style="dim")
    meta.add_column()
    meta.add_row("id", f"{a.id}   source {a.source_id}   status {a.status}" +
                 (f" since {_time(iso(a.removed_at))}" if a.removed_at else ""))
    if v is not None:
        meta.add_row("published", _time(iso(v.published, v.utc_offset_minutes)) if v.published else "unknown")
        if v.modified:
            meta.add_row("modified", _time(iso(v.modified, v.utc_offset_minutes)))
        if v.author:
            meta.add_row("author", v.author)
    meta.add_row("seen", f"{_time(iso(a.first_seen))} … {_time(iso(a.last_seen))}")
    for i, u in enumerate(view.urls):
        meta.add_row("urls" if i == 0 else "", u)
    for i, (c, t) in enumerate(view.copies):
        meta.add_row(f"story {a.story_id}" if i == 0 else "", f"{c.id}  {c.source_id}  {t}  {c.canonical_url}")
    for e in view.events:
        meta.add_row("event", f"{_time(iso(e.at))}  {e.kind}" + (f"  {e.detail}" if e.detail else ""))
    out.print(meta)
    vt = Table(title=f"{len(view.versions)} version{'s' if len(view.versions) != 1 else ''}", title_justify="left")
    for col in ("#", "captured", "content sha256", "title"):
        vt.add_column(col)
    for x in view.versions:
        mark = "*" if x.number == a.current_version else ""
        vt.add_row(f"{x.number}{mark}", _time(iso(x.created_at)), x.content_sha256[:16],
                   x.title if not v or x.title != v.title else "")
    out.print(vt)
    if v is not None:
        out.print(Text(f"--- version {v.number}" + (" (current)" if v.number == a.current_version else ""),
                       style="dim"))
        for part in (v.lead, v.text):
            if part:
                out.print(Text(part))
                out.print()


def skipped_cmd(
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Only this reason (photo_page, listing_page...); "
                                               "'language_*' for every language.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Last fetched on or after this date (YYYY-MM-DD, "
                                              "Vietnam time).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show at most this many pages.")] = 50,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """List pages fetched but not archived as articles, newest first, with why; counts per reason."""

    from crawler.cli import expected_errors, out
    from storage.export import iso
    from storage.search import day_start, parse_day
    from storage.skips import check_reason, explain, is_doubtful, skipped

    with expected_errors(), reading(db) as session:
        since_v = day_start(parse_day(since, "--since")) if since else None
        check_source(session, source, db)
        if reason:
            check_reason(session, reason)
        found = skipped(session, source=source, reason=reason, since=since_v, limit=limit)
    if json_:
        for sk in found.skips:
            _emit(sk.record())
        return
    if not found.skips:
        out.print("no skipped page" + (" matches" if source or reason or since else ""), highlight=False)
        return
    width = max(len("source"), *(len(sk.source_id) for sk in found.skips))
    rwidth = max(len("reason"), *(len(sk.reason) for sk in found.skips))
    out.print(Text(f"{'last fetched':<23}  {'source':<{width}}  {'reason':<{rwidth}}  url", style="bold"))
    for sk in found.skips:
        out.print(f"{_time(iso(sk.last_seen)):<23}  {sk.source_id:<{width}}  {sk.reason:<{rwidth}}  {sk.url}",
                  markup=False, highlight=False)
    shown = f" (the newest {len(found.skips)}; raise --limit for more)" if found.total > len(found.skips) else ""
    out.print(f"{found.total} skipped page{'s' if found.total != 1 else ''} not archived{shown}: " +
              ", ".join(f"{r} {n}" for r, n in found.by_reason.items()), markup=False, highlight=False)
    for r in found.by_reason:
        out.print(Text(f"  {r}: {explain(r) or 'recorded by another version of vnarchive'}", style="dim"))
    if any(is_doubtful(r) for r in found.by_reason):
        out.print(Text("Some of these reasons are judgements that can be wrong: open a page to check it, then adjust "
                       "the source's extraction config or, after an upgrade, run `vnarchive reextract`.", style="dim"))


def stats_cmd(
    source: Annotated[str | None, typer.Option("--source", help="Only this source.", show_default=False)] = None,
    json_: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Per-source health: articles, versions, removals, last crawl, last new article, failures."""
    from crawler.cli import expected_errors, out
    from storage.export import iso
    from storage.reading import RECENT_RUNS, stats

    with expected_errors(), reading(db) as session:
        check_source(session, source, db)
        st = stats(session)
    if source is not None:
        st.sources = [s for s in st.sources if s.id == source]
    if json_:
        for s in st.sources:
            _emit(s.record())
        if source is None:
            _emit({"total": st.record()})
        return
    t = Table(title="Sources", title_justify="left")
    for col in ("source", "health", "articles", "versions", "removed", "skipped", "last crawl", "last new article",
                f"failed (last {RECENT_RUNS} runs)"):
        t.add_column(col, justify="right" if col in ("articles", "versions", "removed", "skipped") else "left")
    for s in st.sources:
        t.add_row(s.id, s.health, str(s.articles), str(s.versions), str(s.removed), str(s.skipped),
                  f"{_day(iso(s.last_crawl))} {s.last_crawl_status or ''}".strip() or "never",
                  _day(iso(s.last_new_article)) or "-", f"{s.failures}/{s.recent_runs}")
    out.print(t)
    if source is None:
        size = f"{st.database_bytes / 1e6:.1f} MB" if st.database_bytes is not None else "unknown"
        out.print(f"{st.articles} articles ({st.removed} removed), {st.versions} versions, {st.captures} captures, "
                  f"{st.runs} crawl runs, {st.skipped} pages skipped (`vnarchive skipped`); database {size}",
                  highlight=False)
    for s in st.sources:
        if s.last_error:
            out.print(Text(f"{s.id}: last failure: {s.last_error.splitlines()[0][:200]}", style="red"))


def serve_cmd(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    db: DbOpt = None,
) -> None:
    """Serve a read-only web view of the archive: search, browse by source and day, changes and removals
    (with Atom feeds), articles with diffs, lookup by URL, source health, and a JSON API under /api/."""
    from crawler.cli import err, expected_errors, settings_for
    from crawler.web import make_server

    with expected_errors():
        settings = settings_for(db)
        try:
            sources = load_sources(settings.sources_path).sources
        except SourcesError:
            sources = ()  # URLs are then looked up by their generic rules only, as `show` does
        server = make_server(settings.db_url, host, port, sources=sources)
    h, p = str(server.server_address[0]), server.server_address[1]
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"warning: listening on {host}: anyone who can reach it can read the archive", highlight=False)
    err.print(f"serving the archive read-only at http://{h}:{p}/ (Ctrl-C stops)", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def register(app: typer.Typer) -> None:
    """Add search, show, skipped, stats and serve to the vnarchive command."""
    app.command("search")(search_cmd)
    app.command("show")(show_cmd)
    app.command("skipped")(skipped_cmd)
    app.command("stats")(stats_cmd)
    app.command("serve")(serve_cmd)
