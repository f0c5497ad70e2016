"""`vnarchive crawl` (here, or enqueued for workers with --queue) and `vnarchive sources`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from crawler.cli.common import DbOpt, SourcesOpt, UsageFailure, err, expected_errors, load, out, settings_for
from crawler.cli.worker import crawl_queued


def crawl(
    source_ids: Annotated[list[str] | None, typer.Argument(metavar="SOURCE...", help="Source ids to crawl.",
                                                           show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Crawl every configured source.")] = False,
    trigger: Annotated[str, typer.Option(help="Recorded with the run: manual, schedule or run-now.",
                                         hidden=True)] = "manual",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress display.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log Scrapy's progress to stderr.")] = False,
    queue: Annotated[bool, typer.Option("--queue", help="Enqueue one job per source for `vnarchive worker`s "
                                        "($VNARCHIVE_BROKER) instead of crawling here.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="With --queue: wait until the jobs end; exit 0 only if "
                                       "every one finished.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The summary as one JSON object per source (the run's "
                                          "fields as `runs --json` names them, errors by kind).")] = False,
    db: DbOpt = None,
    sources: SourcesOpt = None,
) -> None:
    """Crawl sources into the archive, then print a summary."""
    from crawler.progress import Progress, print_summary
    from crawler.runner import crawl as run
    from crawler.runner import exit_code

    with expected_errors():
        settings = settings_for(db, sources)
        sf = load(settings)
        if all_ == bool(source_ids):
            raise UsageFailure("name sources to crawl or give --all (not both)" if all_ else
                               f"name sources to crawl or give --all; configured: {', '.join(sf.ids)}")
        chosen = list(sf.sources) if all_ else [sf.get(i) for i in dict.fromkeys(source_ids or [])]
        if wait and not queue:
            raise UsageFailure("--wait goes with --queue")
        if queue:
            code = crawl_queued(settings, chosen, trigger, wait)
    if queue:
        raise typer.Exit(code)
    with expected_errors():
        show = not quiet and err.is_terminal
        results = run(settings, chosen, trigger=trigger, progress=(lambda c: Progress(c, err)) if show else None,
                      log_level="INFO" if verbose else "WARNING")
    if as_json:
        for r in results:
            print(json.dumps(summary_record(r), ensure_ascii=False))
    else:
        print_summary(results, out)
    raise typer.Exit(exit_code(results))


def summary_record(r: Any) -> dict[str, Any]:
    """A crawl's result for one source, as ``crawl --json`` prints it."""
    return {"id": r.run_id, "source": r.source_id, "status": r.status, "finish_reason": r.finish_reason,
            "pages": r.pages, "new": r.new, "updated": r.updated, "unchanged": r.unchanged,
            "not_modified": r.not_modified, "removed": r.removed, "moved": r.moved, "skipped": r.skipped,
            "errors": r.errors, "seconds": round(r.elapsed, 1), "error": r.failure, "log_file": r.log_file}


def sources_cmd(
    json_: Annotated[bool, typer.Option("--json", help="One JSON object per source.")] = False,
    sources: SourcesOpt = None,
) -> None:
    """List and validate the configured sources."""
    with expected_errors():
        sf = load(settings_for(sources=sources))
    if json_:
        for s in sf.sources:
            out.print(json.dumps(s.model_dump(mode="json"), ensure_ascii=False), markup=False, highlight=False)
        return
    t = Table(title=f"{len(sf.sources)} sources in {sf.path} (valid)")
    for col in ("id", "name", "domains", "entry points", "schedule (Asia/Ho_Chi_Minh)"):
        t.add_column(col)
    for s in sf.sources:
        entry = f"{len(s.start_urls)} listings, {len(s.feeds)} feeds, {len(s.sitemaps)} sitemaps"
        t.add_row(s.id, s.name, ", ".join(s.allowed_domains), entry, s.schedule)
    out.print(t)


def register(app: typer.Typer) -> None:
    """Add crawl and sources to the vnarchive command."""
    app.command("crawl")(crawl)
    app.command("sources")(sources_cmd)
