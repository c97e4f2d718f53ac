"""PdfiumGeometry on real dev-set PDFs: a stored sentence's rectangles cover pdfium's own
boxes of its characters and little else (a CUAD contract, the Chinese report, an OCR'd
scan); text that is not in the PDF is not located; pages render at the asked width."""

from __future__ import annotations

import io
import json
import re
import shutil
import struct
import zlib

import pypdfium2 as pdfium
import pytest

from pipelines.chunking import document_text, page_starts
from pipelines.highlight_match import Box, PageGlyphs, fold, highlight, locate
from services.adapters.pdf import Pypdfium2Parser
from services.adapters.pdf_geometry import PdfiumGeometry
from tests.devset import DEVSET

REPORT = DEVSET / "cn_annual_reports" / "pingan_bank_000001_2024_annual_report.pdf"
needs_devset = pytest.mark.skipif(not REPORT.exists(), reason=f"dev set not found at {DEVSET}")
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="no tesseract")


def _contract() -> bytes:
    rows = [json.loads(line) for line in (DEVSET / "cuad_annotations.jsonl").open()]
    paths = sorted({DEVSET / "cuad" / row["pdf_path"] for row in rows})
    for path in paths:
        if path.exists() and len(pdfium.PdfDocument(data := path.read_bytes())) >= 3:
            return data
    raise AssertionError("no CUAD contract of 3 pages or more")


def _sentence(text: str, pattern: str, min_len: int = 60) -> str:
    found = [s for s in re.split(pattern, text) if len(s.strip()) >= min_len]
    assert found, text[:300]
    return found[len(found) // 2].strip()


def _inside(x: float, y: float, rects: list[Box]) -> bool:
    return any(x0 <= x <= x1 and y0 <= y <= y1 for x0, y0, x1, y1 in rects)


def _check_cover(data: bytes, page: int, quote: str, glyphs: PageGlyphs, position: float) -> None:
    """Every matched character's own (tight) box centre lies in a rect; the rects hold few
    of the page's other characters and no large area beyond the matched ones' boxes."""
    rects = highlight(glyphs, quote, position)
    assert rects, quote
    indices = locate(glyphs, quote, position)
    assert indices is not None
    assert fold("".join(glyphs.text[i] for i in indices))[0] == fold(quote)[0]
    textpage = pdfium.PdfDocument(data)[page - 1].get_textpage()
    height = glyphs.height
    chosen = set(indices)
    chosen_area = 0.0
    others_inside = others = 0
    for i in range(textpage.count_chars()):
        ch = textpage.get_text_range(i, 1)
        if not ch.strip():
            continue
        left, bottom, right, top = textpage.get_charbox(i)
        centre = ((left + right) / 2, height - (top + bottom) / 2)
        if i in chosen:
            assert _inside(*centre, rects), (ch, centre, rects)
            lx0, ly0, lx1, ly1 = glyphs.boxes[i]
            chosen_area += (lx1 - lx0) * (ly1 - ly0)
        else:
            others += 1
            others_inside += _inside(*centre, rects)
    assert others_inside <= max(3, 0.02 * others), (others_inside, others)
    rect_area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in rects)
    assert rect_area <= 1.6 * chosen_area, (rect_area, chosen_area)


@needs_devset
def test_contract_sentence_on_page_two() -> None:
    data = _contract()
    parsed = Pypdfium2Parser(processes=1).parse(data)
    text, starts = document_text(parsed.pages), page_starts(parsed.pages)
    page_text = parsed.pages[1].text
    quote = _sentence(page_text, r"(?<=\.)\s+")
    offset = text.index(quote, starts[1])  # the range a finding or citation would carry
    assert text[offset : offset + len(quote)] == quote
    glyphs = PdfiumGeometry().glyphs(data, None, [2])[2]
    assert not glyphs.ocr
    assert glyphs.width > 0
    assert glyphs.height > 0
    _check_cover(data, 2, quote, glyphs, page_text.index(quote) / len(page_text))


@needs_devset
def test_chinese_sentence() -> None:
    data = REPORT.read_bytes()
    parsed = Pypdfium2Parser(processes=1).parse(data)
    page = next(p for p in parsed.pages[8:] if p.text.count("。") >= 3)
    quote = _sentence(page.text, r"(?<=。)", min_len=25)
    glyphs = PdfiumGeometry().glyphs(data, None, [page.number])[page.number]
    _check_cover(data, page.number, quote, glyphs, page.text.index(quote) / len(page.text))


@needs_devset
def test_text_not_in_the_pdf_is_not_located() -> None:
    data = _contract()
    glyphs = PdfiumGeometry().glyphs(data, None, [1])[1]
    assert highlight(glyphs, "Zebras quantum xylophone warranty of the moon") is None
    assert highlight(glyphs, "  \n ") is None


@needs_devset
def test_render_png_width() -> None:
    png = PdfiumGeometry().render_png(_contract(), None, 1, 640)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width == 640
    assert height > 640  # a portrait letter page


@needs_devset
@needs_tesseract
@pytest.mark.slow
def test_ocr_page_from_word_boxes() -> None:
    """A contract page as an image-only PDF: the OCR'd line is placed where the text layer
    of the original had it (same page size: rendered at 200 dpi, placed at 72 / 200)."""
    original = _contract()
    source = pdfium.PdfDocument(original)[1]
    bitmap = source.render(scale=200 / 72, grayscale=True)
    scan = pdfium.PdfDocument.new()
    page = scan.new_page(bitmap.width * 72 / 200, bitmap.height * 72 / 200)
    image = pdfium.PdfImage.new(scan)
    image.set_bitmap(bitmap)
    image.set_matrix(pdfium.PdfMatrix().scale(page.get_width(), page.get_height()))
    page.insert_obj(image)
    page.gen_content()
    buffer = io.BytesIO()
    scan.save(buffer)
    data = buffer.getvalue()
    parsed = Pypdfium2Parser(processes=1).parse(data)
    assert parsed.pages[0].ocr
    lines = [ln for ln in parsed.pages[0].text.split("\n") if len(fold(ln)[0]) >= 30]
    quote = lines[len(lines) // 2]
    glyphs = PdfiumGeometry().glyphs(data, None, [1])[1]
    assert glyphs.ocr
    rects = highlight(glyphs, quote, 0.5)
    assert rects, quote
    truth = PdfiumGeometry().glyphs(original, None, [2])[2]
    expected = highlight(truth, quote, 0.5)
    assert expected, quote  # the same words in the original's text layer
    (x0, y0, x1, y1), (a0, b0, a1, b1) = _union(rects), _union(expected)
    assert abs(y0 - b0) < 6
    assert abs(y1 - b1) < 6
    assert abs(x0 - a0) < 15
    assert abs(x1 - a1) < 15


def _union(rects: list[Box]) -> Box:
    return (
        min(r[0] for r in rects),
        min(r[1] for r in rects),
        max(r[2] for r in rects),
        max(r[3] for r in rects),
    )


@needs_devset
def test_turned_page_rects_match_the_rendered_image() -> None:
    """A /Rotate 90 page: the rect of its text holds the dark pixels of the rendered page."""
    data = (DEVSET / "pdf_edge_cases" / "pdfjs__hello_world_rotated.pdf").read_bytes()
    geometry = PdfiumGeometry()
    glyphs = geometry.glyphs(data, None, [1])[1]
    rects = highlight(glyphs, "Hello world")
    assert rects is not None
    assert len(rects) == 1
    png = geometry.render_png(data, None, 1, 400)
    width, height = struct.unpack(">II", png[16:24])
    assert (width / height) == pytest.approx(glyphs.width / glyphs.height, rel=0.01)
    pixels = zlib.decompress(png[png.index(b"IDAT") + 4 :])  # one IDAT: our own writer
    scale = glyphs.width / width
    dark = [
        (x * scale, y * scale)
        for y in range(height)
        for x in range(width)
        if pixels[y * (3 * width + 1) + 1 + 3 * x] < 128
    ]
    assert dark
    x0, y0, x1, y1 = rects[0]
    assert all(x0 - 3 <= x <= x1 + 3 and y0 - 3 <= y <= y1 + 3 for x, y in dark)
