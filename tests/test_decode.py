"""Bytes to NFC text: windows-1258 however (un)declared, NFD, invalid bytes counted, legacy fonts flagged."""

from __future__ import annotations

import gzip
import unicodedata
import zlib
from pathlib import Path

import pytest

from pipelines.decode import decode_html, legacy_encoding, looks_binary

PAGES = Path(__file__).resolve().parent / "fixtures" / "pages"
TEXT = "Ngày 03/10/2024, Ban Chỉ đạo Nhân quyền tỉnh Bình Định tổ chức Hội nghị tập huấn ở thành phố Quy Nhơn."


def html(charset_meta: str | None = None, text: str = TEXT) -> str:
    meta = f'<meta http-equiv="Content-Type" content="text/html; charset={charset_meta}">' if charset_meta else ""
    return f"<html><head>{meta}<title>Tiêu đề</title></head><body>" + f"<p>{text}</p>" * 5 + "</body></html>"


def cp1258(s: str) -> bytes:
    """As Vietnamese Windows writes it (tests/fixtures/pages/_generate.py has the same encoder)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen", PAGES / "_generate.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.cp1258(s)


@pytest.mark.parametrize(("body", "content_type"), [
    (html("utf-8").encode(), "text/html; charset=utf-8"),
    (unicodedata.normalize("NFD", html("utf-8")).encode(), "text/html; charset=utf-8"),
    (cp1258(html()), "text/html; charset=windows-1258"),
    (cp1258(html("windows-1258")), "text/html"),
    (cp1258(html("windows-1258")), None),
    (cp1258(html()), "text/html"),
    (cp1258(html()), None),
    (cp1258(html("iso-8859-1")), "text/html; charset=iso-8859-1"),
    (b"\xef\xbb\xbf" + html().encode(), "text/html"),
], ids=["utf8", "utf8-nfd", "1258-header", "1258-meta", "1258-meta-no-header", "1258-undeclared",
        "1258-undeclared-no-header", "1258-labelled-latin1", "utf8-bom"])
def test_every_form_gives_the_same_nfc_text(body: bytes, content_type: str | None) -> None:
    d = decode_html(body, content_type)
    assert TEXT in d.text
    assert unicodedata.is_normalized("NFC", d.text)
    assert d.decode_errors == 0 and "\ufffd" not in d.text
    assert d.legacy is None


def test_invalid_utf8_bytes_are_replaced_and_counted() -> None:
    good = html("utf-8").encode()
    i = good.index(b"Quy")
    d = decode_html(good[:i] + b"\xff\xfe\xc3" + good[i:], "text/html; charset=utf-8")
    assert d.encoding == "utf-8"  # three bad bytes do not make a page windows-1258
    assert d.decode_errors == 3 and d.text.count("\ufffd") == 3


def test_a_replacement_character_in_the_source_is_not_an_error() -> None:
    d = decode_html(html("utf-8", TEXT + " \ufffd").encode(), "text/html; charset=utf-8")
    assert d.decode_errors == 0 and "\ufffd" in d.text


def test_header_charset_wins_over_meta() -> None:
    d = decode_html(cp1258(html("utf-8")), "text/html; charset=windows-1258")
    assert TEXT in d.text and d.decode_errors == 0


@pytest.mark.parametrize(("name", "legacy"), [("tcvn3_legacy", "tcvn3"), ("vni_legacy", "vni")])
def test_legacy_font_encodings_are_recognised(name: str, legacy: str) -> None:
    d = decode_html((PAGES / f"{name}.html").read_bytes(), "text/html")
    assert d.legacy == legacy


def test_legacy_detection_leaves_real_vietnamese_and_english_alone() -> None:
    assert legacy_encoding(TEXT * 20) is None
    assert legacy_encoding("The Ministry held a conference on digital reform. " * 40) is None
    assert legacy_encoding("") is None


def test_every_legacy_word_has_a_non_ascii_letter() -> None:
    """legacy_encoding looks up only the tokens that are not pure ASCII: a legacy word that is would be missed."""
    from pipelines.decode import _TCVN3_WORDS, _VNI_WORDS

    assert [w for w in _TCVN3_WORDS | _VNI_WORDS if w.isascii()] == []


def test_legacy_words_count_with_their_punctuation_and_against_every_word() -> None:
    words = "vµ cña ®· ng\xadêi nh÷ng cã"
    assert legacy_encoding(f"({words}), ") == "tcvn3"
    # five hits among more than 500 words are under 1 %: no verdict
    assert legacy_encoding(f"{words} " + "word " * 600) is None


def test_tcvn3_words_spelt_with_the_micro_sign_count() -> None:
    """"và", "là", "ngày", "này", "thành" are spelt with "µ" (U+00B5) in TCVN3, which case-folds to the Greek "μ":
    the commonest words of all must count too."""
    assert legacy_encoding("vµ lµ ngµy nµy thµnh Vµ") == "tcvn3"


def test_legacy_words_count_in_capitals_and_among_markup() -> None:
    """Each token is case-folded on its own (not the page first): capitals count, markup and ASCII script around
    them change nothing, and a token that folds to ASCII (the Kelvin sign) is no legacy word."""
    words = "CñA ®· NG\xadêI NH÷NG Cã C¸C"
    markup = '<div class="x"><script>var a = "b";</script>' * 50
    assert legacy_encoding(f"{markup} {words} </div>") == "tcvn3"
    assert legacy_encoding(f"{markup} \u212a \u212a \u212a \u212a \u212a") is None


def test_legacy_text_saved_as_utf8_is_recognised_too() -> None:
    """Mojibake converted to UTF-8 without converting the font ("Hµ Néi" stored as Unicode)."""
    tcvn = (PAGES / "tcvn3_legacy.html").read_bytes().decode("cp1252")
    assert decode_html(tcvn.encode("utf-8"), "text/html; charset=utf-8").legacy == "tcvn3"


@pytest.mark.parametrize(("body", "binary"), [
    (gzip.compress(b"<html>" + b" " * 10000), True),
    (zlib.compress(b"<html>" + b" " * 10000), True),
    (b"\x28\xb5\x2f\xfd" + b"\x00" * 100, True),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)), True),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, True),
    (b"GIF89a\x01\x00\x01\x00", True),
    (bytes(range(32)) * 40, True),
    (b"<html><body>" + b"\x00" * 40 + b"</body></html>", True),
    (b"<html><body><p>m\xe1\xbb\x99t</p>\x00</body></html>", False),  # one NUL in markup: malformed, not binary
    ("<html><body><p>Bình thường</p></body></html>".encode("utf-16"), False),
    (b"  \n<!DOCTYPE html><html></html>", False),
])
def test_binary_bodies_are_recognised_from_their_first_bytes(body: bytes, binary: bool) -> None:
    assert looks_binary(body) is binary


@pytest.mark.parametrize("declared", ["text/html; charset=iso-8859-1", "text/html; charset=windows-1252"])
def test_utf8_labelled_as_a_single_byte_charset_is_read_as_utf8(declared: str) -> None:
    """A server's or a CMS's default label (seen on a real German page): valid UTF-8 with many multi-byte
    characters is UTF-8 whatever the label says; read as latin-1 every umlaut would be two letters."""
    text = "Größere Übersicht: Bộ Công an họp báo, Đà Nẵng, München und Köln. " * 4
    d = decode_html(f"<html><body><p>{text}</p></body></html>".encode(), declared)
    assert d.encoding == "utf-8" and d.decode_errors == 0
    assert "Größere Übersicht" in d.text and "Đà Nẵng" in d.text and "Ã" not in d.text


def test_real_latin1_stays_latin1() -> None:
    """Real single-byte text is never valid UTF-8 (an accented letter followed by plain letters), so the label
    stands."""
    text = "Größere Übersicht über München, Köln und Düsseldorf, café, crème brûlée. " * 4
    d = decode_html(f"<html><body><p>{text}</p></body></html>".encode("latin-1"), "text/html; charset=iso-8859-1")
    assert "Größere Übersicht" in d.text and "crème brûlée" in d.text
