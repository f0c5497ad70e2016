"""The unattended side: the scheduler daemon (APScheduler) deciding when each source is crawled, the crawl
child processes it runs (jobs), and the Celery job queue and workers that run them on other machines.

Every crawl, wherever it runs, is the same `vnarchive crawl SOURCE` child process (crawler.daemon.jobs)."""
