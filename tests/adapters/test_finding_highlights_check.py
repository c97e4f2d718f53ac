"""The coverage check of benchmarks/finding_highlights on a real contract page: the geometry's
own rectangles for a sentence cover it tightly; rectangles moved down a line, or only half
of them, do not cover it; rectangles on another page do not count."""

from __future__ import annotations

import re

import pytest

from benchmarks.finding_highlights import covers
from pipelines.highlight_match import highlight
from services.adapters.pdf import Pypdfium2Parser
from services.adapters.pdf_geometry import PdfiumGeometry
from tests.devset import DEVSET

CONTRACTS = DEVSET / "cuad"
pytestmark = pytest.mark.skipif(not CONTRACTS.is_dir(), reason=f"dev set not found at {DEVSET}")


def test_covers_accepts_the_geometry_rects_and_rejects_moved_ones() -> None:
    path = min(CONTRACTS.rglob("*.pdf"), key=lambda p: p.stat().st_size)
    data = path.read_bytes()
    page = Pypdfium2Parser(processes=1).parse(data).pages[0]
    sentences = [s.strip() for s in re.split(r"(?<=\.)\s+", page.text) if len(s.strip()) >= 60]
    assert sentences, page.text[:300]
    quote = sentences[len(sentences) // 2]
    position = page.text.index(quote) / len(page.text)
    rects = highlight(PdfiumGeometry().glyphs(data, None, [1])[1], quote, position)
    assert rects
    pieces = {1: (quote, position)}

    assert covers(data, pieces, [{"page": 1, "rects": rects}]) == (True, True)
    moved = [(x0, y0 + 40, x1, y1 + 40) for x0, y0, x1, y1 in rects]
    assert covers(data, pieces, [{"page": 1, "rects": moved}])[0] is False
    narrow = [(x0, y0, (x0 + x1) / 2, y1) for x0, y0, x1, y1 in rects]
    assert covers(data, pieces, [{"page": 1, "rects": narrow}])[0] is False
    assert covers(data, pieces, [{"page": 2, "rects": rects}]) == (False, False)
