#!/usr/bin/env python3
"""CPU of the extraction worker's work per article, beside plain trafilatura on the same pages, one core, one run.

    python3 bench/extract_cpu.py /var/tmp/vntp/archive.db --sources /var/tmp/vntp/vnweb-sources.toml
    python3 bench/extract_cpu.py /var/tmp/vnrp/archive.db --sources /var/tmp/vnrp/realpages-sources.toml --template
    python3 bench/extract_cpu.py ARCHIVE.db --profile            # and where the time goes (cProfile, top 30)

The pages are the archived articles of an archive a crawl left (``bench/throughput.py --work DIR`` leaves one in
DIR), their stored bytes.  Each is put through what an extraction worker does to it
(``pipelines.workers._extract``: extraction, shingles, MinHash, template hashes), in this process, then plain
``trafilatura.extract(html, output_format="json", with_metadata=True)`` runs on the same pages.  ``--template``
also applies each source's template as the archive holds it now (the worker does that against the archive as it
was when the page came in, a smaller template), and prints that part on its own.  With ``--sources`` each page
gets its source's extraction settings; without, the defaults with any language accepted.

This isolates the workers' share of ``throughput.py``'s figure from the crawl (fetching, the archive writer),
for changes to extraction: their output is not checked here; the golden and fidelity tests do that.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from throughput import add_archive_arguments, pages_to_extract, plain_trafilatura  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_archive_arguments(ap)
    ap.add_argument("--template", action="store_true", help="also apply each source's stored template")
    ap.add_argument("--profile", action="store_true", help="print where the worker's time goes (cProfile)")
    a = ap.parse_args(argv)
    found = pages_to_extract("extract_cpu", a)
    if found is None:
        return 2
    pages, extraction_of = found

    from pipelines.items import Extracted
    from pipelines.workers import _extract, _template_text

    def work() -> list[tuple[Any, str]]:
        return [(_extract(body, url, None, extraction_of(source)), source) for url, body, source in pages]

    work()  # warm: imports, caches, as a worker is before its first real page
    t0 = time.process_time()
    results = work()
    ours = (time.process_time() - t0) / len(pages)
    extracted = [(r, s) for r, s in results if isinstance(r, Extracted)]
    template = None
    if a.template and extracted:
        db = f"sqlite:///{a.archive.resolve()}"
        for r, s in extracted[:5]:
            _template_text((db, s), r)
        t0 = time.process_time()
        for r, s in extracted:
            _template_text((db, s), r)
        template = (time.process_time() - t0) / len(extracted)
    plain = plain_trafilatura([(url, body) for url, body, _ in pages])

    print(f"{a.archive}: {len(pages)} archived articles ({len(extracted)} extracted again, "
          f"{len(pages) - len(extracted)} skipped)")
    print(f"extraction worker, one core:  {ours * 1000:7.2f} ms an article")
    if template is not None:
        print(f"  + the stored template:      {template * 1000:7.2f} ms an article")
    print(f"plain trafilatura, one core:  {plain * 1000:7.2f} ms an article")
    print(f"ratio (worker / plain): {(ours + (template or 0)) / plain:.2f}")
    if a.profile:
        prof = cProfile.Profile()
        prof.enable()
        work()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
