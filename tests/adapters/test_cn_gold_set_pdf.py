"""Every must_find of the Chinese gold set occurs on its page in pypdfium2's text layer."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

from tests.devset import DEVSET

REPORT = DEVSET / "cn_annual_reports" / "pingan_bank_000001_2024_annual_report.pdf"
REPO = Path(__file__).resolve().parents[2]
GOLD = REPO / "benchmarks" / "data" / "cn_annual_report_questions.jsonl"

pytestmark = pytest.mark.slow


def normalise(text: str) -> str:
    """The gold set's matching rule: NFKC, then whitespace and `|` removed."""
    return re.sub(r"[\s|]+", "", unicodedata.normalize("NFKC", text))


def test_every_must_find_is_on_its_page() -> None:
    if not REPORT.is_file():
        pytest.skip(f"dev set file missing: {REPORT}")
    import pypdfium2 as pdfium

    with GOLD.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    pdf = pdfium.PdfDocument(str(REPORT))
    try:
        assert len(pdf) == 296
        texts: dict[int, str] = {}
        for number in sorted({row["page"] for row in rows}):
            page = pdf[number - 1]
            textpage = page.get_textpage()
            texts[number] = normalise(textpage.get_text_range())
            textpage.close()
            page.close()
    finally:
        pdf.close()
    missing = [row["id"] for row in rows if normalise(row["must_find"]) not in texts[row["page"]]]
    assert not missing, missing


def test_every_must_find_is_on_its_page_as_our_parser_renders_it() -> None:
    """Tables come out as `cell | cell` rows: still matched (the rule drops `|`)."""
    if not REPORT.is_file():
        pytest.skip(f"dev set file missing: {REPORT}")
    from services.adapters.pdf import Pypdfium2Parser

    with GOLD.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    pages = Pypdfium2Parser(ocr=False).parse(REPORT.read_bytes()).pages
    texts = {page.number: normalise(page.text) for page in pages}
    missing = [row["id"] for row in rows if normalise(row["must_find"]) not in texts[row["page"]]]
    assert not missing, missing
