"""`vnarchive worker` and `crawl --queue [--wait]`: thin commands over crawler.daemon.worker and crawler.daemon.queue.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from crawler.cli.common import UsageFailure, err, expected_errors, fail, out, settings_for

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the archive (default: $VNARCHIVE_DB "
                                           "or sqlite:///archive.db).", show_default=False)]


def worker(
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Crawls run at once.")] = 1,
    hostname: Annotated[str | None, typer.Option(
        "--hostname", "-n", help="This worker's name, recorded as the `host` of its runs (default: the machine's "
        "name; give each worker on one machine its own).", show_default=False)] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Celery's debug log.")] = False,
    db: DbOpt = None,
) -> None:
    """Run crawl jobs from the queue ($VNARCHIVE_BROKER) until SIGTERM (which finishes or hands back the
    running crawls)."""
    from crawler.daemon.queue import QueueError
    from crawler.daemon.scheduler import setup_logging
    from crawler.daemon.worker import serve

    with expected_errors():
        settings = settings_for(db)
        setup_logging(settings.log_file)
        name = (hostname or socket.gethostname()).strip()
        if not name:
            fail("--hostname: give a name")
        try:
            code = serve(settings, concurrency, name, "DEBUG" if verbose else "INFO")
        except QueueError as e:
            fail(str(e))
    raise typer.Exit(code)


def crawl_queued(settings: Any, chosen: list[Any], trigger: str, wait: bool) -> int:
    """`crawl --queue [--wait]`: one job per source; with ``wait``, blocks until each has ended and returns 0
    only when every one finished (1 otherwise, 3 when interrupted while waiting: the jobs stay queued)."""
    from crawler.daemon.queue import QueueError, enqueue, job_for, make_app
    from crawler.daemon.queue import wait as wait_for

    if not settings.broker_url:
        raise UsageFailure("--queue needs a job queue: set VNARCHIVE_BROKER (redis://host:6379/0 or amqp://…)")
    path: Path = settings.sources_path
    try:
        app = make_app(settings.broker_url)
        results = enqueue(app, [job_for(path, src.id, trigger) for src in chosen])
    except QueueError as e:
        raise UsageFailure(str(e)) from None
    for src, r in zip(chosen, results, strict=True):
        out.print(f"{src.id}: enqueued as job {r.id}", markup=False, highlight=False)
    if not wait:
        return 0
    try:
        outcomes = wait_for([(src.id, r) for src, r in zip(chosen, results, strict=True)],
                            on_done=lambda o: out.print(o.line(), markup=False, highlight=False))
    except KeyboardInterrupt:
        err.print("interrupted: the jobs not yet ended stay queued", markup=False, highlight=False)
        return 3
    bad = [o for o in outcomes if o.status != "finished"]
    out.print(f"{len(outcomes) - len(bad)} of {len(outcomes)} jobs finished"
              + (f"; not finished: {', '.join(o.source_id for o in bad)}" if bad else ""),
              markup=False, highlight=False)
    return 1 if bad else 0


def register(app: typer.Typer) -> None:
    """Add `worker` to the `vnarchive` command."""
    app.command("worker")(worker)
