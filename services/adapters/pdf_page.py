"""Reading one PDF page with pypdfium2, in the parsing child (services/adapters/pdf_child.py):
its words with their boxes (`page_chars`, what `pipelines.parsing.layout_page` lays out), the
share of it covered by images (`image_area_ratio`, whether a page without text is a scan),
and its text by OCR (`ocr_page`, rendered in grey and read by `tesseract`).
"""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import tempfile
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from pipelines.page_lines import Char
from pipelines.page_text import clean_ocr_text

_WORD = re.compile("[^\\s\ufffe\x02]+[\ufffe\x02]?")
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")  # Hebrew ... Arabic forms
_SPACE = Char(" ", 0.0, 0.0, 0.0, 0.0)
_NEWLINE = Char("\n", 0.0, 0.0, 0.0, 0.0)


class OcrFailed(Exception):
    """`tesseract` exited with an error (its message: the end of what it wrote)."""


def page_chars(page: pdfium.PdfPage) -> list[Char]:
    """Words of a page with loose boxes (top-down), in content order, with separators.

    pdfium's own text (one call) gives the words and its line breaks; only the first and
    last character of each word are measured, which is what keeps parsing fast.
    """
    textpage = page.get_textpage()
    try:
        raw = textpage.raw
        count = pdfium_c.FPDFText_CountChars(raw)
        text = textpage.get_text_range(0, count) if count > 0 else ""
        if len(text) != count:  # characters outside the BMP shift indices: measure them all
            return _each_char(raw, range(count), page.get_height())
        return _words(raw, text, page.get_height())
    finally:
        textpage.close()


def _words(raw: Any, text: str, height: float) -> list[Char]:
    rect = pdfium_c.FS_RECTF()
    ref = ctypes.byref(rect)
    box = memoryview(rect).cast("B").cast("f")  # left, top, right, bottom without ctypes getters
    get_box = pdfium_c.FPDFText_GetLooseCharBox
    pieces: list[Char] = []
    append = pieces.append
    any_rtl = _RTL.search(text) is not None  # most pages have none: no search a word
    for match in _WORD.finditer(text):
        start, last = match.span()
        last -= 1
        if any_rtl and _RTL.search(match.group()):
            # order by position alone: pdfium's order and breaks vary with producers
            pieces += _each_char(raw, range(start, last + 1), height)
            continue
        get_box(raw, start, ref)
        x0, top, x1, bottom = box
        if last != start:
            get_box(raw, last, ref)
            left, top2, right, bottom2 = box
            if abs(top2 + bottom2 - top - bottom) > 0.5 * (top - bottom) or right < x0:
                # not one left-to-right line (sideways text, odd order): measure each glyph
                pieces += _each_char(raw, range(start, last + 1), height)
                append(_SPACE)
                continue
            x1 = right if right > x1 else x1
            top = top2 if top2 > top else top
            bottom = bottom2 if bottom2 < bottom else bottom
        word = match.group()
        if word[-1] == "\ufffe":
            word = word[:-1] + "-"
        after = text[last + 1 : last + 2]
        if after in ("\r", "\n"):
            append(Char(word, x0, height - top, x1, height - bottom))
            append(_NEWLINE)
        else:  # a trailing space keeps the word boundary without a separator piece
            append(Char(word + " " if after else word, x0, height - top, x1, height - bottom))
    return pieces


def _each_char(raw: Any, indices: range, height: float) -> list[Char]:
    rect = pdfium_c.FS_RECTF()
    ref = ctypes.byref(rect)
    get_unicode, get_box = pdfium_c.FPDFText_GetUnicode, pdfium_c.FPDFText_GetLooseCharBox
    chars = []
    for i in indices:
        code = get_unicode(raw, i)
        get_box(raw, i, ref)
        chars.append(
            Char(chr(code), rect.left, height - rect.top, rect.right, height - rect.bottom)
        )
    return chars


def image_area_ratio(page: pdfium.PdfPage) -> float:
    """Share of the page covered by image objects (capped at 1)."""
    width, height = page.get_width(), page.get_height()
    area = 0.0
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3):
        left, bottom, right, top = obj.get_bounds()
        area += max(0.0, min(right, width) - max(left, 0.0)) * max(
            0.0, min(top, height) - max(bottom, 0.0)
        )
    return float(min(area / max(width * height, 1.0), 1.0))


def ocr_page(page: pdfium.PdfPage, opts: dict[str, Any]) -> str:
    """Render the page in grey and read it with `tesseract` (one thread)."""
    width, height = page.get_width(), page.get_height()
    scale = opts["ocr_dpi"] / 72
    scale = min(scale, (40_000_000 / max(width * height, 1.0)) ** 0.5)  # <= 40 Mpixel
    bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True)
    w, h, stride = bitmap.width, bitmap.height, bitmap.stride
    buffer = bytes(bitmap.buffer)
    rows = (
        buffer if stride == w else b"".join(buffer[y * stride : y * stride + w] for y in range(h))
    )
    with tempfile.TemporaryDirectory(prefix="docsight-ocr-") as tmp:
        image = os.path.join(tmp, "page.pgm")
        with open(image, "wb") as fh:
            fh.write(b"P5\n%d %d\n255\n" % (w, h))
            fh.write(rows)
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        done = subprocess.run(
            [
                opts["tesseract"],
                image,
                "stdout",
                "-l",
                opts["ocr_languages"],
                "--dpi",
                str(round(scale * 72)),
            ],
            capture_output=True,
            env=env,
            timeout=opts["ocr_timeout_s"],
            check=False,
        )
    if done.returncode != 0:
        raise OcrFailed(done.stderr.decode(errors="replace").strip()[-300:])
    return clean_ocr_text(done.stdout.decode("utf-8", errors="replace"))
