"""Scrapy's meta-refresh redirects, without decoding every page in the crawl's main process.

Scrapy's ``MetaRefreshMiddleware`` looks for ``<meta http-equiv="refresh">`` in the first 4,096 characters of
``response.text``, and ``response.text`` decodes the whole body first (with the encoding guessed from all of it
when nothing declares one): a real article page is 100-300 kB, decoded on the reactor's thread only to be
dropped (the extraction workers decode the page themselves) and held with the response while it is in flight.
Here a page whose first bytes cannot spell "refresh" goes on untouched; any other page goes through Scrapy's own
middleware, which decides exactly as before.
"""

from __future__ import annotations

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import HtmlResponse, Request, Response

# Scrapy's window is 4,096 characters; no encoding a browser reads takes more than 4 bytes a character
WINDOW_BYTES = 4 * 4096
# where ASCII letters are not spelt as their own bytes, a page may hide "refresh" from a byte search: UTF-16 and
# UTF-32 (NUL bytes), ISO-2022 (escape sequences).  Those pages go to Scrapy's middleware.  (UTF-7 and HZ also
# spell letters otherwise, but browsers do not decode them: no browser follows a refresh written that way.)


def may_refresh(body: bytes) -> bool:
    """Whether the first ``WINDOW_BYTES`` of a page could hold a meta refresh (False: they certainly do not)."""
    head = body[:WINDOW_BYTES]
    return b"refresh" in head.lower() or b"\x00" in head or b"\x1b" in head


class BytesFirstMetaRefreshMiddleware(MetaRefreshMiddleware):
    """``MetaRefreshMiddleware`` for the pages whose first bytes mention "refresh"; the others pass as they are."""

    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if isinstance(response, HtmlResponse) and not may_refresh(response.body):
            return response
        return super().process_response(request, response)
