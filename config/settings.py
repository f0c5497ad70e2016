"""Process-wide settings: where the archive and the sources file are.  Environment first, flags override."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

DEFAULT_DB = "sqlite:///archive.db"
# the sources file installed with the package (package data), found wherever the command runs; with
# `pip install -e .` it is config/sources.toml of the checkout.  VNARCHIVE_SOURCES and --sources win.
PACKAGED_SOURCES = Path(__file__).resolve().parent / "sources.toml"
DEFAULT_SOURCES = str(PACKAGED_SOURCES)
USER_AGENT = "vnarchive/0.1 (+https://github.com/vnarchive/vnarchive; news archiving for research)"


@dataclass(frozen=True, slots=True)
class Settings:
    db_url: str = DEFAULT_DB
    sources_path: Path = Path(DEFAULT_SOURCES)
    user_agent: str = USER_AGENT
    # seconds; replaces every source's cron schedule (demos and tests), 0 = off
    schedule_every: int = 0
    # crawls the scheduler runs at once, and the wall-clock limit of one crawl
    max_parallel_crawls: int = 2
    crawl_timeout: int = 4 * 3600
    stop_grace: int = 60
    log_file: str | None = None
    # internal address ranges crawls may connect to anyway (tests, the simulator on loopback, an intranet site)
    allow_addresses: tuple[str, ...] = ()
    # seconds: a Retry-After up to this slows the host that long; a longer one defers the URL to a later run
    max_retry_after: int = 120
    # how long a host slowed by a 429/503 stays slowed at least, in seconds (the server's own wait if longer)
    rate_limit_hold: int = 30
    # the job queue's broker (redis://… or amqp://…): crawls are enqueued for `vnarchive worker`s instead of
    # being run here (scheduler, `crawl --queue`); None = no queue
    broker_url: str | None = None
    # seconds a taken job stays a worker's without a renewal of its lease (Redis's visibility timeout): how long
    # a dead worker's job waits before another worker gets it.  Renewed every sixth of it while the job runs
    queue_lease: int = 120

    def with_overrides(self, **kw: Any) -> Settings:
        """A copy with the given fields replaced; None means "not given" (a flag left out)."""
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


def _int_env(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise ValueError(f"{name}={raw!r}: expected a whole number of at least {minimum}")
    return value


def _networks_env(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma- or space-separated IP networks (``127.0.0.0/8, ::1``), each checked."""
    out = []
    for item in re.split(r"[,\s]+", env.get(name) or ""):
        if not item:
            continue
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(f"{name}={item!r}: expected IP addresses or networks, e.g. 127.0.0.0/8") from None
    return tuple(out)


def from_env(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    return Settings(
        db_url=env.get("VNARCHIVE_DB") or DEFAULT_DB,
        sources_path=Path(env.get("VNARCHIVE_SOURCES") or DEFAULT_SOURCES),
        user_agent=env.get("VNARCHIVE_USER_AGENT") or USER_AGENT,
        schedule_every=_int_env(env, "VNARCHIVE_SCHEDULE_EVERY", 0),
        max_parallel_crawls=_int_env(env, "VNARCHIVE_MAX_PARALLEL_CRAWLS", 2, minimum=1),
        crawl_timeout=_int_env(env, "VNARCHIVE_CRAWL_TIMEOUT", 4 * 3600, minimum=1),
        stop_grace=_int_env(env, "VNARCHIVE_STOP_GRACE", 60),
        log_file=env.get("VNARCHIVE_LOG_FILE") or None,
        allow_addresses=_networks_env(env, "VNARCHIVE_ALLOW_ADDRESSES"),
        max_retry_after=_int_env(env, "VNARCHIVE_MAX_RETRY_AFTER", 120),
        rate_limit_hold=_int_env(env, "VNARCHIVE_RATE_LIMIT_HOLD", 30),
        broker_url=env.get("VNARCHIVE_BROKER") or None,
        queue_lease=_int_env(env, "VNARCHIVE_QUEUE_LEASE", 120, minimum=3),
    )


def host_name(environ: Mapping[str, str] | None = None) -> str:
    """The name crawl runs record as their ``host``: $VNARCHIVE_HOST (a worker sets it to its own name for the
    crawls it runs), else the machine's name."""
    env = os.environ if environ is None else environ
    return (env.get("VNARCHIVE_HOST") or "").strip() or socket.gethostname()
