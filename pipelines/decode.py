"""Bytes to NFC text: HTTP charset, then <meta>, then BOM, then a guess; windows-1258 and NFD become NFC."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from w3lib.encoding import html_body_declared_encoding, html_to_unicode

# gzip, zstd, zlib (common levels), bzip2, xz, zip, pdf, png, gif, jpeg: never hand these to an HTML parser
# (trafilatura would happily decompress a bomb by magic number)
BINARY_MAGIC = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\x78\x9c", b"\x78\xda", b"\x78\x01", b"BZh", b"\xfd7zXZ",
                b"PK\x03\x04", b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff")


@dataclass(slots=True, frozen=True)
class Decoded:
    text: str
    encoding: str
    decode_errors: int  # U+FFFD substituted for undecodable bytes


def looks_binary(body: bytes) -> bool:
    head = body[:16].lstrip()
    return head.startswith(BINARY_MAGIC) or b"\x00" in body[:1024]


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def decode_html(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode as a browser would, count replacement characters the decoding introduced, normalise to NFC."""
    encoding, text = html_to_unicode(content_type or "", body,
                                     auto_detect_fun=lambda b: html_body_declared_encoding(b) or "utf-8")
    errors = text.count("\ufffd") - body.count("\xef\xbf\xbd".encode("latin-1"))
    return Decoded(text=nfc(text), encoding=encoding, decode_errors=max(0, errors))
