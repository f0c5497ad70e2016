"""`vnarchive search`, `skipped` and `stats`: finding articles and reading the archive's health, never writing
to it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from crawler.cli.common import (
    DbOpt,
    JsonLinesOpt,
    UsageFailure,
    check_source,
    emit,
    expected_errors,
    out,
    reading,
    short_day,
    short_time,
)


def _styled(s: str, spans: list[tuple[int, int]], style: str = "bold yellow") -> Text:
    t = Text(s)
    for a, b in spans:
        t.stylize(style, a, b)
    return t


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
    json_: JsonLinesOpt = False,
    db: DbOpt = None,
) -> None:
    """Find articles by words in their title, lead or text, with or without diacritics."""

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
            emit(h.record())
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
        out.print(Text(f"     {h.source} · {short_day(rec['published'])} · id {h.id} · {h.url}", style="dim"))
        out.print(Text("     ").append_text(_styled(h.snippet, h.highlights)))
    total = max(total, len(hits))
    out.print(Text(f"{total} article{'s' if total != 1 else ''} match" + ("" if total != 1 else "es") +
                   (f"; the best {len(hits)} shown (raise --limit for more)" if total > len(hits) else ""),
                   style="dim"))


def skipped_cmd(
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Only this reason (photo_page, listing_page...); "
                                               "'language_*' for every language.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Last fetched on or after this date (YYYY-MM-DD, "
                                              "Vietnam time).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Show at most this many pages.")] = 50,
    json_: JsonLinesOpt = False,
    db: DbOpt = None,
) -> None:
    """List pages fetched but not archived as articles, newest first, with why; counts per reason."""

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
            emit(sk.record())
        return
    if not found.skips:
        out.print("no skipped page" + (" matches" if source or reason or since else ""), highlight=False)
        return
    width = max(len("source"), *(len(sk.source_id) for sk in found.skips))
    rwidth = max(len("reason"), *(len(sk.reason) for sk in found.skips))
    out.print(Text(f"{'last fetched':<23}  {'source':<{width}}  {'reason':<{rwidth}}  url", style="bold"))
    for sk in found.skips:
        out.print(f"{short_time(iso(sk.last_seen)):<23}  {sk.source_id:<{width}}  {sk.reason:<{rwidth}}  {sk.url}",
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
    json_: JsonLinesOpt = False,
    db: DbOpt = None,
) -> None:
    """Per-source health: articles, versions, removals, last crawl, last new article, failures."""
    from storage.export import iso
    from storage.reading import RECENT_RUNS, stats

    with expected_errors(), reading(db) as session:
        check_source(session, source, db)
        st = stats(session)
    if source is not None:
        st.sources = [s for s in st.sources if s.id == source]
    if json_:
        for s in st.sources:
            emit(s.record())
        if source is None:
            emit({"total": st.record()})
        return
    t = Table(title="Sources", title_justify="left")
    for col in ("source", "health", "articles", "versions", "removed", "skipped", "last crawl", "last new article",
                f"failed (last {RECENT_RUNS} runs)"):
        t.add_column(col, justify="right" if col in ("articles", "versions", "removed", "skipped") else "left")
    for s in st.sources:
        t.add_row(s.id, s.health, str(s.articles), str(s.versions), str(s.removed), str(s.skipped),
                  f"{short_day(iso(s.last_crawl))} {s.last_crawl_status or ''}".strip() or "never",
                  short_day(iso(s.last_new_article)) or "-", f"{s.failures}/{s.recent_runs}")
    out.print(t)
    if source is None:
        size = f"{st.database_bytes / 1e6:.1f} MB" if st.database_bytes is not None else "unknown"
        out.print(f"{st.articles} articles ({st.removed} removed), {st.versions} versions, {st.captures} captures, "
                  f"{st.runs} crawl runs, {st.skipped} pages skipped (`vnarchive skipped`); database {size}",
                  highlight=False)
    for s in st.sources:
        if s.last_error:
            out.print(Text(f"{s.id}: last failure: {s.last_error.splitlines()[0][:200]}", style="red"))


def register(app: typer.Typer) -> None:
    """Add search, skipped and stats to the vnarchive command."""
    app.command("search")(search_cmd)
    app.command("skipped")(skipped_cmd)
    app.command("stats")(stats_cmd)
