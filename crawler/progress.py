"""The live crawl display and the end-of-crawl summary (rich)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from crawler.runner import SourceResult

COLUMNS = ("source", "fetched", "queued", "new", "updated", "unchanged", "skipped", "errors", "state")


def _queued(crawler: Any) -> int:
    """Requests waiting in the crawler's scheduler (0 once it is closed, or before it opens)."""
    try:
        return len(crawler.engine._slot.scheduler)  # Scrapy's engine keeps its scheduler on the slot
    except (AttributeError, TypeError):
        return 0


def _row(crawler: Any) -> list[int]:
    st = crawler.stats.get_stats() if crawler.stats else {}
    errs = sum(v for k, v in st.items() if k.startswith(("downloader/exception_type_count/", "archive/errors/",
                                                         "scope/")))
    return [int(st.get("response_received_count", 0)), _queued(crawler), int(st.get("archive/new", 0)),
            int(st.get("archive/updated", 0)),
            int(st.get("archive/unchanged", 0) + st.get("archive/not_modified", 0)),
            int(st.get("archive/skipped", 0)), int(errs)]


class Progress:
    """A table of per-source counters read from the crawlers' stats, and their totals, refreshed twice a second."""

    def __init__(self, crawlers: list[tuple[Any, Any]], console: Console) -> None:
        self.crawlers = crawlers
        self.t0 = time.monotonic()
        self.live = Live(get_renderable=self.render, console=console, refresh_per_second=2, transient=True)

    def render(self) -> Table:
        t = Table(title=f"crawling… {time.monotonic() - self.t0:.0f} s")
        for c in COLUMNS:
            t.add_column(c, justify="left" if c in ("source", "state") else "right")
        totals = [0] * (len(COLUMNS) - 2)
        for src, crawler in self.crawlers:
            row = _row(crawler)
            totals = [a + b for a, b in zip(totals, row, strict=True)]
            st = crawler.stats.get_stats() if crawler.stats else {}
            state = st.get("finish_reason") or ("running" if st else "starting")
            t.add_row(src.id, *map(str, row), state)
        if len(self.crawlers) > 1:
            t.add_section()
            t.add_row("all", *map(str, totals), "")
        return t

    def __enter__(self) -> Progress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.__exit__(*exc)


def print_summary(results: list[SourceResult], console: Console) -> None:
    t = Table(title="crawl summary")
    for c in ("source", "status", "pages", "new", "updated", "unchanged", "removed", "moved", "skipped", "time"):
        t.add_column(c, justify="left" if c in ("source", "status") else "right")
    for r in results:
        t.add_row(r.source_id, r.status, str(r.pages), str(r.new), str(r.updated), str(r.unchanged + r.not_modified),
                  str(r.removed), str(r.moved), str(r.skipped), f"{r.elapsed:.0f} s")
    console.print(t)
    for r in results:
        if r.status != "finished":
            # in plain words: "mps: failed: nothing could be reached: 4 requests, 4 given up (timeout ×4)"
            why = r.failure or (f"finish reason: {r.finish_reason}" if r.finish_reason else "")
            console.print(f"{r.source_id}: {r.status}" + (f": {why}" if why else ""), markup=False, highlight=False)
    for r in results:
        if r.errors:
            kinds = ", ".join(f"{k}={v}" for k, v in sorted(r.errors.items()))
            console.print(f"{r.source_id}: {kinds}", markup=False, highlight=False)
    logs = {r.log_file for r in results if r.log_file and (r.errors or r.status != "finished")}
    for path in sorted(logs):
        console.print(f"warnings and errors were logged to {path}", markup=False, highlight=False)
