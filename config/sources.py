"""The sources file: every site vnarchive crawls, as data.

A sources file is TOML with an optional ``[defaults]`` table and one ``[[source]]`` table per site.
Each source overlays the defaults (tables are merged key by key), is validated by the models below and
frozen.  The field descriptions are the documentation of the format (the README's table).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

TIMEZONE = "Asia/Ho_Chi_Minh"

SOURCE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")  # the shape of a source id (never a NUL, never a space)


class SourcesError(ValueError):
    """A sources file that cannot be used; the message names the file, the key and what was expected."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_coercion(cls, v: Any, info: ValidationInfo) -> Any:
        # TOML has real booleans and numbers: `delay = true` or `enabled = "yes"` is a mistake, not a value
        annotation = cls.model_fields[info.field_name].annotation if info.field_name else None
        if isinstance(v, bool) and annotation in (int, float):
            raise ValueError("expected a number, not true/false")
        if isinstance(v, str) and annotation in (int, float):
            raise ValueError(f"expected a number, not the string {v!r} (write it without quotes)")
        if annotation is bool and not isinstance(v, bool):
            raise ValueError("expected true or false")
        return v


class _AtKey(ValueError):
    """A validation error about ``key`` inside the model being validated (reported as ``model.key``)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")


def _language_code(code: str, key: str | None = None) -> str:
    if _LANGUAGE_CODE.fullmatch(code):
        return code
    msg = (f"expected a lower-case ISO 639 code of 2 or 3 letters (\"vi\", \"en\", \"zh\"), not {code!r}"
           + (f" (write {code.lower()!r})" if _LANGUAGE_CODE.fullmatch(code.lower()) else ""))
    raise _AtKey(key, msg) if key else ValueError(msg)


def _compile_all(patterns: tuple[str, ...]) -> tuple[str, ...]:
    for p in patterns:
        if not p:
            raise ValueError("'' is not a pattern: it matches every URL")
        try:
            re.compile(p)
        except re.error as e:
            raise ValueError(f"{p!r} is not a valid regular expression ({e})") from e
    return patterns


def _css_all(selectors: tuple[str, ...]) -> tuple[str, ...]:
    """Every selector must parse: a bad hint would otherwise be ignored, silently, on every page."""
    from cssselect import GenericTranslator, SelectorError

    for sel in selectors:
        try:
            if not sel.strip():
                raise SelectorError("empty selector")
            GenericTranslator().css_to_xpath(sel)
        except SelectorError as e:
            raise ValueError(f"{sel!r} is not a valid CSS selector ({e})") from None
    return selectors


# a host as allowed_domains names it: a DNS name (IDN allowed), an IPv4 address or a bracketed IPv6 one,
# optionally with a port (ignored)
_HOST = re.compile(r"(?:\[[0-9a-fA-F:.]+\]|[^\s/:@*?#\[\]]+)(?::\d{1,5})?")


def _host_of_entry(entry: str) -> str:
    host = entry.strip().lower().rstrip(".")
    if host.startswith("["):
        return host[1:host.index("]")]
    return host.split(":", 1)[0]


def _domain(entry: str) -> str:
    """An ``allowed_domains`` entry checked: a host, not a URL, a wildcard or nothing."""
    if not entry.strip():
        raise ValueError("'' is not a host: name each host (\"example.vn\")")
    if "*" in entry:
        raise ValueError(f"{entry!r}: wildcards are not hosts; a host already includes its subdomains "
                         "(\"example.vn\" allows \"m.example.vn\")")
    if "://" in entry or "/" in entry:
        host = re.sub(r"^[a-z]+://", "", entry.strip(), flags=re.I).split("/", 1)[0]
        raise ValueError(f"{entry!r} is a URL, not a host: write {host!r}")
    if not _HOST.fullmatch(entry.strip()):
        raise ValueError(f"{entry!r} is not a host name or address")
    return entry.strip()


def _ascii_host(host: str) -> str:
    host = host.lower().rstrip(".")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _in_domains(url: str, domains: tuple[str, ...]) -> bool:
    """Is ``url``'s host one of ``domains`` or a subdomain of one (as the crawl's scope check decides)?"""
    from urllib.parse import urlsplit

    try:
        host = _ascii_host(urlsplit(url).hostname or "")
    except ValueError:
        return False
    names = [_ascii_host(_host_of_entry(d)) for d in domains]
    return any(host == d or host.endswith("." + d) for d in names)


class Limits(_Frozen):
    max_pages: int = Field(5000, ge=1, description="Pages fetched per run at most (listings, feeds, articles): the run stops there.")
    max_depth: int = Field(3, ge=0, description="How many listing pages deep discovery follows links.")
    max_listing_pages: int = Field(
        30, ge=1, description="Pagination pages followed per listing, counting the first."
    )
    max_sitemap_urls: int = Field(50000, ge=0, description="Article URLs taken from sitemaps per run.")


class Politeness(_Frozen):
    download_delay: float = Field(1.0, ge=0, description="Seconds between requests to one host.")
    concurrency: int = Field(2, ge=1, le=32, description="Requests in flight to one host at most.")
    autothrottle: bool = Field(True, description="Adapt the delay to the server's latency.")
    timeout: float = Field(45, gt=0, description="Seconds before a request is abandoned.")
    retries: int = Field(3, ge=0, le=10, description="Retries for 5xx, 429 and network errors.")


class Extraction(_Frozen):
    content_selectors: tuple[str, ...] = Field(
        (), description="CSS selectors of the article body container, tried in order (optional hints)."
    )
    prune_selectors: tuple[str, ...] = Field(
        (), description="CSS selectors of elements removed before extraction (related news, widgets...)."
    )
    title_selectors: tuple[str, ...] = Field((), description="CSS selectors of the headline (optional).")
    lead_selectors: tuple[str, ...] = Field((), description="CSS selectors of the lead / sapo (optional).")
    min_text_chars: int = Field(200, ge=0, description="Shorter body text is not an article (skipped).")
    languages: tuple[str, ...] = Field(
        ("vi",), description='Languages of the articles (ISO 639 codes, e.g. ["vi", "en"]; ["*"] for any): a page '
                             "in another language is skipped as language_<code>."
    )

    # keys still accepted in files, though no field has their name (checked in [defaults] too)
    legacy_keys: ClassVar[frozenset[str]] = frozenset({"language"})

    @field_validator("content_selectors", "prune_selectors", "title_selectors", "lead_selectors")
    @classmethod
    def _selectors(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _css_all(v)

    @model_validator(mode="before")
    @classmethod
    def _single_language(cls, data: Any) -> Any:
        """The old ``language = "vi"`` is ``languages = ["vi"]``; ``"mul"`` or ``"*"`` mean any language."""
        if not isinstance(data, dict) or "language" not in data:
            return data
        data = dict(data)
        old = data.pop("language")
        if "languages" in data:
            raise _AtKey("language", "give either language (one code) or languages (a list), not both")
        if not isinstance(old, str):
            raise _AtKey("language", f"expected an ISO 639 code like \"vi\", not {old!r}")
        data["languages"] = ("*",) if old in ("mul", "*") else (_language_code(old, "language"),)
        return data

    @field_validator("languages", mode="before")
    @classmethod
    def _a_list(cls, v: Any) -> Any:
        if isinstance(v, str):
            raise ValueError(f'expected a list of language codes, like [{v!r}]'.replace("'", '"'))
        return v

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError('expected at least one language code (["*"] accepts any language)')
        if "*" in v:
            if len(v) > 1:
                raise ValueError('"*" accepts any language: give it alone, as ["*"]')
            return v
        return tuple(dict.fromkeys(_language_code(c) for c in v))

    @property
    def language(self) -> str | None:
        """The first accepted language; None when any is accepted (for callers that know only one)."""
        return None if self.languages == ("*",) else self.languages[0]


class Revisit(_Frozen):
    """When known articles are fetched again to catch edits and removals."""

    enabled: bool = Field(True, description="Re-check known articles on later crawls.")
    schedule_hours: tuple[float, ...] = Field(
        (6, 24, 72, 168, 720),
        description="Hours after publication at which an article is due again: often when young, rarely when old.",
    )
    max_per_run: int = Field(2000, ge=0, description="Revisits per run at most.")
    backfill_listing_pages: int = Field(
        30, ge=1, description="On a source's first crawl, listing pages followed back (later: until known)."
    )
    in_turn_without_lastmod: bool = Field(
        True, description="A live article no sitemap gave a <lastmod> for this crawl is revisited in turn (oldest "
                          "check first, within max_per_run) rather than only at its age checkpoints: nothing else "
                          "says when it changed."
    )


class Source(_Frozen):
    id: str = Field(description="Short identifier, used on the command line and in the archive.")
    name: str = Field(description="Human-readable name of the site.")
    allowed_domains: tuple[str, ...] = Field(
        description="Hosts (and their subdomains) the crawl may request; a :port suffix is ignored."
    )
    start_urls: tuple[str, ...] = Field((), description="Home and category listing pages.")
    feeds: tuple[str, ...] = Field((), description="RSS or Atom feeds.")
    sitemaps: tuple[str, ...] = Field(
        (), description="Sitemaps or sitemap indexes (Google News sitemaps too)."
    )
    sitemaps_from_robots: bool = Field(True, description="When no sitemaps are given, follow the Sitemap: lines of robots.txt.")
    sitemaps_complete: bool | None = Field(
        None, description="Whether the sitemaps list every article, so that a live article missing from them is "
                          "checked for removal. Unset: decided each crawl (a Google News or \"latest\" sitemap, one "
                          "that failed, or one listing under half the archived articles is partial)."
    )
    article_patterns: tuple[str, ...] = Field(
        description="Regular expressions (searched in the URL) that mark article pages."
    )
    listing_patterns: tuple[str, ...] = Field(
        (), description="Regular expressions that mark listing and pagination pages worth following."
    )
    deny_patterns: tuple[str, ...] = Field((), description="URLs matching any of these are never requested.")
    ignore_params: tuple[str, ...] = Field(
        (), description="Query parameters that do not change the article (besides utm_*, fbclid, print...)."
    )
    host_aliases: dict[str, str] = Field(
        default_factory=dict,
        description='Mirror hosts of the same site, e.g. {"m.example.vn" = "example.vn"} for a mobile host.',
    )
    case_insensitive_paths: bool = Field(False, description="The server ignores case in paths.")
    verify_certificates: bool = Field(
        True, description="Refuse HTTPS answers whose certificate does not verify (expired, self-signed, another "
                          "host's, an incomplete chain). false is the written exception for a site that needs one: "
                          "its pages are then fetched over an unverified connection, and every crawl says so.")
    schedule: str = Field("0 */3 * * *", description=f"Cron expression in {TIMEZONE}.")
    expect_new_within_hours: float = Field(
        48, gt=0, description="Flag the source as unhealthy when no new article arrives for this long."
    )
    limits: Limits = Limits()
    politeness: Politeness = Politeness()
    extraction: Extraction = Extraction()
    revisit: Revisit = Revisit()

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not SOURCE_ID.fullmatch(v):
            raise ValueError("expected lower-case letters, digits, '-' or '_' (at most 40)")
        return v

    @field_validator("article_patterns")
    @classmethod
    def _need_patterns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("expected at least one regular expression")
        return _compile_all(v)

    @field_validator("listing_patterns", "deny_patterns")
    @classmethod
    def _patterns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _compile_all(v)

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_domain(d) for d in v)

    @field_validator("start_urls", "feeds", "sitemaps")
    @classmethod
    def _http_urls(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for u in v:
            if not re.match(r"https?://[^/\s]+", u):
                raise ValueError(f"{u!r} is not an http(s) URL")
        return v

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(v, timezone=TIMEZONE)
        except ValueError as e:
            raise ValueError(f"{v!r} is not a 5-field cron expression ({e})") from e
        return v

    @model_validator(mode="after")
    def _has_entry_points(self) -> Source:
        if not (self.start_urls or self.feeds or self.sitemaps):
            raise ValueError("a source needs at least one of start_urls, feeds or sitemaps")
        if not self.allowed_domains:
            raise ValueError("allowed_domains must name at least one host")
        for key in ("start_urls", "feeds", "sitemaps"):
            # every request of a crawl stays inside allowed_domains: an entry point outside could never be fetched
            outside = [u for u in getattr(self, key) if not _in_domains(u, self.allowed_domains)]
            if outside:
                raise _AtKey(key, f"{outside[0]!r} is outside allowed_domains ({', '.join(self.allowed_domains)}): "
                                  "add its host there, or remove it")
        return self


class SourcesFile(_Frozen):
    path: str
    sources: tuple[Source, ...]

    def get(self, source_id: str) -> Source:
        for s in self.sources:
            if s.id == source_id:
                return s
        known = ", ".join(s.id for s in self.sources)
        raise SourcesError(f"{self.path}: no source {source_id!r} (known: {known})")

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.sources]


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# keys that say the same thing: a source giving one of them replaces whichever the defaults gave
_SYNONYMS = {"extraction": ("language", "languages")}


def _without_overridden(defaults: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """The defaults minus the synonyms of keys the source sets itself (its ``language`` beats the defaults'
    ``languages``, rather than being reported as both)."""
    out = dict(defaults)
    for table, keys in _SYNONYMS.items():
        mine, theirs = entry.get(table), out.get(table)
        if isinstance(mine, dict) and isinstance(theirs, dict) and any(k in mine for k in keys):
            out[table] = {k: v for k, v in theirs.items() if k not in keys}
    return out


def _describe(err: ValidationError, path: str, prefix: str) -> str:
    lines = []
    for e in err.errors():
        cause = e.get("ctx", {}).get("error")
        loc = (*e["loc"], cause.key) if isinstance(cause, _AtKey) else e["loc"]
        key = ".".join(str(x) for x in (prefix, *loc) if x != "")
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (typo?)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"{path}: {key}: {msg}")
    return "\n".join(lines)


def _check_defaults(defaults: dict[str, Any], path: str) -> None:
    """A typo in [defaults] is named as such, not blamed on the first source it is merged into."""
    for key, value in defaults.items():
        field = Source.model_fields.get(key)
        if field is None or key in ("id", "name"):
            raise SourcesError(f"{path}: defaults.{key}: unknown key (typo?)")
        sub = field.annotation
        if isinstance(value, dict) and isinstance(sub, type) and issubclass(sub, BaseModel):
            for k in value:
                if k not in sub.model_fields and k not in getattr(sub, "legacy_keys", ()):
                    raise SourcesError(f"{path}: defaults.{key}.{k}: unknown key (typo?)")


def parse_sources(text: str, path: str = "<string>") -> SourcesFile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SourcesError(f"{path}: not valid TOML: {e}") from e
    unknown = set(data) - {"defaults", "source"}
    if unknown:
        raise SourcesError(f"{path}: {sorted(unknown)[0]}: unknown top-level key (expected [defaults] or [[source]])")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise SourcesError(f"{path}: defaults: expected a table")
    _check_defaults(defaults, path)
    raw = data.get("source", [])
    if not isinstance(raw, list) or not raw:
        raise SourcesError(f"{path}: source: expected at least one [[source]] table")
    sources, seen = [], set()
    for i, entry in enumerate(raw):
        label = f"source[{i}]" + (f" ({entry.get('id')})" if isinstance(entry.get("id"), str) else "")
        try:
            src = Source.model_validate(_merge(_without_overridden(defaults, entry), entry))
        except ValidationError as e:
            raise SourcesError(_describe(e, path, label)) from None
        if src.id in seen:
            raise SourcesError(f"{path}: {label}.id: duplicate id {src.id!r}")
        seen.add(src.id)
        sources.append(src)
    return SourcesFile(path=path, sources=tuple(sources))


def load_sources(path: str | Path) -> SourcesFile:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourcesError(f"{p}: sources file not found (set VNARCHIVE_SOURCES or --sources)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SourcesError(f"{p}: cannot read: {e}") from None
    return parse_sources(text, str(p))
