"""pipelines/stories.py (MinHash of syndicated copies) and the story tables in storage/repo.py."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata

import pytest
from sqlalchemy import select

from pipelines import stories
from pipelines.stories import bands, fold, shingles, signature, similarity, unpack
from storage import repo
from storage.models import Article

BODY = [
    "Sáng 25/8, tại trụ sở Chính phủ, Thủ tướng chủ trì phiên họp Chính phủ thường kỳ tháng 8 năm 2024.",
    "Phiên họp được kết nối trực tuyến với 63 tỉnh, thành phố trực thuộc Trung ương.",
    "Theo báo cáo của Bộ Kế hoạch và Đầu tư, tình hình kinh tế - xã hội tiếp tục xu hướng tích cực.",
    "Tăng trưởng GDP quý II ước đạt 6,93%, cao hơn nhiều dự báo của các tổ chức quốc tế.",
    "Lạm phát được kiểm soát ở mức khoảng 4%, các cân đối lớn của nền kinh tế được bảo đảm.",
    "Thu ngân sách nhà nước tám tháng ước đạt gần 80% dự toán, tăng 15,2% so với cùng kỳ.",
    "Giải ngân vốn đầu tư công vẫn còn chậm, nhiều bộ, ngành và địa phương đạt dưới mức trung bình.",
    "Thủ tướng yêu cầu các bộ trưởng, chủ tịch ủy ban nhân dân các tỉnh trực tiếp chỉ đạo, đôn đốc.",
    "Các dự án trọng điểm quốc gia về giao thông, năng lượng phải được đẩy nhanh tiến độ thi công.",
    "Người đứng đầu Chính phủ cũng nhấn mạnh việc tháo gỡ khó khăn cho doanh nghiệp và người dân.",
    "Công tác phòng, chống thiên tai, bão lũ cần được chuẩn bị chu đáo trước mùa mưa bão.",
    "Phiên họp sẽ tiếp tục thảo luận về dự thảo các nghị định quan trọng trong buổi chiều cùng ngày.",
]
ORIGINAL = "\n\n".join(BODY)

UNRELATED = "\n\n".join([
    "Tối 24/8, đội tuyển bóng đá nữ Việt Nam đã có trận giao hữu với đội chủ nhà Nhật Bản tại Tokyo.",
    "Dù thua với tỷ số 0-2, các cầu thủ trẻ đã thể hiện tinh thần thi đấu quả cảm và kỷ luật chiến thuật.",
    "Huấn luyện viên trưởng cho biết đây là cơ hội quý giá để cọ xát với một nền bóng đá hàng đầu châu Á.",
    "Trong hiệp một, đội khách chơi phòng ngự chặt chẽ và chỉ để thủng lưới ở phút bù giờ.",
    "Sang hiệp hai, hàng loạt gương mặt mới được tung vào sân để thử nghiệm các phương án nhân sự.",
    "Thủ môn số một của đội tuyển có nhiều pha cứu thua xuất sắc, được báo chí nước bạn khen ngợi.",
    "Sau chuyến tập huấn, đội sẽ trở về nước để chuẩn bị cho giải vô địch Đông Nam Á vào cuối năm.",
    "Người hâm mộ kỳ vọng đội bóng sẽ tiếp tục bảo vệ thành công ngôi vương khu vực lần thứ chín.",
])

# ---------------------------------------------------------------- fold

def test_fold_d_with_stroke_and_marks() -> None:
    assert fold("Đà Nẵng") == "da nang"
    assert fold("đường ĐẠI LỘ") == "duong dai lo"
    assert fold("Thủ tướng Chính phủ") == "thu tuong chinh phu"
    assert fold("Hồ Chí Minh, Việt Nam") == "ho chi minh, viet nam"


def test_fold_nfd_and_nfc_agree() -> None:
    for s in ("Thừa Thiên Huế", "Đắk Lắk", "Nguyễn Ái Quốc", "ỞỞỞ ượ ữ"):
        nfc, nfd = unicodedata.normalize("NFC", s), unicodedata.normalize("NFD", s)
        assert nfc != nfd
        assert fold(nfc) == fold(nfd)
        assert all(unicodedata.category(c) != "Mn" for c in fold(nfd))
        assert fold(nfd).isascii()


def test_shingles_ignore_unicode_form_case_and_marks() -> None:
    assert shingles(unicodedata.normalize("NFD", ORIGINAL)) == shingles(ORIGINAL)
    assert shingles(ORIGINAL.upper()) == shingles(ORIGINAL)
    assert shingles(fold(ORIGINAL)) == shingles(ORIGINAL)



@pytest.mark.parametrize("text", [ORIGINAL, ORIGINAL + " " + ORIGINAL, "北京 东京 是 首都 " * 5 + "Hà Nội và Tokyo",
                                  "Straße ß " * 8, "một hai ba bốn năm sáu", "một hai ba bốn"])
def test_shingles_are_the_hashes_of_the_joined_word_grams(text: str) -> None:
    """The definition stored signatures rest on: blake2b (8 bytes, little-endian) of each distinct folded 5-gram
    joined by spaces, however the hashing is done (non-ASCII words that folding keeps included)."""
    import re

    words = re.findall(r"\w+", fold(text))
    grams = {" ".join(words[i:i + 5]) for i in range(max(0, len(words) - 4))}
    want = {int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little") for g in grams}
    assert shingles(text) == want
    assert stories.shingle_hashes(text).tolist() == sorted(want)

# ---------------------------------------------------------------- signature

@pytest.mark.parametrize("text", ["", "   ", "Ngắn quá.", " ".join(f"từ{i}" for i in range(23))])
def test_signature_empty_for_short_texts(text: str) -> None:
    assert signature(text) == b""
    assert similarity(signature(text), signature(ORIGINAL)) == 0.0


def test_signature_threshold_is_twenty_shingles() -> None:
    assert signature(" ".join(f"w{i}" for i in range(23))) == b""  # 19 five-word shingles
    assert len(signature(" ".join(f"w{i}" for i in range(24)))) == stories.PERMUTATIONS * 8  # 20


def test_signature_is_deterministic_fixed_values() -> None:
    sig = signature(ORIGINAL)
    assert len(sig) == 512
    assert sig == signature(ORIGINAL)
    # frozen values (computed once, under other PYTHONHASHSEEDs too): any change to the hashing, the permutations or the packing breaks stored signatures
    fixed = signature("Câu số 0 nói về phiên họp Chính phủ thường kỳ tháng tám với các bộ ngành địa phương "
                      "và doanh nghiệp trên cả nước trong năm nay.")
    assert unpack(fixed)[:3] == FIXED_MINS
    assert bands(fixed)[:3] == FIXED_BANDS
    assert hashlib.sha256(fixed).hexdigest() == FIXED_SHA


def test_signature_equals_the_integer_formula_on_edge_and_random_hashes() -> None:
    """The numpy arithmetic gives exactly min((a*h + b) mod p) in Python integers, 64-bit edge values included."""
    import random
    import struct

    rng = random.Random(7)
    edges = {0, 1, (1 << 64) - 1, stories._PRIME, stories._PRIME - 1, stories._PRIME + 1, 2 * stories._PRIME,
             (1 << 61), (1 << 63), (1 << 32) - 1, 1 << 32}
    for n in (20, 57, 400, 3000):
        sh = {rng.getrandbits(64) for _ in range(n)} | edges
        want = [min(((a * h + b) % stories._PRIME) for h in sh) for a, b in stories._AB]
        assert struct.unpack(f"<{stories.PERMUTATIONS}Q", stories.signature_of(sh)) == tuple(want)


FIXED_MINS = (136043069172239212, 42694563232656847, 219950352940570873)
FIXED_BANDS = [(0, -3529749228806590200), (1, -9049874090554541606), (2, -6504364390227425109)]
FIXED_SHA = "383b11d409630337233e6c94368ffccc15b12cf8c5ce134b8be8e09d8ec26ce3"


def test_bands_shape() -> None:
    b = bands(signature(ORIGINAL))
    assert [n for n, _ in b] == list(range(stories.BANDS))
    assert all(-(2**63) <= hv < 2**63 for _, hv in b)  # fits a signed BIGINT column
    assert len({hv for _, hv in b}) == stories.BANDS


# ---------------------------------------------------------------- similarity

def _copy() -> str:
    # another outlet: its own headline and dateline, one sentence dropped, one added
    return "\n\n".join([
        "Thủ tướng: Đẩy nhanh giải ngân vốn đầu tư công trong những tháng cuối năm",
        "(Chinhphu.vn) - " + BODY[0],
        *BODY[1:6], *BODY[7:],
        "Theo TTXVN, các bộ trưởng sẽ báo cáo kết quả thực hiện vào phiên họp tháng 9.",
    ])


def test_similarity_high_for_a_syndicated_copy() -> None:
    s = similarity(signature(ORIGINAL), signature(_copy()))
    assert s > 0.7, s


def test_similarity_high_for_nfd_copy_with_stripped_marks() -> None:
    assert similarity(signature(ORIGINAL), signature(unicodedata.normalize("NFD", _copy()))) > 0.7
    assert similarity(signature(ORIGINAL), signature(fold(ORIGINAL))) == 1.0


def test_similarity_low_for_unrelated_vietnamese_texts() -> None:
    s = similarity(signature(ORIGINAL), signature(UNRELATED))
    assert s < 0.1, s


def test_similarity_is_symmetric_and_one_for_identical() -> None:
    a, b = signature(ORIGINAL), signature(_copy())
    assert similarity(a, b) == similarity(b, a)
    assert similarity(a, a) == 1.0
    assert similarity(a, b"") == similarity(b"", a) == 0.0


def test_a_copy_shares_a_band_and_an_unrelated_text_does_not() -> None:
    a, c, u = (set(bands(signature(t))) for t in (ORIGINAL, _copy(), UNRELATED))
    assert a & c
    assert not a & u


# ---------------------------------------------------------------- the story tables (storage/repo.py)

T = dt.datetime(2024, 8, 25, 3, 0, tzinfo=dt.UTC)


def _article(s: object, n: int, story: int | None = None, source: str = "bao") -> int:
    a = repo.create_article(s, source, f"http://127.0.0.5:8080/thoi-su/bai-{n}-48000{n:02d}", T, None)  # type: ignore[arg-type]
    a.story_id = story
    return a.id


def test_story_candidates_finds_band_sharing_articles(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        repo.ensure_sources(s, [("bao", "Bao"), ("mps", "MPS")])
        a, b, c = _article(s, 1), _article(s, 2, source="mps"), _article(s, 3)
        for aid, text in ((a, ORIGINAL), (b, _copy()), (c, UNRELATED)):
            sig = signature(text)
            repo.set_signature(s, aid, sig, len(shingles(text)), bands(sig))
    with session_factory.begin() as s:
        probe = signature(ORIGINAL + "\n\nMột câu mới được thêm vào cuối bài để kiểm tra.")
        rows = repo.story_candidates(s, bands(probe), exclude=a)
        ids = {r[0] for r in rows}
        assert b in ids
        assert a not in ids  # excluded: itself
        assert c not in ids
        sig_b = next(r[2] for r in rows if r[0] == b)
        assert sig_b == signature(_copy())
        assert repo.story_candidates(s, [], exclude=a) == []


def test_story_candidates_match_a_band_with_its_own_hash_only(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        repo.ensure_sources(s, [("bao", "Bao")])
        a, b = _article(s, 1), _article(s, 2)
        sig = signature(ORIGINAL)
        repo.set_signature(s, a, sig, 10, [(3, 12345), *((n, -n) for n in range(4, 16))])
        s.flush()
        assert repo.story_candidates(s, [(5, 12345)], exclude=b) == []  # the hash of another band
        assert {r[0] for r in repo.story_candidates(s, [(5, 1), (3, 12345)], exclude=b)} == {a}
        assert {r[0] for r in repo.story_candidates(s, [(4, -4), (4, -4)], exclude=b)} == {a}  # repeated pair


def test_story_candidates_probe_the_band_index_once_a_band(session_factory, db_url) -> None:  # type: ignore[no-untyped-def]
    if not db_url.startswith("sqlite:"):
        pytest.skip("SQLite's query plan")
    with session_factory.begin() as s:
        compiled = repo._story_candidates(16).compile(s.get_bind())
        given = compiled.construct_params({"exclude": 0, **{f"b{i}": i for i in range(16)},
                                           **{f"h{i}": i for i in range(16)}})
        args = tuple(given[k] for k in compiled.positiontup or ())
        plan = [row[-1] for row in s.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", args)]
    searches = [p for p in plan if "story_bands" in p]
    assert len(searches) == 16 and all("USING INDEX ix_story_bands_band_hash (band=? AND hash=?)" in p
                                       for p in searches), plan


def test_set_signature_replaces_the_previous_one(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        repo.ensure_sources(s, [("bao", "Bao")])
        a, b = _article(s, 1), _article(s, 2)
        sig = signature(ORIGINAL)
        repo.set_signature(s, a, sig, 10, bands(sig))
        assert {r[0] for r in repo.story_candidates(s, bands(sig), exclude=b)} == {a}
        other = signature(UNRELATED)
        repo.set_signature(s, a, other, 10, bands(other))  # an edit: the old bands go
        s.flush()
        assert repo.story_candidates(s, bands(sig), exclude=b) == []
        assert {r[0] for r in repo.story_candidates(s, bands(other), exclude=b)} == {a}


def test_join_story_new_group_takes_the_smallest_id(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        repo.ensure_sources(s, [("bao", "Bao")])
        a, b, c = _article(s, 1), _article(s, 2), _article(s, 3)
        assert repo.join_story(s, c, [(a, None), (b, None)]) == a
        s.flush()
        stories_ = dict(s.execute(select(Article.id, Article.story_id)).all())
        assert stories_ == {a: a, b: a, c: a}


def test_join_story_merges_two_stories_bridged_by_a_third(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        repo.ensure_sources(s, [("bao", "Bao")])
        ids = [_article(s, n) for n in range(1, 7)]
        a1, a2, a3, a4, bridge, lonely = ids
        s.flush()
        for aid, story in ((a1, a1), (a2, a1), (a3, a3), (a4, a3), (lonely, lonely)):
            s.get(Article, aid).story_id = story
        s.flush()
        # the bridge resembles a2 (story a1) and a4 (story a3): one story, numbered by its smallest article
        assert repo.join_story(s, bridge, [(a2, a1), (a4, a3)]) == a1
        s.flush()
        got = dict(s.execute(select(Article.id, Article.story_id)).all())
        assert got == {a1: a1, a2: a1, a3: a1, a4: a1, bridge: a1, lonely: lonely}


def test_join_story_keeps_an_existing_story_of_the_article(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        repo.ensure_sources(s, [("bao", "Bao")])
        a1, a2, a3 = _article(s, 1), _article(s, 2), _article(s, 3)
        s.flush()
        s.get(Article, a1).story_id = a1
        s.get(Article, a3).story_id = a1
        s.flush()
        # a3 (in story a1) now also matches a2: a2 joins a1's story, a1 stays in it
        assert repo.join_story(s, a3, [(a2, None)]) == a1
        s.flush()
        assert dict(s.execute(select(Article.id, Article.story_id)).all()) == {a1: a1, a2: a1, a3: a1}
