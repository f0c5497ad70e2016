"""`vnarchive serve`: a read-only web view of the archive, server-rendered, standard library only (wsgiref).

Everything shown comes from pages on the web, so everything is escaped (``esc``); our own pages carry no
script and a CSP that forbids any.  The archived HTML itself is only ever served from ``/article/N/raw``
with ``Content-Security-Policy: sandbox; default-src 'none'...`` (no script runs, nothing remote loads, even
when the route is opened directly) and shown in an ``<iframe sandbox="">``; ``?as=text`` gives it as plain text.
The database is opened read-only and only GET and HEAD are answered.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import socketserver
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import zip_longest
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.simple_server import make_server as _wsgi_server

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from storage.db import ArchiveError
from storage.export import iso
from storage.history import word_diff
from storage.inspect import article_view, open_reader, raw_capture, stats
from storage.migrate import check_current
from storage.models import Article, SourceRow
from storage.search import QueryError, parse_day, search

logger = logging.getLogger(__name__)

PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'self'")
# archived HTML: sandboxed even when opened directly, no script, nothing fetched from anywhere
RAW_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
COMMON_HEADERS = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                  ("Cache-Control", "no-store")]

StartResponse = Callable[..., Any]


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def marked(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """``text`` escaped, with the given spans in <mark>."""
    out, pos = [], 0
    for a, b in spans:
        out += [esc(text[pos:a]), "<mark>", esc(text[a:b]), "</mark>"]
        pos = b
    out.append(esc(text[pos:]))
    return "".join(out)


CSS = """
*{box-sizing:border-box}body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232a;
background:#f6f7f9}header{background:#1f3b57;color:#fff;padding:.6rem 1rem;display:flex;gap:1rem;align-items:center;
flex-wrap:wrap}header a{color:#fff;text-decoration:none;font-weight:600}header nav a{font-weight:400;opacity:.9}
main{max-width:60rem;margin:0 auto;padding:1rem}h1{font-size:1.35rem;line-height:1.3;margin:.2rem 0 .6rem}
form.search{display:flex;flex-wrap:wrap;gap:.5rem;margin-bottom:1rem}form.search input[type=search]{flex:1 1 16rem;
font-size:1.05rem;padding:.5rem;border:1px solid #9aa5b1;border-radius:.3rem}form.search select,form.search input{
padding:.45rem;border:1px solid #9aa5b1;border-radius:.3rem;font-size:.95rem}button{padding:.5rem 1rem;border:0;
border-radius:.3rem;background:#1f6feb;color:#fff;font-size:1rem}ol.hits{list-style:none;padding:0;margin:0}
ol.hits li{background:#fff;border:1px solid #e1e4e8;border-radius:.4rem;padding:.7rem .9rem;margin:.6rem 0}
ol.hits a{font-size:1.08rem;font-weight:600;color:#0b4f9c;text-decoration:none}.meta{color:#59636e;font-size:.85rem;
overflow-wrap:anywhere}mark{background:#ffe58a;padding:0 .1em}.badge{display:inline-block;font-size:.75rem;
padding:0 .4rem;border-radius:.6rem;background:#d73a49;color:#fff;vertical-align:middle}.badge.ok{background:#2da44e}
.badge.warn{background:#bf8700}table{border-collapse:collapse;width:100%;background:#fff;font-size:.9rem}
td,th{border:1px solid #e1e4e8;padding:.35rem .5rem;text-align:left;vertical-align:top;overflow-wrap:break-word}
.scroll{overflow-x:auto}.text p{margin:.6rem 0}.lead{font-weight:600}dl{display:grid;grid-template-columns:max-content 1fr;
gap:.2rem .8rem;font-size:.9rem;background:#fff;padding:.6rem;border:1px solid #e1e4e8;border-radius:.4rem}
code{white-space:nowrap}dt{color:#59636e}dd{margin:0;overflow-wrap:anywhere}table.diff{table-layout:fixed}table.diff td{width:50%}
del{background:#ffd7d5;text-decoration:line-through}ins{background:#ccffd8;text-decoration:none}
iframe{width:100%;height:75vh;border:1px solid #9aa5b1;background:#fff}.empty{color:#59636e}
section{margin:1.2rem 0}h2{font-size:1.1rem;margin:.4rem 0}
@media (max-width:640px){main{padding:.6rem}table.diff{font-size:.8rem}dl{grid-template-columns:1fr}dt{font-weight:600}
table.cards,table.cards tbody,table.cards tr,table.cards td{display:block}table.cards tr:first-child{display:none}
table.cards tr{margin:.5rem 0;border:1px solid #e1e4e8;border-radius:.4rem}table.cards td{border:0;padding:.1rem .6rem}
table.cards td[data-label]::before{content:attr(data-label) ": ";color:#59636e}}
"""


def page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="vi"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)} · vnarchive</title><style>{CSS}</style></head><body>"
            f'<header><a href="/">vnarchive</a><nav><a href="/">Search</a> · <a href="/sources">Sources</a></nav>'
            f"</header><main>{body}</main></body></html>")


class HTTPError(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class Response:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: str = "200 OK"
    csp: str = PAGE_CSP


class ArchiveApp:
    """The WSGI application: one read-only session per request."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.routes: list[tuple[re.Pattern[str], Callable[..., Response]]] = [
            (re.compile(r"/"), self.search_page),
            (re.compile(r"/sources"), self.sources_page),
            (re.compile(r"/article/(\d+)"), self.article_page),
            (re.compile(r"/article/(\d+)/diff"), self.diff_page),
            (re.compile(r"/article/(\d+)/capture"), self.capture_page),
            (re.compile(r"/article/(\d+)/raw"), self.raw),
        ]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return self._send(start_response, Response(b"read-only: GET and HEAD only\n", "text/plain; charset=utf-8",
                                                       "405 Method Not Allowed"), method, [("Allow", "GET, HEAD")])
        path = environ.get("PATH_INFO") or "/"
        params = {k: v[-1] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            for pattern, handler in self.routes:
                m = pattern.fullmatch(path)
                if m:
                    with Session(self.engine) as session:
                        resp = handler(session, params, *m.groups())
                    break
            else:
                raise HTTPError("404 Not Found", "no such page")
        except HTTPError as e:
            resp = Response(page(e.status, f"<h1>{esc(e.status)}</h1><p>{esc(e)}</p>").encode(), status=e.status)
        except Exception:
            logger.exception("error serving %s", path)
            resp = Response(page("error", "<h1>Internal error</h1><p>See the server's log.</p>").encode(),
                            status="500 Internal Server Error")
        return self._send(start_response, resp, method)

    @staticmethod
    def _send(start_response: StartResponse, resp: Response, method: str,
              extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        headers = [("Content-Type", resp.content_type), ("Content-Length", str(len(resp.body))),
                   ("Content-Security-Policy", resp.csp), *COMMON_HEADERS, *(extra or [])]
        if resp.csp == PAGE_CSP:
            headers.append(("X-Frame-Options", "SAMEORIGIN"))
        start_response(resp.status, headers)
        return [] if method == "HEAD" else [resp.body]

    # ---------------------------------------------------------------- pages

    def search_page(self, session: Session, params: dict[str, str]) -> Response:
        q = params.get("q", "").strip()
        source = params.get("source") or None
        since, until = params.get("since") or None, params.get("until") or None
        sources = list(session.execute(select(SourceRow.id, SourceRow.name).order_by(SourceRow.id)))
        opts = "".join(f'<option value="{esc(sid)}"{" selected" if sid == source else ""}>{esc(sid)}</option>'
                       for sid, _ in sources)
        form = (f'<form class="search" method="get" action="/" role="search">'
                f'<input type="search" name="q" value="{esc(q)}" placeholder="nhân quyền, Da Nang, &quot;Bộ Công an&quot;" '
                f'aria-label="Search" autofocus>'
                f'<select name="source" aria-label="Source"><option value="">all sources</option>{opts}</select>'
                f'<label class=meta>since <input type="date" name="since" value="{esc(since)}"></label>'
                f'<label class=meta>until <input type="date" name="until" value="{esc(until)}"></label>'
                f"<button>Search</button></form>")
        body = [f"<h1>Search the archive</h1>{form}"]
        if q:
            try:
                hits = search(session, q, source=source, since=parse_day(since, "since") if since else None,
                              until=parse_day(until, "until") if until else None, limit=50)
            except (QueryError, ValueError) as e:
                body.append(f'<p class="empty">{esc(e)}</p>')
            else:
                body.append(f'<p class="meta">{len(hits)} article{"s" if len(hits) != 1 else ""}'
                            f'{" (the best 50)" if len(hits) == 50 else ""}</p><ol class="hits">')
                for h in hits:
                    rec = h.record()
                    badge = f' <span class="badge">{esc(h.status)}</span>' if h.status != "live" else ""
                    body.append(f'<li><a href="/article/{h.id}">{marked(h.title, h.title_highlights)}</a>{badge}'
                                f'<div class="meta">{esc(h.source)} · {esc((rec["published"] or "")[:10])} · '
                                f"{esc(h.url)}</div><div>{marked(h.snippet, h.highlights)}</div></li>")
                body.append("</ol>")
                if not hits:
                    body.append('<p class="empty">No article matches. Words typed with diacritics must match '
                                "exactly; type them without to match any accents.</p>")
        else:
            body.append('<p class="meta">Type words with or without diacritics: “Da Nang” finds “Đà Nẵng”, '
                        "“bà” finds only “bà”. All words must appear; “quotes” keep a phrase together.</p>")
        return Response(page(f"search: {q}" if q else "search", "".join(body)).encode())

    def sources_page(self, session: Session, params: dict[str, str]) -> Response:
        st = stats(session)
        rows = []
        for s in st.sources:
            cls = {"ok": "ok", "degraded": "warn", "crawling": "warn"}.get(s.health, "")
            err = f'<div class="meta">{esc((s.last_error or "").splitlines()[0][:200])}</div>' if s.last_error else ""
            rows.append(f"<tr><td><b>{esc(s.id)}</b><div class=meta>{esc(s.name)}</div></td>"
                        f'<td><span class="badge {cls}">{esc(s.health)}</span>{err}</td>'
                        f'<td data-label="articles">{s.articles}</td><td data-label="versions">{s.versions}</td>'
                        f'<td data-label="removed">{s.removed}</td>'
                        f'<td data-label="last crawl">{esc(when(s.last_crawl))} {esc(s.last_crawl_status or "")}</td>'
                        f'<td data-label="last new article">{esc(when(s.last_new_article))}</td>'
                        f'<td data-label="failed runs">{s.failures} of the last {s.recent_runs}</td></tr>')
        size = f"{st.database_bytes / 1e6:.1f} MB" if st.database_bytes is not None else "unknown"
        body = (f"<h1>Sources</h1><p class=meta>{st.articles} articles ({st.removed} removed), {st.versions} versions, "
                f"{st.captures} captures, {st.runs} crawl runs; database {esc(size)}</p><div class=scroll><table class=cards>"
                "<tr><th>source</th><th>health</th><th>articles</th><th>versions</th><th>removed</th>"
                "<th>last crawl</th><th>last new article</th><th>failed runs</th></tr>"
                f"{''.join(rows)}</table></div>")
        return Response(page("sources", body).encode())

    def _article(self, session: Session, aid: str) -> Article:
        a = session.get(Article, int(aid))
        if a is None:
            raise HTTPError("404 Not Found", f"no article {aid}")
        return a

    def _version_param(self, params: dict[str, str], name: str = "v") -> int | None:
        raw = params.get(name)
        if not raw:
            return None
        if not raw.isdigit():
            raise HTTPError("400 Bad Request", f"{name} must be a version number")
        return int(raw)

    def article_page(self, session: Session, params: dict[str, str], aid: str) -> Response:
        a = self._article(session, aid)
        try:
            view = article_view(session, a, self._version_param(params))
        except ArchiveError as e:
            raise HTTPError("404 Not Found", str(e)) from None
        v = view.version
        title = v.title if v else "(no version archived)"
        status = f' <span class="badge">{esc(a.status)}</span>' if a.status != "live" else ""
        meta = [("source", esc(a.source_id)), ("status", esc(a.status) + (f" since {esc(when(a.removed_at))}"
                                                                          if a.removed_at else ""))]
        if v is not None:
            meta += [("published", esc(when(v.published, v.utc_offset_minutes)) if v.published else "unknown"),
                     ("author", esc(v.author or "–")),
                     ("version", f"{v.number} of {len(view.versions)}, captured {esc(when(v.created_at))}"
                                 + (" (current)" if v.number == a.current_version else " (<a href=\"/article/"
                                                                                       f'{a.id}">current</a>)'))]
        meta += [("first seen", esc(when(a.first_seen))), ("last seen", esc(when(a.last_seen)))]
        meta.append(("URLs", "<br>".join(f'<a href="{esc(u)}" rel="noopener noreferrer nofollow">{esc(u)}</a>'
                                         if u.startswith(("http://", "https://")) else esc(u) for u in view.urls)))
        if view.copies:
            meta.append((f"story {a.story_id}", "<br>".join(
                f'<a href="/article/{c.id}">{esc(t or c.canonical_url)}</a> <span class=meta>{esc(c.source_id)}</span>'
                for c, t in view.copies)))
        for ev in view.events:
            meta.append(("event", f"{esc(when(ev.at))} {esc(ev.kind)} {esc(ev.detail or '')}"))
        dl = "".join(f"<dt>{k}</dt><dd>{val}</dd>" for k, val in meta)
        vrows = []
        for x in view.versions:
            prev = (f'<a href="/article/{a.id}/diff?a={x.number - 1}&amp;b={x.number}">diff with {x.number - 1}</a>'
                    if x.number > 1 else "")
            vrows.append(f'<tr><td><a href="/article/{a.id}?v={x.number}">version {x.number}</a>'
                         f'{" (current)" if x.number == a.current_version else ""}</td>'
                         f'<td data-label="captured">{esc(when(x.created_at))}</td>'
                         f'<td data-label="sha256"><code>{esc(x.content_sha256[:12])}</code></td>'
                         f"<td>{esc(x.title)}</td><td>{prev}</td></tr>")
        text_html = ""
        links = ""
        if v is not None:
            paras = [p for p in v.text.split("\n") if p.strip()]
            text_html = (f'<p class="lead">{esc(v.lead)}</p>' if v.lead else "") + "".join(
                f"<p>{esc(p)}</p>" for p in paras)
            if v.capture_id is not None:
                links = (f'<p><a href="/article/{a.id}/capture?v={v.number}">archived page</a> (sandboxed, no scripts) · '
                         f'<a href="/article/{a.id}/raw?v={v.number}&amp;as=text">its HTML as text</a></p>')
        body = (f"<h1>{esc(title)}{status}</h1><dl>{dl}</dl>{links}"
                f'<section><h2>Versions</h2><div class=scroll><table class=cards><tr><th>#</th><th>captured</th><th>sha256</th>'
                f"<th>title</th><th></th></tr>{''.join(vrows)}</table></div></section>"
                f'<section class="text"><h2>Text</h2>{text_html}</section>')
        return Response(page(title, body).encode())

    def diff_page(self, session: Session, params: dict[str, str], aid: str) -> Response:
        a = self._article(session, aid)
        new = self._version_param(params, "b") or a.current_version
        old = self._version_param(params, "a") or new - 1
        view = article_view(session, a)
        by_number = {x.number: x for x in view.versions}
        if old not in by_number or new not in by_number:
            raise HTTPError("404 Not Found", f"article {a.id} has versions "
                            f"{', '.join(map(str, by_number)) or 'none'}; cannot compare {old} and {new}")
        va, vb = by_number[old], by_number[new]
        rows = []
        for name in ("title", "author", "lead", "text"):
            x, y = getattr(va, name) or "", getattr(vb, name) or ""
            if x == y:
                rows.append(f'<tr><th colspan="2">{name} <span class=meta>(unchanged)</span></th></tr>')
                continue
            rows.append(f'<tr><th colspan="2">{name}</th></tr>')
            rows += [f"<tr><td>{left}</td><td>{right}</td></tr>" if left is not None else
                     f'<tr><td colspan="2" class="meta">{right}</td></tr>' for left, right in side_by_side(x, y)]
        pa, pb = iso(va.published, va.utc_offset_minutes), iso(vb.published, vb.utc_offset_minutes)
        if pa != pb:
            rows.append(f'<tr><th colspan="2">published</th></tr><tr><td><del>{esc(pa)}</del></td>'
                        f"<td><ins>{esc(pb)}</ins></td></tr>")
        body = (f'<h1>Changes in <a href="/article/{a.id}">{esc(vb.title)}</a></h1>'
                f"<p class=meta>version {old} (captured {esc(when(va.created_at))}) → version {new} "
                f"(captured {esc(when(vb.created_at))})</p>"
                f'<div class=scroll><table class="diff"><tr><th>version {old}</th><th>version {new}</th></tr>'
                f"{''.join(rows)}</table></div>")
        return Response(page(f"diff {old}→{new}: {vb.title}", body).encode())

    def capture_page(self, session: Session, params: dict[str, str], aid: str) -> Response:
        a = self._article(session, aid)
        v = self._version_param(params) or a.current_version
        body = (f'<h1>Archived page of <a href="/article/{a.id}">article {a.id}</a>, version {v}</h1>'
                f'<p class=meta>Shown sandboxed: its scripts do not run and nothing is loaded from the web. '
                f'<a href="/article/{a.id}/raw?v={v}&amp;as=text">HTML as text</a></p>'
                f'<iframe sandbox="" referrerpolicy="no-referrer" title="archived page" '
                f'src="/article/{a.id}/raw?v={v}"></iframe>')
        return Response(page(f"archived page {a.id}", body).encode())

    def raw(self, session: Session, params: dict[str, str], aid: str) -> Response:
        from pipelines.decode import decode_html

        a = self._article(session, aid)
        try:
            view = article_view(session, a, self._version_param(params))
        except ArchiveError as e:
            raise HTTPError("404 Not Found", str(e)) from None
        cap = raw_capture(session, view.version) if view.version else None
        if cap is None:
            raise HTTPError("404 Not Found", "the page's bytes were not kept for this version")
        text = decode_html(cap.body, cap.content_type).text
        if params.get("as") == "text":
            return Response(text.encode("utf-8"), "text/plain; charset=utf-8", csp=RAW_CSP)
        # a refresh would navigate the frame to the live web; everything else is held back by the CSP
        text = _REFRESH.sub(r"\1x-refresh-disabled", text)
        return Response(text.encode("utf-8"), "text/html; charset=utf-8", csp=RAW_CSP)


_REFRESH = re.compile(r"""(http-equiv\s*=\s*["']?)refresh""", re.IGNORECASE)


def when(value: dt.datetime | None, offset_minutes: int | None = None) -> str:
    """A time for people: minutes and the offset (Vietnam time unless the page said otherwise)."""
    s = iso(value, offset_minutes)
    return f"{s[:16].replace('T', ' ')} {s[-6:]}" if s else "–"


def side_by_side(old: str, new: str, context: int = 1) -> list[tuple[str | None, str]]:
    """Paragraph-aligned, word-level diff as escaped HTML cell pairs (removed words in <del>, added in <ins>);
    runs of unchanged paragraphs are cut to ``context`` on each side, a (None, note) row says how many."""
    a = [p for p in old.split("\n") if p.strip()]
    b = [p for p in new.split("\n") if p.strip()]
    rows: list[tuple[str | None, str]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            same = a[i1:i2]
            head = same[:context] if i1 > 0 else []
            tail = same[-context:] if i2 < len(a) else []
            if len(head) + len(tail) >= len(same):
                rows += [(esc(p), esc(p)) for p in same]
            else:
                rows += [(esc(p), esc(p)) for p in head]
                hidden = len(same) - len(head) - len(tail)
                rows.append((None, f"… {hidden} unchanged paragraph{'s' if hidden != 1 else ''} …"))
                rows += [(esc(p), esc(p)) for p in tail]
            continue
        for x, y in zip_longest(a[i1:i2], b[j1:j2]):
            if x is None:
                rows.append(("", f"<ins>{esc(y)}</ins>"))
            elif y is None:
                rows.append((f"<del>{esc(x)}</del>", ""))
            else:
                left, right = [], []
                for ch in word_diff(x, y):
                    if ch.op == "=":
                        left.append(esc(ch.text))
                        right.append(esc(ch.text))
                    elif ch.op == "-":
                        left.append(f"<del>{esc(ch.text)}</del>")
                    else:
                        right.append(f"<ins>{esc(ch.text)}</ins>")
                rows.append(("".join(left), "".join(right)))
    return rows


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        logger.info("%s %s", self.address_string(), format % args)


def make_server(db_url: str, host: str = "127.0.0.1", port: int = 8000) -> WSGIServer:
    """A threaded server on (host, port) over a read-only engine; port 0 picks a free one."""
    engine = open_reader(db_url)
    check_current(engine)
    return _wsgi_server(host, port, ArchiveApp(engine), server_class=_Server, handler_class=_QuietHandler)
