"""`vnarchive try URL` / `try FILE --url URL`: what the crawler makes of one page (crawler.probe), for people
adding or tuning a source.  Reads the sources file, never the archive.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Annotated, Any

import typer

from crawler.cli.common import UsageFailure, expected_errors, fail, load, out, settings_for

SHOWN_LINKS = 10


def try_cmd(
    target: Annotated[str, typer.Argument(metavar="URL|FILE", show_default=False,
                                          help="A page's URL (fetched), or a saved page's file (with --url).")],
    source: Annotated[str | None, typer.Option("--source", help="Judge the page by this source's patterns and "
                                               "hints (default: the source whose allowed_domains hold the URL).",
                                               show_default=False)] = None,
    url: Annotated[str | None, typer.Option("--url", help="With FILE: the address the page was saved from.",
                                            show_default=False)] = None,
    full: Annotated[bool, typer.Option("--full", help="Print every link found and the whole text.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="One JSON object instead of text.")] = False,
    sources: Annotated[Path | None, typer.Option("--sources", help="Sources file (default: $VNARCHIVE_SOURCES "
                                                 "or the sources.toml installed with vnarchive).",
                                                 show_default=False)] = None,
) -> None:
    """Fetch one page (or read a saved one) and show its source, the patterns it matches, the links discovery
    would follow and the extraction: title, dates, author, lead, text."""
    from crawler.probe import Fetched, ProbeError, fetch, probe, source_for

    with expected_errors():
        settings = settings_for(sources=sources)
        sf = load(settings)
        if source is not None:
            sf.get(source)  # an unknown id is an error, naming the known ones
        path = Path(target)
        if "://" not in target:
            if not path.is_file():
                raise UsageFailure(f"{target}: neither a URL (http://…, https://…) nor a file")
            if not url:
                raise UsageFailure(f"{target}: give --url, the address the page was saved from (its patterns and "
                                   "links are read against it)")
            page = Fetched(url, url, 200, {}, path.read_bytes(), from_file=str(path))
        else:
            if url:
                raise UsageFailure("--url goes with a FILE, not a URL")
            try:
                page = fetch(target.strip(), settings, source_for(sf, target.strip(), source))
            except ProbeError as e:
                fail(str(e), 1)
        report = probe(page, sf, source)
    if json_:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        _print(report, full)
    if not page.from_file and report["status"] >= 400:
        raise typer.Exit(1)


def _print(r: dict[str, Any], full: bool) -> None:
    from rich.text import Text


    def line(label: str, value: str, style: str | None = None) -> None:
        t = Text(f"{label:<11}", style="dim")
        t.append(value, style=style)
        out.print(t)

    def verdict(v: dict[str, Any]) -> str:
        return v["verdict"] + (f"  (pattern {v['pattern']!r})" if v.get("pattern") else f"  ({v['why']})")

    line("url", r["url"])
    if r["source"]:
        line("source", f"{r['source']} ({r['source_name']}), chosen by {r['chosen_by']}")
    else:
        line("source", "none: no configured source's allowed_domains holds this host (default extraction hints)",
             "yellow")
    line("verdict", verdict(r["verdict"]), "bold")
    if r["file"]:
        line("read", f"{r['file']}, {r['bytes']:,} bytes")
    else:
        line("fetched", f"HTTP {r['status']}, {r['content_type'] or 'no Content-Type'}, {r['bytes']:,} bytes, "
                        f"{r['seconds']:.2f} s", "red" if r["status"] >= 400 else None)
    for hop in r["redirects"]:
        line("redirect", f"{hop} ->")
    if r["redirects"]:
        line("final", f"{r['final_url']}: {verdict(r['final_verdict'])}")
    d = r["discovery"]
    counts = ", ".join(f"{k} {n}" for k, n in sorted(d["by_verdict"].items())) or "none"
    out.print()
    out.print(Text(f"discovery: {d['links']} links ({counts})", style="bold"))
    if d["note"]:
        out.print(Text(f"  {d['note']}", style="dim"))
    for kind in ("articles", "listings"):
        shown = d[kind] if full else d[kind][:SHOWN_LINKS]
        out.print(Text(f"  {len(d[kind])} {kind[:-1]} URL{'s' if len(d[kind]) != 1 else ''} to follow"
                       + (f" (the first {len(shown)}; --full for all)" if len(shown) < len(d[kind]) else "")))
        for u in shown:
            out.print(f"    {u}", markup=False, highlight=False)
    ex = r["extraction"]
    out.print()
    if ex is None:
        out.print(Text(f"extraction: none (HTTP {r['status']}: a crawl archives no such page)", style="bold"))
        return
    out.print(Text(f"extraction ({ex['extractor_version']})", style="bold"))
    if not ex["article"]:
        line("skipped", ex["skipped"], "red")
        if ex.get("explanation"):
            out.print(Text(textwrap.fill(ex["explanation"], 100, initial_indent=" " * 11,
                                         subsequent_indent=" " * 11), style="dim"))
        return
    line("title", ex["title"], "bold")
    line("published", ex["published"] or "unknown")
    line("modified", ex["modified"] or "-")
    line("author", ex["author"] or "-")
    line("language", ex["language"] or "-")
    line("canonical", ex["canonical"] or "-")
    line("lead", ex["lead"] or "-")
    line("text", f"{ex['words']} words, {ex['paragraphs']} paragraphs"
                 + (f", {ex['decode_errors']} undecodable bytes" if ex["decode_errors"] else ""))
    text = ex["text"]
    if not full and len(text) > 1500:
        text = text[:1500].rsplit(" ", 1)[0] + " … (--full for the whole text)"
    out.print()
    out.print(Text(text))


def register(app: typer.Typer) -> None:
    app.command("try")(try_cmd)
