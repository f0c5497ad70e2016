"""Scrapy settings, the generic source spider, the crawl runner, the scheduler daemon and the CLI."""
