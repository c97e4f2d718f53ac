"""Pypdfium2Parser on real files: every hostile PDF of the dev set, CUAD, the Chinese report."""

from __future__ import annotations

import ctypes
import io
import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pypdfium2 as pdfium
import pytest

from pipelines.errors import (
    CorruptPdf,
    EmptyDocument,
    EncryptedPdf,
    InvalidDocument,
    NotAPdf,
    ResourceLimit,
    TooLarge,
)
from pipelines.text_repair import is_garbled, join_spaced_cjk
from services.adapters.pdf import Pypdfium2Parser
from tests.devset import DEVSET
from tests.edge_catalog import (
    BY_CATEGORY,
    CATALOG,
    EDGE,
    MESSAGE_BY_CATEGORY,
    allowed_errors,
    catalog,
    must_fail,
    observed,
    sample,
    squash,
)

REPORT = DEVSET / "cn_annual_reports" / "pingan_bank_000001_2024_annual_report.pdf"
needs_devset = pytest.mark.skipif(not CATALOG.exists(), reason=f"dev set not found at {DEVSET}")
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="no tesseract")


@needs_devset
@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("entry", catalog(), ids=lambda e: str(e["file"]))
def test_edge_case_matches_catalog(entry: dict[str, Any]) -> None:
    """By category and property (tests/edge_catalog.py), never by file name."""
    name, category = str(entry["file"]), str(entry["category"])
    path = EDGE / name
    if not path.exists():
        pytest.skip(f"{name} is in the catalog but missing on disk")
    password = entry["password"] or None  # "" must open transparently
    parser = Pypdfium2Parser(page_timeout_s=60, total_timeout_s=90)
    error: InvalidDocument | None = None
    try:
        parsed = parser.parse(path.read_bytes(), password=password)
    except InvalidDocument as exc:
        error = exc
    if error is not None:
        allowed = allowed_errors(entry)
        assert type(error) in allowed, f"{name} ({category}): {type(error).__name__}: {error}"
        assert str(error)
        assert MESSAGE_BY_CATEGORY.get(category, "") in str(error)
        return
    assert not must_fail(entry), f"{name} ({category}) should fail with {allowed_errors(entry)}"
    assert [p.number for p in parsed.pages] == list(range(1, parsed.page_count + 1))
    text = "\n".join(p.text for p in parsed.pages)
    # never a silently empty document: text, or a warning saying why there is none
    assert text.strip() or parsed.warnings, name
    assert sample(entry) in squash(text), f"{name}: {text[:300]!r}"
    if "pages" in observed(entry):
        assert parsed.page_count == observed(entry)["pages"]
    for page in parsed.pages:  # garbage text layers are re-read or stripped, CJK unspaced
        assert not is_garbled(page.text), (name, page.number)
        assert join_spaced_cjk(page.text) == page.text, (name, page.number)
    if category.startswith("image-only"):
        ocr_ready = shutil.which("tesseract") is not None
        assert all(p.ocr for p in parsed.pages) if ocr_ready else parsed.warnings
    if "OCR-layer" in category:  # an existing text layer is used, not OCR'd again
        assert not any(p.ocr for p in parsed.pages)


PROTECTED = [e for e in catalog() if e["password"] and e["category"] not in BY_CATEGORY]


@needs_devset
@pytest.mark.parametrize("entry", PROTECTED, ids=lambda e: str(e["file"]))
def test_encrypted_without_the_right_password(entry: dict[str, Any]) -> None:
    data = (EDGE / str(entry["file"])).read_bytes()
    for password, message in [
        (None, "password is required"),
        (str(entry["password"]) + "-wrong", "password given for this PDF is wrong"),
    ]:
        with pytest.raises(EncryptedPdf, match=message) as raised:
            Pypdfium2Parser().parse(data, password=password)
        # It says how to give the password: the upload's form field and the CLI flag.
        assert "`password` form field of POST /v1/documents" in str(raised.value)
        assert "docsight ingest --password" in str(raised.value)


def test_bytes_that_are_not_a_pdf() -> None:
    parser = Pypdfium2Parser()
    with pytest.raises(EmptyDocument):
        parser.parse(b"")
    with pytest.raises(NotAPdf):
        parser.parse(b"PK\x03\x04 this is a zip file, not a PDF" * 10)
    with pytest.raises(CorruptPdf):
        parser.parse(b"%PDF-1.7\n1 0 obj <<>> garbage" + bytes(range(256)))
    with pytest.raises(TooLarge, match="limit is 10 bytes"):
        Pypdfium2Parser(max_bytes=10).parse(b"%PDF-1.7\n" + b"x" * 100)


def make_pdf(pages: list[str] | None = None, images: list[pdfium.PdfBitmap] | None = None) -> bytes:
    """A small PDF with one text page per string, or one image-only page per bitmap."""
    pdf = pdfium.PdfDocument.new()
    for text in pages or []:
        page = pdf.new_page(300, 200)
        obj = pdfium.raw.FPDFPageObj_NewTextObj(pdf.raw, b"Helvetica", 12.0)
        utf16 = ctypes.create_string_buffer((text + "\x00").encode("utf-16-le"))
        pdfium.raw.FPDFText_SetText(obj, ctypes.cast(utf16, pdfium.raw.FPDF_WIDESTRING))
        pdfium.raw.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 20, 150)
        pdfium.raw.FPDFPage_InsertObject(page.raw, obj)
        page.gen_content()
    for bitmap in images or []:
        width, height = bitmap.width * 72 / 200, bitmap.height * 72 / 200
        page = pdf.new_page(width, height)
        image = pdfium.PdfImage.new(pdf)
        image.set_bitmap(bitmap)
        image.set_matrix(pdfium.PdfMatrix().scale(width, height))
        page.insert_obj(image)
        page.gen_content()
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def test_progress_page_numbers_and_limits() -> None:
    data = make_pdf([f"Page {i} says hello" for i in range(1, 6)])
    seen: list[tuple[int, int]] = []
    parsed = Pypdfium2Parser().parse(data, on_page=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert [p.number for p in parsed.pages] == [1, 2, 3, 4, 5]
    assert parsed.pages[2].text == "Page 3 says hello"
    with pytest.raises(TooLarge, match="5 pages; the limit is 4"):
        Pypdfium2Parser(max_pages=4).parse(data)


def test_hung_or_starved_child_becomes_resource_limit() -> None:
    # enough pages that the child cannot send them all before the parent first polls (a
    # 3-page file could, on a loaded machine: every poll then found a page waiting)
    data = make_pdf(["hello"] * 200)
    with pytest.raises(ResourceLimit, match="longer than"):
        Pypdfium2Parser(page_timeout_s=0.0001).parse(data)


@needs_devset
def test_memory_limit_is_enforced_in_the_child() -> None:
    data = (EDGE / "pdfjs__freeculture.pdf").read_bytes()
    with pytest.raises(ResourceLimit, match="memory"):
        Pypdfium2Parser(memory_limit_mb=40, ocr=False).parse(data)


def test_parses_from_threads() -> None:
    data = make_pdf(["threads are fine"])
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: Pypdfium2Parser().parse(data), range(8)))
    assert all(r.pages[0].text == "threads are fine" for r in results)


def cuad_row() -> dict[str, str]:
    with (DEVSET / "cuad_annotations.jsonl").open() as lines:
        row: dict[str, str] = json.loads(lines.readline())
    return row


@needs_devset
@pytest.mark.slow
def test_cuad_contract_pages_and_text() -> None:
    row = cuad_row()
    path, txt = DEVSET / "cuad" / row["pdf_path"], DEVSET / "cuad" / row["txt_path"]
    parsed = Pypdfium2Parser(ocr=False).parse(path.read_bytes())
    assert parsed.page_count > 1
    assert [p.number for p in parsed.pages] == list(range(1, parsed.page_count + 1))
    squash = lambda s: re.sub(r"\W+", "", s).lower()  # noqa: E731
    pdf_text = squash(" ".join(p.text for p in parsed.pages))
    words = txt.read_text(errors="replace").split()
    probe = squash(" ".join(words[40:60]))  # twenty words from the first page of the TXT
    assert probe in pdf_text


@needs_devset
@pytest.mark.slow
def test_chinese_annual_report_pages_text_and_table() -> None:
    parsed = Pypdfium2Parser(ocr=False).parse(REPORT.read_bytes())
    assert parsed.page_count == 296
    assert [p.number for p in parsed.pages] == list(range(1, 297))
    cjk = sum(len(re.findall(r"[\u4e00-\u9fff]", p.text)) for p in parsed.pages)
    assert cjk > 150_000
    page = parsed.pages[15]  # page 16: 2.1 关键指标
    key = next(t for t in page.tables if t.caption == "2.1 关键指标")
    assert key.rows[0] == ["项 目", "2024 年", "2023 年", "本年同比增减"]
    assert ["营业收入", "146,695", "164,699", "(10.9%)"] in key.rows
    assert "2.1 关键指标\n（货币单位：人民币百万元）\n项 目 | 2024 年 | 2023 年" in page.text
    assert "\n营业收入 | 146,695 | 164,699 | (10.9%)\n" in page.text
    assert "，" in page.text or "，" in parsed.pages[11].text  # Chinese punctuation kept


@needs_devset
def test_multicolumn_reads_column_by_column() -> None:
    parsed = Pypdfium2Parser().parse((EDGE / "samplefiles__multicolumn.pdf").read_bytes())
    text = parsed.pages[0].text
    left_end = text.index("nissim rutrum.")  # last line of the left column's first paragraph
    right_start = text.index("pellentesque ante. Phasellus adipiscing")  # top of right column
    assert left_end < right_start
    assert all(not ("with Lorem Ipsum text." in ln and "lacinia" in ln) for ln in text.split("\n"))


@needs_devset
@needs_tesseract
@pytest.mark.slow
def test_image_only_pages_are_ocrd() -> None:
    source = pdfium.PdfDocument(EDGE / "pypdf__r2-user-password.pdf", password="asdfzxcv")
    english = source[0].render(scale=200 / 72, grayscale=True)
    report = pdfium.PdfDocument(REPORT)
    chinese = report[15].render(scale=200 / 72, grayscale=True, crop=(0, 0, 0, 500))
    data = make_pdf(images=[english, chinese])
    parsed = Pypdfium2Parser(ocr=True).parse(data)
    assert [p.ocr for p in parsed.pages] == [True, True]
    assert "encryption test" in parsed.pages[0].text
    assert "营业收入" in parsed.pages[1].text or "关键指标" in parsed.pages[1].text
    ccitt = Pypdfium2Parser().parse((EDGE / "pdfjs__ccitt_EndOfBlock_false.pdf").read_bytes())
    assert ccitt.pages[0].ocr


@needs_devset
def test_missing_tesseract_is_a_warning_not_a_failure() -> None:
    data = (EDGE / "pdfjs__ccitt_EndOfBlock_false.pdf").read_bytes()
    parsed = Pypdfium2Parser(tesseract="/nonexistent/tesseract").parse(data)
    assert parsed.pages[0].text == ""
    assert not parsed.pages[0].ocr
    assert any("tesseract" in w for w in parsed.warnings)
