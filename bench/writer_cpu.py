#!/usr/bin/env python3
"""The archive writer's CPU per page, replayed: the pages a crawl archived, stored and archived again into a new
archive as the writer thread does it, grouped as its group commit groups them, and the same once more without the
full-text index, to tell its share.

    python3 bench/writer_cpu.py /var/tmp/vntp/archive.db --sources /var/tmp/vntp/vnweb-sources.toml
    python3 bench/writer_cpu.py ARCHIVE.db --sources SOURCES.toml --limit 1000 --batch 32 --profile

The pages are the archived articles of an archive a crawl left (``bench/throughput.py --work DIR`` leaves one in
DIR), their stored bytes and headers.  Each is extracted first, as an extraction worker does, the template
applied as the given archive holds it (not timed).  Then, for each batch of ``--batch`` pages, the writer's two
transactions: ``write_fetched_many`` (each page stored pending, its body hashed and compressed) and
``write_pages`` (each archived: article, URLs, version, signature and bands, the template learnt), into a new
SQLite archive in a temporary folder.  Only those writes are timed, CPU and wall (the wall adds the syncs to
disk).  In a crawl the writer shares its process and the GIL with the reactor; this is its own share, on one core.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import datetime as dt
import json
import pstats
import sqlite3
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def captured_pages(db: Path, limit: int) -> list[tuple[str, str, str, dict[str, str], dt.datetime, bytes]]:
    """(source id, URL, final URL, headers, fetch time, body) of the first ``limit`` archived articles' captures."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("select c.source_id, c.url, c.final_url, c.headers, c.fetched_at, c.body from versions v "
                           "join captures c on c.id = v.capture_id where c.body is not null order by c.id limit ?",
                           (limit,)).fetchall()
    finally:
        con.close()
    out = []
    for source, url, final, headers, fetched, body in rows:
        when = dt.datetime.fromisoformat(fetched)
        out.append((source, url, final or url, json.loads(headers) if headers else {},
                    when if when.tzinfo else when.replace(tzinfo=dt.UTC), zlib.decompress(body)))
    return out


def replay(pages: list[tuple[Any, Any, Any]], batch: int, search_index: bool, profile: bool) -> dict[str, Any]:
    """Write ``pages`` ((source, RawPage, extraction) triples) into a new archive; the figures of that run."""
    from sqlalchemy import event

    from pipelines.pipeline import write_fetched_many, write_pages
    from storage import repo
    from storage.db import make_engine, make_session_factory
    from storage.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="vnarchive-writer-") as tmp:
        path = Path(tmp) / "replay.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        if not search_index:
            with engine.begin() as conn:
                names = conn.exec_driver_sql("select name from sqlite_master where type = 'trigger' "
                                             "and name like 'search\\_%' escape '\\'").scalars().all()
                for name in names:
                    conn.exec_driver_sql(f'drop trigger "{name}"')
        factory = make_session_factory(engine)
        sources = {s.id: s for s, _, _ in pages}
        with factory.begin() as s:
            repo.ensure_sources(s, sorted((k, k) for k in sources))
            runs = {k: repo.start_run(s, k, "bench").id for k in sources}
        statements = 0

        def counted(*_: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(engine, "before_cursor_execute", counted)
        outcomes: collections.Counter[str] = collections.Counter()
        prof = cProfile.Profile() if profile else None
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if prof:
            prof.enable()
        for i in range(0, len(pages), batch):
            chunk = pages[i:i + batch]
            fetched = write_fetched_many(factory, [(src, raw, runs[src.id]) for src, raw, _ in chunk])
            todo = [(src, raw, ex, runs[src.id], cap) for (src, raw, ex), (same, cap) in zip(chunk, fetched, strict=True)
                    if same is None]
            if todo:
                outcomes.update(o.kind for o in write_pages(factory, todo))
            outcomes.update(same.kind for same, _ in fetched if same is not None)
        if prof:
            prof.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        engine.dispose()
        return {"cpu_ms": 1000 * cpu / len(pages), "wall_ms": 1000 * wall / len(pages),
                "statements": statements / len(pages), "outcomes": dict(outcomes),
                "bytes": path.stat().st_size / len(pages), "profile": prof}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", type=Path, help="a SQLite archive a crawl left")
    ap.add_argument("--sources", type=Path, required=True, help="the sources file of that crawl")
    ap.add_argument("--limit", type=int, default=400, help="the first N archived articles (default 400)")
    ap.add_argument("--batch", type=int, default=16, help="pages a transaction (default 16; the writer groups up to "
                                                          "64 as they queue)")
    ap.add_argument("--profile", action="store_true", help="where the writer's time goes (cProfile, top 30)")
    a = ap.parse_args(argv)
    if not a.archive.is_file():
        print(f"writer_cpu: {a.archive}: no such archive", file=sys.stderr)
        return 2
    if a.limit < 1 or a.batch < 1:
        print("writer_cpu: --limit and --batch must be at least 1", file=sys.stderr)
        return 2
    from config.sources import load_sources
    from pipelines.items import RawPage
    from pipelines.workers import _extract

    known = {s.id: s for s in load_sources(a.sources).sources}
    captured = captured_pages(a.archive, a.limit)
    if not captured:
        print(f"writer_cpu: {a.archive} holds no archived article with its page", file=sys.stderr)
        return 2
    db_url = f"sqlite:///{a.archive.resolve()}"
    pages = []
    for source_id, url, final, headers, when, body in captured:
        source = known.get(source_id)
        if source is None:
            print(f"writer_cpu: {a.archive} holds pages of {source_id!r}, which {a.sources} does not name",
                  file=sys.stderr)
            return 2
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        raw = RawPage(source_id=source_id, url=url, final_url=final, status=200, headers=headers, body=body,
                      fetched_at=when)
        pages.append((source, raw, _extract(body, final, ctype, source.extraction, archive=(db_url, source_id))))
    whole = replay(pages, a.batch, search_index=True, profile=a.profile)
    bare = replay(pages, a.batch, search_index=False, profile=False)
    print(f"{a.archive}: {len(pages)} archived pages written again, {a.batch} a transaction (two a batch)")
    print(f"archive writer, one core:       {whole['cpu_ms']:7.2f} ms CPU a page ({whole['wall_ms']:.2f} ms wall, "
          f"{whole['statements']:.1f} statements)")
    print(f"  without the full-text index:  {bare['cpu_ms']:7.2f} ms CPU a page "
          f"(the index: {whole['cpu_ms'] - bare['cpu_ms']:.2f} ms)")
    print(f"outcomes: {whole['outcomes']}; {whole['bytes'] / 1024:.1f} KiB of archive a page")
    if whole["profile"] is not None:
        pstats.Stats(whole["profile"]).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
