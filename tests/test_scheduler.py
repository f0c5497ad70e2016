"""The scheduler without sleeping: jobs planned from config for a frozen now, run records, health flags,
run-now requests, and the `runs` / `scheduler status` commands on crafted rows."""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from typer.testing import CliRunner

from config.settings import Settings
from config.sources import Source, parse_sources
from crawler.daemon import scheduler as sched
from crawler.daemon.jobs import ChildOutcome
from crawler.daemon.scheduler import (
    CATCHUP_DELAY,
    JOB_PREFIX,
    MISFIRE_GRACE,
    Daemon,
    final_status,
    install_jobs,
    make_scheduler,
    plan_jobs,
    record_launch_failure,
    record_outcome,
    schedule_interval,
    status_rows,
    submit_run_now,
)
from crawler.history import VN_TZ, consecutive_failures, iso, judge, last_successes, run_record, source_health
from storage import repo
from storage.models import Article, CrawlRun

NOW = dt.datetime(2024, 10, 3, 10, 7, 30, tzinfo=VN_TZ)

SOURCES = """
[defaults]
schedule = "*/30 * * * *"
expect_new_within_hours = 24
[[source]]
id = "mps"
name = "Bộ Công an"
allowed_domains = ["127.0.0.2"]
start_urls = ["http://127.0.0.2/"]
article_patterns = ['/bai-viet/']
[[source]]
id = "tinh"
name = "Tỉnh"
allowed_domains = ["127.0.0.4"]
start_urls = ["http://127.0.0.4/"]
article_patterns = ['/portal/']
schedule = "0 6,18 * * *"
expect_new_within_hours = 72
"""


@pytest.fixture
def sources() -> list[Source]:
    return list(parse_sources(SOURCES).sources)


# ---------------------------------------------------------------- planning

def test_cron_jobs_for_a_frozen_now(sources: list[Source]) -> None:
    recent = {"mps": NOW - dt.timedelta(minutes=10), "tinh": NOW - dt.timedelta(hours=4)}
    specs = plan_jobs(sources, 0, NOW, recent)
    assert [s.id for s in specs] == ["crawl:mps", "crawl:tinh"]
    assert all(isinstance(s.trigger, CronTrigger) and s.catch_up is None for s in specs)
    assert specs[0].next_run_time == dt.datetime(2024, 10, 3, 10, 30, tzinfo=VN_TZ)
    assert specs[1].next_run_time == dt.datetime(2024, 10, 3, 18, 0, tzinfo=VN_TZ)
    assert specs[1].next_run_time.utcoffset() == dt.timedelta(hours=7)
    assert schedule_interval(specs[0].trigger, NOW) == dt.timedelta(minutes=30)
    assert schedule_interval(specs[1].trigger, NOW) == dt.timedelta(hours=12)


def test_catch_up_once_when_the_last_success_is_older_than_the_interval(sources: list[Source]) -> None:
    specs = plan_jobs(sources, 0, NOW, {"mps": NOW - dt.timedelta(hours=2, minutes=5)})
    soon = NOW + dt.timedelta(seconds=CATCHUP_DELAY)
    assert specs[0].next_run_time == soon and "about 4 slots missed" in (specs[0].catch_up or "")
    assert specs[1].next_run_time == soon and specs[1].catch_up == "never crawled successfully"
    # after the catch-up run the cron takes over again
    assert specs[0].trigger.get_next_fire_time(soon, soon) == dt.datetime(2024, 10, 3, 10, 30, tzinfo=VN_TZ)


def test_no_catch_up_for_sources_already_scheduled(sources: list[Source]) -> None:
    # a reload (SIGHUP) catches up only the sources new to the daemon
    specs = plan_jobs(sources, 0, NOW, {}, no_catch_up=frozenset({"mps"}))
    assert specs[0].catch_up is None and specs[0].next_run_time == dt.datetime(2024, 10, 3, 10, 30, tzinfo=VN_TZ)
    assert specs[1].catch_up == "never crawled successfully"


def test_schedule_every_replaces_every_cron(sources: list[Source]) -> None:
    specs = plan_jobs(sources, 20, NOW, {"mps": NOW - dt.timedelta(seconds=5), "tinh": NOW - dt.timedelta(seconds=5)})
    for s in specs:
        assert isinstance(s.trigger, IntervalTrigger)
        assert s.next_run_time == NOW + dt.timedelta(seconds=20)
        assert s.trigger.get_next_fire_time(s.next_run_time, s.next_run_time) == NOW + dt.timedelta(seconds=40)


def test_installed_jobs_and_their_defaults(sources: list[Source]) -> None:
    scheduler = make_scheduler(sched.ThreadPoolExecutor(2))

    def func(source_id: str, trigger: str) -> None: ...

    install_jobs(scheduler, plan_jobs(sources, 0, NOW, {}), func)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert sorted(jobs) == ["crawl:mps", "crawl:tinh"]
    for job in jobs.values():
        assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, MISFIRE_GRACE)
        assert job.next_run_time == NOW + dt.timedelta(seconds=CATCHUP_DELAY)
        assert job.args == (job.id.removeprefix(JOB_PREFIX), "schedule")
    assert str(scheduler.timezone) == "Asia/Ho_Chi_Minh"


def test_reload_replaces_and_removes_jobs(sources: list[Source]) -> None:
    # a started (paused) scheduler: what SIGHUP's reload meets; same job logic as the blocking one
    scheduler = BackgroundScheduler(timezone=VN_TZ, job_defaults=sched.JOB_DEFAULTS)
    scheduler.start(paused=True)
    try:
        def func(source_id: str, trigger: str) -> None: ...

        install_jobs(scheduler, plan_jobs(sources, 0, NOW, {}), func)
        install_jobs(scheduler, plan_jobs(sources, 0, NOW, {"mps": NOW, "tinh": NOW}), func)
        jobs = {j.id: j for j in scheduler.get_jobs()}
        assert sorted(jobs) == ["crawl:mps", "crawl:tinh"]
        assert jobs["crawl:mps"].next_run_time == dt.datetime(2024, 10, 3, 10, 30, tzinfo=VN_TZ)
        scheduler.add_job(func, "date", run_date=NOW, args=["mps", "run-now"], id="run-now:mps")
        install_jobs(scheduler, plan_jobs(sources[:1], 0, NOW, {}), func)
        assert sorted(j.id for j in scheduler.get_jobs()) == ["crawl:mps", "run-now:mps"]
    finally:
        scheduler.shutdown(wait=False)


# ---------------------------------------------------------------- run records

def test_final_status() -> None:
    ok = ChildOutcome(10, 0, 1.0)
    assert final_status(ok, "finished", 60) is None
    assert final_status(ChildOutcome(10, 0, 1.0), "skipped", 60) is None
    assert final_status(ChildOutcome(10, -15, 61, timed_out=True), "interrupted", 60)[0] == "timeout"  # type: ignore[index]
    assert final_status(ChildOutcome(10, 2, 1.0, tail=("error: bad",)), None, 60) == (
        "failed", "the crawl exited with code 2: error: bad before recording its run")
    assert final_status(ChildOutcome(10, -9, 1.0), "running", 60)[0] == "failed"  # type: ignore[index]
    assert final_status(ChildOutcome(10, -9, 1.0, stopped=True), "running", 60)[0] == "interrupted"  # type: ignore[index]
    assert final_status(ChildOutcome(10, -15, 1.0, stopped=True), None, 60)[0] == "interrupted"  # type: ignore[index]


def _source(sid: str = "mps") -> Source:
    return next(s for s in parse_sources(SOURCES).sources if s.id == sid)


def _add_run(factory: Any, sid: str, status: str, started: dt.datetime, pid: int | None = None,
             new: int = 0, ended: dt.datetime | None = None) -> int:
    with factory.begin() as s:
        repo.ensure_sources(s, [(sid, sid)])
        run = repo.start_run(s, sid, "schedule", pid=pid)
        run.started_at = started
        if status != "running":
            repo.finish_run(s, run.id, status, exit_code=0 if status == "finished" else 1,
                            counts={"articles_new": new, "pages_fetched": 3})
            s.flush()
            s.get(CrawlRun, run.id).ended_at = ended or started + dt.timedelta(minutes=1)  # type: ignore[union-attr]
        return run.id


def _run(factory: Any, run_id: int) -> CrawlRun:
    with factory() as s:
        run = s.get(CrawlRun, run_id)
        assert run is not None
        return run


def test_timeout_overrides_the_childs_own_record(session_factory: Any) -> None:
    launched = repo.utcnow()
    rid = _add_run(session_factory, "mps", "running", launched + dt.timedelta(seconds=1), pid=4242)
    status = record_outcome(session_factory, _source(), "schedule", launched,
                            ChildOutcome(4242, -9, 61.0, timed_out=True), timeout=60)
    run = _run(session_factory, rid)
    assert status == run.status == "timeout" and run.ended_at is not None and run.exit_code == -9
    assert "60 s wall-clock limit" in (run.error or "")


def test_a_child_that_died_before_recording_gets_a_failed_row(session_factory: Any) -> None:
    launched = repo.utcnow()
    status = record_outcome(session_factory, _source(), "schedule", launched,
                            ChildOutcome(4343, 2, 0.5, tail=("error: no such table",)), timeout=60)
    with session_factory() as s:
        run = s.execute(select(CrawlRun).where(CrawlRun.pid == 4343)).scalar_one()
    assert status == run.status == "failed" and run.exit_code == 2 and "no such table" in (run.error or "")
    assert run.started_at == launched and run.ended_at is not None


def test_the_childs_own_finished_record_stands(session_factory: Any) -> None:
    launched = repo.utcnow()
    rid = _add_run(session_factory, "mps", "finished", launched, pid=4444, new=5)
    assert record_outcome(session_factory, _source(), "schedule", launched, ChildOutcome(4444, 0, 3.0), 60) == "finished"
    assert _run(session_factory, rid).articles_new == 5 and _run(session_factory, rid).error is None
    assert _run(session_factory, rid).exit_code == 0
    # stopped by SIGTERM: the runner writes 'interrupted' with exit code 1, the process exits 3
    rid = _add_run(session_factory, "mps", "interrupted", launched, pid=4545)
    assert record_outcome(session_factory, _source(), "schedule", launched,
                          ChildOutcome(4545, 3, 3.0, stopped=True), 60) == "interrupted"
    assert _run(session_factory, rid).exit_code == 3


def test_launch_failure_is_recorded(session_factory: Any) -> None:
    record_launch_failure(session_factory, _source(), "run-now", repo.utcnow(), "cannot launch the crawl: ENOMEM")
    with session_factory() as s:
        run = s.execute(select(CrawlRun)).scalar_one()
    assert (run.status, run.trigger, run.error) == ("failed", "run-now", "cannot launch the crawl: ENOMEM")


def _daemon(tmp_path: Path, db_url: str, factory: Any, **kw: Any) -> Daemon:
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES, encoding="utf-8")
    return Daemon(Settings(db_url=db_url, sources_path=path, **kw), factory, fail_threshold=2, term_timeout=1)


def test_a_failing_crawl_is_recorded_and_never_left_running(tmp_path: Path, db_url: str, session_factory: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    d = _daemon(tmp_path, db_url, session_factory)
    d.load()
    monkeypatch.setattr(sched, "crawl_command", lambda *a: [sys.executable, "-c",
                                                            "import sys; print('error: boom', file=sys.stderr); sys.exit(1)"])
    d.run_source("mps", "schedule")
    monkeypatch.setattr(sched, "crawl_command", lambda *a: [sys.executable, "-c", "import time; time.sleep(60)"])
    d.settings = Settings(db_url=db_url, sources_path=d.settings.sources_path, crawl_timeout=0)
    d.run_source("mps", "schedule")
    with session_factory() as s:
        runs = list(s.execute(select(CrawlRun).order_by(CrawlRun.id)).scalars())
    assert [(r.status, r.exit_code) for r in runs] == [("failed", 1), ("timeout", -15)]
    assert "error: boom" in (runs[0].error or "")
    assert d.running == {}


def test_reload_keeps_the_jobs_when_the_file_is_bad(tmp_path: Path, db_url: str, session_factory: Any,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    d = _daemon(tmp_path, db_url, session_factory)
    d.load()
    d.settings.sources_path.write_text("[[source]]\nid = 'x'\n", encoding="utf-8")
    with caplog.at_level("ERROR", logger="crawler.daemon.scheduler"):
        d.reload()
    assert "sources file not reloaded" in caplog.text and "required key is missing" in caplog.text
    assert sorted(d.sources) == ["mps", "tinh"]
    assert sorted(j.id for j in d.scheduler.get_jobs()) == ["crawl:mps", "crawl:tinh"]
    assert (d.ctl / "sources.toml").read_text(encoding="utf-8") == SOURCES  # the crawls still get the good one


def test_load_snapshots_the_sources_for_the_crawls(tmp_path: Path, db_url: str, session_factory: Any) -> None:
    d = _daemon(tmp_path, db_url, session_factory)
    d.load()
    snap = d.ctl / "sources.toml"
    assert snap.read_text(encoding="utf-8") == SOURCES and oct(snap.stat().st_mode & 0o777) == "0o600"
    assert d.snapshot == snap


def test_no_run_starts_once_stopping(tmp_path: Path, db_url: str, session_factory: Any,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    d = _daemon(tmp_path, db_url, session_factory)
    d.load()
    monkeypatch.setattr(sched, "run_child", lambda *a, **k: pytest.fail("launched while stopping"))
    d.stop.request(60)
    d.run_source("mps", "schedule")


def test_child_output_reaches_the_log_bounded(caplog: pytest.LogCaptureFixture) -> None:
    echo = sched.ChildEcho("mps", max_lines=3, max_chars=10)
    with caplog.at_level("WARNING", logger="crawler.daemon.scheduler"):
        for i in range(5):
            echo(f"line {i} " + "x" * 50)
        echo.close()
    assert caplog.messages == ["[mps] line 0 xxx", "[mps] line 1 xxx", "[mps] line 2 xxx",
                               "[mps] 2 more lines of crawl output not logged"]


# ---------------------------------------------------------------- run-now and state

def test_run_now_requests(tmp_path: Path, db_url: str, session_factory: Any) -> None:
    d = _daemon(tmp_path, db_url, session_factory)
    d.load()
    assert d.run_now("nope") == (False, f"no source 'nope' in {d.settings.sources_path}")
    ok, msg = d.run_now("mps")
    assert ok and "starting a crawl of mps" in msg
    job = d.scheduler.get_job("run-now:mps")
    assert job is not None and job.args == ("mps", "run-now") and job.max_instances == 1
    d.running["tinh"] = sched.Running("schedule", repo.utcnow(), pid=99)
    ok, msg = d.run_now("tinh")
    assert not ok and "already running" in msg
    state = d.state()
    assert set(state["next_runs"]) == {"mps", "tinh"} and state["running"]["tinh"]["pid"] == 99

    # the request/answer files the CLI and the daemon exchange
    answered = threading.Event()

    def daemon_side() -> None:
        for _ in range(100):
            if list(d.ctl.glob("*.run-now")):
                d.serve_requests()
                answered.set()
                return
            threading.Event().wait(0.05)

    t = threading.Thread(target=daemon_side)
    t.start()
    ok, msg = submit_run_now(d.ctl, "tinh", wait=10)
    t.join()
    assert answered.is_set() and not ok and "already running" in msg
    assert [f.name for f in d.ctl.iterdir()] == ["sources.toml"]  # request and answer both consumed


def test_run_now_without_an_answer_withdraws_the_request(tmp_path: Path) -> None:
    with pytest.raises(TimeoutError, match="did not answer"):
        submit_run_now(tmp_path, "mps", wait=0.2)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- health

def test_consecutive_failures() -> None:
    assert consecutive_failures(["failed", "timeout", "finished", "failed"]) == 2
    assert consecutive_failures(["interrupted", "failed", "skipped", "killed", "finished"]) == 2
    assert consecutive_failures(["finished", "failed"]) == 0
    assert consecutive_failures([]) == 0


def test_health_flags_from_crafted_rows(session_factory: Any, sources: list[Source]) -> None:
    now = repo.utcnow()
    _add_run(session_factory, "mps", "finished", now - dt.timedelta(hours=30), new=3)
    for h in (5, 3, 1):
        _add_run(session_factory, "mps", "failed", now - dt.timedelta(hours=h))
    _add_run(session_factory, "mps", "interrupted", now - dt.timedelta(minutes=30))
    with session_factory.begin() as s:
        s.add(Article(source_id="mps", canonical_url="http://127.0.0.2/bai-viet/1", first_seen=now - dt.timedelta(hours=30),
                      last_seen=now, status="live"))
    _add_run(session_factory, "tinh", "finished", now - dt.timedelta(hours=2))
    with session_factory() as s:
        mps, tinh = source_health(s, sources, now, fail_threshold=3)
        assert last_successes(s) == {"mps": now - dt.timedelta(hours=30), "tinh": now - dt.timedelta(hours=2)}
    assert mps.consecutive_failures == 3 and mps.last_run is not None and mps.last_run.status == "interrupted"
    assert mps.flags == ["failed 3 times in a row", "no new article for 30 h (expected within 24 h)"]
    assert abs(mps.last_new - (now - dt.timedelta(hours=30))) < dt.timedelta(seconds=1)  # type: ignore[operator]
    # never archived anything, but only 2 h old: within its 72 h expectation
    assert tinh.flags == [] and tinh.last_new is None


def test_judge_a_source_that_never_yielded(sources: list[Source]) -> None:
    h = judge(sources[0], [], None, NOW - dt.timedelta(days=3), NOW, 3)
    assert h.flags == ["no article at all for 72 h (expected within 24 h)"]
    assert judge(sources[0], [], None, None, NOW, 3).flags == []  # never run: nothing to judge yet


def test_run_record_times_have_an_offset(session_factory: Any) -> None:
    rid = _add_run(session_factory, "mps", "finished", dt.datetime(2024, 10, 3, 3, 0, tzinfo=dt.UTC), new=2)
    rec = run_record(_run(session_factory, rid))
    assert rec["started"] == "2024-10-03T10:00:00+07:00" and rec["ended"] == "2024-10-03T10:01:00+07:00"
    assert {k: rec[k] for k in ("source", "trigger", "status", "exit_code", "pages", "new")} == {
        "source": "mps", "trigger": "schedule", "status": "finished", "exit_code": 0, "pages": 3, "new": 2}
    assert iso(None) is None


def test_status_rows_without_a_daemon(tmp_path: Path, db_url: str, session_factory: Any, sources: list[Source]) -> None:
    now = NOW.astimezone(dt.UTC)
    _add_run(session_factory, "mps", "finished", now - dt.timedelta(minutes=10))
    rows = status_rows(Settings(db_url=db_url), sources, session_factory, None, 3, now)
    assert rows[0]["next_run"] == "2024-10-03T10:30:00+07:00" and rows[0]["last_status"] == "finished"
    assert rows[1]["next_run"] == iso(now + dt.timedelta(seconds=CATCHUP_DELAY))  # never ran: catch-up
    assert rows[1]["last_run"] is None and rows[1]["running"] is None


# ---------------------------------------------------------------- the commands

def _cli(args: list[str], env: dict[str, str]) -> Any:
    from crawler.cli import app

    return CliRunner().invoke(app, args, env=env)


def test_runs_json(db_url: str, session_factory: Any) -> None:
    _add_run(session_factory, "mps", "finished", dt.datetime(2024, 10, 3, 3, 0, tzinfo=dt.UTC), new=2)
    _add_run(session_factory, "tinh", "failed", dt.datetime(2024, 10, 3, 4, 0, tzinfo=dt.UTC))
    res = _cli(["runs", "--json", "--limit", "5"], {"VNARCHIVE_DB": db_url})
    assert res.exit_code == 0, res.output
    recs = [json.loads(line) for line in res.output.splitlines()]
    assert [r["source"] for r in recs] == ["tinh", "mps"]
    for r in recs:
        assert {"source", "trigger", "started", "ended", "status", "exit_code", "pages", "new", "updated",
                "unchanged", "removed", "skipped", "error"} <= set(r)
        assert dt.datetime.fromisoformat(r["started"]).utcoffset() == dt.timedelta(hours=7)
    res = _cli(["runs", "--json", "--source", "mps"], {"VNARCHIVE_DB": db_url})
    assert [json.loads(line)["source"] for line in res.output.splitlines()] == ["mps"]
    assert _cli(["runs"], {"VNARCHIVE_DB": db_url}).exit_code == 0


def test_runs_on_a_missing_archive_is_one_line(tmp_path: Path) -> None:
    res = _cli(["runs"], {"VNARCHIVE_DB": f"sqlite:///{tmp_path / 'none.db'}"})
    assert res.exit_code != 0 and "Traceback" not in res.output


def test_status_json(tmp_path: Path, db_url: str, session_factory: Any) -> None:
    (tmp_path / "s.toml").write_text(SOURCES, encoding="utf-8")
    for h in (3, 2, 1):
        _add_run(session_factory, "mps", "timeout", repo.utcnow() - dt.timedelta(hours=h))
    env = {"VNARCHIVE_DB": db_url, "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}
    res = _cli(["scheduler", "status", "--json"], env)
    assert res.exit_code == 0, res.output
    rows = {r["source"]: r for r in map(json.loads, res.output.splitlines())}
    assert rows["mps"]["consecutive_failures"] == 3 and rows["mps"]["flags"] == ["failed 3 times in a row"]
    res = _cli(["scheduler", "status", "--json", "--alert-after", "4"], env)
    assert json.loads(res.output.splitlines()[0])["flags"] == []
    res = _cli(["scheduler", "status"], env)
    assert res.exit_code == 0 and "scheduler not running" in res.output and "failed 3 times" in res.output


def test_second_start_refuses_at_once(tmp_path: Path, db_url: str) -> None:
    from crawler.locks import daemon_lock
    from storage.db import make_engine

    (tmp_path / "s.toml").write_text(SOURCES, encoding="utf-8")
    engine = make_engine(db_url)  # PostgreSQL's advisory lock is held on a connection of the archive's engine
    with daemon_lock(db_url, engine):
        res = _cli(["scheduler", "start"], {"VNARCHIVE_DB": db_url, "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")})
    engine.dispose()
    assert res.exit_code == 1
    assert "a vnarchive scheduler for this archive is already running" in res.output


def test_every_command_has_help() -> None:
    from typer.main import get_command

    from crawler.cli import app

    group = get_command(app)
    sub = group.commands["scheduler"]  # type: ignore[attr-defined]
    for cmd in [group.commands["runs"], *sub.commands.values()]:  # type: ignore[attr-defined]
        assert cmd.help, cmd.name
        for p in cmd.params:
            assert getattr(p, "help", None) or p.name == "help", f"{cmd.name} {p.name}"
