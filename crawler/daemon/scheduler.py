"""The scheduler daemon: every source crawled on its schedule, unattended.

APScheduler 3.x in its three roles: triggers (when: each source's cron in Asia/Ho_Chi_Minh, or one interval
for all when VNARCHIVE_SCHEDULE_EVERY is set), an in-memory job store rebuilt from the sources file at every
start and on SIGHUP (nothing is pickled, nothing stale survives a release), and a thread pool executor whose
size caps the crawls running at once.  Each run is a `vnarchive crawl` child process (see crawler.daemon.jobs).

Start-up catch-up: the job store does not outlive the process, so APScheduler cannot know about runs missed
while the daemon was down.  Instead, a source whose last successful run is older than its schedule interval
(or that never succeeded) runs once, a few seconds after start; then it follows its schedule.

One daemon per archive (crawler.locks.daemon_lock).  A `run-now` request is a small file in the control
directory, polled twice a second; the daemon's answer and its state (next runs, running crawls) are files
there too.  Nothing listens on a network port.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from config.settings import Settings, host_name
from config.sources import Source, SourcesError, parse_sources
from crawler.daemon.jobs import ChildOutcome, StopRequest, crawl_command, crawl_env, run_child
from crawler.daemon.queue import Dispatcher, QueueError, job_for, make_app
from crawler.history import VN_TZ, iso, last_successes, source_health
from crawler.locks import Lock, control_dir, daemon_lock, holder, private_dir
from storage import repo
from storage.db import make_engine, make_session_factory, retrying
from storage.models import CrawlRun

logger = logging.getLogger(__name__)

JOB_PREFIX = "crawl:"
RUN_NOW_PREFIX = "run-now:"
# a run queued behind long crawls, or due while the machine slept, still happens (once: coalesce) within a day
MISFIRE_GRACE = 24 * 3600
JOB_DEFAULTS: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": MISFIRE_GRACE}
CATCHUP_DELAY = 2.0  # seconds after start (or reload) at which a catch-up run starts
TERM_TIMEOUT = 30.0  # seconds between SIGTERM and SIGKILL of a crawl being stopped
FAIL_THRESHOLD = 3
TICK = 0.5  # how often the control thread looks at signals, requests and the state file
LOCK_CHECK_EVERY = 30.0
STATE_FILE = "state.json"
SOURCES_SNAPSHOT = "sources.toml"  # the sources file as last loaded, which the crawls read
CHILD_LOG_LINES = 50  # lines of a crawl's stderr passed to the daemon's log, per run


# ---------------------------------------------------------------- planning (pure)

def make_trigger(source: Source, every: int, now: dt.datetime) -> BaseTrigger:
    if every > 0:
        return IntervalTrigger(seconds=every, start_date=now + dt.timedelta(seconds=every), timezone=VN_TZ)
    return CronTrigger.from_crontab(source.schedule, timezone=VN_TZ)


def schedule_interval(trigger: BaseTrigger, now: dt.datetime) -> dt.timedelta:
    """The gap between the next two fire times after ``now``."""
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first)
    return second - first


@dataclass(frozen=True, slots=True)
class JobSpec:
    id: str
    source_id: str
    name: str
    trigger: BaseTrigger
    next_run_time: dt.datetime
    catch_up: str | None = None  # why it runs right after start, if it does


def plan_jobs(sources: list[Source], every: int, now: dt.datetime, last_success: dict[str, dt.datetime],
              no_catch_up: frozenset[str] = frozenset()) -> list[JobSpec]:
    """One job per source, with its first run time: its next slot, or a catch-up run soon after ``now``."""
    specs = []
    for src in sources:
        trigger = make_trigger(src, every, now)
        interval = schedule_interval(trigger, now)
        last = last_success.get(src.id)
        catch_up = None
        if src.id in no_catch_up:
            pass
        elif last is None:
            catch_up = "never crawled successfully"
        elif now - last > interval:
            missed = int((now - last) / interval)
            catch_up = (f"last successful crawl {_hours(now - last)} ago, older than its {_hours(interval)} "
                        f"interval (about {missed} slot{'s' if missed != 1 else ''} missed)")
        first = (now + dt.timedelta(seconds=CATCHUP_DELAY) if catch_up
                 else trigger.get_next_fire_time(None, now))
        specs.append(JobSpec(JOB_PREFIX + src.id, src.id, src.name, trigger, first, catch_up))
    return specs


def _hours(d: dt.timedelta) -> str:
    s = d.total_seconds()
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min" if s >= 60 else f"{s:.0f} s"


def install_jobs(scheduler: Any, specs: list[JobSpec], func: Any) -> None:
    """Make the scheduler's source jobs exactly ``specs`` (explicit ids, replace_existing)."""
    wanted = {s.id for s in specs}
    for job in scheduler.get_jobs():
        if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
            scheduler.remove_job(job.id)
    for s in specs:
        scheduler.add_job(func, s.trigger, args=[s.source_id, "schedule"], id=s.id, name=s.name,
                          replace_existing=True, next_run_time=s.next_run_time, **JOB_DEFAULTS)


def make_scheduler(executor: ThreadPoolExecutor) -> BlockingScheduler:
    return BlockingScheduler(timezone=VN_TZ, executors={"default": executor}, job_defaults=JOB_DEFAULTS)


# ---------------------------------------------------------------- run records

def final_status(outcome: ChildOutcome, recorded: str | None, timeout: float) -> tuple[str, str] | None:
    """What the daemon must write over the child's own run record (None: the child's record stands)."""
    if outcome.timed_out:
        return "timeout", f"stopped at the {timeout:.0f} s wall-clock limit; {outcome.describe()}"
    if recorded is None:
        if outcome.stopped:
            return "interrupted", "stopped by the scheduler before the crawl recorded its start"
        return "failed", f"the crawl {outcome.describe()} before recording its run"
    if recorded == "running":
        if outcome.stopped:
            return "interrupted", f"stopped by the scheduler; the crawl {outcome.describe()}"
        return "failed", f"the crawl {outcome.describe()} without recording its end"
    return None


@retrying()
def record_outcome(factory: Any, source: Source, trigger: str, launched: dt.datetime, outcome: ChildOutcome,
                   timeout: float) -> str:
    """Complete the child's run record when it could not (timeout, crash, kill); returns the run's status."""
    with factory.begin() as s:
        run = s.execute(select(CrawlRun).where(
            CrawlRun.source_id == source.id, CrawlRun.pid == outcome.pid, CrawlRun.host == host_name(),
            CrawlRun.started_at >= launched - dt.timedelta(minutes=1)).order_by(CrawlRun.id.desc()).limit(1)
        ).scalar_one_or_none()
        verdict = final_status(outcome, run.status if run else None, timeout)
        if verdict is None:
            assert run is not None
            run.exit_code = outcome.returncode  # the process's own code (3: interrupted), not the runner's 0/1
            return run.status
        status, error = verdict
        run_id = run.id if run else _add_run(s, source, trigger, launched, outcome.pid)
        repo.finish_run(s, run_id, status, exit_code=outcome.returncode, error=error)
        return status


@retrying()
def record_launch_failure(factory: Any, source: Source, trigger: str, launched: dt.datetime, error: str) -> None:
    with factory.begin() as s:
        repo.finish_run(s, _add_run(s, source, trigger, launched, None), "failed", error=error)


def _add_run(s: Any, source: Source, trigger: str, launched: dt.datetime, pid: int | None) -> int:
    repo.ensure_sources(s, [(source.id, source.name)])
    run = repo.start_run(s, source.id, trigger, pid=pid)
    run.started_at = launched
    return run.id


# ---------------------------------------------------------------- control directory

def write_private(path: Path, text: str) -> None:
    """Atomically (write, then rename), readable by the owner only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_private(path, json.dumps(data, ensure_ascii=False))


def read_json(path: Path, limit: int = 1 << 20) -> dict[str, Any] | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        raw = f.read(limit)
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def submit_run_now(ctl: Path, source_id: str, wait: float = 10.0) -> tuple[bool, str]:
    """Ask the daemon for a run of ``source_id``; returns (accepted, the daemon's answer)."""
    rid = uuid.uuid4().hex
    req, ack = ctl / f"{rid}.run-now", ctl / f"{rid}.answer"
    write_json(req, {"source": source_id, "requested_by": os.getpid()})
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        answer = read_json(ack)
        if answer is not None:
            ack.unlink(missing_ok=True)
            return bool(answer.get("ok")), str(answer.get("message", ""))
        time.sleep(0.1)
    try:
        req.unlink()
    except FileNotFoundError:
        return True, "the scheduler took the request but did not answer in time"
    raise TimeoutError(f"the scheduler did not answer within {wait:.0f} s (is it stuck?); request withdrawn")


# ---------------------------------------------------------------- the daemon

class ChildEcho:
    """Passes a crawl's stderr (its warnings and errors) to the daemon's log, bounded: a crawl failing on every
    page must not fill the disk through the daemon's log.  The run record keeps the last lines anyway."""

    def __init__(self, source_id: str, max_lines: int = CHILD_LOG_LINES, max_chars: int = 1000) -> None:
        self.source_id, self.max_lines, self.max_chars = source_id, max_lines, max_chars
        self.seen = 0

    def __call__(self, line: str) -> None:
        self.seen += 1
        if self.seen <= self.max_lines:
            logger.warning("[%s] %s", self.source_id, line[:self.max_chars])

    def close(self) -> None:
        if self.seen > self.max_lines:
            logger.warning("[%s] %d more lines of crawl output not logged", self.source_id,
                           self.seen - self.max_lines)


@dataclass(slots=True)
class Running:
    trigger: str
    since: dt.datetime
    pid: int | None = None


class Daemon:
    """Owns the scheduler, its jobs, the running crawls and the control thread.  ``run()`` blocks."""

    def __init__(self, settings: Settings, factory: Any, fail_threshold: int = FAIL_THRESHOLD,
                 term_timeout: float = TERM_TIMEOUT, lock: Lock | None = None) -> None:
        self.settings, self.factory, self.fail_threshold = settings, factory, fail_threshold
        self.term_timeout, self.lock = term_timeout, lock
        self.ctl = private_dir(control_dir(settings.db_url))
        self.snapshot = self.ctl / SOURCES_SNAPSHOT
        self.sources: dict[str, Source] = {}
        self.running: dict[str, Running] = {}
        self._lock = threading.Lock()
        self.stop = StopRequest()
        self.reload_requested = False
        self.stop_signal = "stop"
        self.exit_code = 0
        self.started = repo.utcnow()
        # the pool's size is the cap on crawls at once: each job thread supervises one child process
        self.executor = ThreadPoolExecutor(max(1, settings.max_parallel_crawls))
        # VNARCHIVE_BROKER set: due crawls are enqueued for `vnarchive worker`s (crawler.daemon.queue), not run here
        self.dispatcher = Dispatcher(make_app(settings.broker_url)) if settings.broker_url else None
        self.scheduler = make_scheduler(self.executor)
        self.scheduler.add_listener(self._on_started, EVENT_SCHEDULER_STARTED)

    # -- set-up and reload

    def load(self) -> None:
        """(Re)build the jobs from the sources file; raises SourcesError on a bad file.

        Crawls are given a snapshot of the file as loaded, so an edit takes effect on SIGHUP, for the daemon
        and its crawls alike, and a half-edited file never reaches a crawl.  On reload only new sources are
        caught up: the others were when the daemon started, or are running now.
        """
        path = self.settings.sources_path
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise SourcesError(f"{path}: cannot read: {e}") from None
        sf = parse_sources(text, str(path))
        write_private(self.snapshot, text)
        with self.factory() as s:
            last = last_successes(s)
        specs = plan_jobs(list(sf.sources), self.settings.schedule_every, dt.datetime.now(VN_TZ), last,
                          no_catch_up=frozenset(self.sources))
        with self._lock:
            self.sources = {src.id: src for src in sf.sources}
        install_jobs(self.scheduler, specs, self.run_source)
        every = self.settings.schedule_every
        for sp in specs:
            when = f"every {every} s (VNARCHIVE_SCHEDULE_EVERY)" if every > 0 else \
                f"cron {self.sources[sp.source_id].schedule!r}"
            if sp.catch_up:
                logger.info("%s: %s; %s: running once now", sp.source_id, when, sp.catch_up)
            else:
                logger.info("%s: %s; next run %s", sp.source_id, when, iso(sp.next_run_time))

    def reload(self) -> None:
        try:
            self.load()
        except (SourcesError, OSError) as e:
            logger.error("SIGHUP: sources file not reloaded, keeping the current jobs: %s", e)
            return
        logger.info("SIGHUP: %d sources reloaded from %s", len(self.sources), self.settings.sources_path)

    def warn_unhealthy(self, sources: list[Source]) -> None:
        with self.factory() as s:
            for h in source_health(s, sources, repo.utcnow(), self.fail_threshold):
                for flag in h.flags:
                    logger.warning("%s: needs attention: %s", h.source_id, flag)

    # -- the job

    def run_source(self, source_id: str, trigger: str) -> None:
        """One run of one source (an APScheduler job): never two of one source at once in this daemon."""
        if self.stop.requested:
            logger.info("%s: %s run not started: the scheduler is stopping", source_id, trigger)
            return
        with self._lock:
            src = self.sources.get(source_id)
            if src is None:  # removed by a reload while queued
                return
            busy = self.running.get(source_id)
            if busy is None:
                self.running[source_id] = Running(trigger, repo.utcnow())
        if busy is not None:
            logger.warning("%s: %s run skipped: its %s run started at %s is still going", source_id, trigger,
                           busy.trigger, iso(busy.since))
            return
        try:
            self._crawl(src, trigger)
        finally:
            with self._lock:
                self.running.pop(source_id, None)

    def _crawl(self, src: Source, trigger: str) -> None:
        s = self.settings
        launched = repo.utcnow()
        if self.dispatcher is not None:
            self._enqueue(src, trigger, launched)
            return
        cmd = crawl_command(src.id, trigger, self.snapshot)
        logger.info("%s: starting a %s crawl", src.id, trigger)
        echo = ChildEcho(src.id)
        try:
            outcome = run_child(cmd, s.crawl_timeout, self.stop, self.term_timeout, on_line=echo,
                                env=crawl_env(s.db_url),  # the URL (and its password) stays off `ps`
                                on_start=lambda pid: setattr(self.running[src.id], "pid", pid))
        except OSError as e:
            logger.error("%s: cannot launch the crawl: %s", src.id, e)
            record_launch_failure(self.factory, src, trigger, launched, f"cannot launch the crawl: {e}")
            return
        echo.close()
        record_outcome(self.factory, src, trigger, launched, outcome, s.crawl_timeout)
        self._report(src)

    def _enqueue(self, src: Source, trigger: str, launched: dt.datetime) -> None:
        assert self.dispatcher is not None
        try:
            ok, message = self.dispatcher.submit(job_for(self.snapshot, src.id, trigger))
        except (QueueError, OSError) as e:
            logger.error("%s: cannot enqueue the crawl: %s", src.id, e)
            record_launch_failure(self.factory, src, trigger, launched, f"cannot enqueue the crawl: {e}")
            return
        logger.log(logging.INFO if ok else logging.WARNING, "%s: %s run %s", src.id, trigger, message)

    def _report(self, src: Source) -> None:
        with self.factory() as s:
            h = source_health(s, [src], repo.utcnow(), self.fail_threshold)[0]
        r = h.last_run
        if r is None:
            return
        took = (r.ended_at - r.started_at).total_seconds() if r.ended_at else 0.0
        level = logging.INFO if r.status in ("finished", "skipped") else logging.WARNING
        logger.log(level, "%s: run %s %s in %.0f s: %d pages, %d new, %d updated, %d unchanged, %d removed%s",
                   src.id, r.id, r.status, took, r.pages_fetched, r.articles_new, r.articles_updated,
                   r.articles_unchanged, r.articles_removed, f" ({r.error})" if r.error else "")
        for flag in h.flags:
            logger.warning("%s: needs attention: %s", src.id, flag)

    # -- run-now requests and the state file

    def serve_requests(self) -> None:
        stale = time.time() - 60  # answers nobody waited for
        for ans in self.ctl.glob("*.answer"):
            if ans.lstat().st_mtime < stale:
                ans.unlink(missing_ok=True)
        for req in sorted(self.ctl.glob("*.run-now")):
            data = read_json(req, limit=4096) or {}
            req.unlink(missing_ok=True)
            ok, message = self.run_now(str(data.get("source", "")))
            logger.info("run-now request for %r: %s", data.get("source"), message)
            write_json(req.with_suffix(".answer"), {"ok": ok, "message": message})

    def run_now(self, source_id: str) -> tuple[bool, str]:
        with self._lock:
            known, busy = source_id in self.sources, self.running.get(source_id)
        if not known:
            return False, f"no source {source_id!r} in {self.settings.sources_path}"
        if busy is not None:
            return False, (f"a crawl of {source_id} is already running ({busy.trigger}, started "
                           f"{iso(busy.since)}); not starting another")
        self.scheduler.add_job(self.run_source, "date", run_date=dt.datetime.now(VN_TZ),
                               args=[source_id, "run-now"], id=RUN_NOW_PREFIX + source_id, replace_existing=True,
                               **JOB_DEFAULTS)
        return True, f"the scheduler (pid {os.getpid()}) is starting a crawl of {source_id}"

    def state(self) -> dict[str, Any]:
        with self._lock:
            running = {sid: {"trigger": r.trigger, "since": iso(r.since), "pid": r.pid}
                       for sid, r in self.running.items()}
        jobs = {j.id.removeprefix(JOB_PREFIX): iso(getattr(j, "next_run_time", None))
                for j in self.scheduler.get_jobs() if j.id.startswith(JOB_PREFIX)}
        return {"pid": os.getpid(), "started": iso(self.started), "sources_file": str(self.settings.sources_path),
                "schedule_every": self.settings.schedule_every, "stopping": self.stop.requested,
                "next_runs": jobs, "running": running}

    # -- signals, the control thread, the main loop

    def _on_signal(self, signum: int, _frame: object) -> None:
        # plain assignments only (see StopRequest); the control thread acts on them
        if signum == signal.SIGHUP:
            self.reload_requested = True
        else:
            self.stop_signal = signal.Signals(signum).name
            self.stop.request(self.settings.stop_grace)

    def _on_started(self, _event: object) -> None:
        threading.Thread(target=self._control_loop, name="control", daemon=True).start()

    def _control_loop(self) -> None:
        last_state: dict[str, Any] | None = None
        next_lock_check = time.monotonic() + LOCK_CHECK_EVERY
        while True:
            pause = TICK
            try:
                if self.stop.requested:
                    self._begin_stop()
                    return
                if self.reload_requested:
                    self.reload_requested = False
                    self.reload()
                self.serve_requests()
                state = self.state()
                if state != last_state:
                    write_json(self.ctl / STATE_FILE, state)
                    last_state = state
                if self.lock is not None and time.monotonic() >= next_lock_check:
                    next_lock_check = time.monotonic() + LOCK_CHECK_EVERY
                    if not self.lock.alive():
                        logger.error("the scheduler lock was lost (database connection gone): stopping")
                        self.exit_code, self.stop_signal = 1, "lock lost"
                        self.stop.request(self.settings.stop_grace)
            except Exception:  # this thread must outlive any one failure, or signals would go unheard
                logger.exception("scheduler control loop")
                pause = 5.0  # a lasting fault (a full disk) logs every 5 s, not twice a second
            time.sleep(pause)

    def _begin_stop(self) -> None:
        with self._lock:
            n = len(self.running)
        logger.info("%s: stopping: no new crawls; %d running, given %d s to finish before SIGTERM",
                    self.stop_signal, n, self.settings.stop_grace)
        try:
            self.scheduler.shutdown(wait=False)
        except SchedulerNotRunningError:
            pass

    def run(self) -> int:
        """Load the jobs, serve until SIGTERM/SIGINT, then stop the running crawls in bounded time."""
        self.load()
        self.warn_unhealthy(list(self.sources.values()))
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        s = self.settings
        logger.info("scheduler started (pid %s): %d sources, at most %d crawls at once, %d s limit per crawl; "
                    "control directory %s", os.getpid(), len(self.sources), max(1, s.max_parallel_crawls),
                    s.crawl_timeout, self.ctl)
        if self.dispatcher is not None:
            logger.info("crawls are enqueued for `vnarchive worker`s on %s (VNARCHIVE_BROKER)",
                        self.dispatcher.where())
        self.scheduler.start()  # returns once the control thread has shut it down
        # job threads stop their crawls themselves: stop_grace, then SIGTERM, then SIGKILL term_timeout later
        self.executor.shutdown(wait=True)
        for name in (STATE_FILE, SOURCES_SNAPSHOT):
            (self.ctl / name).unlink(missing_ok=True)
        logger.info("scheduler stopped")
        return self.exit_code


def serve(settings: Settings, fail_threshold: int = FAIL_THRESHOLD) -> int:
    """`vnarchive scheduler start`: take the archive's daemon lock (LockHeld if taken) and run until stopped."""
    lock = daemon_lock(settings.db_url, make_engine(settings.db_url))
    lock.acquire()
    try:
        from crawler.runner import open_archive, reap_stale_runs  # after the lock: a refusal is quick

        engine = open_archive(settings)
        factory = make_session_factory(engine)
        reaped = reap_stale_runs(factory)
        if reaped:
            logger.warning("%d runs left 'running' by vanished processes marked killed", reaped)
        return Daemon(settings, factory, fail_threshold, lock=lock).run()
    finally:
        lock.release()


def daemon_holder(settings: Settings) -> str | None:
    """Who runs the scheduler of this archive (the lock holder), or None."""
    return holder(daemon_lock(settings.db_url, make_engine(settings.db_url)))


def read_state(settings: Settings) -> dict[str, Any] | None:
    return read_json(control_dir(settings.db_url) / STATE_FILE)


# ---------------------------------------------------------------- status (for the CLI)

def status_rows(settings: Settings, sources: list[Source], factory: Any, state: dict[str, Any] | None,
                fail_threshold: int, now: dt.datetime) -> list[dict[str, Any]]:
    """Per source: next run, last run and result, last new article, consecutive failures, flags."""
    with factory() as s:
        health = source_health(s, sources, now, fail_threshold)
        last = last_successes(s)
    if state is None:  # not running: when it would run if started now
        planned = {p.source_id: p.next_run_time for p in plan_jobs(sources, settings.schedule_every, now, last)}
        next_runs = {sid: iso(t) for sid, t in planned.items()}
    else:
        next_runs = state.get("next_runs", {})
    rows = []
    for src, h in zip(sources, health, strict=True):
        r = h.last_run
        rows.append({
            "source": src.id, "next_run": next_runs.get(src.id),
            "running": (state or {}).get("running", {}).get(src.id),
            "last_run": iso(r.started_at) if r else None, "last_status": r.status if r else None,
            "last_trigger": r.trigger if r else None, "last_error": r.error if r else None,
            "last_new_article": iso(h.last_new), "consecutive_failures": h.consecutive_failures,
            "flags": h.flags,
        })
    return rows


# ---------------------------------------------------------------- logging

class _PrivateRotatingFileHandler(RotatingFileHandler):
    """Log files hold URLs and errors of the archive: owner-readable only, rotated files included."""

    def _open(self) -> Any:
        stream = super()._open()
        os.chmod(self.baseFilename, 0o600)
        return stream


def setup_logging(log_file: str | None, level: int = logging.INFO) -> None:
    from crawler.logtime import FORMAT, VietnamTimeFormatter

    fmt = VietnamTimeFormatter(FORMAT)
    root = logging.getLogger()
    root.setLevel(level)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(_PrivateRotatingFileHandler(log_file, maxBytes=10 * 1024 * 1024, backupCount=5,
                                                    encoding="utf-8"))
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)
    # APScheduler's per-job INFO lines repeat ours; its warnings (missed runs, max instances) stay.  Alembic's
    # INFO lines are its plumbing; storage.migrate logs the upgrade itself.
    for name in ("apscheduler", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)

