#!/usr/bin/env python3
"""The quick floor against trafilatura's whole cascade, page by page: the same text, and what it saves (one core).

    python3 bench/quick_floor.py /var/tmp/vntp/archive.db          # an archive a crawl left (bench/throughput.py)
    python3 bench/quick_floor.py --realpages                      # ../shared/realpages
    python3 bench/quick_floor.py --realpages --extract            # and extract_article with and without it

For every page, in one process and interleaved (so a machine whose speed drifts cancels out), the floor is
taken both ways: ``pipelines.locate.whole_page_text`` (trafilatura's whole cascade) and ``quick_floor`` (its
fast setting, or None where the fallback could change the text).  Printed: the pages that took the quick path,
those it declined, the CPU of each, and the pages where the quick text differs from the whole cascade's, which
must be none (run it after upgrading trafilatura: the quick floor reads two things of its internals).
``--extract`` also times ``extract_article`` as it is and with the quick floor turned off.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sqlite3
import sys
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from lxml import html as lhtml  # noqa: E402

import pipelines.extract as extract_mod  # noqa: E402
from pipelines.decode import decode_html  # noqa: E402
from pipelines.locate import quick_floor, whole_page_text  # noqa: E402

REALPAGES = HERE.parent.parent / "shared" / "realpages"


def archive_pages(db: Path, limit: int) -> list[tuple[bytes, str]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("select c.body, c.url from captures c where c.article_id is not null and c.body is not "
                           "null order by c.id limit ?", (limit,)).fetchall()
    finally:
        con.close()
    out = []
    for body, url in rows:
        try:
            out.append((zlib.decompress(body), url))
        except zlib.error:
            out.append((body, url))  # stored as it came
    return out


def real_pages() -> list[tuple[bytes, str]]:
    if not (REALPAGES / "truth.json").exists():
        sys.exit(f"{REALPAGES} is not there (it sits beside the checkout)")
    truth = json.loads((REALPAGES / "truth.json").read_text(encoding="utf-8"))
    return [(gzip.decompress((REALPAGES / "html" / f"{k}.html.gz").read_bytes()), v["url"]) for k, v in truth.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("archive", nargs="?", type=Path, help="a SQLite archive whose captures keep their bodies")
    ap.add_argument("--realpages", action="store_true", help="../shared/realpages instead of an archive")
    ap.add_argument("--limit", type=int, default=1000, help="pages of the archive, at most (default 1000)")
    ap.add_argument("--extract", action="store_true", help="also extract_article with and without the quick floor")
    a = ap.parse_args()
    if a.realpages == (a.archive is not None):
        ap.error("give an archive or --realpages")
    pages = real_pages() if a.realpages else archive_pages(a.archive, a.limit)
    if not pages:
        sys.exit("no archived page with its body kept")
    whole_s = quick_s = ext_with = ext_without = 0.0
    taken = differ = 0
    real_quick = extract_mod.quick_floor
    for body, url in pages:
        root = lhtml.document_fromstring(decode_html(body, None).text)
        t = time.process_time()
        whole = whole_page_text(root, url)
        t1 = time.process_time()
        quick = quick_floor(root, url)
        t2 = time.process_time()
        whole_s, quick_s = whole_s + t1 - t, quick_s + t2 - t1
        if quick is not None:
            taken += 1
            differ += quick.text != whole
        if a.extract:
            t = time.process_time()
            extract_mod.extract_article(body, url)
            t1 = time.process_time()
            extract_mod.quick_floor = lambda root, url: None  # type: ignore[assignment,misc]
            try:
                extract_mod.extract_article(body, url)
            finally:
                extract_mod.quick_floor = real_quick
            ext_with, ext_without = ext_with + t1 - t, ext_without + time.process_time() - t1
    n = len(pages)
    print(f"{n} pages: {taken} took the quick path, {n - taken} the whole cascade; quick text differs on {differ}")
    print(f"floor, whole cascade: {whole_s / n * 1000:7.2f} ms a page")
    print(f"floor, quick (or the test that declined it): {quick_s / n * 1000:7.2f} ms a page")
    if a.extract:
        print(f"extract_article without the quick floor: {ext_without / n * 1000:7.2f} ms, with it: "
              f"{ext_with / n * 1000:7.2f} ms a page")
    if differ:
        sys.exit(f"the quick floor's text differs from the whole cascade's on {differ} page(s)")


if __name__ == "__main__":
    main()
