"""Highlight matching (pipelines.highlight_match) and HighlightService with fakes."""

from __future__ import annotations

import pytest

from pipelines.chunking import document_text, page_starts
from pipelines.errors import DocumentNotReady, NotFound
from pipelines.highlight_match import PageGlyphs, fold, highlight, line_rects, locate
from pipelines.models import Chunk, Document, DocumentStatus, Page
from services.app.highlights import HighlightService, text_of


def _glyphs(lines: list[str], ocr: bool = False) -> PageGlyphs:
    """One glyph per character, 10 pt wide, each line 20 pt below the last."""
    text, boxes = "", []
    for row, line in enumerate(lines):
        for col, ch in enumerate(line + "\n"):
            text += ch
            boxes.append((10.0 * col, 20.0 * row, 10.0 * col + 10, 20.0 * row + 12))
    return PageGlyphs(width=600, height=800, text=text, boxes=boxes, ocr=ocr)


def test_fold_ignores_case_spacing_hyphens_and_compatibility_forms() -> None:
    assert fold("Ter-\nmi\ufb01nation  １２")[0] == "termifination12"
    assert fold("ab c")[1] == [0, 1, 3]


def test_rects_are_merged_per_line() -> None:
    glyphs = _glyphs(["The Licensee shall pay", "the fees within thirty days."])
    rects = highlight(glyphs, "shall pay the fees")
    assert rects == [(130.0, 0.0, 220.0, 12.0), (0.0, 20.0, 80.0, 32.0)]


def test_a_narrow_first_glyph_and_a_turned_line() -> None:
    glyphs = PageGlyphs(
        width=100, height=100, text="il", boxes=[(10.0, 0.0, 13.0, 12.0), (13.0, 0.0, 16.0, 12.0)]
    )
    assert line_rects(glyphs, [0, 1]) == [(10.0, 0.0, 16.0, 12.0)]
    down = PageGlyphs(
        width=100, height=100, text="abc",
        boxes=[(50.0, 10.0, 62.0, 18.0), (50.0, 18.0, 62.0, 26.0), (50.0, 26.0, 62.0, 32.0)],
    )  # fmt: skip
    assert line_rects(down, [0, 1, 2]) == [(50.0, 10.0, 62.0, 32.0)]


def test_the_occurrence_nearest_the_position_is_chosen() -> None:
    glyphs = _glyphs(["fee is due", "x" * 40, "fee is due"])
    first, last = locate(glyphs, "fee is due", 0.0), locate(glyphs, "fee is due", 0.9)
    assert first is not None
    assert last is not None
    assert glyphs.boxes[first[0]][1] == 0.0
    assert glyphs.boxes[last[0]][1] == 40.0


def test_reordered_lines_and_a_glued_footnote_mark_are_still_placed() -> None:
    glyphs = _glyphs(
        ["second column line here", "Company shall supply all the major upgrades", "1"]
    )
    quote = "1Company shall supply all the major upgrades\nsecond column line here"
    indices = locate(glyphs, quote)
    assert indices is not None
    assert "".join(glyphs.text[i] for i in indices).replace(" ", "").startswith("second")
    assert len(line_rects(glyphs, indices)) == 2


def test_text_not_on_the_page_is_not_placed() -> None:
    glyphs = _glyphs(["The Licensee shall pay the fees."])
    assert highlight(glyphs, "The Licensor may terminate this agreement at will.") is None
    assert highlight(glyphs, " \n ") is None


class _Fakes:
    def __init__(self, pages: list[Page], status: DocumentStatus = DocumentStatus.READY) -> None:
        self.document = Document(
            id="d1", tenant="t1", filename="a.pdf", sha256="ab" * 32, size_bytes=3,
            status=status, pages_total=len(pages),
        )  # fmt: skip
        self.starts = page_starts(pages)
        text = document_text(pages)
        self.chunks = [
            Chunk(document_id="d1", number=0, text=text[:30], page_start=1, page_end=1,
                  char_start=0, char_end=30, token_count=1),
            Chunk(document_id="d1", number=1, text=text[32:], page_start=1, page_end=2,
                  char_start=32, char_end=len(text), token_count=1),
        ]  # fmt: skip
        self.pages = {p.number: _glyphs(p.text.split("\n"), ocr=p.ocr) for p in pages}
        self.files: dict[str, bytes] = {}
        self.calls: list[str] = []

    def get_document(self, tenant: str, document_id: str) -> Document:
        if tenant != "t1" or document_id != "d1":
            raise NotFound(f"no document {document_id}")
        return self.document

    def load_chunks(self, document_id: str) -> list[Chunk]:
        return self.chunks

    def load_page_starts(self, document_id: str) -> list[int] | None:
        return self.starts

    def password_for(self, document_id: str) -> str | None:
        return None

    def get(self, key: str) -> bytes:
        return b"pdf"

    def put(self, key: str, data: bytes) -> None: ...

    def delete(self, key: str) -> None: ...

    def glyphs(self, data: bytes, password: str | None, pages: list[int]) -> dict[int, PageGlyphs]:
        self.calls.append(f"glyphs {pages}")
        return {p: self.pages[p] for p in pages}

    def render_png(self, data: bytes, password: str | None, page: int, width: int) -> bytes:
        self.calls.append(f"render {page} {width}")
        return b"png"

    def read(self, name: str) -> bytes | None:
        return self.files.get(name)

    def write(self, name: str, data: bytes) -> None:
        self.files[name] = data

    def forget(self, document_id: str) -> None:
        self.files = {k: v for k, v in self.files.items() if not k.startswith(document_id)}


def _service(fakes: _Fakes) -> HighlightService:
    return HighlightService(store=fakes, blobs=fakes, geometry=fakes, cache=fakes)


PAGES = [
    Page(number=1, text="Article 1. The Licensee shall pay\nthe fees within thirty days."),
    Page(number=2, text="Article 2. This agreement ends\non 31 December 2030.", ocr=True),
]


def test_a_range_across_pages_gives_one_entry_per_page() -> None:
    fakes = _Fakes(PAGES)
    text = document_text(PAGES)
    start, end = text.index("within"), text.index("ends") + 4
    assert text_of(fakes.chunks, start, end) == text[start:end]
    found = _service(fakes).highlights("t1", "d1", start, end)
    assert found.located
    assert [b.page for b in found.boxes] == [1, 2]
    assert found.boxes[1].rects == [(0.0, 0.0, 300.0, 12.0)]  # "Article 2. ... ends"
    assert "d1/ocr-2.json" in fakes.files  # an OCR'd page's boxes are kept
    service = _service(fakes)
    service.highlights("t1", "d1", start, end)
    assert fakes.calls == ["glyphs [1, 2]", "glyphs [1]"]  # page 1 read again, 2 from its file
    service.highlights("t1", "d1", start, end)
    assert fakes.calls == ["glyphs [1, 2]", "glyphs [1]"]  # both kept in memory


def test_a_range_with_a_piece_not_on_its_page_is_not_located() -> None:
    fakes = _Fakes(PAGES)
    fakes.pages[2] = _glyphs(["Something else entirely on this page."])
    text = document_text(PAGES)
    found = _service(fakes).highlights("t1", "d1", text.index("within"), text.index("ends") + 4)
    assert not found.located
    assert found.boxes == []


def test_tenant_status_and_bounds_are_checked() -> None:
    fakes = _Fakes(PAGES)
    service = _service(fakes)
    with pytest.raises(NotFound):
        service.highlights("t2", "d1", 0, 10)
    with pytest.raises(NotFound):
        service.page_png("t2", "d1", 1, 800)
    with pytest.raises(NotFound):
        service.page_png("t1", "d1", 3, 800)
    assert not service.highlights("t1", "d1", 10, 5).located
    with pytest.raises(DocumentNotReady):
        _service(_Fakes(PAGES, DocumentStatus.INDEXING)).page_png("t1", "d1", 1, 800)


def test_page_images_are_cached_per_width() -> None:
    fakes = _Fakes(PAGES)
    service = _service(fakes)
    first = service.page_png("t1", "d1", 2, 5000)  # clamped to 2000
    again = service.page_png("t1", "d1", 2, 5000)
    assert first.png == again.png == b"png"
    assert first.etag == again.etag
    assert fakes.calls == ["render 2 2000"]
    current = service.page_png("t1", "d1", 1, 800, known=service.page_png("t1", "d1", 1, 800).etag)
    assert current.png == b""
    assert fakes.calls == ["render 2 2000", "render 1 800"]


def test_a_document_deleted_while_rendering_keeps_no_file() -> None:
    fakes = _Fakes(PAGES)

    def render_then_delete(data: bytes, password: str | None, page: int, width: int) -> bytes:
        fakes.document = fakes.document.model_copy(update={"id": "gone"})
        return b"png"

    original = fakes.get_document

    def get_document(tenant: str, document_id: str) -> Document:
        if fakes.document.id == "gone":
            raise NotFound(f"no document {document_id}")
        return original(tenant, document_id)

    fakes.render_png = render_then_delete  # type: ignore[method-assign]
    fakes.get_document = get_document  # type: ignore[method-assign]
    with pytest.raises(NotFound):
        _service(fakes).page_png("t1", "d1", 1, 800)
    assert fakes.files == {}
