"""Downloader middleware: Scrapy's retry, extended to wait as long as a server's Retry-After asks.

Scrapy retries a 429/503 at once (scrapy#3849 is still open); a polite archiver waits what the server says,
within a cap, so a rate-limited ministry site is not hammered.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
from typing import Any

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Request, Response

MAX_WAIT_S = 120.0


def retry_after_seconds(value: bytes | str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    async def process_response(  # type: ignore[override]  # Scrapy awaits coroutine middlewares
            self, request: Request, response: Response, spider: Any = None) -> Request | Response:
        if response.status in (429, 503) and not request.meta.get("dont_retry", False):
            wait = retry_after_seconds(response.headers.get(b"Retry-After"))
            if wait:
                self.crawler.stats.inc_value("retry/retry_after_waits")
                await asyncio.sleep(min(wait, MAX_WAIT_S))
        return super().process_response(request, response)
