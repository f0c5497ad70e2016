"""export --format warc / wacz (storage.warc, storage.wacz, crawler.cli.export): records read back with warcio,
digests checked by `warcio check`, the WACZ's parts and its CDXJ offsets, replay in pywb when it is there."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result
from warcio.archiveiterator import ArchiveIterator

from config import load_sources
from pipelines.archive import apply_status, archive_page, archive_same_bytes
from pipelines.items import Extracted, PageStatus, RawPage, Skipped
from storage import repo
from storage.models import Capture
from tests.conftest import ROOT, run_cli
from tests.sitefixture import build_site, sources_toml

VNWEB_TOML = ROOT / "config" / "vnweb.toml"
T0 = dt.datetime(2024, 8, 25, 3, 0, tzinfo=dt.UTC)
VN = dt.timezone(dt.timedelta(hours=7))
MPS = "http://127.0.0.2:8080/bai-viet"
BAO = "http://127.0.0.5:8080/thoi-su"
BODY_A = "<html><body><h1>Bão số 3</h1><p>Nội dung bài A.</p></body></html>".encode()
BODY_B1 = "<html><body><h1>Mưa lớn</h1><p>Bản đầu.</p></body></html>".encode()
BODY_B2 = "<html><body><h1>Mưa lớn</h1><p>Bản sửa.</p></body></html>".encode()


def run(*args: str, db: str) -> Result:
    env = {"VNARCHIVE_DB": db, "VNARCHIVE_SOURCES": str(VNWEB_TOML), "VNARCHIVE_LOG_FILE": ""}
    from crawler.cli import app

    return CliRunner().invoke(app, list(args), env=env)


def extracted(title: str, text: str) -> Extracted:
    return Extracted(title=title, lead="", text=text, author=None, published=dt.datetime(2024, 8, 25, 9, tzinfo=VN),
                     modified=None, language="vi", page_canonical=None)


def raw(source: str, url: str, body: bytes, when: dt.datetime, final_url: str | None = None,
        headers: dict[str, str] | None = None) -> RawPage:
    return RawPage(source_id=source, url=url, final_url=final_url or url, status=200, body=body, fetched_at=when,
                   headers=headers or {"Content-Type": "text/html; charset=utf-8"})


@pytest.fixture
def archive(session_factory: sessionmaker[Session], db_url: str) -> str:
    """Every kind of capture: kept bodies, an unchanged refetch, a 304, an edit, a redirect, a 404, a skip."""
    sf = load_sources(VNWEB_TOML)
    mps, bao = sf.get("mps"), sf.get("bao")
    with session_factory.begin() as s:
        repo.ensure_sources(s, [(x.id, x.name) for x in sf.sources])
    a_url = f"{MPS}/bao-so-3-1700001"
    wire = {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip", "Content-Length": "61",
            "ETag": '"a1"', "Server": "nginx"}
    steps: list[Any] = [
        lambda s: archive_page(s, mps, raw("mps", a_url, BODY_A, T0, headers=wire), extracted("Bão số 3", "A"), None),
        lambda s: archive_same_bytes(s, mps, raw("mps", a_url, BODY_A, T0 + dt.timedelta(days=1), headers=wire),
                                     hashlib.sha256(BODY_A).hexdigest(), None),
        lambda s: apply_status(s, PageStatus(source_id="mps", url=a_url, kind="not_modified", status=304,
                                             article_id=1, fetched_at=T0 + dt.timedelta(days=2),
                                             headers={"ETag": '"a1"'}, final_url=a_url), None),
        # a redirect to the article's URL, then an edit, then gone
        lambda s: archive_page(s, bao, raw("bao", f"{BAO}/cu-4800001", BODY_B1, T0, final_url=f"{BAO}/mua-4800001"),
                               extracted("Mưa lớn", "Bản đầu"), None),
        lambda s: archive_page(s, bao, raw("bao", f"{BAO}/mua-4800001", BODY_B2, T0 + dt.timedelta(days=1)),
                               extracted("Mưa lớn", "Bản sửa"), None),
        lambda s: apply_status(s, PageStatus(source_id="bao", url=f"{BAO}/mua-4800001", kind="gone", status=404,
                                             article_id=2, fetched_at=T0 + dt.timedelta(days=3), headers={},
                                             final_url=f"{BAO}/mua-4800001"), None),
        lambda s: archive_page(s, bao, raw("bao", f"{BAO}/anh-4800002", b"<html><img></html>", T0),
                               Skipped("photo_page"), None),
    ]
    for step in steps:
        with session_factory.begin() as s:
            step(s)
    return db_url


def records(path: Path) -> list[dict[str, Any]]:
    out = []
    with path.open("rb") as f:
        for r in ArchiveIterator(f):
            out.append({"type": r.rec_type, "h": dict(r.rec_headers.headers), "http": r.http_headers,
                        "body": r.content_stream().read()})
    return out


def sha1(body: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode()


def warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "import sys; from warcio.cli import main; sys.exit(main())",
                           "check", "-v", str(path)], capture_output=True, text=True, timeout=120)


def fields(body: bytes) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in body.decode("utf-8").splitlines():
        k, _, v = line.partition(": ")
        out.setdefault(k, []).append(v)
    return out


# ---------------------------------------------------------------- WARC

def test_every_capture_is_a_record_with_its_request_and_metadata(archive: str, tmp_path: Path) -> None:
    out = tmp_path / "a.warc.gz"
    r = run("export", "--out", str(out), db=archive)
    assert r.exit_code == 0, r.stderr
    assert "6 captures (4 responses, 2 revisits)" in r.stderr and "1 left out" in r.stderr
    chk = warcio_check(out)
    assert chk.returncode == 0, chk.stdout + chk.stderr
    assert "digest pass" in chk.stdout and "failed" not in chk.stdout
    recs = records(out)
    assert recs[0]["type"] == "warcinfo" and all(x["h"]["WARC-Type"] == x["type"] for x in recs)
    assert all(x["h"].get("WARC-Record-ID", "").startswith("<urn:uuid:") for x in recs)
    main = [x for x in recs if x["type"] in ("response", "revisit")]
    assert [x["type"] for x in main] == ["response", "revisit", "revisit", "response", "response", "response"]
    assert len({x["h"]["WARC-Record-ID"] for x in recs}) == len(recs), "record ids are unique"
    # each capture: its record, then a request concurrent to it, then a metadata record referring to it
    for i, x in enumerate(recs):
        if x["type"] in ("response", "revisit"):
            req, meta = recs[i + 1], recs[i + 2]
            assert req["type"] == "request" and req["h"]["WARC-Concurrent-To"] == x["h"]["WARC-Record-ID"]
            assert meta["type"] == "metadata" and meta["h"]["WARC-Refers-To"] == x["h"]["WARC-Record-ID"]
            assert req["h"]["WARC-Target-URI"] == x["h"]["WARC-Target-URI"] == meta["h"]["WARC-Target-URI"]
            assert req["h"]["WARC-Date"] == x["h"]["WARC-Date"]
            assert x["h"]["WARC-Date"].startswith("2024-08-2")

    a, a_same, a_304, b1, b2, photo = main
    # the body as stored (decoded), its digests; the wire headers that no longer apply are gone
    assert a["body"] == BODY_A and a["h"]["WARC-Payload-Digest"] == sha1(BODY_A)
    assert a["http"].get_statuscode() == "200" and a["http"].protocol == "HTTP/1.1"
    assert a["http"].get_header("Content-Encoding") is None
    assert a["http"].get_header("Content-Length") == str(len(BODY_A))
    assert a["http"].get_header("ETag") == '"a1"' and a["http"].get_header("Server") == "nginx"
    meta_a = fields(recs[recs.index(a) + 2]["body"])
    assert meta_a["article-id"] == ["1"] and meta_a["article-version"] == ["1"]
    assert meta_a["version-extracted-from-this-capture"] == ["1"] and meta_a["source"] == ["mps"]
    assert "Content-Encoding: gzip" in meta_a["removed-http-header"]
    # the unchanged refetch: identical payload, pointing at the first capture's response
    assert a_same["h"]["WARC-Profile"].endswith("/revisit/identical-payload-digest")
    assert a_same["h"]["WARC-Refers-To"] == a["h"]["WARC-Record-ID"]
    assert a_same["h"]["WARC-Refers-To-Target-URI"] == a["h"]["WARC-Target-URI"]
    assert a_same["h"]["WARC-Refers-To-Date"] == a["h"]["WARC-Date"]
    assert a_same["h"]["WARC-Payload-Digest"] == sha1(BODY_A) and a_same["body"] == b""
    assert fields(recs[recs.index(a_same) + 2]["body"])["article-version"] == ["1"]
    # the 304: server-not-modified, referring to the latest capture with a body
    assert a_304["http"].get_statuscode() == "304"
    assert a_304["h"]["WARC-Profile"].endswith("/revisit/server-not-modified")
    assert a_304["h"]["WARC-Refers-To"] == a["h"]["WARC-Record-ID"]
    # the redirect: the response is the final URL's, the metadata names the URL asked for
    assert b1["h"]["WARC-Target-URI"] == f"{BAO}/mua-4800001" and b1["body"] == BODY_B1
    meta_b1 = fields(recs[recs.index(b1) + 2]["body"])
    assert meta_b1["requested-url"] == [f"{BAO}/cu-4800001"] and meta_b1["article-version"] == ["1"]
    meta_b2 = fields(recs[recs.index(b2) + 2]["body"])
    assert meta_b2["article-id"] == ["2"] and meta_b2["article-version"] == ["2"]
    assert b2["h"]["WARC-Payload-Digest"] == sha1(BODY_B2)
    # a skipped page is a capture too, with no article
    meta_p = fields(recs[recs.index(photo) + 2]["body"])
    assert meta_p["outcome"] == ["skipped:photo_page"] and "article-id" not in meta_p


def test_block_digest_covers_http_headers_and_payload(archive: str, tmp_path: Path) -> None:
    out = tmp_path / "a.warc"
    assert run("export", "--format", "warc", "--out", str(out), db=archive).exit_code == 0
    data = out.read_bytes()
    assert not data.startswith(b"\x1f\x8b"), ".warc is written uncompressed"
    first = data.index(b"WARC-Type: response")
    head_end = data.index(b"\r\n\r\n", first) + 4
    head = data[data.rindex(b"WARC/1.1\r\n", 0, first):head_end].decode()
    length = int(next(line.split(": ")[1] for line in head.splitlines() if line.startswith("Content-Length")))
    block = data[head_end:head_end + length]
    digest = next(line.split(": ")[1] for line in head.splitlines() if line.startswith("WARC-Block-Digest"))
    assert digest == sha1(block) and block.endswith(BODY_A) and block.startswith(b"HTTP/1.1 200 OK\r\n")


def test_two_exports_of_one_archive_agree_on_record_ids(archive: str, tmp_path: Path) -> None:
    ids = []
    for name in ("1.warc.gz", "2.warc.gz"):
        assert run("export", "--out", str(tmp_path / name), db=archive).exit_code == 0
        ids.append([x["h"]["WARC-Record-ID"] for x in records(tmp_path / name) if x["type"] != "warcinfo"])
    assert ids[0] == ids[1] and len(ids[0]) == 18


def test_filters_source_since_until(archive: str, tmp_path: Path) -> None:
    def uris(*args: str) -> list[str]:
        out = tmp_path / "f.warc.gz"
        r = run("export", "--out", str(out), *args, db=archive)
        assert r.exit_code == 0, r.stderr
        return [x["h"]["WARC-Target-URI"] for x in records(out) if x["type"] in ("response", "revisit")]

    assert all(u.startswith(MPS) for u in uris("--source", "mps")) and len(uris("--source", "mps")) == 3
    # days are Vietnam days: T0 is 2024-08-25 10:00 there
    assert len(uris("--since", "2024-08-26")) == 3  # the refetch, the 304, the edit
    assert len(uris("--until", "2024-08-25")) == 3  # the first captures
    assert len(uris("--since", "2024-08-26", "--until", "2024-08-26", "--source", "bao")) == 1


def test_records_are_streamed_in_batches(archive: str, session_factory: sessionmaker[Session],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of captures in id order, bodies one at a time: the same records whatever the batch size."""
    from storage import warc

    seen: list[int] = []
    real = warc.iter_captures

    def small(session: Session, flt: warc.CaptureFilter, batch: int = 200) -> Any:
        for cap, links in real(session, flt, batch=2):
            seen.append(cap.id)
            yield cap, links

    monkeypatch.setattr(warc, "iter_captures", small)
    buf = io.BytesIO()
    with session_factory() as s:
        report = warc.write_warc(s, buf, warc.CaptureFilter())
        n = s.execute(select(Capture.id)).all()
    assert seen == sorted(i for (i,) in n) and report.captures == 6
    kinds = [r.rec_type for r in ArchiveIterator(io.BytesIO(buf.getvalue()))]
    assert kinds.count("metadata") == 6 and kinds.count("request") == 6


# ---------------------------------------------------------------- WACZ

def test_wacz_has_its_parts_and_its_index_points_at_the_records(archive: str, tmp_path: Path) -> None:
    out = tmp_path / "a.wacz"
    r = run("export", "--out", str(out), db=archive)
    assert r.exit_code == 0, r.stderr
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        assert {"datapackage.json", "datapackage-digest.json", "archive/data.warc.gz", "indexes/index.cdx",
                "pages/pages.jsonl"} <= names
        assert z.getinfo("archive/data.warc.gz").compress_type == zipfile.ZIP_STORED
        package = json.loads(z.read("datapackage.json"))
        assert package["profile"] == "data-package" and package["wacz_version"].startswith("1.1")
        for res in package["resources"]:
            data = z.read(res["path"])
            assert res["bytes"] == len(data) and res["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        digest = json.loads(z.read("datapackage-digest.json"))
        assert digest["hash"] == "sha256:" + hashlib.sha256(z.read("datapackage.json")).hexdigest()
        warc_bytes = z.read("archive/data.warc.gz")
        lines = z.read("indexes/index.cdx").decode().splitlines()
        pages = [json.loads(x) for x in z.read("pages/pages.jsonl").decode().splitlines()]
    assert lines == sorted(lines) and len(lines) == 6
    for line in lines:
        urlkey, ts, blob = line.split(" ", 2)
        entry = json.loads(blob)
        assert entry["filename"] == "data.warc.gz"
        chunk = warc_bytes[int(entry["offset"]):int(entry["offset"]) + int(entry["length"])]
        rec = next(iter(ArchiveIterator(io.BytesIO(chunk))))
        assert rec.rec_headers.get_header("WARC-Target-URI") == entry["url"]
        assert rec.rec_headers.get_header("WARC-Date").replace("-", "").replace(":", "").replace("T", "")[:14] == ts
        assert rec.rec_type in ("response", "revisit")
        # each record is its own gzip member, readable alone
        assert gzip.decompress(chunk).startswith(b"WARC/1.1\r\n")
    assert pages[0]["format"] == "json-pages-1.0"
    assert [p["title"] for p in pages[1:]] == ["Bão số 3", "Mưa lớn", "Mưa lớn"]
    assert all(p["url"].startswith("http://") and p["ts"].startswith("2024-08-2") for p in pages[1:])
    assert package["mainPageURL"] == pages[1]["url"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary file left behind"


# ---------------------------------------------------------------- the export command's conventions

@pytest.mark.parametrize("name, kind", [("x.csv", "csv"), ("x.jsonl", "jsonl"), ("x.json", "json"),
                                        ("x.warc.gz", "warc"), ("X.WACZ", "wacz")])
def test_format_from_the_extension(archive: str, tmp_path: Path, name: str, kind: str) -> None:
    out = tmp_path / name
    r = run("export", "--out", str(out), db=archive)
    assert r.exit_code == 0, r.stderr
    data = out.read_bytes()
    if kind == "csv":
        assert data.startswith(b"id,source,url")
    elif kind == "jsonl":
        assert [json.loads(x)["id"] for x in data.splitlines()] == [1, 2]
    elif kind == "json":
        assert [x["id"] for x in json.loads(data)] == [1, 2]
    elif kind == "warc":
        assert data.startswith(b"\x1f\x8b") and gzip.decompress(data).startswith(b"WARC/1.1")
    else:
        assert zipfile.is_zipfile(out)


@pytest.mark.parametrize("args, words", [
    (("--source", "nosuch", "--out", "x.jsonl"), ["'nosuch'", "bao", "mps"]),
    (("--source", "nosuch", "--out", "x.warc.gz"), ["'nosuch'"]),
    (("--out", "x.xml"), ["x.xml", "--format"]),
    (("--format", "warc", "--versions", "--out", "x.warc.gz"), ["--versions"]),
    (("--since", "2024-08-01", "--out", "x.csv"), ["--since"]),
    (("--since", "yesterday", "--out", "x.warc.gz"), ["--since", "'yesterday'"]),
    (("--format", "wacz",), ["--out"]),
])
def test_bad_exports_are_clean_errors_that_write_nothing(archive: str, tmp_path: Path, args: tuple[str, ...],
                                                         words: list[str]) -> None:
    args = tuple(str(tmp_path / a) if a.startswith("x.") else a for a in args)
    r = run("export", *args, db=archive)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert r.stdout == "" and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("error: ") and all(w in line for w in words), line
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("archive.db")] == [], "nothing written"


def test_a_known_source_without_captures_is_an_empty_export(archive: str, tmp_path: Path) -> None:
    out = tmp_path / "t.warc.gz"
    r = run("export", "--source", "tinh", "--out", str(out), db=archive)
    assert r.exit_code == 0, r.stderr
    assert [x["type"] for x in records(out)] == ["warcinfo"]


# ---------------------------------------------------------------- a real crawl, exported and replayed

@pytest.fixture
def crawled(serve_site: Any, tmp_path: Path, fresh_db: Callable[..., str]) -> tuple[dict[str, str], Any]:
    site = serve_site(build_site())
    (tmp_path / "s.toml").write_text(sources_toml(site.base), encoding="utf-8")
    env = {"VNARCHIVE_DB": fresh_db("crawl.db"), "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}
    r = run_cli("crawl", "fixture", "-q", env=env)
    assert r.returncode == 0, r.stderr
    return env, site


@pytest.mark.slow
def test_a_crawled_archive_exports_every_article_with_the_bytes_served(crawled: tuple[dict[str, str], Any],
                                                                       tmp_path: Path) -> None:
    env, site = crawled
    warc, wacz = tmp_path / "c.warc.gz", tmp_path / "c.wacz"
    for out in (warc, wacz):
        r = run_cli("export", "--out", str(out), env=env)
        assert r.returncode == 0, r.stderr
    assert warcio_check(warc).returncode == 0
    rows = [json.loads(x) for x in run_cli("export", env=env).stdout.splitlines()]
    assert len(rows) >= 6
    bodies = {x["h"]["WARC-Target-URI"]: x["body"] for x in records(warc) if x["type"] == "response"}
    for row in rows:
        assert row["url"] in bodies
        served = build_site()[row["url"][len(site.base):]].body.replace(b"{base}", site.base.encode())
        assert bodies[row["url"]] == served
    with zipfile.ZipFile(wacz) as z:
        assert z.read("archive/data.warc.gz") != b""
        assert len(z.read("pages/pages.jsonl").decode().splitlines()) == len(rows) + 1


def _pywb() -> Path | None:
    """The bin/ folder with pywb's wb-manager and wayback: $VNARCHIVE_TEST_PYWB (pywb pins an old redis client,
    so .ci/run installs it in a venv of its own), else the PATH."""
    given = os.environ.get("VNARCHIVE_TEST_PYWB")
    found = shutil.which("wb-manager")
    for bin_dir in ([Path(given)] if given else []) + ([Path(found).parent] if found else []):
        if (bin_dir / "wb-manager").is_file() and (bin_dir / "wayback").is_file():
            return bin_dir
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_pywb_replays_the_wacz(archive: str, tmp_path: Path) -> None:
    bin_dir = _pywb()
    if bin_dir is None:
        pytest.skip("pywb is not installed (set VNARCHIVE_TEST_PYWB to the bin/ folder of a venv with pywb)")
    wacz = tmp_path / "a.wacz"
    assert run("export", "--out", str(wacz), db=archive).exit_code == 0
    coll = tmp_path / "pywb"
    coll.mkdir()
    for args in (["init", "vn"], ["add", "--unpack-wacz", "vn", str(wacz)]):
        r = subprocess.run([str(bin_dir / "wb-manager"), *args], cwd=coll, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    port = _free_port()
    server = subprocess.Popen([str(bin_dir / "wayback"), "-b", "127.0.0.1", "-p", str(port)], cwd=coll,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def get(path: str) -> tuple[int, bytes]:
            for _ in range(100):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
                        return resp.status, resp.read()
                except ConnectionError:
                    time.sleep(0.2)
                except urllib.error.URLError as e:
                    if isinstance(e.reason, ConnectionError):
                        time.sleep(0.2)
                        continue
                    raise
            raise AssertionError("pywb did not start")

        a_url = f"{MPS}/bao-so-3-1700001"
        assert get(f"/vn/20240825030000id_/{a_url}") == (200, BODY_A)
        # the unchanged refetch a day later is a revisit: pywb replays the original bytes
        assert get(f"/vn/20240826030000id_/{a_url}") == (200, BODY_A)
        assert get(f"/vn/20240826030000id_/{BAO}/mua-4800001") == (200, BODY_B2)
        status, index = get(f"/vn/cdx?url={a_url}&output=json")
        assert status == 200 and len(index.splitlines()) == 3
    finally:
        server.terminate()
        server.wait(30)
