#!/usr/bin/env python3
"""End-to-end throughput and CPU per article, beside plain trafilatura on the same pages, in one run (issue 12).

    python3 bench/throughput.py                          # vnweb static export, 2,000 stories, behind nginx
    python3 bench/throughput.py --articles 500 --port 39181
    python3 bench/throughput.py --realpages              # ../shared/realpages built as a static site
    python3 bench/throughput.py --articles 100000 --baseline-sample 2000 --work /var/tmp/vntp   # memory, 100k
    python3 bench/throughput.py --reextract                                   # and `vnarchive reextract` after it
    python3 bench/throughput.py --articles 100000 --baseline-sample 2000 --work /var/tmp/vntp --reuse --reextract

One run: the site is exported (``vnweb.py export``, cached in --work) and served by nginx; ``python -m crawler
crawl --all -q`` archives it into a fresh SQLite file, its whole process tree's CPU (the extraction workers
included) taken from the kernel's accounting of waited-for children, its memory sampled every second from
/proc.  Then plain ``trafilatura.extract(html, output_format="json", with_metadata=True)`` runs on one core
on the very pages the crawl archived (their stored bytes), and the table shows:

- articles/s end to end, and the 2-core extraction bound (twice plain trafilatura's one-core rate);
- CPU per archived article, whole tree, and its ratio to plain trafilatura's (``cpu_ratio``);
- cores used (CPU / wall) and the peak RSS of the largest process and of the whole tree.

``--reextract`` then runs ``vnarchive reextract`` over every capture the archive keeps (its progress markers
cleared first) and prints the same table for it, against the same bound; with ``--reuse`` the archive an earlier
run left in ``--work`` is re-extracted without crawling again.  On an archive this very code made, reextract
finds every page unchanged: the figure is the cost of reading, extracting and comparing each stored page, which
is what any re-extraction pays (a new extractor's run also writes the versions that changed).

Needs nginx (``apt-get install -y nginx``).  Figures are for a quiet machine: other work on the cores shows
up as a lower rate, not as a lower ratio of CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared"
VNWEB = SHARED / "vnweb" / "vnweb.py"
REALPAGES = SHARED / "realpages" / "realpages.py"


class BenchError(Exception):
    """An expected failure: printed as one line, exit code 2."""


# ---------------------------------------------------------------- the site

def _listening(host: str, port: int) -> bool:
    with contextlib.closing(socket.socket()) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


@contextlib.contextmanager
def nginx(root: Path, probe: tuple[str, int]) -> Iterator[None]:
    """nginx in the foreground on ``root``'s nginx.conf, our child, stopped on the way out."""
    exe = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                         if os.access(p, os.X_OK)), None)
    if not exe:
        raise BenchError("nginx is not installed (apt-get install -y nginx)")
    if _listening(*probe):
        raise BenchError(f"{probe[0]}:{probe[1]} is already in use: pick another --port or stop that server")
    err = (root / "nginx.stderr").open("w")
    server = subprocess.Popen([exe, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
                              stdout=subprocess.DEVNULL, stderr=err)
    try:
        for _ in range(200):
            if server.poll() is not None:
                raise BenchError(f"nginx did not start (exit {server.returncode}): see {root / 'nginx.stderr'}")
            if _listening(*probe):
                break
            time.sleep(0.05)
        else:
            raise BenchError(f"nginx does not answer on {probe[0]}:{probe[1]}")
        yield
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        err.close()


def vnweb_site(a: argparse.Namespace, work: Path) -> tuple[Path, Path, tuple[str, int]]:
    """The static export (cached per seed, size and port) and its sources file."""
    site = work / f"vnweb-{a.seed}-{a.articles}-{a.port}"
    if not (site / "manifest.json").exists():
        shutil.rmtree(site, ignore_errors=True)
        subprocess.run([sys.executable, str(VNWEB), "export", "--out", str(site), "--articles", str(a.articles),
                        "--seed", str(a.seed), "--port", str(a.port)], check=True, capture_output=True)
    sources = work / "vnweb-sources.toml"
    text = (ROOT / "config" / "vnweb.toml").read_text(encoding="utf-8").replace(":8080", f":{a.port}")
    # one run archives the whole export: a site of a large export has more pages than the usual budget
    text = text.replace("max_pages = 20000", f"max_pages = {max(20000, 2 * a.articles)}")
    sources.write_text(text, encoding="utf-8")
    return site, sources, ("127.0.0.2", a.port)


def realpages_site(work: Path) -> tuple[Path, Path, tuple[str, int]]:
    site = work / "realpages"
    if not (site / "nginx.conf").exists():
        subprocess.run([sys.executable, str(REALPAGES), "build", str(site)], check=True, capture_output=True)
    sources = work / "realpages-sources.toml"
    subprocess.run([sys.executable, str(REALPAGES), "sources", str(sources)], check=True, capture_output=True)
    return site, sources, ("127.0.0.21", 8080)


# ---------------------------------------------------------------- the crawl, measured

TICK = os.sysconf("SC_CLK_TCK")


def _tree(root_pid: int) -> dict[int, float]:
    """The processes of ``root_pid``'s tree, each with its own CPU so far (user + system, seconds): one read of
    each /proc/PID/stat gives both its parent and its CPU."""
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
                ppid, used = int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
            cpu[int(d)] = used
    out: dict[int, float] = {}
    todo = [root_pid]
    while todo:
        p = todo.pop()
        if p in cpu:
            out[p] = cpu[p]
        todo.extend(children.get(p, ()))
    return out


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class MemorySampler(threading.Thread):
    """Every second: the largest process of the crawl's tree and the tree's sum (RSS, MB), and each process's
    CPU so far (the split between the crawl's main process and its extraction workers: a process's last second
    before it exits is not seen, so the split is a close estimate; the total comes from the kernel)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.samples = pid, []  # type: ignore[var-annotated]
        self.cpu: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(1.0):
            tree = _tree(self.pid)
            rss = [_rss_mb(p) for p in tree]
            self.cpu.update(tree)
            if rss:
                self.samples.append((max(rss), sum(rss)))

    def split(self) -> tuple[float, float]:
        """(main process, the other processes of the tree) CPU seconds, as last sampled."""
        main = self.cpu.get(self.pid, 0.0)
        return main, sum(v for p, v in self.cpu.items() if p != self.pid)


def measured(args: list[str], sources: Path, db: Path, timeout: float, what: str) -> dict[str, Any]:
    """``python -m crawler ARGS`` on the archive ``db``: its stdout, wall time, whole-tree CPU (the kernel's
    accounting of waited-for children), the main / workers split and the memory samples."""
    env = dict(os.environ, VNARCHIVE_DB=f"sqlite:///{db}", VNARCHIVE_SOURCES=str(sources))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    err = db.parent / f"{what}.stderr"
    with tempfile.TemporaryFile("w+") as out:
        p = subprocess.Popen([sys.executable, "-m", "crawler", *args], cwd=ROOT, env=env, stdout=out,
                             stderr=err.open("w"))
        mem = MemorySampler(p.pid)
        mem.start()
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise BenchError(f"the {what} took more than {timeout:.0f} s") from None
        finally:
            mem.stop.set()
        out.seek(0)
        stdout = out.read()
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        raise BenchError(f"the {what} exited {rc}: see {err}")
    main_cpu, workers_cpu = mem.split()
    return {"wall": wall, "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "peak_mb": max((m[0] for m in mem.samples), default=0.0),
            "tree_mb": max((m[1] for m in mem.samples), default=0.0), "memory": mem.samples,
            "main_cpu": main_cpu, "workers_cpu": workers_cpu, "stdout": stdout}


def crawl(sources: Path, db: Path, timeout: float) -> dict[str, Any]:
    for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        f.unlink(missing_ok=True)
    c = measured(["crawl", "--all", "-q"], sources, db, timeout, "crawl")
    con = sqlite3.connect(db)
    try:
        c["articles"] = con.execute("select count(*) from articles").fetchone()[0]
    finally:
        con.close()
    return c


def reextract(sources: Path, db: Path, timeout: float) -> dict[str, Any]:
    """``vnarchive reextract`` over every stored capture of the archive (its progress markers cleared first, so
    a second run does the whole work again); ``articles``: the pages it examined."""
    con = sqlite3.connect(db)
    try:
        con.execute("delete from reextract_progress")
        con.commit()
    finally:
        con.close()
    c = measured(["reextract", "--json"], sources, db, timeout, "reextract")
    try:
        c["report"] = json.loads(c["stdout"])
    except ValueError as e:
        raise BenchError(f"reextract printed no JSON report: {c['stdout'][:200]!r}") from e
    c["articles"] = c["report"]["total"]["examined"]
    return c


def memory_lines(samples: list[tuple[float, float]], points: int = 12) -> list[str]:
    """The RSS samples (one a second) as a few points over the run, and the growth after warm-up: the median of
    the last tenth of the run against the median of the tenth after the first (the warm-up)."""
    if len(samples) < 20:
        return []
    n = len(samples)
    step = max(1, n // points)
    timeline = ", ".join(f"{i}s {samples[i][0]:.0f}/{samples[i][1]:.0f}" for i in range(0, n, step))

    def median(part: list[tuple[float, float]], k: int) -> float:
        return sorted(x[k] for x in part)[len(part) // 2]

    tenth = n // 10
    early, late = samples[tenth:2 * tenth], samples[n - tenth:]
    return [f"memory (MB, largest process/tree, sampled every second): {timeline}",
            f"after warm-up: largest {median(early, 0):.0f} -> {median(late, 0):.0f} MB, "
            f"tree {median(early, 1):.0f} -> {median(late, 1):.0f} MB "
            f"(median of the second tenth of the run -> the last tenth)"]


# ---------------------------------------------------------------- plain trafilatura on the same pages

def archived_pages(db: Path, limit: int = 0) -> list[tuple[str, bytes, str]]:
    """(final URL, body, source id) of the archived articles, in the order they were fetched (the first
    ``limit`` only, when given)."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("select c.final_url, c.body, c.source_id from versions v join captures c "
                           "on c.id = v.capture_id where c.body is not null order by c.id"
                           + (f" limit {int(limit)}" if limit else "")).fetchall()
    finally:
        con.close()
    return [(url, zlib.decompress(body), source) for url, body, source in rows]


def add_archive_arguments(ap: argparse.ArgumentParser) -> None:
    """The arguments of the benches that replay the pages of an archive a crawl left (``pages_to_extract``)."""
    ap.add_argument("archive", type=Path, help="a SQLite archive a crawl left")
    ap.add_argument("--sources", type=Path, help="the sources file of that crawl (each source's extraction settings)")
    ap.add_argument("--limit", type=int, default=0, help="the first N archived articles only")


def pages_to_extract(prog: str, a: argparse.Namespace
                     ) -> tuple[list[tuple[str, bytes, str]], Callable[[str], Any]] | None:
    """``archived_pages`` of ``a.archive`` and each source's extraction settings by source id (``a.sources``'s;
    any language accepted for a source it lacks, or without it); None, said on stderr, when the archive is
    missing or holds no archived page."""
    if not a.archive.is_file():
        print(f"{prog}: {a.archive}: no such archive", file=sys.stderr)
        return None
    from config.sources import Extraction, load_sources

    hints: dict[str, Any] = {}
    if a.sources:
        hints = {s.id: s.extraction for s in load_sources(a.sources).sources}
    anything = Extraction(languages=("*",))
    pages = archived_pages(a.archive, a.limit)
    if not pages:
        print(f"{prog}: {a.archive} holds no archived article with its page", file=sys.stderr)
        return None
    return pages, lambda source: hints.get(source, anything)


def plain_trafilatura(pages: list[tuple[str, bytes]], sample: int = 0) -> float:
    """CPU seconds per page of plain trafilatura, one core (this process); on ``sample`` pages evenly spread
    over the archived ones when given (a 100k-page run)."""
    import trafilatura

    from pipelines.decode import decode_html  # the same text trafilatura would be given by any caller

    if 0 < sample < len(pages):
        pages = [pages[i * len(pages) // sample] for i in range(sample)]
    htmls = [(url, decode_html(body, None).text) for url, body in pages]
    trafilatura.extract(htmls[0][1], output_format="json", with_metadata=True, url=htmls[0][0])  # warm
    t0 = time.process_time()
    for url, html in htmls:
        trafilatura.extract(html, output_format="json", with_metadata=True, url=url)
    return (time.process_time() - t0) / max(1, len(htmls))


# ---------------------------------------------------------------- report

def report(label: str, c: dict[str, Any], plain_s: float, as_json: bool) -> None:
    """The table for a crawl's figures, or a reextract's (``c`` holds its JSON report)."""
    what, done = ("reextract", "stored pages re-extracted") if "report" in c else ("end to end", "articles archived")
    n = max(1, c["articles"])
    rate = c["articles"] / c["wall"]
    bound = 2 / plain_s
    figures = {
        "site": label, "articles": c["articles"], "wall_s": round(c["wall"], 1),
        "articles_per_s": round(rate, 1), "bound_2core_per_s": round(bound, 1),
        "share_of_bound": round(rate / bound, 3),
        "cpu_ms_per_article": round(c["cpu"] / n * 1000, 1), "plain_ms_per_article": round(plain_s * 1000, 1),
        "cpu_ratio": round(c["cpu"] / n / plain_s, 2), "cores_used": round(c["cpu"] / c["wall"], 2),
        "peak_process_mb": round(c["peak_mb"]), "peak_tree_mb": round(c["tree_mb"]),
        "main_ms_per_article": round(c["main_cpu"] / n * 1000, 1),
        "workers_ms_per_article": round(c["workers_cpu"] / n * 1000, 1),
    }
    if "report" in c:
        figures["reextract"] = c["report"]["total"]
    if as_json:
        print(json.dumps(figures))
        return
    print(f"\n{label}: {c['articles']} {done} in {c['wall']:.1f} s")
    print("| | articles/s | CPU per article | cores used |\n|---|---|---|---|")
    print(f"| vnarchive, {what} | {rate:.1f} | {figures['cpu_ms_per_article']} ms (whole tree) | "
          f"{figures['cores_used']} of 2 |")
    print(f"| plain trafilatura, one core | {1 / plain_s:.1f} | {plain_s * 1000:.1f} ms | 1 |")
    print(f"| 2-core extraction bound | {bound:.1f} | | 2 |")
    print(f"share of the bound {rate / bound:.1%}; cpu_ratio {figures['cpu_ratio']}; "
          f"peak RSS {figures['peak_process_mb']} MB (largest process), {figures['peak_tree_mb']} MB (tree)")
    print(f"CPU per article by process (sampled every second): main process (the command, archive writer) "
          f"{figures['main_ms_per_article']} ms, extraction workers {figures['workers_ms_per_article']} ms")
    for line in memory_lines(c["memory"]):
        print(line)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--realpages", action="store_true", help="the real pages instead of the vnweb export")
    ap.add_argument("--articles", type=int, default=2000, help="vnweb stories (default 2000)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--port", type=int, default=39180, help="vnweb export port (realpages: 8080, fixed)")
    ap.add_argument("--work", help="work folder (kept; the export is cached there)")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--json", action="store_true", help="one JSON line of figures")
    ap.add_argument("--baseline-sample", type=int, default=0,
                    help="plain trafilatura on this many of the archived pages, evenly spread (default: all)")
    ap.add_argument("--reextract", action="store_true",
                    help="then `vnarchive reextract` over every stored capture of that archive, measured the same way")
    ap.add_argument("--reuse", action="store_true",
                    help="the archive a previous run left in --work instead of a new crawl (with --reextract)")
    a = ap.parse_args(argv)
    work = Path(a.work) if a.work else Path(tempfile.gettempdir()) / "vnarchive-throughput"
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    label = "realpages" if a.realpages else f"vnweb export, seed {a.seed}, {a.articles} stories"
    db = work / "archive.db"
    try:
        if a.reuse and not db.is_file():
            raise BenchError(f"--reuse: {db} does not exist (run once without --reuse)")
        site, sources, probe = realpages_site(work) if a.realpages else vnweb_site(a, work)
        c = None
        if not a.reuse:
            with nginx(site, probe):
                c = crawl(sources, db, a.timeout)
        pages = [(url, body) for url, body, _ in archived_pages(db)]
        if not pages:
            raise BenchError("nothing was archived: see the crawl's stderr in " + str(work))
        plain = plain_trafilatura(pages, a.baseline_sample)
        del pages
        if c is not None:
            report(label, c, plain, a.json)
        if a.reextract:
            report(label, reextract(sources, db, a.timeout), plain, a.json)
    except BenchError as e:
        print(f"throughput: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
