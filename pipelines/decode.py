"""Bytes to NFC text: BOM, HTTP charset, <meta>, then a guess; windows-1258 and NFD become NFC.

Vietnamese pages arrive in UTF-8 (composed or decomposed), in windows-1258 (declared in the header, only in a
<meta>, or not at all) and, on old portals, in the TCVN3 (ABC) and VNI font encodings, which decode
"successfully" to mojibake.  What this module promises:

- the text is NFC, whatever the page's normalisation;
- U+FFFD appears only where the bytes really are invalid in the encoding used, and ``decode_errors`` counts
  them (a page that says U+FFFD itself is not an error);
- undeclared or mislabelled windows-1258 is recognised (UTF-8 that fails on nearly every non-ASCII byte, or
  "latin-1" whose letters only make sense as Vietnamese);
- TCVN3 / VNI pages are recognised by their most frequent words and reported in ``legacy``, so the caller can
  flag them instead of archiving mojibake.
"""

from __future__ import annotations

import collections
import itertools
import re
import unicodedata
from dataclasses import dataclass

from w3lib.encoding import html_body_declared_encoding, html_to_unicode, http_content_type_encoding, read_bom

# gzip, zstd, zlib (common levels), bzip2, xz, zip, pdf, png, gif, jpeg, webp/riff, ole: never hand these to an
# HTML parser (trafilatura would happily decompress a bomb by magic number)
BINARY_MAGIC = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\x78\x9c", b"\x78\xda", b"\x78\x01", b"\x78\x5e", b"BZh",
                b"\xfd7zXZ", b"PK\x03\x04", b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"RIFF",
                b"\xd0\xcf\x11\xe0", b"\x04\x22\x4d\x18")
_FFFD_UTF8 = "\ufffd".encode()


@dataclass(slots=True, frozen=True)
class Decoded:
    text: str
    encoding: str
    decode_errors: int  # U+FFFD substituted for undecodable bytes
    legacy: str | None = None  # "tcvn3" / "vni": a legacy Vietnamese font encoding, the text is mojibake


_CONTROL_BYTES = bytes([*range(9), *range(14, 32)])  # control bytes text has none of (9-13 are whitespace)


def looks_binary(body: bytes) -> bool:
    """Compressed or binary bytes (checked on the first bytes only: never decompressed, never scanned whole)."""
    head = body[:16].lstrip()
    if head.startswith(BINARY_MAGIC):
        return True
    sample = body[:2048]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False  # UTF-16 with its BOM: every other byte is NUL
    if sample.count(b"\x00") > 8:
        return True  # a NUL or two in markup is malformed HTML; many in the first KiB is binary
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return len(sample) >= 64 and controls > 0.1 * len(sample)


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


_ASCII = bytes(range(128))


def _invalid_utf8_share(body: bytes) -> tuple[int, float]:
    """(invalid UTF-8 sequences, their share of the non-ASCII bytes)."""
    high = len(body.translate(None, _ASCII))
    if not high:
        return 0, 0.0
    try:
        body.decode("utf-8")
        return 0, 0.0
    except UnicodeDecodeError:
        pass
    bad = body.decode("utf-8", errors="replace").count("\ufffd") - body.count(_FFFD_UTF8)
    return bad, bad / high


_UTF8_LEAD = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")


def _is_utf8_text(body: bytes) -> bool:
    """Valid UTF-8 with enough multi-byte characters to tell: a page labelled latin-1 or windows-1252 (a CMS
    default, a server's) that is in fact UTF-8.  Text in a single-byte encoding almost never forms valid UTF-8
    sequences (an accented capital followed by a C1 control or a symbol, again and again, and never a stray
    byte), so 8 of them and no invalid one is evidence, not a guess."""
    if len(_UTF8_LEAD.findall(body[:300_000])) < 8:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_VI_SPECIFIC = re.compile(r"[ăđơưĂĐƠƯ\u1ea0-\u1ef9]")


def _reads_as_vietnamese_1258(body: bytes) -> bool:
    """Decoded as windows-1258 (and composed), are the non-ASCII letters mostly Vietnamese ones?"""
    text = nfc(body[:300_000].decode("cp1258", errors="replace"))
    high = [c for c in text if ord(c) > 127 and c.isalpha()]
    return len(high) >= 20 and len(_VI_SPECIFIC.findall("".join(high))) >= 0.5 * len(high)


def _declared(body: bytes, content_type: str | None) -> str | None:
    bom = read_bom(body)[0]
    return bom or http_content_type_encoding(content_type or "") or html_body_declared_encoding(body)


def decode_html(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode as a browser would, with windows-1258 recognised when undeclared or mislabelled; NFC."""
    declared = _declared(body, content_type)
    forced = None
    if declared is None or declared in ("utf-8", "utf8"):
        bad, share = _invalid_utf8_share(body)
        # windows-1258 read as UTF-8 fails on nearly every accented letter; a few bad bytes are just bad bytes
        if bad >= 8 and share > 0.3 and _reads_as_vietnamese_1258(body):
            forced = "cp1258"
    elif declared in ("cp1252", "latin-1", "iso-8859-1", "windows-1252", "latin1", "ascii"):
        if _is_utf8_text(body):
            forced = "utf-8"  # mislabelled: single-byte text is practically never valid multi-byte UTF-8
        elif _reads_as_vietnamese_1258(body) and not _reads_as_vietnamese(body.decode("cp1252", "replace")):
            forced = "cp1258"
    if forced:
        encoding, text = forced, body.decode(forced, errors="replace")
        # the BOM-less meta may still say utf-8: what was decoded is what counts
    else:
        encoding, text = html_to_unicode(content_type or "", body,
                                         auto_detect_fun=lambda b: html_body_declared_encoding(b) or "utf-8")
    errors = max(0, text.count("\ufffd") - body.count(_FFFD_UTF8))
    view = text
    if encoding not in ("utf-8", "utf8") or errors > 8:
        view = body.decode("cp1252", errors="replace")  # the legacy fonts' words are spelt in cp1252 bytes
    return Decoded(text=nfc(text), encoding=encoding, decode_errors=errors, legacy=legacy_encoding(view))


def _reads_as_vietnamese(text: str) -> bool:
    high = [c for c in nfc(text) if ord(c) > 127 and c.isalpha()]
    return len(high) >= 20 and len(_VI_SPECIFIC.findall("".join(high))) >= 0.5 * len(high)


# The commonest Vietnamese words as TCVN3 (ABC) and VNI bytes show them when read as windows-1252:
# và của đã người những có được Việt với là một các này đến không tỉnh thành
# Case-folded, as the tokens they are compared with are: TCVN3's "µ" (U+00B5, the micro sign) folds to the Greek
# "μ", so "vµ", "lµ" as written here would never match
_TCVN3_WORDS = frozenset(w.casefold() for w in (
    "vµ", "cña", "®·", "ng\xadêi", "nh÷ng", "cã", "®\xadîc", "viöt", "víi", "lµ", "mét", "c¸c", "nµy", "®õn",
    "kh«ng", "tønh", "thµnh", "ngµy", "n¨m", "®¬n", "®ång"))
_VNI_WORDS = frozenset(w.casefold() for w in (
    "vaø", "cuûa", "ñaõ", "ngöôøi", "nhöõng", "coù", "ñöôïc", "vieät", "vôùi", "laø", "moät", "caùc", "naøy",
    "ñeán", "khoâng", "tænh", "thaønh", "ngaøy", "naêm", "ñôn", "ñoàng"))
_WORD_EDGE = "\"'“”‘’()[]{}.,;:!?…"


def legacy_encoding(text: str) -> str | None:
    """'tcvn3' or 'vni' when the text is Vietnamese in a legacy font encoding (by its commonest words)."""
    tokens = text[:300_000].split()  # the first 300k characters are evidence enough
    # every legacy word has a non-ASCII letter: only those tokens are counted, each case-folded and stripped of
    # punctuation, all in C (filterfalse, map and Counter's counting loop), then the few legacy words looked up in
    # the counts.  Folded token by token, not the whole page first: most of a page is ASCII markup and script
    # (half the time on real pages), and case folding keeps whitespace, ASCII and the punctuation stripped as
    # they are, so the tokens and the counts are the same
    counts = collections.Counter(map(str.strip, map(str.casefold, itertools.filterfalse(str.isascii, tokens)),
                                     itertools.repeat(_WORD_EDGE)))
    tcvn = sum(counts[w] for w in _TCVN3_WORDS)
    vni = sum(counts[w] for w in _VNI_WORDS)
    hits = max(tcvn, vni)
    if hits < 5:
        return None
    words = sum(1 for w in tokens if w.strip(_WORD_EDGE))
    if hits < 0.01 * words:
        return None
    return "tcvn3" if tcvn >= vni else "vni"
