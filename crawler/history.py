"""Run history and source health, read from the archive: recent runs, last success, last new article,
consecutive failures and the flags the scheduler warns about.  Pure judgement in ``judge()``; queries around it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.sources import TIMEZONE, Source
from storage.models import Article, CrawlRun

VN_TZ = ZoneInfo(TIMEZONE)
FAILED = frozenset({"failed", "timeout", "killed"})
# a stop we asked for, or a crawl that never ran: says nothing about the source's health
NEUTRAL = frozenset({"running", "interrupted", "skipped"})
RECENT_RUNS = 50


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in Vietnam time with its offset, as `vnarchive export` writes times."""
    return value.astimezone(VN_TZ).isoformat(timespec="seconds") if value is not None else None


def run_record(run: CrawlRun) -> dict[str, Any]:
    """One run as `vnarchive runs --json` prints it."""
    return {"id": run.id, "source": run.source_id, "trigger": run.trigger, "host": run.host,
            "started": iso(run.started_at),
            "ended": iso(run.ended_at), "status": run.status, "exit_code": run.exit_code,
            "pages": run.pages_fetched, "new": run.articles_new, "updated": run.articles_updated,
            "unchanged": run.articles_unchanged, "removed": run.articles_removed, "skipped": run.pages_skipped,
            "error": run.error}


def recent_runs(session: Session, source_id: str | None = None, limit: int = 20) -> list[CrawlRun]:
    stmt = select(CrawlRun).order_by(CrawlRun.started_at.desc(), CrawlRun.id.desc()).limit(limit)
    if source_id is not None:
        stmt = stmt.where(CrawlRun.source_id == source_id)
    return list(session.execute(stmt).scalars())


def last_successes(session: Session) -> dict[str, dt.datetime]:
    """Start of each source's last finished run."""
    stmt = (select(CrawlRun.source_id, func.max(CrawlRun.started_at)).where(CrawlRun.status == "finished")
            .group_by(CrawlRun.source_id))
    return {sid: _utc(t) for sid, t in session.execute(stmt) if t is not None}


def _utc(t: dt.datetime) -> dt.datetime:
    # func.max() bypasses the column type on SQLite and comes back naive
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t


@dataclass(slots=True)
class Health:
    source_id: str
    last_run: CrawlRun | None = None
    last_new: dt.datetime | None = None  # when it last archived a new article
    first_run: dt.datetime | None = None
    consecutive_failures: int = 0
    flags: list[str] = field(default_factory=list)


def consecutive_failures(statuses: Iterable[str]) -> int:
    """Failures since the last success, newest first; stops we asked for and skips are passed over."""
    n = 0
    for st in statuses:
        if st in FAILED:
            n += 1
        elif st not in NEUTRAL:
            break
    return n


def judge(source: Source, runs: Sequence[CrawlRun], last_new: dt.datetime | None, first_run: dt.datetime | None,
          now: dt.datetime, fail_threshold: int) -> Health:
    """A source's health from its recent runs (newest first) and its newest article."""
    h = Health(source.id, runs[0] if runs else None, last_new, first_run,
               consecutive_failures(r.status for r in runs))
    if fail_threshold > 0 and h.consecutive_failures >= fail_threshold:
        h.flags.append(f"failed {h.consecutive_failures} times in a row")
    since = last_new or first_run  # a source that never yielded anything is judged from its first run
    if since is not None:
        quiet = now - since
        if quiet > dt.timedelta(hours=source.expect_new_within_hours):
            what = "no new article" if last_new else "no article at all"
            h.flags.append(f"{what} for {quiet.total_seconds() / 3600:.0f} h "
                           f"(expected within {source.expect_new_within_hours:g} h)")
    return h


def source_health(session: Session, sources: Sequence[Source], now: dt.datetime,
                  fail_threshold: int) -> list[Health]:
    last_new = dict(session.execute(select(Article.source_id, func.max(Article.first_seen))
                                    .group_by(Article.source_id)).all())
    first = dict(session.execute(select(CrawlRun.source_id, func.min(CrawlRun.started_at))
                                 .group_by(CrawlRun.source_id)).all())
    out = []
    for src in sources:
        runs = recent_runs(session, src.id, RECENT_RUNS)
        ln, fr = last_new.get(src.id), first.get(src.id)
        out.append(judge(src, runs, _utc(ln) if ln else None, _utc(fr) if fr else None, now, fail_threshold))
    return out
