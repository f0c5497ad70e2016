#!/usr/bin/env python3
"""Instructions per article of the extraction worker's work, this code against another revision, counted by
valgrind (callgrind), beside plain trafilatura's on the same pages, in one run.

    python3 bench/extract_instructions.py /var/tmp/vntp/archive.db --sources /var/tmp/vntp/vnweb-sources.toml
    python3 bench/extract_instructions.py ARCHIVE.db --base HEAD~3 --limit 100

CPU time on a shared or throttled machine drifts by a third from one minute to the next, so two timings of a
small change compare nothing; the count of instructions a run executes does not drift (a few tenths of a percent
between identical runs: the addresses the allocator hands out differ).  Each side runs under ``valgrind
--tool=callgrind`` twice, once putting the first ``--limit`` archived articles through what an extraction worker
does to them (``pipelines.workers._extract``: extraction, shingles, MinHash, template hashes; not the stored
template) and once only loading them, so that imports and loading cancel out: (work - load) / pages.  The base
revision is ``git archive``d into a temporary folder, so the working tree (uncommitted changes included) is "this
code".  Plain ``trafilatura.extract(html, output_format="json", with_metadata=True)`` is counted the same way, once.

Needs valgrind (``apt-get install -y valgrind``); about 0.65 s of valgrind time per page and side, two runs at once.
Counts say where the work went, not how long it takes: a change that trades instructions for memory traffic or for
system calls is timed by ``extract_cpu.py`` and ``throughput.py``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
_COLLECTED = re.compile(rb"Collected : (\d+)")


def child(code: Path, mode: str, archive: Path, sources: Path | None, limit: int) -> None:
    """Under valgrind: load the pages with ``code``'s modules, then do ``mode``'s work on them (or none)."""
    sys.path[:0] = [str(code), str(code / "bench")]
    import trafilatura
    from throughput import add_archive_arguments, pages_to_extract

    from pipelines.decode import decode_html
    from pipelines.workers import _extract

    ap = argparse.ArgumentParser()
    add_archive_arguments(ap)
    argv = [str(archive), "--limit", str(limit), *(["--sources", str(sources)] if sources else [])]
    found = pages_to_extract("extract_instructions", ap.parse_args(argv))
    if found is None:
        raise SystemExit(2)
    pages, extraction_of = found
    if mode == "worker":
        for url, body, source in pages:
            _extract(body, url, None, extraction_of(source))
    elif mode == "plain":
        for url, body, _ in pages:
            trafilatura.extract(decode_html(body, None).text, url=url, output_format="json", with_metadata=True)


def count(code: Path, mode: str, a: argparse.Namespace, scratch: Path) -> int:
    """Instructions of one child run under callgrind."""
    out = scratch / f"callgrind.{code.name}.{mode}.out"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__, "--child",
           str(code), mode, str(a.archive.resolve()), str(a.sources.resolve()) if a.sources else "", str(a.limit)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict and set orders on both sides
    run = subprocess.run(cmd, capture_output=True, env=env, cwd=scratch)
    m = _COLLECTED.search(run.stderr)
    if run.returncode != 0 or m is None:
        tail = run.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"{mode} run of {code} failed (exit {run.returncode}): " + " | ".join(tail))
    return int(m[1])


def export(rev: str, into: Path) -> Path:
    """The tree of ``rev`` (this repository's) in a folder of ``into``."""
    path = into / "base"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev], capture_output=True)
    if archive.returncode != 0:
        raise SystemExit(f"extract_instructions: git archive {rev}: {archive.stderr.decode().strip()}")
    tar = into / "base.tar"
    tar.write_bytes(archive.stdout)
    with tarfile.open(tar) as t:
        t.extractall(path, filter="data")
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        code, mode, archive, sources, limit = argv[1:6]
        child(Path(code), mode, Path(archive), Path(sources) if sources else None, int(limit))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", type=Path, help="a SQLite archive a crawl left (throughput.py --work leaves one)")
    ap.add_argument("--sources", type=Path, help="the sources file of that crawl (each source's extraction settings)")
    ap.add_argument("--limit", type=int, default=60, help="the first N archived articles (default 60)")
    ap.add_argument("--base", default="HEAD", help="the revision to compare with (default HEAD)")
    a = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("extract_instructions: needs valgrind (apt-get install -y valgrind)", file=sys.stderr)
        return 2
    if not a.archive.is_file():
        print(f"extract_instructions: {a.archive}: no such archive", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="vnarchive-instr-") as tmp:
        scratch = Path(tmp)
        base = export(a.base, scratch)
        runs = [(ROOT, "load"), (ROOT, "worker"), (base, "load"), (base, "worker"), (ROOT, "plain")]
        with cf.ThreadPoolExecutor(2) as pool:  # two valgrinds at once: one per core
            counts = dict(zip(runs, pool.map(lambda r: count(r[0], r[1], a, scratch), runs), strict=True))

    def per_page(code: Path, mode: str) -> float:
        return (counts[(code, mode)] - counts[(code, "load")]) / a.limit

    ours, theirs, plain = per_page(ROOT, "worker"), per_page(base, "worker"), per_page(ROOT, "plain")
    print(f"{a.archive}: the first {a.limit} archived articles, instructions an article (callgrind)")
    print(f"extraction worker, this code:     {ours / 1e6:8.1f} M")
    print(f"extraction worker, {a.base:<14} {theirs / 1e6:8.1f} M")
    print(f"plain trafilatura:                {plain / 1e6:8.1f} M")
    print(f"this code / {a.base}: {ours / theirs:.4f}   this code / plain: {ours / plain:.2f}   "
          f"{a.base} / plain: {theirs / plain:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
