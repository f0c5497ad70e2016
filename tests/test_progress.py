"""The live crawl display: per source what was fetched, what waits, what was archived, errors; and the totals."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

from rich.console import Console

from crawler.progress import Progress


def _crawler(stats: dict[str, Any], queued: int) -> Any:
    class Scheduler:
        def __len__(self) -> int:
            return queued

    return SimpleNamespace(stats=SimpleNamespace(get_stats=lambda: stats),
                           engine=SimpleNamespace(_slot=SimpleNamespace(scheduler=Scheduler())))


def test_the_display_shows_fetched_queued_archived_errors_and_totals() -> None:
    a = _crawler({"response_received_count": 40, "archive/new": 30, "archive/unchanged": 2,
                  "archive/not_modified": 1, "archive/skipped": 3,
                  "downloader/exception_type_count/twisted.internet.error.TimeoutError": 2}, queued=12)
    b = _crawler({"response_received_count": 5, "archive/new": 4, "finish_reason": "finished"}, queued=0)
    out = io.StringIO()
    console = Console(file=out, width=140, color_system=None)
    console.print(Progress([(SimpleNamespace(id="mps"), a), (SimpleNamespace(id="bao"), b)], console).render())
    text = out.getvalue()
    assert "fetched" in text and "queued" in text
    rows = {line.split()[1]: line.split()[2:] for line in text.splitlines() if line.startswith("│")
            and len(line.split()) > 3}
    assert rows["mps"][:7] == ["│", "40", "│", "12", "│", "30", "│"]
    assert rows["all"][:7] == ["│", "45", "│", "12", "│", "34", "│"]
    assert "finished" in text
