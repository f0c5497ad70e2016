"""Vietnamese folding: every vowel with every tone, đ, NFD input, and what counts as typed with marks."""

from __future__ import annotations

import unicodedata

import pytest

from storage.fold import exact, fold, has_marks, tokens

VOWELS = "aăâeêioôơuưy"
TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")  # ngang, huyền, sắc, hỏi, ngã, nặng


def all_vowel_forms() -> list[tuple[str, str]]:
    base = {"ă": "a", "â": "a", "ê": "e", "ô": "o", "ơ": "o", "ư": "u"}
    out = []
    for v in VOWELS:
        for t in TONES:
            ch = unicodedata.normalize("NFC", v + t)
            out += [(ch, base.get(v, v)), (ch.upper(), base.get(v, v))]
    return out


@pytest.mark.parametrize(("ch", "want"), all_vowel_forms())
def test_every_vowel_and_tone_folds_to_its_base_letter(ch: str, want: str) -> None:
    assert fold(ch) == want
    assert fold(unicodedata.normalize("NFD", ch)) == want


@pytest.mark.parametrize(("text", "want"), [
    ("Đà Nẵng", "da nang"),
    ("ĐẶNG ĐÌNH", "dang dinh"),
    ("nhân quyền", "nhan quyen"),
    ("Bộ Công an", "bo cong an"),
    ("Hà Nội", "ha noi"),
    ("Ðà Nẵng", "da nang"),  # U+00D0 (Eth) typed for Đ by legacy pages
    ("Thừa Thiên Huế", "thua thien hue"),
    ("Hồ Chí Minh", "ho chi minh"),
    ("plain ASCII", "plain ascii"),
])
def test_fold(text: str, want: str) -> None:
    assert fold(text) == want
    assert fold(unicodedata.normalize("NFD", text)) == want


def test_exact_keeps_marks_folds_case_and_form() -> None:
    assert exact("BÀ") == "bà"
    assert exact(unicodedata.normalize("NFD", "Nội")) == "nội"
    assert exact("bà") != exact("bá")


@pytest.mark.parametrize(("word", "marked"), [
    ("bà", True), ("Đa", True), ("dan", False), ("Da", False), ("2024", False),
    (unicodedata.normalize("NFD", "quyền"), True), ("ơ", True),
])
def test_has_marks(word: str, marked: bool) -> None:
    assert has_marks(word) is marked


def test_tokens_split_on_punctuation_and_normalise() -> None:
    assert tokens("Hà Nội: (AND) NEAR*x^y_z “Đà-Nẵng”") == ["Hà", "Nội", "AND", "NEAR", "x", "y", "z", "Đà", "Nẵng"]
    assert tokens(unicodedata.normalize("NFD", "Hà Nội")) == ["Hà", "Nội"]
    assert tokens("'); DROP TABLE articles;--") == ["DROP", "TABLE", "articles"]


def _fold_whole(text: str) -> str:
    """The definition, on the whole text at once (what fold() computes a space-separated piece at a time)."""
    decomposed = unicodedata.normalize("NFD", text.translate(str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "Ð": "d"})))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped.casefold())


@pytest.mark.parametrize("text", [
    "Thủ tướng Phạm Minh Chính chủ trì phiên họp Chính phủ thường kỳ tháng 10/2024 tại Hà Nội.",
    unicodedata.normalize("NFD", "Đà Nẵng đón hơn 1,2 triệu lượt khách quốc tế trong năm, tăng 25% so với cùng kỳ"),
    "a mark after a space \u0301here, two  spaces, a tab\tand\u00a0a no-break space, ideographic\u3000space \u0323",
    "ﬁnal Straße İstanbul ǅ \u1e9e and Ð ð typed for Đ đ, repeated: " * 3,
    "\u0915\u093c \u0915 \u093c \u1100\u1161 \u1100 \u1161 Hangul jamo compose only within a piece " * 2,
])
def test_folding_a_text_piece_by_piece_is_folding_it_whole(text: str) -> None:
    assert fold(text) == _fold_whole(text)
    assert fold(text) == fold(text)  # and again, from the remembered pieces
