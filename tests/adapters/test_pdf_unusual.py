"""Unusual PDFs made here, so each rule is checked as a mechanism on files no rule was
written for: no text at all, SASLprep'd AES-256 passwords, right-to-left scripts, garbled
text layers, unknown stream filters and damaged encryption."""

from __future__ import annotations

import io
import shutil

import pypdfium2 as pdfium
import pytest

from pipelines.errors import EncryptedPdf, NoExtractableText, UnsupportedPdf
from services.adapters.pdf import Pypdfium2Parser
from tests.adapters.pdf_writers import DEJAVU, encrypt_aes256, libcrypto, text_pdf
from tests.adapters.test_pdf_parser import make_pdf

needs_font = pytest.mark.skipif(not DEJAVU.exists(), reason="DejaVu Sans is not installed")
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="no tesseract")
NO_OCR = "/nonexistent/tesseract"


def blank_pdf(pages: int = 1, drawing: bool = False) -> bytes:
    pdf = pdfium.PdfDocument.new()
    for _ in range(pages):
        page = pdf.new_page(300, 200)
        if drawing:  # a filled rectangle: vector art, no text, no image
            path = pdfium.raw.FPDFPageObj_CreateNewRect(20, 20, 200, 100)
            pdfium.raw.FPDFPath_SetDrawMode(path, pdfium.raw.FPDF_FILLMODE_ALTERNATE, 0)
            pdfium.raw.FPDFPage_InsertObject(page.raw, path)
            page.gen_content()
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


@pytest.mark.parametrize("drawing", [False, True], ids=["blank", "vector-only"])
def test_no_text_and_no_image_fails_with_a_clear_code(drawing: bool) -> None:
    with pytest.raises(NoExtractableText, match="no extractable text") as raised:
        Pypdfium2Parser().parse(blank_pdf(2, drawing=drawing))
    assert raised.value.code == "no_text"
    assert "2 page(s)" in str(raised.value)


def test_a_page_of_text_among_blank_ones_is_fine() -> None:
    data = make_pdf(["only page two has words", ""])
    parsed = Pypdfium2Parser().parse(data)
    assert parsed.pages[0].text == "only page two has words"


def test_image_only_without_ocr_is_ready_with_a_warning() -> None:
    bitmap = pdfium.PdfDocument(make_pdf(["scanned words here"]))[0].render(scale=2)
    parsed = Pypdfium2Parser(tesseract=NO_OCR).parse(make_pdf(images=[bitmap]))
    assert parsed.pages[0].text == ""
    assert any("no text layer" in w and "tesseract" in w for w in parsed.warnings)


def test_unknown_stream_filter_is_unsupported_not_empty() -> None:
    data = make_pdf(["compressed with a filter nobody knows"])
    assert b"/FlateDecode" in data
    broken = data.replace(b"/FlateDecode", b"/ZstdXDecode")  # same length: offsets hold
    with pytest.raises(UnsupportedPdf, match="ZstdXDecode"):
        Pypdfium2Parser().parse(broken)


def test_encrypt_inside_text_is_not_encryption() -> None:
    """A damaged file that merely says "/Encrypt" in a string is corrupt, not 'encrypted'."""
    data = b"%PDF-1.7\n1 0 obj (/Encrypt /BrotliDecode) endobj\ntrailer << /Root 9 0 R >>\n"
    with pytest.raises(Exception, match="damaged and cannot be read") as raised:
        Pypdfium2Parser().parse(data)
    assert raised.value.code == "corrupt"  # type: ignore[attr-defined]


LIB = libcrypto()
needs_aes = pytest.mark.skipif(LIB is None, reason="no libcrypto for AES")


@needs_aes
@pytest.mark.parametrize(
    "password",
    ["se\u00adcret", "\ufb01le\u2168", "p\u00e4ss\u2003w\u00f6rd", "\u00aa\u2163\u00ad"],
    ids=["soft-hyphen", "ligature-roman-numeral", "em-space", "ordinal-numeral"],
)
def test_aes256_r6_password_is_tried_saslprepped(password: str) -> None:
    pytest.importorskip("pypdf")
    assert LIB is not None
    data = encrypt_aes256(make_pdf(["Secret contract text"]), password, LIB)
    with pytest.raises(pdfium.PdfiumError):  # the bytes as typed do not open it
        pdfium.PdfDocument(data, password=password)
    parsed = Pypdfium2Parser().parse(data, password=password)
    assert parsed.pages[0].text == "Secret contract text"
    with pytest.raises(EncryptedPdf, match="password given for this PDF is wrong"):
        Pypdfium2Parser().parse(data, password=password + "x")
    with pytest.raises(EncryptedPdf, match="password is required"):
        Pypdfium2Parser().parse(data)


ARABIC = "عقد البيع"
HEBREW = "חוזה מכר"
# lam-alef is one glyph: reversing after NFKC (which splits it) would read "سالم"
SALAM_GLYPHS = "\ufee2\ufefc\ufeb3"  # م ﻼ س as laid out left to right


@needs_font
@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([(ARABIC[::-1], "visual")], ARABIC),
        ([(ARABIC, "logical-rtl")], ARABIC),
        ([(HEBREW, "logical-rtl")], HEBREW),
        ([(SALAM_GLYPHS, "visual")], "سلام"),
        ([("ףיעס 2024 הזוח", "visual")], "חוזה 2024 סעיף"),
        ([(f"Clause 7 of {HEBREW[::-1]} applies", "visual")], f"Clause 7 of {HEBREW} applies"),
        (
            [(ARABIC, "logical-rtl"), ("Governing law", "visual"), (HEBREW, "logical-rtl")],
            f"{ARABIC}\nGoverning law\n{HEBREW}",
        ),
    ],
    ids=["arabic-visual", "arabic-logical", "hebrew-logical", "lam-alef", "hebrew-number",
         "ltr-with-hebrew", "three-lines"],
)  # fmt: skip
def test_right_to_left_text_is_in_logical_order(
    lines: list[tuple[str, str]], expected: str
) -> None:
    parsed = Pypdfium2Parser(tesseract=NO_OCR).parse(text_pdf(lines))
    assert parsed.pages[0].text == expected


GARBLED = [("Contract terms apply to both parties", "visual"), ("\ufffd" * 24, "visual")]


@needs_font
def test_garbled_text_layer_is_flagged_without_ocr() -> None:
    parsed = Pypdfium2Parser(tesseract=NO_OCR).parse(text_pdf(GARBLED))
    page = parsed.pages[0]
    assert page.text == "Contract terms apply to both parties"
    assert not page.ocr
    assert any("Page 1: the text layer is garbled" in w and "OCR is not available" in w
               for w in parsed.warnings)  # fmt: skip


@needs_font
@needs_tesseract
@pytest.mark.slow
def test_garbled_text_layer_is_read_by_ocr() -> None:
    parsed = Pypdfium2Parser(ocr_languages="eng").parse(text_pdf(GARBLED, size=20))
    page = parsed.pages[0]
    assert page.ocr
    assert "Contract terms apply to both parties" in page.text
    assert any("garbled" in w and "read by OCR" in w for w in parsed.warnings)
