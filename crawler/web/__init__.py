"""`vnarchive serve`: a read-only web view of the archive, server-rendered, with no script anywhere.

- ``pages``: what each page shows, from a session and the request's raw parameters (bad ones are 400/404
  with a message): search with totals and pages, sources, a source's newest articles, days (Vietnam time),
  changed and removed articles (storage.browse's queries), lookup by any URL form (``pipelines.urls.
  lookup_forms``, the identity ``show`` uses), articles with their dates' changes; ``diff``: side-by-side word
  differences as plain data.
- ``api``: the JSON API under ``/api/``, the same records as the commands' ``--json``; ``feeds``: the Atom
  feeds ``/changes.atom`` and ``/removed.atom``.
- ``app``: the Flask application, one read-only session per request; ``templates/`` (Jinja2, autoescaped:
  everything shown comes from pages on the web) and ``static/style.css`` are package data.
- ``db``: a read-only engine that the worker threads can share; ``server``: waitress, with a fixed pool of
  worker threads.

Our pages carry a CSP that allows no script. The archived HTML itself is only ever served from
``/article/N/raw`` with ``Content-Security-Policy: sandbox; default-src 'none'...`` (no script runs, nothing
remote loads, even when the route is opened directly) and shown in an ``<iframe sandbox="">``; ``?as=text``
gives it as plain text. The database is opened read-only and only GET and HEAD are answered.
"""

from __future__ import annotations

from crawler.web.server import WebServer, make_server

__all__ = ["WebServer", "make_server"]
