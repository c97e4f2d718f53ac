"""Mechanisms for unusual text layers and passwords: bidi order, garbled glyphs, spaced CJK,
SASLprep, and the structural reasons a PDF cannot be read."""

from __future__ import annotations

import pytest

from pipelines.page_lines import Char, upright
from pipelines.parsing import layout_page
from pipelines.passwords import password_candidates, saslprep
from pipelines.text_repair import (
    garbled_share,
    is_garbled,
    join_spaced_cjk,
    logical_order,
    strip_garbled,
)
from services.adapters.pdf_diagnose import declares_encryption, unsupported_filters

WIDTH = 600.0


@pytest.mark.parametrize(
    ("visual", "logical"),
    [
        ("plain English", "plain English"),
        ("עיבר", "רביע"),
        ("2024 דקע", "עקד 2024"),  # digits stay left to right in an RTL line
        ("(2024) םוי", "יום (2024)"),  # brackets mirrored where the line is reversed
        ("see םולש here", "see שלום here"),  # an RTL run inside an LTR line
        ("Clause 7 ךיראת דעומ", "מועד תאריך Clause 7"),  # RTL majority: Latin run kept
        ("  עיבר  ", "  רביע  "),
    ],
)
def test_logical_order(visual: str, logical: str) -> None:
    assert logical_order(visual) == logical


def rtl_line(logical: str, x_right: float, top: float, size: float = 10.0) -> list[Char]:
    """Glyphs of a right-to-left word drawn in logical order, each one left of the last."""
    chars = []
    x = x_right
    for ch in logical:
        if ch == " ":
            x -= size * 0.5
            continue
        chars.append(Char(ch, x - size * 0.5, top, x, top + size))
        x -= size * 0.5
    return chars


def test_rtl_page_is_not_turned_upside_down_and_reads_logically() -> None:
    chars = rtl_line("عقد البيع", 500, 100) + [Char("\n", 0, 0, 0, 0)]
    chars += rtl_line("المادة الأولى", 500, 120)
    assert not upright(chars)[1]  # right-to-left is not text rotated by 180 degrees
    text, _ = layout_page(chars, WIDTH)
    assert text.split("\n") == ["عقد البيع", "المادة الأولى"]


def test_rtl_glyphs_in_any_content_order() -> None:
    line = rtl_line("חוזה מכר", 400, 50)
    shuffled = line[3:] + line[:3]  # a producer's drawing order says nothing about reading
    assert layout_page(shuffled, WIDTH)[0] == "חוזה מכר"


def test_spaced_cjk_is_joined() -> None:
    assert join_spaced_cjk("合 同 条 款") == "合同条款"
    assert join_spaced_cjk("第 三 条 违 约 责 任 and more") == "第三条违约责任 and more"
    assert join_spaced_cjk("项 目") == "项 目"  # two characters: a spaced table header
    assert join_spaced_cjk("그 외 몇 개") == "그 외 몇 개"  # Hangul words are spaced
    assert join_spaced_cjk("合同 条款 内容") == "合同 条款 内容"  # words, not single chars


def test_spaced_cjk_layout_line() -> None:
    chars = []
    for k, ch in enumerate("合同条款"):
        chars += [Char(ch, 100 + 20 * k, 10, 110 + 20 * k, 20), Char(" ", 0, 0, 0, 0)]
    assert layout_page(chars, WIDTH)[0] == "合同条款"


def test_garbled_text_layer() -> None:
    assert is_garbled("Contract \ufffd\ufffd\ufffd\ufffd\ufffd\ufffd terms")
    assert is_garbled("\ue001\ue002\ue003\ue004\ue005\ue006 x")
    assert not is_garbled("\uf0b7 first item\n\uf0b7 second item of a longer bulleted list")
    assert not is_garbled("an ordinary sentence with nothing odd in it")
    assert strip_garbled("a\ufffdb\ue000c\x00") == "abc"


@pytest.mark.parametrize(
    ("given", "prepared"),
    [
        ("I\u00adX", "IX"),  # RFC 4013 section 3 examples
        ("user", "user"),
        ("USER", "USER"),
        ("\u00aa", "a"),
        ("\u2168", "IX"),
        ("\ufb01le", "file"),
        ("pass\u2003word", "pass word"),
    ],
)
def test_saslprep(given: str, prepared: str) -> None:
    assert saslprep(given) == prepared


@pytest.mark.parametrize("bad", ["\u0007", "\u0627\u0031", "a\ue000"])
def test_saslprep_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="SASLprep"):
        saslprep(bad)


def test_password_candidates() -> None:
    assert password_candidates(None) == [None]
    assert password_candidates("") == [None]
    assert password_candidates("asdfzxcv") == ["asdfzxcv"]
    assert password_candidates("\u2168") == ["\u2168", "IX"]
    assert password_candidates("\u0007") == ["\u0007"]  # not preparable: as given only


def test_unsupported_filters_from_stream_dictionaries() -> None:
    pdf = (
        b"%PDF-1.7\n1 0 obj\n<< /Length 4 /Filter /ZstdDecode >>\nstream\nabcd\nendstream\n"
        b"endobj\n2 0 obj\n<< /Length 4 /Filter [/A85 /Fl#61teDecode /DCT] >>\nstream\nabcd\n"
        b"endstream\nendobj\n3 0 obj\n<< /Filter /Standard /V 5 /R 6 >>\nendobj\n"
        b"4 0 obj\n(/Filter /Made /Up inside a string, not a stream)\nendobj\n"
    )
    assert unsupported_filters(pdf) == ["ZstdDecode"]  # /Standard is a security handler


def test_declares_encryption_only_from_a_trailer() -> None:
    body = b"%PDF-1.7\n1 0 obj\n(/Encrypt mentioned in a string)\nendobj\n"
    assert not declares_encryption(body + b"trailer\n<< /Root 1 0 R >>\nstartxref\n9\n%%EOF")
    assert declares_encryption(body + b"trailer\n<< /Root 1 0 R /Encrypt 5 0 R >>\n%%EOF")
    xref = b"7 0 obj\n<< /Type /XRef /Encrypt 5 0 R /Root 1 0 R /Length 0 >>\nstream\n"
    assert declares_encryption(body + xref + b"\nendstream\nendobj\n")


def test_every_right_to_left_code_point_passes_the_quick_check() -> None:
    """`logical_order` skips lines without a match of `_MAYBE_RTL`: it must match every
    strong right-to-left character Unicode knows, and nothing common in Latin or CJK text."""
    import sys
    import unicodedata

    from pipelines.text_repair import _MAYBE_RTL

    missed = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if unicodedata.bidirectional(chr(code)) in ("R", "AL") and not _MAYBE_RTL.match(chr(code))
    ]
    assert missed == []
    assert not _MAYBE_RTL.search("Section 12.3 (a) — 合同条款 «term» 1,234.56 €")


def test_garbled_share_counts_visible_characters_as_isspace_does() -> None:
    text = "a b\u3000c\u00a0d\te\n\u2028f\x85g"
    assert garbled_share(text)[1] == sum(1 for ch in text if not ch.isspace())
