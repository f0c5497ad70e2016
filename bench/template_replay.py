#!/usr/bin/env python3
"""The template's cost per page in a crawl, replayed: each archived page, in the order it was fetched, has the
template applied as an extraction worker does (its own read-only view of the archive, its index of titles and
leads kept up to date) and is then learnt into the archive as the archive writer does, one transaction a page.

    python3 bench/template_replay.py /var/tmp/vntp/archive.db --sources /var/tmp/vntp/vnweb-sources.toml
    python3 bench/template_replay.py /var/tmp/vnrp/archive.db --limit 500

The pages are the archived articles of an archive a crawl left (``bench/throughput.py --work DIR`` leaves one in
DIR); they are extracted first (not timed), then replayed into a new archive in a temporary folder, so the
template grows from nothing as in a first crawl, pruning included (an article row a page, for its schedule).  It prints the milliseconds a page of both
steps and a digest of every cleaned text: two versions of the code that clean alike print the same digest.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from throughput import add_archive_arguments, pages_to_extract  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_archive_arguments(ap)
    a = ap.parse_args(argv)
    found = pages_to_extract("template_replay", a)
    if found is None:
        return 2
    archived, extraction_of = found

    from pipelines import template_store
    from pipelines.items import Extracted
    from pipelines.workers import _extract, _template_text
    from storage import repo
    from storage.db import make_engine, make_session_factory
    from storage.migrate import upgrade

    pages = [(r, source) for url, body, source in archived
             if isinstance(r := _extract(body, url, None, extraction_of(source)), Extracted)]
    if not pages:
        print(f"template_replay: {a.archive}: no archived page extracts as an article", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="vnarchive-replay-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'replay.db'}"
        engine = make_engine(db_url)
        upgrade(engine)
        factory = make_session_factory(engine)
        with factory.begin() as s:
            repo.ensure_sources(s, sorted({(src, src) for _, src in pages}))
        digest = hashlib.sha256()
        applying = learning = 0.0
        when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        for i, (ex, source) in enumerate(pages):
            t0 = time.process_time()
            text = _template_text((db_url, source), ex)
            applying += time.process_time() - t0
            at = when + dt.timedelta(seconds=i)
            with factory.begin() as s:
                # the article too (not timed): the pruning schedule counts a source's articles
                repo.create_article(s, source, f"https://replay.invalid/{source}/{i}", at, None)
                t1 = time.process_time()
                template_store.learn_page(s, source, ex, at)
                learning += time.process_time() - t1
            digest.update((text if text is not None else "\x00").encode() + b"\x1e")
        engine.dispose()
    n = len(pages)
    print(f"{a.archive}: {n} pages replayed")
    print(f"template applied (worker):  {applying / n * 1000:6.3f} ms a page")
    print(f"page learnt (writer):       {learning / n * 1000:6.3f} ms a page")
    print(f"cleaned texts digest:       {digest.hexdigest()[:16]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
