"""Downloader middleware: Scrapy's retry, made polite about Retry-After and honest about what it gave up on.

Scrapy retries a 429/503 at once (scrapy#3849 is still open).  Here a ``Retry-After`` (seconds or an HTTP date)
slows the whole host: the download slot's delay becomes the wait the server asked for, for every request to
that host, for as long as it asked (and then returns to the source's own delay).  Nothing sleeps: the retried
request simply waits its turn in the slot.  A wait longer than the cap (``VNARCHIVE_MAX_RETRY_AFTER``) is not
waited for at all: that URL is deferred to a later run and recorded.

Every request's final outcome is counted (``fetch/ok``, ``fetch/http_error``, ``fetch/given_up``,
``fetch/deferred``, ``fetch/failed``), so the runner can tell a crawl that reached nothing from one that did its
work, and every URL given up on is kept with its last error in :func:`outcomes_of` for the runner to record:
after its retries, or at once for a failure no retry can help (a page over ``DOWNLOAD_MAXSIZE``, streamed or
while decompressing: ``too_large``; FAULTS D1, D3).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scrapy import signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response

from pipelines.dates import http_date

logger = logging.getLogger(__name__)

DEFAULT_MAX_WAIT_S = 120.0
BACKOFF_S = 5.0  # a 429 without (a readable) Retry-After still means "slower"
HOLD_AT_LEAST_S = 30.0  # how long a raised host delay lasts after the last rate-limit answer, at least (default)
RATE_LIMIT = (429, 503)


def retry_after_seconds(value: bytes | str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(text)
    when = http_date(text)
    if when is None:
        return None
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


# ---------------------------------------------------------------- what became of each request

_KINDS = {
    "DownloadTimeoutError": "timeout", "TimeoutError": "timeout", "TCPTimedOutError": "timeout",
    "ResponseDataLossError": "data_loss", "ResponseFailed": "data_loss", "PotentialDataLoss": "data_loss",
    "DownloadConnectionRefusedError": "connection_refused", "ConnectionRefusedError": "connection_refused",
    "CannotResolveHostError": "dns", "DNSLookupError": "dns",
    "ConnectionLost": "connection_lost", "ConnectionDone": "connection_lost", "ConnectError": "connect_error",
    "DownloadFailedError": "download_failed", "DownloadCancelledError": "cancelled",
}


def is_too_large(exception: BaseException, received: int = 0, maxsize: int = 0) -> bool:
    """A download Scrapy stopped for passing ``DOWNLOAD_MAXSIZE``: announced by its Content-Length (the message
    says so), cancelled while streaming (``received`` bytes passed ``maxsize``), or a compression bomb dropped
    by HttpCompressionMiddleware."""
    text = str(exception)
    if "larger than download max size" in text or ("DOWNLOAD_MAXSIZE" in text and "decompress" in text):
        return True
    cancelled = type(exception).__name__ in ("DownloadCancelledError", "CancelledError")
    return cancelled and maxsize > 0 and received > maxsize


def error_kind(reason: BaseException | str | int) -> str:
    """A short, stable name for why a fetch failed: timeout, data_loss, connection_refused, http_429..."""
    if isinstance(reason, int):
        return f"http_{reason}"
    if isinstance(reason, str):
        m = re.match(r"(\d{3})\b", reason)
        return f"http_{m[1]}" if m else re.sub(r"\W+", "_", reason).strip("_").lower()[:40] or "error"
    name = type(reason).__name__
    return _KINDS.get(name) or re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()[:40]


@dataclass(slots=True)
class GivenUp:
    url: str
    kind: str  # timeout | data_loss | http_429 | deferred ...
    error: str  # the last error, as said
    attempts: int = 1
    retry_at: dt.datetime | None = None  # not before (deferred by a Retry-After past the cap)


@dataclass(slots=True)
class Outcomes:
    """One crawler's URLs given up on (last error each) and URLs that got a final answer (any status), which
    clears an earlier run's record of them."""

    given_up: dict[str, GivenUp] = field(default_factory=dict)
    answered: set[str] = field(default_factory=set)
    kinds: Counter[str] = field(default_factory=Counter)  # every give-up, by error kind

    def give_up(self, g: GivenUp) -> None:
        self.kinds[g.kind] += 1
        self.given_up[g.url] = g
        self.answered.discard(g.url)

    def answer(self, url: str) -> None:
        self.answered.add(url)
        self.given_up.pop(url, None)


_outcomes: weakref.WeakKeyDictionary[Any, Outcomes] = weakref.WeakKeyDictionary()


def outcomes_of(crawler: Any) -> Outcomes:
    if crawler not in _outcomes:
        _outcomes[crawler] = Outcomes()
    return _outcomes[crawler]


def _url(request: Request) -> str:
    """The URL as first requested (before redirects): what discovery asked for and a later run asks again."""
    redirects = request.meta.get("redirect_urls")
    return str(redirects[0]) if redirects else request.url


def give_up_at_once(crawler: Any, request: Request, kind: str, error: BaseException | str) -> None:
    """A request that failed for good on its first attempt (no retry could help): counted ``fetch/failed``
    and kept with its error, as a request given up after its retries is."""
    if request.meta.get("vnarchive_given_up"):
        return
    request.meta["vnarchive_given_up"] = True
    crawler.stats.inc_value("fetch/failed")
    if kind == "too_large":
        crawler.stats.inc_value("fetch/too_large")
    text = str(error) or type(error).__name__
    outcomes_of(crawler).give_up(GivenUp(_url(request), kind, text[:500], request.meta.get("retry_times", 0) + 1))


# ---------------------------------------------------------------- host delays

@dataclass(slots=True)
class _Hold:
    delay: float
    until: float  # time.monotonic()
    base_delay: float
    base_jitter: float


class RetryAfterMiddleware(RetryMiddleware):
    """Retries as Scrapy does, slows a rate-limited host as its server asks, records what it gives up on."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.max_wait = settings.getfloat("VNARCHIVE_MAX_RETRY_AFTER", DEFAULT_MAX_WAIT_S)
        self.hold_at_least = settings.getfloat("VNARCHIVE_RATE_LIMIT_HOLD", HOLD_AT_LEAST_S)
        self.holds: dict[str, _Hold] = {}
        self.maxsize = settings.getint("DOWNLOAD_MAXSIZE")
        # bytes received so far per request in flight: a download cancelled past DOWNLOAD_MAXSIZE says nothing
        # else about why it was cancelled
        self.received: weakref.WeakKeyDictionary[Request, int] = weakref.WeakKeyDictionary()

    @classmethod
    def from_crawler(cls, crawler: Any) -> RetryAfterMiddleware:
        o = cls(crawler.settings)
        o.crawler = crawler
        # the downloader sends this before it takes the host's next request (as AutoThrottle relies on):
        # the slot must be slowed then, not when the answer reaches this middleware, by which time a fast
        # host has already been sent the next few requests
        crawler.signals.connect(o._downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(o._received, signal=signals.bytes_received)
        return o

    def _received(self, data: bytes, request: Request, spider: Any = None) -> None:
        self.received[request] = self.received.get(request, 0) + len(data)

    def _wait(self, request: Request, response: Response) -> float | None:
        if response.status not in RATE_LIMIT or request.meta.get("dont_retry", False):
            return None
        wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        if wait is None and response.status == 429:
            wait = min(self.max_wait, BACKOFF_S * 2 ** request.meta.get("retry_times", 0))
        return wait

    def _downloaded(self, response: Response, request: Request, spider: Any = None) -> None:
        wait = self._wait(request, response)
        if wait:
            self.slow_host(request, min(wait, self.max_wait))

    # -- slots

    def _downloader(self) -> Any:
        engine = getattr(self.crawler, "engine", None)
        return getattr(engine, "downloader", None)

    def _slot_key(self, request: Request) -> str | None:
        d = self._downloader()
        return d.get_slot_key(request) if d is not None else None

    def slow_host(self, request: Request, wait: float) -> None:
        """Every request to ``request``'s host waits ``wait`` seconds after the one before, from now on, for
        at least ``wait`` (and ``VNARCHIVE_RATE_LIMIT_HOLD``, HOLD_AT_LEAST_S by default) seconds."""
        d, key = self._downloader(), self._slot_key(request)
        if d is None or key is None:
            return
        slot = d.slots.get(key)
        now = time.monotonic()
        hold = self.holds.get(key)
        if hold is None:
            hold = _Hold(0.0, now, slot.delay if slot else d._delay, slot.jitter if slot else d._jitter)
            self.holds[key] = hold
        hold.delay = max(hold.delay, wait) if hold.until > now else wait
        hold.until = max(hold.until, now + max(wait, self.hold_at_least))
        d.per_slot_settings[key] = {**d.per_slot_settings.get(key, {}), "delay": hold.delay, "jitter": 0.0}
        if slot is not None:
            slot.delay, slot.jitter = max(slot.delay, hold.delay), 0.0
            slot.lastseen = now  # the next request waits the full delay from this answer
        self.crawler.stats.inc_value("retry/host_slowed")
        self.crawler.stats.max_value("retry/host_delay_max", hold.delay)
        logger.info("%s asked to wait %.0f s: every request to it waits that long until %.0f s from now", key,
                    wait, hold.until - now)

    def _keep_hold(self, request: Request) -> None:
        if not self.holds:
            return
        key = self._slot_key(request)
        hold = self.holds.get(key) if key is not None else None
        if key is None or hold is None:
            return
        d = self._downloader()
        slot = d.slots.get(key) if d is not None else None
        if time.monotonic() < hold.until:
            request.meta["autothrottle_dont_adjust_delay"] = True  # AutoThrottle must not undo the hold
            if slot is not None:
                slot.delay, slot.jitter = max(slot.delay, hold.delay), 0.0
            return
        del self.holds[key]  # the server's wait is over: back to the source's own pace
        if d is not None:
            d.per_slot_settings.pop(key, None)
            if slot is not None:
                slot.delay, slot.jitter = hold.base_delay, hold.base_jitter

    # -- the middleware

    def process_request(self, request: Request) -> None:
        self._keep_hold(request)

    async def process_response(  # type: ignore[override]  # Scrapy awaits coroutine middlewares
            self, request: Request, response: Response, spider: Any = None) -> Request | Response:
        stats = self.crawler.stats
        wait = self._wait(request, response)  # the host was slowed already (_downloaded)
        if wait is not None:
            if wait > self.max_wait:
                # never slept on: this URL waits for a later run; the host is slowed as far as the cap allows
                stats.inc_value("retry/deferred")
                stats.inc_value("fetch/deferred")
                request.meta["vnarchive_given_up"] = True
                url = _url(request)
                outcomes_of(self.crawler).give_up(GivenUp(
                    url, "deferred", f"HTTP {response.status} with Retry-After {wait:.0f} s (over the "
                    f"{self.max_wait:.0f} s cap)", request.meta.get("retry_times", 0) + 1,
                    dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)))
                logger.warning("%s: the server asks to wait %.0f s (cap %.0f s): deferred to a later run", url,
                               wait, self.max_wait)
                return response
            if wait:
                stats.inc_value("retry/retry_after_waits")
        result = super().process_response(request, response)
        if isinstance(result, Response):
            self._final(request, result)
        return result

    def process_exception(  # type: ignore[override]
            self, request: Request, exception: Exception, spider: Any = None) -> Request | Response | None:
        if isinstance(exception, IgnoreRequest):
            return None  # refused on purpose (scope, robots): not a failure of the site
        result = super().process_exception(request, exception)
        if result is None and not isinstance(exception, self.exceptions_to_retry):
            # not retryable: the site's fault, this run; recorded like a request given up after its retries
            maxsize = int(request.meta.get("download_maxsize", self.maxsize) or 0)
            too_large = is_too_large(exception, self.received.pop(request, 0), maxsize)
            give_up_at_once(self.crawler, request, "too_large" if too_large else error_kind(exception), exception)
        return result

    def _final(self, request: Request, response: Response) -> None:
        if request.meta.get("vnarchive_given_up"):
            return  # counted as given up
        self.crawler.stats.inc_value("fetch/ok" if response.status < 400 else "fetch/http_error")
        outcomes_of(self.crawler).answer(_url(request))

    def _retry(self, request: Request, reason: str | Exception | type[Exception]) -> Request | None:
        new = super()._retry(request, reason)
        if new is None:
            request.meta["vnarchive_given_up"] = True
            self.crawler.stats.inc_value("fetch/given_up")
            if isinstance(reason, type):
                reason = reason()
            kind, text = error_kind(reason), str(reason) or type(reason).__name__
            outcomes_of(self.crawler).give_up(GivenUp(_url(request), kind, text[:500],
                                                      request.meta.get("retry_times", 0) + 1))
        return new
