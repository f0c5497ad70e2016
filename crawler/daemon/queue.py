"""Crawl jobs on a queue: Celery with a Redis broker (or RabbitMQ, by URL), for crawls on several machines.

The scheduler decides *when* (APScheduler, as on one machine); the queue decides *where*.  One job is one
source's crawl, the same `python -m crawler crawl SOURCE` child a scheduler runs locally, with the same
per-source lock, run by whichever `vnarchive worker` is free (crawler.daemon.worker).  Spreading one site's URLs over
machines would buy nothing (politeness caps a site at a few requests a second) and break per-host politeness.

Delivery (Celery settings, below):

- ``task_acks_late`` and ``task_reject_on_worker_lost``: a job is acknowledged when it has ended, not when it
  was taken, so a job whose worker dies is delivered again.  ``worker_prefetch_multiplier = 1``: a worker
  holds only the jobs it runs, never a backlog that would wait behind a four-hour crawl.
- Redis has no acknowledgements of its own: kombu keeps a taken job in an "unacked" set and gives it back
  when it is older than the visibility timeout.  A crawl can take hours, so instead of an hours-long timeout
  (a dead worker's job would wait hours) the timeout is a short lease, VNARCHIVE_QUEUE_LEASE (120 s), which
  the worker renews every sixth of it while the job runs (:class:`crawler.daemon.worker.Lease`): a job of a worker
  that was SIGKILLed or lost its machine is back on the queue within about two minutes, whatever the crawl
  times.  RabbitMQ gives a job back when its worker's connection drops (AMQP heartbeats, ``BROKER_HEARTBEAT``);
  its ``consumer_timeout`` must exceed the longest crawl (VNARCHIVE_CRAWL_TIMEOUT).
- A job carries the sources file it was enqueued with (the scheduler's snapshot, or the file `crawl --queue`
  read), so every machine crawls what the enqueuer configured; the archive's URL never travels (each worker
  has its own VNARCHIVE_DB, password included).

Results go to the broker's Redis (or ``rpc://`` with RabbitMQ): ``crawl --queue --wait`` reads them.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

QUEUE = "vnarchive.crawl"
TASK = "vnarchive.crawl_source"
VISIBILITY_TIMEOUT = 120  # default lease (VNARCHIVE_QUEUE_LEASE): seconds before Redis gives an unrenewed job away
RESTORE_EVERY = 10  # at most this many seconds between a worker's sweeps for expired leases (restore_visible)
BROKER_HEARTBEAT = 60  # AMQP: a worker silent this long is dead and its jobs are delivered again
RESULT_EXPIRES = 24 * 3600


class QueueError(ValueError):
    """No broker configured, or it cannot be reached: the message is for the user (one line, exit 2)."""


def broker_kind(url: str) -> str:
    """``redis`` or ``amqp``; anything else is refused (QueueError)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("redis", "rediss"):
        return "redis"
    if scheme in ("amqp", "amqps", "pyamqp"):
        return "amqp"
    raise QueueError(f"VNARCHIVE_BROKER={_safe(url)!r}: expected a redis://… or amqp://… URL")


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not an RFC 1738 URL: show the scheme only
        return url.split("://", 1)[0] + "://…"


def lease_renewal(lease: float) -> float:
    """Seconds between renewals of a running job's lease: six chances before it lapses."""
    return max(0.5, lease / 6)


def make_app(broker_url: str, result_backend: str | None = None, lease: int = VISIBILITY_TIMEOUT) -> Any:
    """The Celery app of vnarchive's crawl jobs (client and worker alike; ``lease`` matters to workers)."""
    from celery import Celery

    kind = broker_kind(broker_url)
    backend = result_backend or (broker_url if kind == "redis" else "rpc://")
    app = Celery("vnarchive", broker=broker_url, backend=backend, set_as_current=False)
    transport: dict[str, Any] = {"socket_connect_timeout": 10, "socket_timeout": 30}
    if kind == "redis":
        transport.update(visibility_timeout=lease, unacked_restore_interval=min(RESTORE_EVERY, max(1, lease // 3)),
                         unacked_restore_throttle=1)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,  # a job that raised is not retried in a loop: the next slot comes
        worker_prefetch_multiplier=1,
        task_track_started=True,
        task_default_queue=QUEUE,
        task_serializer="json", result_serializer="json", accept_content=["json"],
        # a result is the job's small report; not its arguments (the sources file, kilobytes per job)
        result_expires=RESULT_EXPIRES,
        result_extended=False,
        broker_transport_options=transport,
        result_backend_transport_options={k: v for k, v in transport.items() if k.startswith("socket")},
        broker_heartbeat=BROKER_HEARTBEAT,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=10,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        timezone="Asia/Ho_Chi_Minh",
    )
    return app


@dataclass(frozen=True, slots=True)
class Job:
    """What a crawl job says: which source, why, and the sources file to read it from."""

    source_id: str
    trigger: str
    sources_text: str
    sources_name: str

    def args(self) -> list[str]:
        return [self.source_id, self.trigger, self.sources_text, self.sources_name]


def enqueue(app: Any, jobs: Sequence[Job]) -> list[Any]:
    """Send one crawl job per ``jobs`` entry; returns their AsyncResults.  QueueError when the broker cannot
    be reached (kombu retries the connection a few times first)."""
    from kombu.exceptions import OperationalError

    results = []
    try:
        with app.connection_for_write() as conn:  # a broker that is away is one quick error, not a long retry
            conn.ensure_connection(max_retries=2, interval_start=0.5, interval_step=1.0, timeout=10)
        for job in jobs:
            task_id = f"{job.source_id}-{uuid.uuid4().hex[:12]}"
            results.append(app.send_task(TASK, args=job.args(), queue=QUEUE, task_id=task_id, retry=True,
                                         retry_policy={"max_retries": 4, "interval_start": 0.5,
                                                       "interval_step": 1.0, "interval_max": 4.0}))
    except OperationalError as e:
        raise QueueError(f"cannot reach the job queue's broker ({_safe(app.conf.broker_url)}): {e}") from None
    except RuntimeError as e:  # Celery's Redis result store gave up reconnecting
        raise QueueError(f"cannot reach the job queue's result store: {str(e).split(chr(10))[0] or e}") from None
    return results


def job_for(sources_path: Path, source_id: str, trigger: str) -> Job:
    return Job(source_id, trigger, sources_path.read_text(encoding="utf-8"), str(sources_path))


@dataclass(slots=True)
class Outcome:
    """How one queued job ended, as `crawl --queue --wait` reports it."""

    source_id: str
    job_id: str
    status: str  # the run's status (finished, failed, interrupted, timeout, skipped...), or "error"
    host: str | None = None
    run_id: int | None = None
    exit_code: int | None = None
    error: str | None = None

    def line(self) -> str:
        where = f" on {self.host}" if self.host else ""
        run = f" (run {self.run_id})" if self.run_id is not None else ""
        why = f": {self.error}" if self.error and self.status != "finished" else ""
        return f"{self.source_id}: {self.status}{where}{run}{why}"


def outcome_of(result: Any, source_id: str) -> Outcome:
    """The Outcome of a ready AsyncResult: the job's own report, or its exception."""
    value = result.result
    if result.successful() and isinstance(value, dict):
        return Outcome(source_id, result.id, str(value.get("status")), value.get("host"), value.get("run_id"),
                       value.get("exit_code"), value.get("error"))
    return Outcome(source_id, result.id, "error", error=f"the job failed: {value!r}")


def wait(results: Sequence[tuple[str, Any]], on_done: Callable[[Outcome], None] | None = None,
         poll: float = 1.0, timeout: float | None = None) -> list[Outcome]:
    """Block until every (source_id, AsyncResult) has ended; ``on_done`` is called as each ends.  A job handed
    back by a stopping worker, or given back after its worker died, simply runs again elsewhere: it has ended
    only when a worker has finished it."""
    pending = list(results)
    done: list[Outcome] = []
    deadline = None if timeout is None else time.monotonic() + timeout
    while pending:
        still = []
        for sid, r in pending:
            if r.ready():
                o = outcome_of(r, sid)
                done.append(o)
                if on_done is not None:
                    on_done(o)
            else:
                still.append((sid, r))
        pending = still
        if pending:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} jobs still queued or running")
            time.sleep(poll)
    order = {sid: i for i, (sid, _) in enumerate(results)}
    return sorted(done, key=lambda o: order[o.source_id])


class Dispatcher:
    """The scheduler's way out when VNARCHIVE_BROKER is set: a due source is enqueued instead of run here.

    A source whose previous job is still queued or running is not enqueued again (one crawl per source: the
    lock would skip the second anyway, and a queue must not fill with the slots of one slow site).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.pending: dict[str, tuple[Any, dt.datetime]] = {}

    def where(self) -> str:
        return _safe(self.app.conf.broker_url)

    def submit(self, job: Job) -> tuple[bool, str]:
        prev = self.pending.get(job.source_id)
        if prev is not None:
            result, since = prev
            try:
                busy = not result.ready()
            except Exception:  # the result backend cannot say: enqueue (the source's lock keeps it single)
                busy = False
            if busy:
                return False, (f"its job {result.id}, enqueued at {since.isoformat(timespec='seconds')}, is still "
                               "queued or running; not enqueued again")
        (result,) = enqueue(self.app, [job])
        self.pending[job.source_id] = (result, dt.datetime.now(dt.UTC))
        return True, f"enqueued as job {result.id}"
