"""Typed configuration: process settings and the sources file.  Imports nothing else of vnarchive."""

from config.settings import Settings, from_env
from config.sources import Source, SourcesError, SourcesFile, load_sources, parse_sources

__all__ = ["Settings", "Source", "SourcesError", "SourcesFile", "from_env", "load_sources", "parse_sources"]
