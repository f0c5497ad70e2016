"""The Flask application: routes, one read-only session per request, the security headers, errors as pages.

A thin adapter: each route hands the request's raw parameters to a function of ``pages`` and renders what it
returns with a Jinja2 template (autoescaped: everything shown comes from pages on the web).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from jinja2 import StrictUndefined
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from config.sources import Source
from crawler.web import api, feeds, pages

logger = logging.getLogger(__name__)

# our pages: no script at all, styles only from our own stylesheet, frames only from ourselves
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'self'")
# archived HTML: sandboxed even when opened directly, no script, nothing fetched from anywhere
RAW_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
           "form-action 'none'; frame-ancestors 'self'")
ALLOWED = ("GET", "HEAD")


ATOM = "application/atom+xml"


def create_app(engine: Engine, configured: Sequence[Source] = ()) -> Flask:
    """The web view over a read-only ``engine`` (see crawler.web.db for one that threads can share);
    ``configured`` (the sources file's sources) give the lookup by URL each source's own URL rules."""
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.jinja_options = {**app.jinja_options, "trim_blocks": True, "lstrip_blocks": True,
                         "undefined": StrictUndefined}
    app.jinja_env.filters.update(when=pages.when, day=pages.day, segments=pages.segments)
    factory = sessionmaker(engine)
    known = tuple(configured)

    @contextmanager
    def reading() -> Iterator[Session]:
        with factory() as session:  # rolled back and returned to the pool when the page is rendered
            yield session

    @app.before_request
    def read_only() -> Response | None:
        if request.method not in ALLOWED:
            return Response("read-only: GET and HEAD only\n", 405, {"Allow": ", ".join(ALLOWED)},
                            mimetype="text/plain")
        # no text in the archive holds a NUL (it is stripped on the way in), and PostgreSQL refuses one in a query
        # parameter: a request that carries one is a bad request on every backend, never a 500
        if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
            raise BadRequest("a request may not contain a NUL character (%00)")
        return None

    @app.after_request
    def security_headers(resp: Response) -> Response:
        csp = resp.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        if csp == PAGE_CSP:
            resp.headers["X-Frame-Options"] = "SAMEORIGIN"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        if request.endpoint != "static":
            resp.headers["Cache-Control"] = "no-store"
        logger.info("%s %s %s %s", request.remote_addr, request.method, request.full_path.rstrip("?"),
                    resp.status_code)
        return resp

    def arg(name: str) -> str | None:
        return request.args.get(name)

    @app.get("/")
    def search() -> str:
        with reading() as s:
            return render_template("search.html", page=pages.search_page(s, arg("q"), arg("source"), arg("since"),
                                                                          arg("until"), arg("page")))

    @app.get("/lookup")
    def lookup() -> ResponseReturnValue:
        with reading() as s:
            a = pages.lookup(s, known, arg("url"))
        return redirect(url_for("article", aid=a.id), 303)

    @app.get("/sources")
    def sources() -> str:
        with reading() as s:
            return render_template("sources.html", st=pages.sources_page(s))

    @app.get("/source/<sid>")
    def source(sid: str) -> str:
        with reading() as s:
            return render_template("source.html", page=pages.source_page(s, sid, arg("page")))

    @app.get("/days")
    def days() -> str:
        with reading() as s:
            return render_template("days.html", page=pages.days_page(s, arg("source"), arg("page")))

    @app.get("/day/<d>")
    def day(d: str) -> str:
        with reading() as s:
            return render_template("day.html", page=pages.day_page(s, d, arg("source"), arg("page")))

    @app.get("/changes")
    def changes() -> str:
        with reading() as s:
            return render_template("changes.html", page=pages.changes_page(s, arg("source"), arg("page")))

    @app.get("/removed")
    def removed() -> str:
        with reading() as s:
            return render_template("removed.html", page=pages.removed_page(s, arg("source"), arg("page")))

    @app.get("/changes.atom")
    def changes_atom() -> Response:
        with reading() as s:
            fp = pages.changes_page(s, arg("source"), None, feeds.FEED_SIZE)
        assert fp.changes is not None
        entries = [feeds.change_entry(c, url_for("diff", aid=c.article_id, a=c.version - 1, b=c.version,
                                                 _external=True)) for c in fp.changes.items]
        return atom("Changed articles", fp.source, entries, "changes", "changes_atom")

    @app.get("/removed.atom")
    def removed_atom() -> Response:
        with reading() as s:
            fp = pages.removed_page(s, arg("source"), None, feeds.FEED_SIZE)
        assert fp.removals is not None
        entries = [feeds.removal_entry(r, url_for("article", aid=r.article_id, _external=True))
                   for r in fp.removals.items]
        return atom("Removed articles", fp.source, entries, "removed", "removed_atom")

    def atom(title: str, source: str | None, entries: list[feeds.Entry], page: str, feed: str) -> Response:
        args = {"source": source} if source else {}
        body = feeds.render(title + (f" · {source}" if source else ""),
                            feeds.TAG + page + (f"/{source}" if source else ""),
                            url_for(feed, _external=True, **args), url_for(page, _external=True, **args), entries)
        return Response(body, mimetype=ATOM)

    # ---------------------------------------------------------------- the JSON API

    def json_api(rule: str, endpoint: str, fn: Callable[..., dict[str, Any]]) -> None:
        def view(**kw: str) -> ResponseReturnValue:
            with reading() as s:
                return json_response(fn(s, **kw))
        app.add_url_rule(rule, endpoint, view, methods=["GET"])

    a = request_args()
    json_api("/api/search", "api_search", lambda s: api.search(s, a.get("q"), a.get("source"), a.get("since"),
                                                               a.get("until"), a.get("page"), a.get("per_page")))
    json_api("/api/sources", "api_sources", lambda s: api.sources(s))
    json_api("/api/source/<sid>", "api_source", lambda s, sid: api.source(s, sid, a.get("page"), a.get("per_page")))
    json_api("/api/days", "api_days", lambda s: api.days(s, a.get("source"), a.get("page")))
    json_api("/api/day/<d>", "api_day",
             lambda s, d: api.day(s, d, a.get("source"), a.get("page"), a.get("per_page")))
    json_api("/api/changes", "api_changes",
             lambda s: api.changes(s, a.get("source"), a.get("page"), a.get("per_page")))
    json_api("/api/removed", "api_removed",
             lambda s: api.removed(s, a.get("source"), a.get("page"), a.get("per_page")))
    json_api("/api/lookup", "api_lookup", lambda s: api.lookup(s, known, a.get("url")))
    json_api("/api/article/<aid>", "api_article", lambda s, aid: api.article(s, aid, a.get("v")))
    json_api("/api/article/<aid>/versions", "api_versions", lambda s, aid: api.history(s, aid))
    json_api("/api/article/<aid>/diff", "api_diff", lambda s, aid: api.diff(s, aid, a.get("a"), a.get("b")))

    @app.get("/article/<aid>")
    def article(aid: str) -> str:
        with reading() as s:
            return render_template("article.html", page=pages.article_page(s, aid, request.args.get("v")))

    @app.get("/article/<aid>/diff")
    def diff(aid: str) -> str:
        with reading() as s:
            return render_template("diff.html",
                                   page=pages.diff_page(s, aid, request.args.get("a"), request.args.get("b")))

    @app.get("/article/<aid>/capture")
    def capture(aid: str) -> str:
        with reading() as s:
            return render_template("capture.html", page=pages.capture_page(s, aid, request.args.get("v")))

    @app.get("/article/<aid>/raw")
    def raw(aid: str) -> Response:
        with reading() as s:
            body, as_text = pages.raw_page(s, aid, request.args.get("v"), request.args.get("as"))
        return Response(body, mimetype="text/plain" if as_text else "text/html",
                        headers={"Content-Security-Policy": RAW_CSP})

    @app.errorhandler(pages.PageError)
    def page_error(e: pages.PageError) -> tuple[str | Response, int]:
        return error_page(e.status, e.message)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> tuple[str | Response, int]:
        code = e.code or 500
        return error_page(code, "no such page" if code == 404 else (e.description or ""))

    @app.errorhandler(Exception)
    def internal_error(e: Exception) -> tuple[str | Response, int]:
        logger.error("error serving %s", request.full_path, exc_info=e)
        return error_page(500, "See the server's log.", "Internal error")

    return app


def json_response(record: dict[str, Any]) -> Response:
    """One JSON object, UTF-8, fields in the order the commands' --json prints them."""
    return Response(json.dumps(record, ensure_ascii=False) + "\n", mimetype="application/json")


class request_args:  # noqa: N801  (reads like request.args)
    """``request.args.get`` of the request being served (``request.args`` itself cannot be read outside one)."""

    def get(self, name: str) -> str | None:
        return request.args.get(name)


def error_page(code: int, message: str, heading: str | None = None) -> tuple[str | Response, int]:
    """An error as a page, or as ``{"error": message, "status": code}`` under /api/."""
    status = f"{code} {HTTP_STATUS_CODES.get(code, 'Error')}"
    if request.path.startswith("/api/"):
        return json_response({"error": message, "status": code}), code
    return render_template("error.html", status=status, heading=heading or status, message=message), code
