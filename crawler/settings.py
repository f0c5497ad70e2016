"""Scrapy settings: the project-wide baseline (safety, politeness) and what each source overrides."""

from __future__ import annotations

from typing import Any

from config.settings import Settings
from config.sources import Source

MiB = 1024 * 1024


def base_settings(settings: Settings, log_level: str = "WARNING") -> dict[str, Any]:
    return {
        "BOT_NAME": "vnarchive",
        "USER_AGENT": settings.user_agent,
        "ROBOTSTXT_OBEY": True,
        "VNARCHIVE_DB": settings.db_url,
        "ITEM_PIPELINES": {"pipelines.pipeline.ArchivePipeline": 500},
        # one door out: http(s) only, nothing listening, no remote control
        "DOWNLOAD_HANDLERS": {"file": None, "data": None, "ftp": None, "s3": None},
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,  # Scrapy's remote-control server would listen on a port (FAULTS E5)
        # bounded work per response and per process
        "DOWNLOAD_MAXSIZE": 32 * MiB,
        "DOWNLOAD_WARNSIZE": 8 * MiB,
        "DNS_TIMEOUT": 15,
        "REDIRECT_MAX_TIMES": 10,
        "URLLENGTH_LIMIT": 2083,
        "MEMUSAGE_ENABLED": True,
        "MEMUSAGE_LIMIT_MB": 3072,
        "MEMUSAGE_WARNING_MB": 1536,
        "CONCURRENT_REQUESTS": 32,
        # a response yields one item at most (an article page's), and Scrapy starts this many asyncio tasks for
        # every response it scrapes (64 cost the crawl process 7 % of its CPU)
        "CONCURRENT_ITEMS": 1,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        # Retry-After slows the host (its download slot); a longer wait than this defers the URL to a later run
        "VNARCHIVE_MAX_RETRY_AFTER": settings.max_retry_after,
        # ...and stays that slow this long after the last 429/503 (seconds, at least)
        "VNARCHIVE_RATE_LIMIT_HOLD": settings.rate_limit_hold,
        "DOWNLOADER_MIDDLEWARES": {
            # one door out (crawler/scope.py): every request, redirects and revisits included, before anything
            # else looks at it (robots.txt fetches included)
            "crawler.scope.ScopeMiddleware": 40,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawler.middlewares.RetryAfterMiddleware": 550,
            # robots.txt per RFC 9309 (crawler/robots.py): 5xx or unreachable disallows all, a challenge is named
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crawler.robots.RobotsPolicyMiddleware": 100,
            # meta refresh read from the page's bytes first, not from all of it decoded (crawler/refresh.py)
            "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
            "crawler.refresh.BytesFirstMetaRefreshMiddleware": 580,
        },
        # a host's concurrency honoured with no download delay too (Scrapy 2.19 sends it the whole queue)
        "DOWNLOADER": "crawler.downloader.PoliteDownloader",
        # ...and every address a host name resolves to, before Twisted connects
        "TWISTED_DNS_RESOLVER": "crawler.scope.ScopedResolver",
        "VNARCHIVE_ALLOW_ADDRESSES": ",".join(settings.allow_addresses),
        "DEPTH_LIMIT": 0,  # the spider counts listing depth itself
        "SPIDER_MIDDLEWARES": {
            # ...so Scrapy's depth count (one more async generator around every response's output) has nothing
            # to limit or order by (DEPTH_PRIORITY 0), and the spider builds every request's meta afresh, never
            # copying a response's: the check for copied meta has nothing to find either
            "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
            "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
        },
        "LOG_LEVEL": log_level,
        "LOG_FORMAT": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        "STATS_DUMP": False,
        # the runner routes the log (crawler.runner.crawl_logging): a file under a live display, stderr otherwise
        "LOG_INSTALL_ROOT_HANDLER": False,
    }


def source_settings(source: Source) -> dict[str, Any]:
    p = source.politeness
    return {
        "CONCURRENT_REQUESTS_PER_DOMAIN": p.concurrency,
        # certificates verified (Scrapy's default is not to): an exception is the source's own, written down
        "DOWNLOAD_VERIFY_CERTIFICATES": source.verify_certificates,
        # requests handed to the downloader at once: enough to keep every host of the source busy, no more (the
        # rest wait in the scheduler, and are never fetched ahead of what the pipeline can archive)
        "CONCURRENT_REQUESTS": p.concurrency * max(1, len(source.allowed_domains)),
        "DOWNLOAD_DELAY": p.download_delay,
        "DOWNLOAD_DELAY_JITTER": 0.5 if p.download_delay > 0 else 0,
        "AUTOTHROTTLE_ENABLED": p.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(p.download_delay, 1.0),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(p.concurrency),
        "DOWNLOAD_TIMEOUT": p.timeout,
        "RETRY_TIMES": p.retries,
        "CLOSESPIDER_PAGECOUNT": source.limits.max_pages,
    }
