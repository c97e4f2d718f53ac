"""Repairs of a PDF text layer that hold for any file: right-to-left order, garbled glyphs,
CJK set one character per word.

- `logical_order`: a line laid out left to right on the page (visual order) whose strong
  characters are right-to-left (Arabic, Hebrew) is turned into logical (reading) order, the
  inverse of the Unicode bidi algorithm for the common case: right-to-left runs reversed,
  numbers and Latin inside them kept left to right, paired brackets mirrored.
- `garbled_share`: the share of a text layer's characters that stand for no letter
  (private-use code points, U+FFFD, control characters, NUL): fonts without a usable
  ToUnicode map produce them; such a page is re-read by OCR or flagged.
- `join_spaced_cjk`: "合 同 条 款" (three or more ideographs or kana, each one a word)
  becomes "合同条款"; two (a spaced table header such as "项 目") and Hangul are kept.
"""

from __future__ import annotations

import re
import unicodedata

_RTL = frozenset(("R", "AL"))
_LTR = frozenset(("L",))
_NUMBER = frozenset(("EN", "AN"))
_MIRROR = str.maketrans("()[]{}<>«»‹›", ")(][}{><»«›‹")
_RTL_SPAN = re.compile(r"R(?:[WD]*R)*")  # on the class string of a line
_LTR_SPAN = re.compile(r"[LD](?:W*[LD])*")
_DIGITS = re.compile(r"D(?:W*D)*")
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ue000-\uf8ff\ufffd\U000f0000-\U0010ffff]")
_MAYBE_RTL = re.compile(
    "[\u0590-\u08ff\u200f\ufb1d-\ufdff\ufe70-\ufefc\U00010800-\U00010fff\U0001e800-\U0001efff]"
)
"""Every code point whose bidi class is R or AL lies in these blocks (checked by a test):
lines without a match skip the per-character bidi lookup."""
_HAN = "\u2e80-\u2fdf\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SPACED_CJK = re.compile(f"(?<!\\S)(?:[{_HAN}] ){{2,}}[{_HAN}](?!\\S)")


def is_rtl(ch: str) -> bool:
    """True for a strong right-to-left character (Hebrew, Arabic, Syriac, Thaana, NKo ...)."""
    return unicodedata.bidirectional(ch) in _RTL


def has_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(ch) in _RTL for ch in text)


def _classes(text: str) -> str:
    out = []
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        out.append(
            "R" if kind in _RTL else "L" if kind in _LTR else "D" if kind in _NUMBER else "W"
        )
    return "".join(out)


def _rtl_span_to_logical(visual: str, classes: str) -> str:
    """A visually ordered span read right to left; numbers (and Latin) inside stay LTR."""
    text, kinds = visual[::-1], classes[::-1]
    keep = [(m.start(), m.end()) for m in _LTR_SPAN.finditer(kinds)]
    out: list[str] = []
    at = 0
    for start, end in keep:
        out.append(text[at:start].translate(_MIRROR))
        out.append(text[start:end][::-1])
        at = end
    out.append(text[at:].translate(_MIRROR))
    return "".join(out)


def logical_order(visual: str) -> str:
    """One line in visual (left-to-right on the page) order -> logical order.

    The identity for a line without right-to-left characters. The base direction is that of
    the majority of strong characters.
    """
    if not _MAYBE_RTL.search(visual):
        return visual
    classes = _classes(visual)
    rtl = classes.count("R")
    if not rtl:
        return visual
    if rtl >= classes.count("L"):
        lead = len(visual) - len(visual.lstrip())
        trail = len(visual.rstrip())
        body = _rtl_span_to_logical(visual[lead:trail], classes[lead:trail])
        return visual[:lead] + body + visual[trail:]
    out: list[str] = []
    at = 0
    for m in _RTL_SPAN.finditer(classes):
        out.append(visual[at : m.start()])
        out.append(_rtl_span_to_logical(visual[m.start() : m.end()], m.group()))
        at = m.end()
    out.append(visual[at:])
    return "".join(out)


def garbled_share(text: str) -> tuple[int, int]:
    """(characters that stand for no letter, visible characters) of a raw text layer."""
    visible = len("".join(text.split()))  # str.split() splits where str.isspace() is true
    return len(_BAD.findall(text)), visible


def is_garbled(text: str, min_bad: int = 5, share: float = 0.1) -> bool:
    """A text layer whose unmapped glyphs are at least `share` of it (and `min_bad` many)."""
    bad, visible = garbled_share(text)
    return bad >= min_bad and bad >= share * max(visible, 1)


def strip_garbled(text: str) -> str:
    """Drop the characters that stand for no letter."""
    return _BAD.sub("", text)


def join_spaced_cjk(text: str) -> str:
    """Remove the spaces of CJK set one character a word ("合 同 条 款" -> "合同条款")."""
    return _SPACED_CJK.sub(lambda m: m.group().replace(" ", ""), text)
