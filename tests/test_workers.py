"""The extraction pool: a hung or crashed page costs that page only; workers ignore stop signals and die with the
crawl (FAULTS D4, A1 orphans)."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.sources import Extraction
from pipelines.items import Skipped
from pipelines.workers import MAX_PARSE_BYTES, ExtractionStopped, ExtractorPool
from tests.conftest import ROOT, process_tree
from tests.workerfns import behave

HINTS = Extraction()


@pytest.fixture
def pool():  # type: ignore[no-untyped-def]
    p = ExtractorPool(2, target=behave)
    yield p
    p.close()


def run(p: ExtractorPool, body: str, timeout: float = 20.0) -> Skipped:
    r = p.extract_blocking(body.encode(), "http://x.test/", None, HINTS, timeout=timeout)
    assert isinstance(r, Skipped)
    return r


def pid_of(r: Skipped) -> int:
    assert r.reason.startswith("ok:"), r.reason
    return int(r.reason.split(":")[1])


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie still answers kill(0): look at its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_a_hung_page_costs_that_page_only(pool: ExtractorPool) -> None:
    with cf.ThreadPoolExecutor(2) as ex:
        t0 = time.monotonic()
        hung = ex.submit(run, pool, "hang", 2.0)
        time.sleep(0.2)
        slow = ex.submit(run, pool, "slow:3")  # still working when the hung page times out
        assert hung.result().reason == "extraction_timeout"
        assert slow.result().reason.startswith("ok:")
        assert time.monotonic() - t0 < 10
    # the innocent page's worker lives on (nothing was reset); the hung one was replaced
    innocent = pid_of(slow.result())
    assert not gone(innocent) and innocent in pool.worker_pids()
    assert run(pool, "fast").reason.startswith("ok:")
    assert len(pool.worker_pids()) <= 2


def test_a_crashing_page_is_tried_once_more_then_skipped(pool: ExtractorPool) -> None:
    with cf.ThreadPoolExecutor(2) as ex:
        slow = ex.submit(run, pool, "slow:2")
        time.sleep(0.3)
        crashed = ex.submit(run, pool, "crash")
        assert crashed.result().reason == "extraction_crashed"
        assert slow.result().reason.startswith("ok:"), "an innocent page in flight was lost"
    assert run(pool, "fast").reason.startswith("ok:")


def test_a_worker_killed_once_is_resubmitted_and_succeeds(pool: ExtractorPool, tmp_path: Path) -> None:
    flag = tmp_path / "died"
    r = run(pool, f"crash-once:{flag}")
    assert flag.exists() and r.reason.startswith("ok:")


def test_warm_starts_every_worker_once(pool: ExtractorPool) -> None:
    pool.warm(wait=30)
    pids = sorted(pool.worker_pids())
    assert len(pids) == 2 and all(not gone(p) for p in pids)
    with cf.ThreadPoolExecutor(2) as ex:
        used = {pid_of(r) for r in ex.map(lambda _: run(pool, "slow:0.5"), range(4))}
    assert used <= set(pids), "a warmed pool started more workers"


def test_a_worker_cannot_grow_past_its_memory_cap(pool: ExtractorPool) -> None:
    assert run(pool, "alloc").reason == "too_large_to_parse"
    assert run(pool, "fast").reason.startswith("ok:")


def test_a_page_too_large_to_parse_never_reaches_a_worker(pool: ExtractorPool) -> None:
    assert run(pool, "x" * (MAX_PARSE_BYTES + 1)).reason == "too_large_to_parse"
    assert pool.worker_pids() == []


def test_workers_ignore_stop_signals(pool: ExtractorPool) -> None:
    first = pid_of(run(pool, "signals"))
    assert not gone(first)
    for pid in pool.worker_pids():
        os.kill(pid, signal.SIGINT)
        os.kill(pid, signal.SIGTERM)
    time.sleep(0.5)
    assert all(not gone(pid) for pid in pool.worker_pids())
    assert run(pool, "fast").reason.startswith("ok:")


def test_stop_abandons_extractions_in_flight(pool: ExtractorPool) -> None:
    with cf.ThreadPoolExecutor(3) as ex:
        hung = ex.submit(run, pool, "hang", 60.0)
        waiting = [ex.submit(run, pool, "hang", 60.0) for _ in range(2)]  # one of them queued for a worker
        time.sleep(1.5)
        t0 = time.monotonic()
        pool.stop()
        for f in (hung, *waiting):
            with pytest.raises(ExtractionStopped):
                f.result(timeout=10)
        assert time.monotonic() - t0 < 5
    with pytest.raises(ExtractionStopped):
        run(pool, "fast")


def test_async_extract(pool: ExtractorPool) -> None:
    async def both() -> list[Skipped]:
        return list(await asyncio.gather(*(pool.extract(b"slow:1", "http://x.test/", None, HINTS) for _ in range(2))))

    t0 = time.monotonic()
    results = asyncio.run(both())
    assert all(r.reason.startswith("ok:") for r in results)
    assert time.monotonic() - t0 < 8  # the two ran side by side


SCRIPT = """
import sys, threading, time
sys.path.insert(0, {root!r})
from config.sources import Extraction
from pipelines.workers import ExtractorPool
from tests.workerfns import behave
p = ExtractorPool(2, target=behave)
p.warm(wait=60)
threading.Thread(target=p.extract_blocking, args=(b"spin", "http://x/", None, Extraction()), daemon=True).start()
time.sleep(0.5)
print(" ".join(str(pid) for pid in p.worker_pids()), flush=True)
time.sleep(600)
"""


def test_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    """kill -9 of the crawl ends its workers (PR_SET_PDEATHSIG, from the kernel: one stuck in C with the GIL held
    too) and every other process it started."""
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT.format(root=str(ROOT))], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2 and all(not gone(p) for p in pids)
        tree = set(process_tree(proc.pid)) - {proc.pid}
        assert set(pids) < tree, "the workers are not the crawl's descendants"
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(gone(p) for p in tree):
            time.sleep(0.1)
        assert all(gone(p) for p in pids), "extraction workers outlived their crawl"
        assert all(gone(p) for p in tree), "a process of the crawl outlived it"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_worker_hashes_the_version_identity_the_writer_would() -> None:
    """The worker hashes the extraction's identity, so the archive writer (sharing the GIL with the crawl) need
    not; the writer takes it as is, and hashes only what no worker did."""
    import dataclasses

    from pipelines.archive import content_of, version_content
    from pipelines.items import Extracted
    from pipelines.workers import _extract

    body = (ROOT / "tests" / "fixtures" / "pages" / "baochinhphu.html").read_bytes()
    ex = _extract(body, "https://baochinhphu.vn/bai-viet.htm", "text/html; charset=utf-8", Extraction())
    assert isinstance(ex, Extracted) and ex.identity
    assert ex.identity == content_of(dataclasses.replace(ex, identity=None)).sha256()
    ex.template_text = ex.text
    assert version_content(None, "so", dataclasses.replace(ex, identity="given")).sha256() == "given"  # type: ignore[arg-type]
    assert version_content(None, "so", dataclasses.replace(ex, identity=None)).sha256() == ex.identity  # type: ignore[arg-type]
