"""robots.txt as RFC 9309 says, not as Scrapy's RobotsTxtMiddleware does it.

Scrapy treats a robots.txt it could not download as "allow everything" for the whole crawl, and parses
whatever came back (a 503 page, a firewall's JavaScript challenge) as if it were robots.txt.  RFC 9309 §2.3.1:

- 2xx: the rules in it (an HTML page there is no robots.txt: nothing is disallowed, and it is recorded);
- 4xx (unavailable): the crawler may access any resource;
- 5xx, or unreachable (connection, DNS, timeout): complete disallow, "for the time being": here, for the run.

429 counts as unreachable (the server asks us to slow down, not to come in).

A ``Crawl-delay`` in the group that applies to us (Scrapy reads it and does nothing with it) becomes the host's
download delay for the run, at least the source's own delay and at most ``MAX_CRAWL_DELAY_S`` (a longer one is
taken as that long and said); AutoThrottle is kept from lowering it.  Counted as ``robots/crawl_delay``.  A firewall challenge page
(Incapsula, Cloudflare, a JavaScript cookie wall) answered instead of robots.txt means the rules are unknown:
complete disallow for the run too, recorded, so the summary says why the source fetched nothing.
Every such verdict is a stats counter ``robots/<verdict>`` (in the crawl summary's errors) and one warning.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.robotstxt import RobotParser
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"
MAX_CRAWL_DELAY_S = 30.0
ALLOW_ALL = b""

_CHALLENGE = re.compile(
    rb"_Incapsula_Resource|Incapsula incident ID|visid_incap|incap_ses|"  # Imperva Incapsula (bocongan)
    rb"cf-chl|cf_chl_opt|challenge-platform|Just a moment\.\.\.|Attention Required! \| Cloudflare|"
    rb"sucuri_cloudproxy|Access Denied.{0,200}Reference #|"  # Sucuri, Akamai
    rb"document\.cookie\s*=.{0,400}(?:location\.reload|window\.location|location\.href)",  # a JS cookie wall
    re.I | re.S)
_HTML = re.compile(rb"^\s*(?:<!doctype html|<html|<head|<body|<script)", re.I)


def robots_verdict(status: int, body: bytes) -> str:
    """``rules`` (use the file), ``allow_all``, ``not_robots_txt`` (an HTML page: allow all, recorded),
    ``server_error`` or ``challenge`` (disallow all for the run)."""
    head = body[:65536]
    if 200 <= status < 300 or status in (401, 403):
        if _CHALLENGE.search(head):
            return "challenge"
    if status == 429 or status >= 500:
        return "server_error"
    if 400 <= status < 500:
        return "allow_all"
    if _HTML.match(head.removeprefix(b"\xef\xbb\xbf")):
        return "not_robots_txt"
    return "rules"


class RobotsPolicyMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware (same settings, caching per host for the crawl) with RFC 9309's
    answers to failures; replaces ``scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware``."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self._delays: dict[str, float | None] = {}  # Crawl-delay by netloc, once its robots.txt is read

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        super().process_request_2(rp, request)
        delay = self._crawl_delay(rp, request)
        if delay:
            request.meta["autothrottle_dont_adjust_delay"] = True  # AutoThrottle must not go below it
            self._hold_to(request, delay)

    def _crawl_delay(self, rp: RobotParser | None, request: Request) -> float | None:
        delays = self._delays
        netloc = urlparse_cached(request).netloc
        if netloc in delays:
            return delays[netloc]
        read = getattr(rp, "crawl_delay", None)
        agent: str | bytes = self._robotstxt_useragent or request.headers.get(b"User-Agent",
                                                                              self._default_useragent) or ""
        try:
            delay = read(agent) if read is not None else None
        except (TypeError, ValueError):
            delay = None
        if delay is not None and delay > 0:
            if delay > MAX_CRAWL_DELAY_S:
                logger.warning("robots.txt of %s asks for a Crawl-delay of %.0f s: %.0f s is used", netloc, delay,
                               MAX_CRAWL_DELAY_S)
            delay = min(float(delay), MAX_CRAWL_DELAY_S)
            self._stats.inc_value("robots/crawl_delay")
            logger.info("robots.txt of %s: Crawl-delay %.1f s between requests", netloc, delay)
        else:
            delay = None
        delays[netloc] = delay
        return delay

    def _hold_to(self, request: Request, delay: float) -> None:
        """The host's download slot waits at least ``delay`` between requests, without jitter."""
        engine = getattr(self.crawler, "engine", None)
        d = getattr(engine, "downloader", None)
        if d is None:
            return
        key = d.get_slot_key(request)
        per = d.per_slot_settings.get(key, {})
        if per.get("delay", 0) < delay:
            d.per_slot_settings[key] = {**per, "delay": delay, "jitter": 0.0}
        slot = d.slots.get(key)
        if slot is not None and slot.delay < delay:
            slot.delay, slot.jitter = delay, 0.0

    def _record(self, verdict: str, netloc: str, detail: str) -> None:
        self._stats.inc_value(f"robots/{verdict}")
        logger.warning("robots.txt of %s: %s: %s", netloc, detail,
                       "nothing is fetched from this host in this run" if verdict in ("server_error", "challenge",
                                                                                      "unreachable")
                       else "no rules, everything is allowed")

    def _set(self, netloc: str, body: bytes) -> None:
        rp = build_from_crawler(self._parserimpl, self.crawler, body)
        pending = self._parsers[netloc]
        self._parsers[netloc] = rp
        if isinstance(pending, Deferred):
            pending.callback(rp)

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        verdict = robots_verdict(response.status, response.body)
        if verdict == "rules":
            await super()._parse_robots(response, netloc, request)
            return
        self._stats.inc_value("robotstxt/response_count")
        self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        if verdict in ("server_error", "challenge"):
            what = "a firewall challenge page instead of robots.txt" if verdict == "challenge" else \
                f"HTTP {response.status}"
            self._record(verdict, netloc, what)
            self._set(netloc, DISALLOW_ALL)
        else:
            if verdict == "not_robots_txt":
                self._record(verdict, netloc, "an HTML page instead of robots.txt")
            self._set(netloc, ALLOW_ALL)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if isinstance(exc, IgnoreRequest):  # refused by our own scope rules: nothing was asked of the host
            super()._robots_error(exc, netloc)
            return
        self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
        self._record("unreachable", netloc, f"{type(exc).__name__}: {exc}")
        self._set(netloc, DISALLOW_ALL)
