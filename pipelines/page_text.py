"""Page text normalisation: NFKC with CJK punctuation kept, control characters, spaces;
CJK detection; the OCR decision and OCR text clean-up.

Pure logic; used by the page layout (`pipelines.parsing`) and the PDF adapter.
"""

from __future__ import annotations

import re
import unicodedata

from pipelines.text_repair import join_spaced_cjk, logical_order

# Full-width CJK punctuation keeps its form (NFKC would turn "，" into ","); full-width
# letters and digits, ligatures, ideographic spaces are folded by NFKC.
_KEEP_PUNCT = "！（），：；？［］｛｝～｟｠｡｢｣､･"
_NFKC_RUNS = re.compile(f"[^{re.escape(_KEEP_PUNCT)}]+")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff\ufffd\ufffe\uffff]")
_SPACES = re.compile(r"[ \t]+")


def normalize_text(text: str) -> str:
    """NFKC (keeping full-width CJK punctuation), drop control characters, tidy spaces."""
    text = text.replace("\x02", "-").replace("\r\n", "\n").replace("\r", "\n")
    text = _NFKC_RUNS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    text = _CONTROL.sub("", text)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def is_cjk(ch: str) -> bool:
    """True for CJK ideographs, kana, hangul and full-width forms."""
    o = ord(ch)
    return (
        0x2E80 <= o <= 0x9FFF
        or 0xAC00 <= o <= 0xD7AF
        or 0xF900 <= o <= 0xFAFF
        or (0xFF00 <= o <= 0xFFEF or 0x20000 <= o <= 0x2FFFF)
    )


def clean_line(visual: str) -> str:
    """A line as laid out on the page -> logical order, normalised, CJK word spacing fixed."""
    return join_spaced_cjk(normalize_text(logical_order(visual)))


def needs_ocr(text: str, image_area_ratio: float) -> bool:
    """A page needs OCR when it has (almost) no text layer but images cover part of it."""
    visible = len(re.sub(r"\s", "", text))
    if visible < 10:
        return image_area_ratio > 0.05
    return visible < 100 and image_area_ratio > 0.5


def clean_ocr_text(text: str) -> str:
    """Tesseract output -> page text: no spaces between CJK characters, tidy paragraphs."""
    text = normalize_text(text)
    text = re.sub(r"(?<=[\u2e80-\u9fff\uff00-\uffef]) (?=[\u2e80-\u9fff\uff00-\uffef])", "", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
