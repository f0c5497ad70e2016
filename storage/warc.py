"""The archive's captures as WARC/1.1 records (warcio), for replay tools (pywb, ReplayWeb.page) and other archives.

Every capture whose body the archive kept is a ``response`` record: the HTTP status line and the headers as
fetched, less the ones that described the bytes on the wire and no longer apply to the stored (decoded) body
(``Content-Encoding``, ``Transfer-Encoding``, ``Content-Length``; the length is recomputed and the removed values
are kept in the metadata record), and the body as stored.  warcio computes ``WARC-Block-Digest`` and
``WARC-Payload-Digest`` (sha1, base32, as every replay tool expects).  Each is followed by a ``request`` record
(``WARC-Concurrent-To`` the response: the method and URL; the archive does not keep the headers it sent) and a
``metadata`` record (``WARC-Refers-To`` the response) naming the source, the article and its version.

A capture stored without its body is exported as what it is, or left out:

* same bytes as a capture that has a body (an unchanged refetch): a ``revisit`` record, profile
  *identical-payload-digest*, ``WARC-Refers-To`` that capture's response, with its payload digest, so pywb and
  ReplayWeb.page replay the original bytes with this fetch's headers;
* a 304 answer to a conditional revisit: a ``revisit`` record, profile *server-not-modified*, referring to the
  article's latest earlier capture with a body (when there is one);
* anything else (a 404/410 or a redirect away that marked the article removed, a refetch whose bytes changed but
  whose text did not): left out, because a record with an empty body would say the server sent nothing.  They
  are counted in the report (``ExportReport.left_out``) by reason.

Record ids are derived from the capture (uuid5), so two exports of one archive agree and a revisit can refer to
a response written by an earlier export.  Captures are read in id order, a batch at a time, and bodies one at a
time: memory stays constant whatever the archive's size.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid
import zlib
from base64 import b32encode
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, defer
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from storage.models import Article, Capture, Version

WARC_VERSION = "WARC/1.1"
NAMESPACE = uuid.UUID("6f1f3c1e-5a43-4a4c-9d0b-7b3f0e6a9c21")
# describe the bytes on the wire, not the decoded body the archive kept
WIRE_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})
PROFILE_IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
PROFILE_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
LEFT_OUT_REASONS = {
    "body_not_kept": "stored without its body (bytes changed, text did not), and no capture has those bytes",
    "answer_without_body": "an answer stored without its body (404/410, a redirect away)",
}


@dataclass(slots=True, frozen=True)
class CaptureFilter:
    """Which captures to export: one source, fetched in [since, until)."""

    source: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@dataclass(slots=True)
class Page:
    """A capture an article version was extracted from: one line of a WACZ's pages.jsonl."""

    id: str
    url: str
    ts: str
    title: str


@dataclass(slots=True)
class ExportReport:
    responses: int = 0
    revisits: int = 0
    left_out: dict[str, int] = field(default_factory=dict)

    @property
    def captures(self) -> int:
        return self.responses + self.revisits


@dataclass(slots=True, frozen=True)
class _Original:
    """A response record that a revisit can refer to."""

    record_id: str
    uri: str
    date: str
    payload_digest: str


def record_id(capture: Capture, kind: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(NAMESPACE, f'{kind}/{capture.id}/{capture.fetched_at.isoformat()}')}>"


def warc_date(when: dt.datetime) -> str:
    return str(datetime_to_iso_date(when.astimezone(dt.UTC).replace(tzinfo=None), use_micros=True))


def sha1_digest(body: bytes) -> str:
    return "sha1:" + b32encode(hashlib.sha1(body).digest()).decode("ascii")


def _clean(value: str) -> str:
    return " ".join(str(value).split())


def http_headers(capture: Capture, body_length: int | None) -> tuple[StatusAndHeaders, list[tuple[str, str]]]:
    """The status line and headers as fetched, less the wire headers (returned apart); Content-Length recomputed."""
    try:
        reason = HTTPStatus(capture.status).phrase
    except ValueError:
        reason = ""
    kept: list[tuple[str, str]] = []
    removed: list[tuple[str, str]] = []
    for name, value in (capture.headers or {}).items():
        (removed if name.lower() in WIRE_HEADERS else kept).append((_clean(name), _clean(value)))
    if body_length is not None:
        kept.append(("Content-Length", str(body_length)))
    return StatusAndHeaders(f"{capture.status} {reason}".strip(), kept, protocol="HTTP/1.1"), removed


def _request_headers(url: str) -> StatusAndHeaders:
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return StatusAndHeaders(f"GET {path}", [("Host", parts.netloc)], protocol="HTTP/1.1", is_http_request=True)


@dataclass(slots=True)
class _Links:
    """What the archive knows of a batch of captures: their articles and versions."""

    canonical: dict[int, str]
    made_version: dict[int, tuple[int, str]]  # capture id -> (version number, title)
    versions: dict[int, list[tuple[dt.datetime, int]]]  # article id -> (created_at, number), in order

    def version_at(self, capture: Capture) -> int | None:
        """The article's version this capture showed: the one made from it, else the latest one by then."""
        if capture.id in self.made_version:
            return self.made_version[capture.id][0]
        number = None
        for created, n in self.versions.get(capture.article_id or -1, []):
            if created <= capture.fetched_at:
                number = n
        return number


def _links(session: Session, captures: list[Capture]) -> _Links:
    aids = sorted({c.article_id for c in captures if c.article_id is not None})
    canonical = {aid: url for aid, url in session.execute(select(Article.id, Article.canonical_url)
                                                          .where(Article.id.in_(aids)))}
    made: dict[int, tuple[int, str]] = {}
    versions: dict[int, list[tuple[dt.datetime, int]]] = {}
    rows = session.execute(select(Version.article_id, Version.number, Version.created_at, Version.capture_id,
                                  Version.title).where(Version.article_id.in_(aids)).order_by(Version.number))
    for aid, number, created, cid, title in rows:
        versions.setdefault(aid, []).append((created, number))
        if cid is not None:
            made[cid] = (number, title)
    return _Links(canonical, made, versions)


def iter_captures(session: Session, flt: CaptureFilter, batch: int = 200) -> Iterator[tuple[Capture, _Links]]:
    """Captures in id order, a batch at a time (bodies are not loaded: see ``_body``)."""
    last = 0
    while True:
        q = select(Capture).options(defer(Capture.body)).where(Capture.id > last)
        if flt.source:
            q = q.where(Capture.source_id == flt.source)
        if flt.since is not None:
            q = q.where(Capture.fetched_at >= flt.since)
        if flt.until is not None:
            q = q.where(Capture.fetched_at < flt.until)
        caps = list(session.execute(q.order_by(Capture.id).limit(batch)).scalars())
        if not caps:
            return
        links = _links(session, caps)
        for cap in caps:
            yield cap, links
        last = caps[-1].id
        session.expunge_all()


def _body(session: Session, capture_id: int) -> bytes | None:
    blob = session.execute(select(Capture.body).where(Capture.id == capture_id)).scalar_one_or_none()
    return zlib.decompress(blob) if blob is not None else None


class WarcExporter:
    """Writes captures to one WARC file; ``on_page`` is told of every capture a version was made from."""

    CACHE = 4096  # originals remembered for revisits (the rest are looked up again)

    def __init__(self, session: Session, out: BinaryIO, gzip: bool = True,
                 on_page: Callable[[Page], None] | None = None) -> None:
        self.session = session
        self.writer = WARCWriter(out, gzip=gzip, warc_version=WARC_VERSION)
        self.on_page = on_page
        self.report = ExportReport()
        self._originals: OrderedDict[str, _Original] = OrderedDict()

    def write_info(self, software: str, description: str) -> None:
        info = {"software": software, "format": "WARC File Format 1.1",
                "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                "description": description}
        self.writer.write_record(self.writer.create_warcinfo_record(None, info))

    def export(self, flt: CaptureFilter) -> ExportReport:
        for cap, links in iter_captures(self.session, flt):
            self.write_capture(cap, links)
        return self.report

    def write_capture(self, cap: Capture, links: _Links) -> None:
        body = _body(self.session, cap.id)
        if body is not None:
            self._response(cap, body, links)
            return
        original = self._original(cap.body_sha256) if cap.body_sha256 else None
        if original is not None:
            self._revisit(cap, links, original, PROFILE_IDENTICAL, cap.body_size)
        elif cap.status == 304:
            self._revisit(cap, links, self._earlier(cap), PROFILE_NOT_MODIFIED, None)
        else:
            reason = "body_not_kept" if cap.body_sha256 else "answer_without_body"
            self.report.left_out[reason] = self.report.left_out.get(reason, 0) + 1

    # ------------------------------------------------------------ records

    def _response(self, cap: Capture, body: bytes, links: _Links) -> None:
        w = self.writer
        headers, removed = http_headers(cap, len(body))
        rid, date, uri = record_id(cap, "response"), warc_date(cap.fetched_at), cap.final_url
        record = w.create_warc_record(uri, "response", payload=io.BytesIO(body), length=len(body),
                                      http_headers=headers,
                                      warc_headers_dict={"WARC-Record-ID": rid, "WARC-Date": date})
        w.write_record(record)
        self._write_request_and_metadata(cap, rid, links, removed)
        self._remember(cap.body_sha256 or "", _Original(rid, uri, date, record.rec_headers.get_header(
            "WARC-Payload-Digest")))
        self.report.responses += 1
        if cap.id in links.made_version and self.on_page:
            self.on_page(Page(f"capture-{cap.id}", uri, date, links.made_version[cap.id][1]))

    def _revisit(self, cap: Capture, links: _Links, original: _Original | None, profile: str,
                 length: int | None) -> None:
        w = self.writer
        headers, removed = http_headers(cap, length)
        rid = record_id(cap, "response")
        fields = {"WARC-Record-ID": rid, "WARC-Date": warc_date(cap.fetched_at), "WARC-Profile": profile}
        if original is not None:
            fields.update({"WARC-Refers-To": original.record_id, "WARC-Refers-To-Target-URI": original.uri,
                           "WARC-Refers-To-Date": original.date})
            if profile == PROFILE_IDENTICAL:
                fields["WARC-Payload-Digest"] = original.payload_digest
        record = w.create_warc_record(cap.final_url, "revisit", http_headers=headers, warc_headers_dict=fields)
        w.write_record(record)
        self._write_request_and_metadata(cap, rid, links, removed)
        self.report.revisits += 1

    def _write_request_and_metadata(self, cap: Capture, rid: str, links: _Links,
                                    removed: list[tuple[str, str]]) -> None:
        w, date, uri = self.writer, warc_date(cap.fetched_at), cap.final_url
        request = w.create_warc_record(uri, "request", http_headers=_request_headers(uri), warc_headers_dict={
            "WARC-Record-ID": record_id(cap, "request"), "WARC-Date": date, "WARC-Concurrent-To": rid})
        w.write_record(request)
        fields: list[tuple[str, Any]] = [("source", cap.source_id), ("capture-id", cap.id),
                                         ("outcome", cap.outcome)]
        if cap.url != cap.final_url:
            fields.append(("requested-url", cap.url))
        if cap.article_id is not None:
            fields += [("article-id", cap.article_id), ("article-url", links.canonical.get(cap.article_id))]
            version = links.version_at(cap)
            if version is not None:
                fields.append(("article-version", version))
            if cap.id in links.made_version:
                fields.append(("version-extracted-from-this-capture", links.made_version[cap.id][0]))
        if cap.decode_errors:
            fields.append(("decode-errors", cap.decode_errors))
        fields += [("removed-http-header", f"{name}: {value}") for name, value in removed]
        block = "".join(f"{name}: {_clean(str(value))}\r\n" for name, value in fields if value is not None)
        data = block.encode("utf-8")
        meta = w.create_warc_record(uri, "metadata", payload=io.BytesIO(data), length=len(data),
                                    warc_content_type="application/warc-fields", warc_headers_dict={
                                        "WARC-Record-ID": record_id(cap, "metadata"), "WARC-Date": date,
                                        "WARC-Refers-To": rid})
        w.write_record(meta)

    # ------------------------------------------------------------ originals of revisits

    def _remember(self, sha: str, original: _Original) -> None:
        if not sha or sha in self._originals:
            return
        self._originals[sha] = original
        if len(self._originals) > self.CACHE:
            self._originals.popitem(last=False)

    def _original(self, sha: str) -> _Original | None:
        """The response record of the first capture with these bytes and a body (exported or not)."""
        if sha in self._originals:
            self._originals.move_to_end(sha)
            return self._originals[sha]
        cap = self.session.execute(select(Capture).options(defer(Capture.body))
                                   .where(Capture.body_sha256 == sha, Capture.body.is_not(None))
                                   .order_by(Capture.id).limit(1)).scalar_one_or_none()
        body = _body(self.session, cap.id) if cap is not None else None
        if cap is None or body is None:
            return None
        found = _Original(record_id(cap, "response"), cap.final_url, warc_date(cap.fetched_at), sha1_digest(body))
        self._remember(sha, found)
        return found

    def _earlier(self, cap: Capture) -> _Original | None:
        """For a 304: the article's latest capture with a body before it."""
        if cap.article_id is None:
            return None
        prev = self.session.execute(select(Capture).options(defer(Capture.body))
                                    .where(Capture.article_id == cap.article_id, Capture.id < cap.id,
                                           Capture.body.is_not(None))
                                    .order_by(Capture.id.desc()).limit(1)).scalar_one_or_none()
        return self._original(prev.body_sha256) if prev is not None and prev.body_sha256 else None


def write_warc(session: Session, out: BinaryIO, flt: CaptureFilter, *, gzip: bool = True, software: str = "vnarchive",
               on_page: Callable[[Page], None] | None = None) -> ExportReport:
    """Every capture matching ``flt`` to ``out`` as WARC/1.1 records, after a warcinfo record."""
    exporter = WarcExporter(session, out, gzip=gzip, on_page=on_page)
    exporter.write_info(software, "vnarchive captures" + (f" of source {flt.source}" if flt.source else ""))
    return exporter.export(flt)
