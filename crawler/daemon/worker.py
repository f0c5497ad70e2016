"""`vnarchive worker`: runs the crawl jobs of the queue (crawler.daemon.queue) on this machine.

A Celery worker with a thread pool: each thread supervises one `python -m crawler crawl SOURCE` child, the
same child, timeout, stop and run records as the scheduler's own job threads (crawler.daemon.scheduler,
crawler.daemon.jobs), so a crash or hang stays in the child.  ``--concurrency`` is the number of crawls at once.

- **One crawl per source, across machines**: the child takes the source's lock (a PostgreSQL advisory lock
  on a shared archive, crawler.locks) and records a ``skipped`` run when another crawl holds it.
- **SIGTERM** (systemd's stop): no new jobs; a running crawl is given VNARCHIVE_STOP_GRACE seconds to end,
  then stopped as a scheduler stops one (SIGTERM: it keeps what it archived, its run ``interrupted``) and its
  job handed back to the queue, where another worker takes it up (a crawl resumes: nothing archived is
  fetched again).  A second SIGTERM stops the crawls at once.
- **SIGKILL or a lost machine**: the crawls die with the worker (PR_SET_PDEATHSIG), the job's lease stops
  being renewed (:class:`Lease`) and the broker gives the job to another worker; that worker, holding the
  source's lock, marks the dead crawl's run ``killed`` before it crawls.
- Every run a worker's crawls record names it: ``host`` is the worker's ``--hostname`` (VNARCHIVE_HOST).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select

from config.settings import Settings, host_name
from config.sources import Source, SourcesError, parse_sources
from crawler.daemon.jobs import StopRequest, crawl_command, crawl_env, run_child
from crawler.daemon.queue import QUEUE, TASK, Job, QueueError, broker_kind, lease_renewal, make_app
from crawler.daemon.scheduler import TERM_TIMEOUT, ChildEcho, record_launch_failure, record_outcome
from crawler.locks import LockHeld, source_lock
from storage import repo
from storage.db import make_session_factory, retrying
from storage.models import CrawlRun

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def die_with_worker() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel SIGTERM the child when the thread that started it dies (the worker
    was killed), so no crawl outlives its worker holding the source's lock; None where prctl is missing.

    The child stops as on any SIGTERM: within 15 s, keeping what it archived.  libc is loaded here, before any
    fork: the function run between fork and exec only calls into it.
    """
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: the child is stopped by the worker's own shutdown only
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the worker died before the prctl
            os._exit(1)

    return preexec


class Lease:
    """Renews a running job's Redis delivery, so the broker gives it to no other worker while this one lives.

    kombu's Redis transport keeps a taken job in a sorted set scored by when it was taken, and gives it back
    to the queue once that is older than the visibility timeout (crawler.daemon.queue.VISIBILITY_TIMEOUT).  Every
    ``every`` seconds the job's score is set to now, only if it is still there (``XX``: a job already given
    back is not taken again behind the broker's back).
    """

    def __init__(self, app: Any, delivery_tag: str, every: float) -> None:
        self.app, self.tag, self.every = app, delivery_tag, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{delivery_tag[:8]}", daemon=True)

    def renew(self) -> bool:
        with self.app.connection_for_write() as conn:
            channel = conn.default_channel
            with channel.conn_or_acquire() as client:
                return bool(client.zadd(channel.unacked_index_key, {self.tag: time.time()}, xx=True, ch=True))

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.renew()
            except Exception as e:  # the broker is away: the next renewal may reach it in time
                logger.warning("cannot renew the lease of a running job (%s); retrying in %.0f s", e, self.every)

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@retrying()
def reap_dead_runs(factory: Any, source_id: str, reaper: str) -> int:
    """Runs of ``source_id`` left 'running' are marked killed.  Call with the source's lock held: a live crawl
    holds it, so any 'running' run then belongs to a crawl that died, on whatever machine."""
    n = 0
    with factory.begin() as s:
        for run in s.execute(select(CrawlRun).where(CrawlRun.source_id == source_id,
                                                    CrawlRun.status == "running")).scalars():
            run.status, run.ended_at = "killed", repo.utcnow()
            run.error = f"its crawl died with its worker or machine ({run.host or 'host unknown'}); found by {reaper}"
            n += 1
    return n


def _run_of(factory: Any, source_id: str, pid: int, launched: dt.datetime) -> CrawlRun | None:
    with factory() as s:
        return s.execute(select(CrawlRun).where(
            CrawlRun.source_id == source_id, CrawlRun.pid == pid, CrawlRun.host == host_name(),
            CrawlRun.started_at >= launched - dt.timedelta(minutes=1)).order_by(CrawlRun.id.desc()).limit(1)
        ).scalar_one_or_none()


class HandBack(Exception):
    """The worker is stopping: the job goes back to the queue for another worker."""


class Runtime:
    """What the worker's job threads share: the archive, the stop request, the jobs' delivery tags."""

    def __init__(self, settings: Settings, engine: Any, workdir: Path, hostname: str) -> None:
        self.settings, self.engine, self.workdir, self.hostname = settings, engine, workdir, hostname
        self.factory = make_session_factory(engine)
        self.stop = StopRequest()
        self.tags: dict[str, str] = {}  # task id -> the broker's delivery tag (task_received)
        self.preexec = die_with_worker()

    # -- Celery signals (the worker's main thread)

    def on_received(self, sender: Any = None, request: Any = None, **_: Any) -> None:
        message = getattr(request, "message", None)
        if message is not None and request is not None:
            self.tags[request.id] = message.delivery_tag

    def on_shutdown(self, sender: Any = None, sig: Any = None, how: Any = None, **_: Any) -> None:
        # plain assignments only (a signal handler: see StopRequest); the job threads act on it
        self.stop.request(self.settings.stop_grace if how == "Warm" else 0)

    # -- one job

    def run(self, job: Job, job_id: str) -> dict[str, Any]:
        """Run one crawl job to its end; its report (status, run, host).  HandBack when the worker stops."""
        if self.stop.requested:
            raise HandBack("the worker is stopping: the job was not started")
        report: dict[str, Any] = {"source": job.source_id, "trigger": job.trigger, "host": self.hostname,
                                  "run_id": None, "exit_code": None, "error": None}
        try:
            src = parse_sources(job.sources_text, job.sources_name).get(job.source_id)
        except SourcesError as e:
            logger.error("job %s: %s", job_id, e)
            return {**report, "status": "failed", "error": str(e).splitlines()[0]}
        path = self.workdir / f"{job_id}.toml"
        path.write_text(job.sources_text, encoding="utf-8")
        try:
            return {**report, **self._crawl(src, job.trigger, path)}
        finally:
            path.unlink(missing_ok=True)

    def _crawl(self, src: Source, trigger: str, sources_path: Path) -> dict[str, Any]:
        s = self.settings
        self._reap(src.id)
        launched = repo.utcnow()
        logger.info("%s: starting a %s crawl", src.id, trigger)
        echo = ChildEcho(src.id)
        try:
            outcome = run_child(crawl_command(src.id, trigger, sources_path), s.crawl_timeout, self.stop,
                                TERM_TIMEOUT, on_line=echo, env=crawl_env(s.db_url), preexec_fn=self.preexec)
        except OSError as e:
            logger.error("%s: cannot launch the crawl: %s", src.id, e)
            record_launch_failure(self.factory, src, trigger, launched, f"cannot launch the crawl: {e}")
            return {"status": "failed", "error": f"cannot launch the crawl: {e}"}
        echo.close()
        status = record_outcome(self.factory, src, trigger, launched, outcome, s.crawl_timeout)
        run = _run_of(self.factory, src.id, outcome.pid, launched)
        logger.info("%s: run %s %s in %.0f s", src.id, run.id if run else "?", status, outcome.elapsed)
        if outcome.stopped:
            raise HandBack(f"the worker is stopping: {src.id}'s crawl was interrupted (run "
                           f"{run.id if run else '?'}) and handed back")
        return {"status": status, "run_id": run.id if run else None, "exit_code": outcome.returncode,
                "error": run.error if run else None}

    def _reap(self, source_id: str) -> None:
        lock = source_lock(self.settings.db_url, source_id, self.engine)
        try:
            lock.acquire()
        except LockHeld:  # a crawl of it runs somewhere: ours will be recorded as skipped
            return
        try:
            n = reap_dead_runs(self.factory, source_id, self.hostname)
        finally:
            lock.release()
        if n:
            logger.warning("%s: %d run(s) of a dead worker marked killed", source_id, n)


def register(app: Any, rt: Runtime) -> Any:
    """The crawl task, bound to ``rt``."""
    from celery.exceptions import Reject

    redis = broker_kind(app.conf.broker_url) == "redis"

    @app.task(name=TASK, bind=True, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def crawl_source(task: Any, source_id: str, trigger: str, sources_text: str, sources_name: str) -> dict[str, Any]:
        tag = rt.tags.pop(task.request.id, None)
        lease = Lease(app, tag, lease_renewal(rt.settings.queue_lease)) if redis and tag else contextlib.nullcontext()
        try:
            with lease:
                return rt.run(Job(source_id, trigger, sources_text, sources_name), task.request.id)
        except HandBack as e:
            logger.warning("%s", e)
            raise Reject(str(e), requeue=True) from None

    return crawl_source


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="vnarchive-worker-") as tmp:
        os.chmod(tmp, 0o700)
        yield Path(tmp)


def serve(settings: Settings, concurrency: int, hostname: str, loglevel: str = "INFO") -> int:
    """`vnarchive worker`: run queued crawl jobs until SIGTERM; the worker's exit code."""
    from celery import signals

    from crawler.runner import open_archive, reap_stale_runs

    if not settings.broker_url:
        raise QueueError("no job queue: set VNARCHIVE_BROKER (redis://host:6379/0 or amqp://user:pass@host//)")
    broker_kind(settings.broker_url)
    # the crawls this worker runs, and the run records it writes, name it
    os.environ["VNARCHIVE_HOST"] = hostname
    engine = open_archive(settings)
    reaped = reap_stale_runs(make_session_factory(engine))
    if reaped:
        logger.warning("%d runs of this worker's earlier life marked killed", reaped)
    app = make_app(settings.broker_url, lease=settings.queue_lease)
    with _workdir() as workdir:
        rt = Runtime(settings, engine, workdir, hostname)
        register(app, rt)
        signals.task_received.connect(rt.on_received, weak=False)
        signals.worker_shutting_down.connect(rt.on_shutdown, weak=False)
        argv = ["worker", "--pool=threads", f"--concurrency={concurrency}", f"--hostname={hostname}",
                f"--queues={QUEUE}", f"--loglevel={loglevel}", "--without-gossip", "--without-mingle",
                "--without-heartbeat"]
        logger.info("worker %s: up to %d crawls at once from %s; archive %s", hostname, concurrency, QUEUE,
                    engine.url.render_as_string(hide_password=True))
        try:
            app.worker_main(argv)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    engine.dispose()
    return code
