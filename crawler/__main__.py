"""`python -m crawler ...` is `vnarchive ...` (the scheduler launches crawls this way)."""

from crawler.cli import main

main()
