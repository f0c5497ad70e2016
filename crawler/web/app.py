"""The Flask application: routes, one read-only session per request, the security headers, errors as pages.

A thin adapter: each route hands the request's raw parameters to a function of ``pages`` and renders what it
returns with a Jinja2 template (autoescaped: everything shown comes from pages on the web).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, Response, render_template, request
from jinja2 import StrictUndefined
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from crawler.web import pages

logger = logging.getLogger(__name__)

# our pages: no script at all, styles only from our own stylesheet, frames only from ourselves
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'self'")
# archived HTML: sandboxed even when opened directly, no script, nothing fetched from anywhere
RAW_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
           "form-action 'none'; frame-ancestors 'self'")
ALLOWED = ("GET", "HEAD")


def create_app(engine: Engine) -> Flask:
    """The web view over a read-only ``engine`` (see crawler.web.db for one that threads can share)."""
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.jinja_options = {**app.jinja_options, "trim_blocks": True, "lstrip_blocks": True,
                         "undefined": StrictUndefined}
    app.jinja_env.filters.update(when=pages.when, day=pages.day, segments=pages.segments)
    factory = sessionmaker(engine)

    @contextmanager
    def reading() -> Iterator[Session]:
        with factory() as session:  # rolled back and returned to the pool when the page is rendered
            yield session

    @app.before_request
    def read_only() -> Response | None:
        if request.method not in ALLOWED:
            return Response("read-only: GET and HEAD only\n", 405, {"Allow": ", ".join(ALLOWED)},
                            mimetype="text/plain")
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

    @app.get("/")
    def search() -> str:
        a = request.args
        with reading() as s:
            return render_template("search.html",
                                   page=pages.search_page(s, a.get("q"), a.get("source"), a.get("since"), a.get("until")))

    @app.get("/sources")
    def sources() -> str:
        with reading() as s:
            return render_template("sources.html", st=pages.sources_page(s))

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
    def page_error(e: pages.PageError) -> tuple[str, int]:
        return error_page(e.status, e.message)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> tuple[str, int]:
        code = e.code or 500
        return error_page(code, "no such page" if code == 404 else (e.description or ""))

    @app.errorhandler(Exception)
    def internal_error(e: Exception) -> tuple[str, int]:
        logger.error("error serving %s", request.full_path, exc_info=e)
        return error_page(500, "See the server's log.", "Internal error")

    return app


def error_page(code: int, message: str, heading: str | None = None) -> tuple[str, int]:
    status = f"{code} {HTTP_STATUS_CODES.get(code, 'Error')}"
    return render_template("error.html", status=status, heading=heading or status, message=message), code
