#!/usr/bin/env python3
"""Archive fidelity on real pages (../shared/realpages), beside plain trafilatura on the same pages, in one run.

    python3 bench/fidelity_real.py                      # build the site, serve it with nginx, crawl, export, score
    python3 bench/fidelity_real.py --direct             # no crawl: extract_article on each page in-process (fast)
    python3 bench/fidelity_real.py --data DIR           # another set of the same shape (html/*.html.gz + truth.json)
    python3 bench/fidelity_real.py --vnweb [--seed 3 --articles 300 --port 38380]   # then bench/fidelity.py --crawl

The crawl is what a new user gets from a config-only sources file (``realpages.py sources``: discovery only, no
extraction hints, ``languages = ["*"]``): the static site (``realpages.py build``) is served by nginx on
127.0.0.21:8080 (the address the sources file and sitemap name), crawled with ``python -m crawler crawl --all``
into a fresh SQLite archive and exported with ``python -m crawler export --format jsonl``.  ``--direct`` runs
the extractor of this tree on each page with that same source's extraction settings, for development (no
archive: no learned template, no revisit).

Both are scored by ``realpages.py score`` (per page: bag-of-token F1 of lead + text against the truth body, a
page not archived scoring 0; title exact after normalisation; published right to the minute and to the day;
author set equal) and printed beside ``realpages.py baseline`` (plain ``trafilatura.extract(html,
include_comments=False)`` on the same pages, same scorer), with the pages not archived and why.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REALPAGES = ROOT.parent / "shared" / "realpages" / "realpages.py"
HOST, PORT = "127.0.0.21", 8080  # fixed by realpages.py (sitemap, sources file, nginx.conf)


class BenchError(Exception):
    """An expected failure: printed as one line, exit code 2."""


# ---------------------------------------------------------------- realpages.py

def realpages(a: argparse.Namespace, *args: str, capture: bool = True) -> str:
    """Run a realpages.py command (with --data when given); its standard output."""
    cmd = [sys.executable, str(a.realpages), *args, *(["--data", str(a.data)] if a.data else [])]
    r = subprocess.run(cmd, capture_output=capture, text=True, cwd=ROOT)
    if r.returncode:
        raise BenchError(f"{' '.join(cmd[1:3])} failed (exit {r.returncode}): {(r.stderr or '').strip()[-300:]}")
    return r.stdout or ""


def score_file(a: argparse.Namespace, export: Path, out: Path) -> dict[str, Any]:
    realpages(a, "score", str(export), "--json", str(out))
    return json.loads(out.read_text(encoding="utf-8"))


def data_dir(a: argparse.Namespace) -> Path:
    return Path(a.data) if a.data else a.realpages.parent


# ---------------------------------------------------------------- nginx

def _port_busy(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


@contextlib.contextmanager
def nginx(site: Path) -> Iterator[None]:
    """Serve the built site with nginx for the duration of the block; stopped on the way out, error or not."""
    exe = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                         if os.access(p, os.X_OK)), None)
    if not exe:
        raise BenchError("nginx is not installed (apt-get install -y nginx), or run with --direct (no crawl)")
    if _port_busy(HOST, PORT):
        raise BenchError(f"{HOST}:{PORT} is already in use (another realpages server?): stop it first")
    conf = site / "nginx.conf"
    # in the foreground, our child: stopped and reaped by us, by its own pid
    err = (site / "nginx.stderr").open("w")
    server = subprocess.Popen([exe, "-p", str(site), "-c", str(conf), "-g", "daemon off;"],
                              stdout=subprocess.DEVNULL, stderr=err)
    try:
        for _ in range(100):
            if server.poll() is not None:
                raise BenchError(f"nginx did not start (exit {server.returncode}): see {site / 'nginx.stderr'}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{PORT}/sitemap.xml", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except urllib.error.HTTPError as e:
                raise BenchError(f"nginx answers HTTP {e.code} for the sitemap: can its workers read {site}? "
                                 f"see {site / 'error.log'}") from None
            except OSError:
                time.sleep(0.05)
        else:
            raise BenchError(f"nginx started but http://{HOST}:{PORT}/ does not answer; see {site / 'error.log'}")
        yield
    finally:
        if server.poll() is None:
            server.terminate()  # SIGTERM: nginx's fast shutdown, workers included
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        err.close()


# ---------------------------------------------------------------- the two ways to get an archive

def skipped_reasons(db: Path) -> dict[str, str]:
    """Page id -> why the archive did not keep it (the skipped_pages table, when the archive has one)."""
    out: dict[str, str] = {}
    with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as c:
        for url, reason in c.execute("SELECT url, reason FROM skipped_pages"):
            if "/p/" in url:
                out[url.rsplit("/", 1)[-1].split(".")[0]] = reason
    return out


def crawl(a: argparse.Namespace, work: Path) -> tuple[Path, dict[str, str], str]:
    """Build, serve, crawl and export: the export file, skip reasons by page id, a one-line account."""
    site = work / "site"
    shutil.rmtree(site, ignore_errors=True)
    realpages(a, "build", str(site))
    sources = work / "sources.toml"
    realpages(a, "sources", str(sources))
    db = work / "a.db"
    for f in (db, work / "a.db-wal", work / "a.db-shm"):
        f.unlink(missing_ok=True)
    env = dict(os.environ, VNARCHIVE_SOURCES=str(sources), VNARCHIVE_DB=f"sqlite:///{db}")
    export = work / "export.jsonl"
    log = work / "crawl.log"
    with nginx(site), log.open("w", encoding="utf-8") as log_f:
        t0 = time.monotonic()
        # its own process group, so that a crawl over time is stopped with its extraction workers
        proc = subprocess.Popen([sys.executable, "-m", "crawler", "crawl", "--all", "--quiet"], cwd=ROOT, env=env,
                                stdout=log_f, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=a.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            raise BenchError(f"the crawl did not finish in {a.timeout:.0f} s (stopped); see {log}") from None
        took = time.monotonic() - t0
    e = subprocess.run([sys.executable, "-m", "crawler", "export", "--format", "jsonl", "--out", str(export)],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    if e.returncode:
        raise BenchError(f"export failed (exit {e.returncode}): {e.stderr.strip()[-300:]}; crawl log {log}")
    return export, skipped_reasons(db), f"crawl exit {rc} in {took:.0f} s, log {log}"


def direct(a: argparse.Namespace, work: Path) -> tuple[Path, dict[str, str], str]:
    """extract_article on every page in-process, with the config-only source's settings; an export-like file."""
    sys.path.insert(0, str(ROOT))
    from config import load_sources
    from pipelines.extract import extract_article
    from pipelines.items import Extracted

    sources = work / "sources.toml"
    realpages(a, "sources", str(sources))
    hints = load_sources(sources).sources[0].extraction
    truth = json.loads((data_dir(a) / "truth.json").read_text(encoding="utf-8"))
    export = work / "direct.jsonl"
    reasons: dict[str, str] = {}
    t0 = time.monotonic()
    with export.open("w", encoding="utf-8") as f:
        for pid in sorted(truth):
            path = data_dir(a) / "html" / f"{pid}.html.gz"
            if not path.exists():
                reasons[pid] = "no page file"
                continue
            ex = extract_article(gzip.decompress(path.read_bytes()), truth[pid]["url"], "text/html", hints)
            if not isinstance(ex, Extracted):
                reasons[pid] = ex.reason
                continue
            f.write(json.dumps({"url": f"http://{HOST}:{PORT}/p/{pid}.html", "title": ex.title, "lead": ex.lead,
                                "text": ex.text, "author": ex.author,
                                "published": ex.published.isoformat() if ex.published else None},
                               ensure_ascii=False) + "\n")
    took = time.monotonic() - t0
    return export, reasons, f"in-process extraction, {1000 * took / max(1, len(truth)):.0f} ms/page"


# ---------------------------------------------------------------- the report

COLS = (("F1", "F1"), ("P", "P"), ("R", "R"), ("F1>=0.9", "share_F1>=0.9"), ("title", "title"), ("date", "date"),
        ("day", "day"), ("author", "author"))


def print_table(rows: list[tuple[str, dict[str, Any]]]) -> None:
    head = f"{'':22} " + " ".join(f"{c:>7}" for c, _ in COLS) + f" {'archived':>9}"
    print(head)
    print("-" * len(head))
    for name, res in rows:
        f = res["figures"]
        cells = " ".join(f"{f[k]:7.3f}" for _, k in COLS)
        print(f"{name:22} {cells} {str(f['found']) + '/' + str(f['pages']):>9}")


def missing(res: dict[str, Any]) -> list[str]:
    return sorted(pid for pid, v in res["per_page"].items() if not v["found"])


def report(a: argparse.Namespace, label: str, ours: dict[str, Any], plain: dict[str, Any],
           reasons: dict[str, str], how: str) -> None:
    print(f"real pages: {data_dir(a)} ({ours['figures']['pages']} pages); {label}: {how}")
    print_table([(f"vnarchive ({label})", ours), ("plain trafilatura", plain)])
    lost = missing(ours)
    print(f"not archived by vnarchive: {len(lost)}" + (": " + ", ".join(
        f"{pid} ({reasons.get(pid, 'never fetched')})" for pid in lost) if lost else ""))
    lost_plain = missing(plain)
    print(f"no text from plain trafilatura: {len(lost_plain)}" + (": " + ", ".join(lost_plain) if lost_plain else ""))
    worse = sorted(((v["f1"] - plain["per_page"][pid]["f1"], pid) for pid, v in ours["per_page"].items()
                    if v["found"] and v["f1"] < plain["per_page"][pid]["f1"] - 0.02))
    if worse:
        print(f"pages where vnarchive's F1 is below trafilatura's by more than 0.02 ({len(worse)}): " + ", ".join(
            f"{pid} {ours['per_page'][pid]['f1']:.3f}<{plain['per_page'][pid]['f1']:.3f}" for _, pid in worse[:12])
            + (" ..." if len(worse) > 12 else ""))


def vnweb(a: argparse.Namespace) -> int:
    cmd = [sys.executable, str(HERE / "fidelity.py"), "--crawl", "--seed", str(a.seed), "--articles", str(a.articles),
           "--port", str(a.port)]
    print(f"\nvnweb simulator: {' '.join(cmd[1:])}", flush=True)
    return subprocess.run(cmd, cwd=ROOT).returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--direct", action="store_true", help="no crawl: extract each page in-process (fast)")
    ap.add_argument("--data", type=Path, help="another page set of the same shape (passed to realpages.py)")
    ap.add_argument("--realpages", type=Path, default=REALPAGES, help="path of realpages.py")
    ap.add_argument("--keep", type=Path, help="work folder (default: a new temporary folder)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds allowed for the crawl")
    ap.add_argument("--json", type=Path, help="also write both scorings (figures and per page) here")
    ap.add_argument("--vnweb", action="store_true", help="then run bench/fidelity.py --crawl and print its figures")
    ap.add_argument("--seed", type=int, default=3, help="vnweb seed (with --vnweb)")
    ap.add_argument("--articles", type=int, default=300, help="vnweb stories (with --vnweb)")
    ap.add_argument("--port", type=int, default=38380, help="vnweb port (with --vnweb; 8080 is for acceptance)")
    a = ap.parse_args(argv)
    if a.data:
        a.data = a.data.resolve()
    try:
        if not a.realpages.exists():
            raise BenchError(f"{a.realpages} not found (give --realpages)")
        if a.data and not (a.data / "truth.json").exists():
            raise BenchError(f"{a.data}: no truth.json")
        work = a.keep.resolve() if a.keep else Path(tempfile.mkdtemp(prefix="fidelity-real-"))
        work.mkdir(parents=True, exist_ok=True)
        os.chmod(work, 0o755)  # nginx's workers read the site below it
        export, reasons, how = (direct if a.direct else crawl)(a, work)
        ours = score_file(a, export, work / "score.json")
        realpages(a, "baseline", "--json", str(work / "baseline.json"))
        plain = json.loads((work / "baseline.json").read_text(encoding="utf-8"))
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    report(a, "direct" if a.direct else "crawl", ours, plain, reasons, how)
    print(f"work dir {work}")
    if a.json:
        a.json.write_text(json.dumps({"vnarchive": ours, "plain": plain, "not_archived": {
            p: reasons.get(p, "never fetched") for p in missing(ours)}}, ensure_ascii=False, indent=1))
    return vnweb(a) if a.vnweb else 0


if __name__ == "__main__":
    sys.exit(main())
