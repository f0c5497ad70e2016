"""The captures as one WACZ 1.1 package (https://specs.webrecorder.net/wacz/1.1.1/), which ReplayWeb.page and pywb open.

The package is a ZIP with::

    archive/data.warc.gz        the WARC of storage.warc (stored, not deflated: readers seek into it)
    indexes/index.cdx           its CDXJ index (the spec names it .cdx), sorted (cdxj-indexer, the indexer py-wacz uses)
    pages/pages.jsonl           one page per capture an article version was extracted from, with its title
    datapackage.json            every file above with its size and sha256 (Frictionless Data Package)
    datapackage-digest.json     the sha256 of datapackage.json

Everything is streamed through temporary files beside the target: memory stays constant (cdxj-indexer sorts
in bounded chunks merged from disk).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import IO

from cdxj_indexer.main import CDXJIndexer
from sqlalchemy.orm import Session

from storage.warc import CaptureFilter, ExportReport, Page, write_warc

WACZ_VERSION = "1.1.1"
WARC_NAME = "data.warc.gz"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}


def _hash_file(path: Path) -> tuple[int, str]:
    h, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return size, "sha256:" + h.hexdigest()


def index_warc(warc: Path, out: Path) -> None:
    """A sorted CDXJ index of ``warc`` (its response and revisit records), naming it by its file name."""
    CDXJIndexer(output=str(out), inputs=[str(warc)], sort=True, filename=warc.name).process_all()


class _PageWriter:
    def __init__(self, fh: IO[str]) -> None:
        self.fh = fh
        self.first: Page | None = None
        fh.write(json.dumps(PAGES_HEADER) + "\n")

    def __call__(self, page: Page) -> None:
        if self.first is None:
            self.first = page
        self.fh.write(json.dumps({"id": page.id, "url": page.url, "ts": page.ts, "title": page.title},
                                 ensure_ascii=False) + "\n")


def write_wacz(session: Session, target: Path, flt: CaptureFilter, *, software: str = "vnarchive",
               title: str = "vnarchive export") -> ExportReport:
    """The captures matching ``flt`` as a WACZ file at ``target``."""
    work = Path(tempfile.mkdtemp(prefix=".wacz-", dir=target.parent))
    try:
        warc, index, pages = work / WARC_NAME, work / "index.cdx", work / "pages.jsonl"
        with pages.open("w", encoding="utf-8") as pf, warc.open("wb") as wf:
            page_writer = _PageWriter(pf)
            report = write_warc(session, wf, flt, software=software, on_page=page_writer)
        index_warc(warc, index)
        parts = [(warc, f"archive/{WARC_NAME}", zipfile.ZIP_STORED),
                 (index, "indexes/index.cdx", zipfile.ZIP_DEFLATED),
                 (pages, "pages/pages.jsonl", zipfile.ZIP_DEFLATED)]
        resources = []
        for path, name, _ in parts:
            size, digest = _hash_file(path)
            resources.append({"name": Path(name).name, "path": name, "hash": digest, "bytes": size})
        package: dict[str, object] = {
            "profile": "data-package", "wacz_version": WACZ_VERSION, "title": title,
            "resources": resources,
            "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "software": software}
        first = page_writer.first
        if first is not None:
            package["mainPageURL"] = first.url
            package["mainPageDate"] = first.ts
        package_bytes = json.dumps(package, indent=2, ensure_ascii=False).encode("utf-8")
        package_digest = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest()}
        with zipfile.ZipFile(target, "w", allowZip64=True) as z:
            for path, name, compression in parts:
                z.write(path, name, compress_type=compression)
            z.writestr("datapackage.json", package_bytes, compress_type=zipfile.ZIP_DEFLATED)
            z.writestr("datapackage-digest.json", json.dumps(package_digest, indent=2), compress_type=zipfile.ZIP_DEFLATED)
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)
