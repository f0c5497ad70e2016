"""`vnarchive export`: articles as JSON Lines, JSON or CSV (storage.export); captures as WARC or WACZ (storage.warc,
storage.wacz).

The format is ``--format``, else the extension of ``--out`` (``.jsonl``, ``.json``, ``.csv``, ``.warc.gz``,
``.warc``, ``.wacz``), else JSON Lines.  Everything is checked before anything is written, and a file is written
under a temporary name beside ``--out`` and renamed when complete: an error never leaves an empty or half file.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from crawler.cli.common import err, expected_errors, settings_for

FORMATS = ("jsonl", "json", "csv", "warc", "wacz")
EXTENSIONS = {".jsonl": "jsonl", ".json": "json", ".csv": "csv", ".warc.gz": "warc", ".warc": "warc",
              ".wacz": "wacz"}
ARTICLE_FORMATS = ("jsonl", "json", "csv")


def infer_format(given: str | None, out: Path | None) -> str:
    """The format asked for, or the one ``out``'s extension names; JSON Lines on standard output."""
    if given is not None:
        if given not in FORMATS:
            raise ValueError(f"--format must be one of {', '.join(FORMATS)}, not {given!r}")
        return given
    if out is None:
        return "jsonl"
    name = out.name.lower()
    for ext, fmt in sorted(EXTENSIONS.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(ext):
            return fmt
    raise ValueError(f"cannot tell the format from {out.name!r}: give --format ({', '.join(FORMATS)}) or an "
                     f"--out ending in {', '.join(EXTENSIONS)}")


@contextlib.contextmanager
def atomic_output(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed to it when the block succeeds, removed when it fails."""
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as e:
        if e.filename in (str(tmp), tmp):  # name the file asked for, not the temporary one
            raise OSError(e.errno, e.strerror, str(target)) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


def write_articles(rows: Iterator[dict[str, Any]], fmt: str, target: IO[str]) -> int:
    from storage.export import FIELDS

    n = 0
    if fmt == "csv":
        w = csv.DictWriter(target, fieldnames=FIELDS)
        w.writeheader()
        for row in rows:
            row["urls"] = " ".join(row["urls"])
            w.writerow(row)
            n += 1
    elif fmt == "json":
        target.write("[")
        for row in rows:
            target.write(("," if n else "") + "\n" + json.dumps(row, ensure_ascii=False))
            n += 1
        target.write("\n]\n")
    else:
        for row in rows:
            target.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def export_cmd(
    format_: Annotated[str | None, typer.Option(
        "--format", "-f", help="jsonl, json or csv (articles), warc or wacz (captures); default: from --out's "
        "extension (.jsonl .json .csv .warc.gz .wacz), else jsonl.", show_default=False)] = None,
    versions: Annotated[bool, typer.Option("--versions", help="One record per version, not per article "
                                           "(jsonl, json, csv).")] = False,
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="warc, wacz: captures fetched on or after this date "
                                              "(YYYY-MM-DD, Vietnam time, or an ISO date-time).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="warc, wacz: captures fetched on or before this "
                                              "date (the whole day).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of standard output "
                                                  "(required for wacz).")] = None,
    db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the archive (default: $VNARCHIVE_DB "
                                           "or sqlite:///archive.db).", show_default=False)] = None,
) -> None:
    """Export archived articles (removed ones included) as JSON Lines, JSON or CSV, or every capture as WARC or WACZ."""
    from storage.db import make_engine, make_session_factory
    from storage.export import iter_records, source_ids
    from storage.migrate import check_current
    from storage.search import day_end, day_start, parse_day
    from storage.warc import CaptureFilter

    with expected_errors():
        fmt = infer_format(format_, out_file)
        if fmt in ARTICLE_FORMATS and (since or until):
            raise ValueError("--since and --until select captures: they apply to --format warc and wacz")
        if fmt not in ARTICLE_FORMATS and versions:
            raise ValueError("--versions applies to jsonl, json and csv (a WARC has every capture)")
        if fmt == "wacz" and out_file is None:
            raise ValueError("--format wacz needs --out FILE.wacz")
        flt = CaptureFilter(source=source, since=day_start(parse_day(since, "--since")) if since else None,
                            until=day_end(parse_day(until, "--until")) if until else None)
        engine = make_engine(settings_for(db).db_url, readonly=True)
        try:
            check_current(engine)
            with make_session_factory(engine)() as session:
                if source is not None:
                    known = source_ids(session)
                    if source not in known:
                        raise ValueError(f"unknown source {source!r}: the archive has "
                                         + (", ".join(known) if known else "no source yet"))
                if fmt in ARTICLE_FORMATS:
                    rows = iter_records(session, versions=versions, source=source)
                    if out_file is None:
                        write_articles(rows, fmt, sys.stdout)
                        return
                    with atomic_output(out_file) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
                        n = write_articles(rows, fmt, fh)
                    err.print(f"{n} {'versions' if versions else 'articles'} written to {out_file}",
                              markup=False, highlight=False)
                    return
                report = _export_captures(session, fmt, flt, out_file)
        finally:
            engine.dispose()
    left = "; ".join(f"{n} left out: {_reason(r)}" for r, n in sorted(report.left_out.items()))
    err.print(f"{report.captures} captures ({report.responses} responses, {report.revisits} revisits) written to "
              f"{out_file or 'standard output'}" + (f"; {left}" if left else ""), markup=False, highlight=False)


def _reason(key: str) -> str:
    from storage.warc import LEFT_OUT_REASONS

    return LEFT_OUT_REASONS.get(key, key)


def _export_captures(session: Any, fmt: str, flt: Any, out_file: Path | None) -> Any:
    from importlib.metadata import PackageNotFoundError, version

    from storage.wacz import write_wacz
    from storage.warc import write_warc

    try:
        software = f"vnarchive/{version('vnarchive')}"
    except PackageNotFoundError:
        software = "vnarchive"
    if out_file is None:
        return write_warc(session, sys.stdout.buffer, flt, software=software)
    with atomic_output(out_file) as tmp:
        if fmt == "wacz":
            return write_wacz(session, tmp, flt, software=software)
        with tmp.open("wb") as fh:
            return write_warc(session, fh, flt, gzip=not out_file.name.lower().endswith(".warc"),
                              software=software)


def register(app: typer.Typer) -> None:
    """Add export to the vnarchive command."""
    app.command("export")(export_cmd)
