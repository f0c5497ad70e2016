"""Crawl jobs on a queue (crawler.daemon.queue, crawler.daemon.worker): real redis-server, real `vnarchive
worker`s in subprocesses, crawling loopback sites into one archive (SQLite, or PostgreSQL with
VNARCHIVE_TEST_BACKEND=postgresql).

VNARCHIVE_TEST_REDIS names a throwaway Redis (its database is flushed by each test); `bash .ci/run` starts one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Page, run_cli
from tests.sitefixture import build_site, sources_toml

REDIS = os.environ.get("VNARCHIVE_TEST_REDIS")
needs_redis = pytest.mark.skipif(not REDIS, reason="VNARCHIVE_TEST_REDIS is not set (bash .ci/run starts a "
                                 "redis-server on loopback and sets it)")


# ---------------------------------------------------------------- without a broker

def test_broker_urls_are_checked() -> None:
    from crawler.daemon.queue import QueueError, broker_kind

    assert broker_kind("redis://127.0.0.1:6379/0") == "redis"
    assert broker_kind("amqp://u:p@mq//") == "amqp"
    with pytest.raises(QueueError, match="expected a redis"):
        broker_kind("http://u:secret@host/")


def test_queue_and_worker_need_a_broker(tmp_path: Path, fresh_db: Callable[..., str]) -> None:
    (tmp_path / "s.toml").write_text(sources_toml("http://127.0.0.1:9"), encoding="utf-8")
    env = {"VNARCHIVE_DB": fresh_db("a.db"), "VNARCHIVE_SOURCES": str(tmp_path / "s.toml"),
           "VNARCHIVE_BROKER": ""}
    r = run_cli("crawl", "--all", "--queue", env=env)
    assert r.returncode == 2 and "VNARCHIVE_BROKER" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("crawl", "--all", "--wait", env=env)
    assert r.returncode == 2 and "--wait goes with --queue" in r.stderr
    r = run_cli("worker", env=env)
    assert r.returncode == 2 and "VNARCHIVE_BROKER" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("crawl", "--all", "--queue", env={**env, "VNARCHIVE_BROKER": "redis://127.0.0.1:9/0"})
    assert r.returncode == 2 and "cannot reach the job queue's broker" in r.stderr, r.stderr


class _Result:
    def __init__(self, ready: bool) -> None:
        self.id, self._ready = uuid.uuid4().hex, ready

    def ready(self) -> bool:
        return self._ready


def test_dispatcher_does_not_enqueue_a_source_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    from crawler.daemon import queue

    sent: list[Any] = []
    monkeypatch.setattr(queue, "enqueue", lambda app, jobs: [sent.append(j) or _Result(False) for j in jobs])
    d = queue.Dispatcher(app=None)
    job = queue.Job("bao", "schedule", "", "s.toml")
    assert d.submit(job)[0] is True
    ok, why = d.submit(job)
    assert ok is False and "still queued or running" in why
    d.pending["bao"][0]._ready = True
    assert d.submit(job)[0] is True
    assert len(sent) == 2


def test_scheduler_enqueues_instead_of_starting_children(tmp_path: Path, db_url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import Settings
    from crawler.daemon import scheduler
    from storage.db import make_engine, make_session_factory

    (tmp_path / "s.toml").write_text(sources_toml("http://127.0.0.1:9"), encoding="utf-8")
    settings = Settings(db_url=db_url, sources_path=tmp_path / "s.toml", broker_url="redis://127.0.0.1:9/0")
    daemon = scheduler.Daemon(settings, make_session_factory(make_engine(db_url)))
    submitted: list[Any] = []
    assert daemon.dispatcher is not None
    monkeypatch.setattr(daemon.dispatcher, "submit", lambda job: (submitted.append(job), (True, "enqueued"))[1])
    monkeypatch.setattr(scheduler, "run_child", lambda *a, **k: pytest.fail("a local child was started"))
    daemon.load()
    daemon.run_source("fixture", "schedule")
    assert [(j.source_id, j.trigger) for j in submitted] == [("fixture", "schedule")]
    # the job carries the sources file as the daemon loaded it, for workers on other machines
    assert submitted[0].sources_text == (tmp_path / "s.toml").read_text(encoding="utf-8")


def test_runs_record_their_host(tmp_path: Path, db_url: str, serve_site: Callable[..., Any]) -> None:
    site = serve_site(build_site())
    (tmp_path / "s.toml").write_text(sources_toml(site.base), encoding="utf-8")
    env = {"VNARCHIVE_DB": db_url, "VNARCHIVE_SOURCES": str(tmp_path / "s.toml"), "VNARCHIVE_HOST": "m1"}
    assert run_cli("crawl", "fixture", "-q", env=env).returncode == 0
    runs = [json.loads(line) for line in run_cli("runs", "--json", env=env).stdout.splitlines()]
    assert [(r["host"], r["status"]) for r in runs] == [("m1", "finished")]


def test_dead_runs_are_reaped_only_under_the_source_lock(db_url: str, session_factory: Any) -> None:
    from crawler.daemon.worker import reap_dead_runs
    from storage import repo

    with session_factory.begin() as s:
        repo.ensure_sources(s, [("bao", "Báo")])
        run = repo.start_run(s, "bao", "schedule", pid=1)
        run.host = "elsewhere"
    assert reap_dead_runs(session_factory, "bao", "w9") == 1
    with session_factory() as s:
        from storage.models import CrawlRun

        r = s.get(CrawlRun, run.id)
        assert r is not None and r.status == "killed" and "elsewhere" in (r.error or "") and "w9" in (r.error or "")


# ---------------------------------------------------------------- with redis-server and workers

@pytest.fixture
def broker() -> Iterator[str]:
    if not REDIS:
        pytest.skip("VNARCHIVE_TEST_REDIS is not set")
    import redis

    client = redis.Redis.from_url(REDIS)
    client.flushdb()
    yield REDIS
    client.flushdb()
    client.close()


@pytest.fixture
def archive(fresh_db: Callable[..., str]) -> str:
    """The shared archive, migrated: an SQLite file, or a PostgreSQL database with VNARCHIVE_TEST_BACKEND."""
    return fresh_db(migrated=True)


def _slow(page: Page, seconds: float) -> Callable[[], Page]:
    def answer() -> Page:
        time.sleep(seconds)
        return page
    return answer


def _sites(serve_site: Callable[..., Any], tmp_path: Path, delay: float = 0.0,
           ids: tuple[str, ...] = ("bao1", "bao2")) -> tuple[list[Any], Path]:
    sites, parts = [], []
    for sid in ids:
        pages: dict[str, Any] = build_site()
        if delay:
            pages = {p: _slow(pg, delay) if p.startswith("/bai-viet/bai-so-") else pg for p, pg in pages.items()}
        site = serve_site(pages)
        sites.append(site)
        parts.append(sources_toml(site.base).replace('id = "fixture"', f'id = "{sid}"')
                     .replace("concurrency = 4", "concurrency = 1"))
    path = tmp_path / "sources.toml"
    path.write_text("\n".join(parts), encoding="utf-8")
    return sites, path


class Workers:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115
        p = subprocess.Popen([sys.executable, "-m", "crawler", "worker", "--concurrency", "1", "--hostname", name],
                             cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.procs[name] = p
        return p

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while "ready." not in self.log(name):
            assert self.procs[name].poll() is None, self.log(name)
            assert time.monotonic() < deadline, f"worker {name} not ready: {self.log(name)[-2000:]}"
            time.sleep(0.2)

    def stop_all(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Workers]]:
    made: list[Workers] = []

    def make(env: dict[str, str]) -> Workers:
        w = Workers(env, tmp_path)
        made.append(w)
        return w

    yield make
    for w in made:
        w.stop_all()


def _runs(env: dict[str, str]) -> list[dict[str, Any]]:
    r = run_cli("runs", "--json", "-n", "100", env=env)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def _export(env: dict[str, str], tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / f"export-{uuid.uuid4().hex[:6]}.jsonl"
    r = run_cli("export", "--format", "jsonl", "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]


def _article_fetches(site: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in site.paths_requested():
        if path.startswith("/bai-viet/bai-so-"):
            counts[path] = counts.get(path, 0) + 1
    return counts


@needs_redis
@pytest.mark.slow
def test_queue_wait_runs_every_source_once_on_the_workers(tmp_path: Path, broker: str, archive: str,
                                                          serve_site: Callable[..., Any],
                                                          workers: Callable[[dict[str, str]], Workers]) -> None:
    sites, sources = _sites(serve_site, tmp_path)
    env = {"VNARCHIVE_DB": archive, "VNARCHIVE_SOURCES": str(sources), "VNARCHIVE_BROKER": broker}
    w = workers(env)
    for name in ("wa", "wb"):
        w.start(name)
    for name in ("wa", "wb"):
        w.wait_ready(name)
    r = run_cli("crawl", "--all", "--queue", "--wait", env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 of 2 jobs finished" in r.stdout
    runs = _runs(env)
    assert sorted((x["source"], x["status"]) for x in runs) == [("bao1", "finished"), ("bao2", "finished")]
    assert {x["host"] for x in runs} <= {"wa", "wb"}
    rows = _export(env, tmp_path)
    urls = [row["url"] for row in rows]
    assert len(urls) == len(set(urls)) == 12
    for site in sites:  # every article fetched once: one crawl per source, nothing doubled
        assert _article_fetches(site) == {f"/bai-viet/bai-so-{n}.html": 1 for n in range(1, 7)}


def _wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@needs_redis
@pytest.mark.slow
def test_a_sigkilled_workers_job_runs_again_on_another_worker(tmp_path: Path, broker: str, archive: str,
                                                               serve_site: Callable[..., Any],
                                                               workers: Callable[[dict[str, str]], Workers]) -> None:
    sites, sources = _sites(serve_site, tmp_path, delay=0.7, ids=("bao1",))
    site = sites[0]
    env = {"VNARCHIVE_DB": archive, "VNARCHIVE_SOURCES": str(sources), "VNARCHIVE_BROKER": broker,
           "VNARCHIVE_QUEUE_LEASE": "6"}
    w = workers(env)
    a = w.start("wa")
    w.wait_ready("wa")
    q = subprocess.Popen([sys.executable, "-m", "crawler", "crawl", "bao1", "--queue", "--wait"], cwd=ROOT,
                         env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(lambda: bool(_article_fetches(site)), 60, "wa's crawl to fetch an article")
        w.start("wb")
        w.wait_ready("wb")
        assert q.poll() is None, "the job ended before the kill"
        os.killpg(a.pid, signal.SIGKILL)
        a.wait()
        out, _ = q.communicate(timeout=240)
    finally:
        if q.poll() is None:
            q.kill()
    assert q.returncode == 0, out
    assert "bao1: finished on wb" in out, out
    runs = _runs(env)
    mine = [x for x in runs if x["host"] == "wa"]
    theirs = [x for x in runs if x["host"] == "wb"]
    assert [x["status"] for x in theirs] == ["finished"]
    # wa's crawl died with it (SIGTERM from the kernel: it recorded itself interrupted), or was found dead
    assert len(mine) == 1 and mine[0]["status"] in ("interrupted", "killed"), mine
    rows = _export(env, tmp_path)
    assert len(rows) == len({row["url"] for row in rows}) == 6
    assert set(_article_fetches(site)) == {f"/bai-viet/bai-so-{n}.html" for n in range(1, 7)}
    assert mine[0]["started"] < theirs[0]["started"]
    assert dt.datetime.fromisoformat(theirs[0]["ended"]) >= dt.datetime.fromisoformat(mine[0]["started"])


@needs_redis
@pytest.mark.slow
def test_sigterm_hands_the_running_job_back(tmp_path: Path, broker: str, archive: str,
                                            serve_site: Callable[..., Any],
                                            workers: Callable[[dict[str, str]], Workers]) -> None:
    sites, sources = _sites(serve_site, tmp_path, delay=0.7, ids=("bao1",))
    site = sites[0]
    env = {"VNARCHIVE_DB": archive, "VNARCHIVE_SOURCES": str(sources), "VNARCHIVE_BROKER": broker,
           "VNARCHIVE_STOP_GRACE": "0"}
    w = workers(env)
    a = w.start("wa")
    w.wait_ready("wa")
    q = subprocess.Popen([sys.executable, "-m", "crawler", "crawl", "bao1", "--queue", "--wait"], cwd=ROOT,
                         env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(lambda: bool(_article_fetches(site)), 60, "wa's crawl to fetch an article")
        os.killpg(a.pid, signal.SIGTERM)
        assert a.wait(60) == 0, w.log("wa")[-3000:]
        assert "handed back" in w.log("wa")
        w.start("wb")
        out, _ = q.communicate(timeout=240)
    finally:
        if q.poll() is None:
            q.kill()
    assert q.returncode == 0, out
    assert "bao1: finished on wb" in out, out
    runs = _runs(env)
    assert sorted((x["host"], x["status"]) for x in runs) == [("wa", "interrupted"), ("wb", "finished")]
    rows = _export(env, tmp_path)
    assert len(rows) == len({row["url"] for row in rows}) == 6


@needs_redis
@pytest.mark.slow
def test_the_scheduler_enqueues_its_runs_for_the_workers(tmp_path: Path, broker: str, archive: str,
                                                         serve_site: Callable[..., Any],
                                                         workers: Callable[[dict[str, str]], Workers]) -> None:
    sites, sources = _sites(serve_site, tmp_path)
    env = {"VNARCHIVE_DB": archive, "VNARCHIVE_SOURCES": str(sources), "VNARCHIVE_BROKER": broker,
           "VNARCHIVE_SCHEDULE_EVERY": "3600"}
    w = workers(env)
    w.start("wa")
    w.wait_ready("wa")
    log = open(tmp_path / "scheduler.log", "wb")  # noqa: SIM115
    daemon = subprocess.Popen([sys.executable, "-m", "crawler", "scheduler", "start"], cwd=ROOT,
                              env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    try:
        # never crawled: each source is caught up once, through the queue, on the worker
        _wait_for(lambda: sorted(x["status"] for x in _runs(env)) == ["finished", "finished"], 180,
                  "both catch-up runs to finish on the worker")
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(60) == 0
    text = (tmp_path / "scheduler.log").read_text(errors="replace")
    assert "crawls are enqueued for `vnarchive worker`s" in text
    assert "bao1: schedule run enqueued as job" in text and "bao2: schedule run enqueued as job" in text
    assert sorted((x["source"], x["trigger"], x["host"]) for x in _runs(env)) == [
        ("bao1", "schedule", "wa"), ("bao2", "schedule", "wa")]
