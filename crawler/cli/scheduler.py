"""`vnarchive scheduler start|status|run-now` and `vnarchive runs`: thin commands over crawler.daemon.scheduler.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from crawler.cli.common import (
    DbOpt,
    SourcesOpt,
    check_source,
    err,
    expected_errors,
    fail,
    load,
    out,
    settings_for,
)

AlertOpt = Annotated[int, typer.Option("--alert-after", envvar="VNARCHIVE_ALERT_AFTER_FAILURES", min=0,
                                       help="Flag a source after this many failed runs in a row (0: never).")]

scheduler_app = typer.Typer(no_args_is_help=True, help="Crawl every source on its schedule: the daemon, its "
                            "status, run-now.")


@scheduler_app.command("start")
def start(
    log_file: Annotated[Path | None, typer.Option("--log-file", help="Also log to this file, rotated at 10 MB "
                                                  "(default: $VNARCHIVE_LOG_FILE).", show_default=False)] = None,
    alert_after: AlertOpt = 3,
    db: DbOpt = None,
    sources: SourcesOpt = None,
) -> None:
    """Run the scheduler in the foreground until SIGTERM or Ctrl-C (SIGHUP reloads the sources file)."""
    from crawler.daemon.scheduler import serve, setup_logging
    from crawler.locks import LockHeld

    with expected_errors():
        settings = settings_for(db, sources).with_overrides(log_file=str(log_file) if log_file else None)
        setup_logging(settings.log_file)
        try:
            code = serve(settings, alert_after)
        except LockHeld as e:
            fail(f"{e}; not starting a second one", 1)
    raise typer.Exit(code)


@scheduler_app.command("status")
def status(
    json_: Annotated[bool, typer.Option("--json", help="One JSON object per source.")] = False,
    alert_after: AlertOpt = 3,
    db: DbOpt = None,
    sources: SourcesOpt = None,
) -> None:
    """Show per source the next run, the last run and its result, the last new article and any flags."""
    from crawler.daemon.scheduler import daemon_holder, read_state, status_rows

    with expected_errors():
        settings = settings_for(db, sources)
        sf = load(settings)
        factory = _read_archive(settings.db_url)
        who = daemon_holder(settings)
        state = read_state(settings) if who else None
        rows = status_rows(settings, list(sf.sources), factory, state, alert_after, dt.datetime.now(dt.UTC))
    if json_:
        for row in rows:
            out.print(json.dumps(row, ensure_ascii=False), markup=False, highlight=False, soft_wrap=True)
        return
    if who:
        pid = f"pid {state['pid']}, " if state else ""
        head = f"scheduler running ({pid}since {_short(state.get('started')) if state else '?'})"
    else:
        head = "scheduler not running (next runs: what a start now would do)"
    t = Table(title=f"{head}; times in Asia/Ho_Chi_Minh")
    for col in ("source", "next run", "last run", "result", "last new article", "fails", "flags"):
        t.add_column(col, no_wrap=col != "flags")
    for r in rows:
        result = (f"running ({r['running']['trigger']}, since {_short(r['running']['since'])})" if r["running"]
                  else f"{r['last_status']} ({r['last_trigger']})" if r["last_status"] else "never run")
        t.add_row(r["source"], _short(r["next_run"]), _short(r["last_run"]), result, _short(r["last_new_article"]),
                  str(r["consecutive_failures"]), "; ".join(r["flags"]) or "ok")
    out.print(t)


@scheduler_app.command("run-now")
def run_now(
    source: Annotated[str, typer.Argument(metavar="SOURCE", help="Source id to crawl now.", show_default=False)],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress display (direct runs).")] = False,
    db: DbOpt = None,
    sources: SourcesOpt = None,
) -> None:
    """Ask the running scheduler to crawl SOURCE now, or crawl it here when no scheduler runs."""
    from crawler.cli.crawl import crawl
    from crawler.daemon.scheduler import daemon_holder, submit_run_now
    from crawler.locks import control_dir

    with expected_errors():
        settings = settings_for(db, sources)
        load(settings).get(source)  # an unknown id is a one-line error here, not in the daemon's log
        who = daemon_holder(settings)
        if who:
            ok, message = submit_run_now(control_dir(settings.db_url), source)
    if not who:
        err.print(f"no scheduler runs for this archive: crawling {source} here", markup=False, highlight=False)
        # raises typer.Exit with the crawl's exit code
        crawl(source_ids=[source], all_=False, trigger="run-now", quiet=quiet, verbose=False, db=db,
                  sources=sources)
        return
    out.print(message, markup=False, highlight=False)
    raise typer.Exit(0 if ok else 1)


def runs(
    json_: Annotated[bool, typer.Option("--json", help="One JSON object per run.")] = False,
    source: Annotated[str | None, typer.Option("--source", help="Only this source.", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs, newest first.")] = 20,
    db: DbOpt = None,
) -> None:
    """List recent crawl runs: source, trigger, start, end, status, exit code, counts, error."""
    from crawler.history import recent_runs, run_record

    with expected_errors():
        factory = _read_archive(settings_for(db).db_url)
        with factory() as s:
            check_source(s, source, db)
            records = [run_record(r) for r in recent_runs(s, source, limit)]
    if json_:
        for rec in records:
            out.print(json.dumps(rec, ensure_ascii=False), markup=False, highlight=False, soft_wrap=True)
        return
    t = Table(title=f"{len(records)} most recent runs" + (f" of {source}" if source else "")
              + "; times in Asia/Ho_Chi_Minh")
    for col in ("id", "source", "trigger", "host", "started", "took", "status", "exit", "pages", "new", "upd",
                "same", "rm", "skip", "error"):
        t.add_column(col, justify="left" if col in ("source", "trigger", "host", "started", "status", "error")
                     else "right",
                     no_wrap=col != "error")
    for r in records:
        t.add_row(str(r["id"]), r["source"], r["trigger"], r["host"] or "-", _short(r["started"]), _took(r["started"], r["ended"]),
                  r["status"], "" if r["exit_code"] is None else str(r["exit_code"]), str(r["pages"]),
                  str(r["new"]), str(r["updated"]), str(r["unchanged"]), str(r["removed"]), str(r["skipped"]),
                  (r["error"] or "")[:80])
    out.print(t)


def _read_archive(db_url: str) -> Any:
    """A session factory on an existing, current archive (read-only commands never create one)."""
    from storage.db import make_engine, make_session_factory
    from storage.migrate import check_current

    engine = make_engine(db_url, readonly=True)
    check_current(engine)
    return make_session_factory(engine)


def _short(value: str | None) -> str:
    return dt.datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _took(start: str | None, end: str | None) -> str:
    if not (start and end):
        return "-"
    return f"{(dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds():.0f} s"


def register(app: typer.Typer) -> None:
    """Add `scheduler` and `runs` to the `vnarchive` command."""
    app.add_typer(scheduler_app, name="scheduler")
    app.command("runs")(runs)
