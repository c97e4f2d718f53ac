"""Highlights and page images of a ready document, for the review page.

`HighlightService.highlights` maps a character range of the document's text
(`pipelines.chunking.document_text`, the offsets findings, evidence and citations carry) to
rectangles on its pages: the range is cut at page boundaries (the page offsets kept at
ingest), each piece is looked for among the page's glyphs (`pipelines.highlight_match`).
`page_png` renders a page at a pixel width. Both check the tenant like every document route
(another tenant's document is `NotFound`) and need a ready document (`DocumentNotReady`).
OCR'd pages' glyphs and rendered pages are cached by `PageCache`.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pipelines.chunking import PAGE_SEPARATOR
from pipelines.errors import NotFound
from pipelines.highlight_match import Box, PageGlyphs, highlight
from pipelines.models import Chunk, Document
from services.app.ports import BlobStore, PageCache, PageGeometry

MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH = 100, 2000, 1000


class HighlightStore(Protocol):
    def get_document(self, tenant: str, document_id: str) -> Document: ...

    def load_chunks(self, document_id: str) -> list[Chunk]: ...

    def load_page_starts(self, document_id: str) -> list[int] | None: ...

    def password_for(self, document_id: str) -> str | None: ...


@dataclass(frozen=True)
class PageBoxes:
    page: int
    width: float
    height: float
    rects: list[Box]


@dataclass(frozen=True)
class Highlights:
    document_id: str
    start: int
    end: int
    located: bool
    boxes: list[PageBoxes]


@dataclass(frozen=True)
class PageImage:
    png: bytes
    etag: str


def text_of(chunks: Sequence[Chunk], start: int, end: int) -> str:
    """Characters `start:end` of the document text, from the chunks that cover them (a
    character no chunk holds, whitespace between chunks, reads as a space)."""
    out = [" "] * max(end - start, 0)
    for chunk in chunks:
        lo, hi = max(chunk.char_start, start), min(chunk.char_end, end)
        if lo < hi:
            out[lo - start : hi - start] = chunk.text[lo - chunk.char_start : hi - chunk.char_start]
    return "".join(out)


class HighlightService:
    def __init__(
        self,
        *,
        store: HighlightStore,
        blobs: BlobStore,
        geometry: PageGeometry,
        cache: PageCache,
        recent_pages: int = 32,
    ) -> None:
        """`recent_pages`: pages whose glyphs stay in memory (a reviewer highlights several
        quotes of one page; a request for another needs a child process, ~0.2 s)."""
        self.store = store
        self.blobs = blobs
        self.geometry = geometry
        self.cache = cache
        self.recent_pages = recent_pages
        self._recent: OrderedDict[tuple[str, int], PageGlyphs] = OrderedDict()
        self._lock = threading.Lock()

    def _ready(self, tenant: str, document_id: str) -> Document:
        document = self.store.get_document(tenant, document_id)  # NotFound for another tenant
        return document.require_ready()

    def page_png(
        self, tenant: str, document_id: str, page: int, width: int, known: str | None = None
    ) -> PageImage:
        """Page `page` (1-based) as a PNG `width` pixels wide (clamped to 100..2000);
        `known`: the caller's If-None-Match, which, when it holds the ETag, gives no PNG."""
        document = self._ready(tenant, document_id)
        if not 1 <= page <= (document.pages_total or 0):
            raise NotFound(f"document {document_id} has no page {page}")
        width = min(max(width, MIN_WIDTH), MAX_WIDTH)
        etag = f'"{document.sha256[:16]}-{page}-{width}"'
        if known is not None and etag in known:
            return PageImage(png=b"", etag=etag)
        name = f"{document_id}/page-{page}-w{width}.png"
        png = self.cache.read(name)
        if png is None:
            data = self.blobs.get(document_id)
            png = self.geometry.render_png(data, self.store.password_for(document_id), page, width)
            self._write(tenant, document_id, name, png)
        return PageImage(png=png, etag=etag)

    def highlights(self, tenant: str, document_id: str, start: int, end: int) -> Highlights:
        """Rectangles of the text range `start:end`, one entry per page it touches;
        `located` is false, with no boxes, when a piece cannot be placed (nothing invented)."""
        self._ready(tenant, document_id)
        starts = self.store.load_page_starts(document_id)
        chunks = self.store.load_chunks(document_id)
        length = max((c.char_end for c in chunks), default=0)
        end = min(end, length)
        if not starts or start >= end:
            return Highlights(document_id, start, end, False, [])
        pieces = _pieces(starts, length, start, end)
        texts = {page: text_of(chunks, lo, hi) for page, lo, hi, _ in pieces}
        pieces = [p for p in pieces if texts[p[0]].strip()]
        glyphs = self._glyphs(tenant, document_id, [p[0] for p in pieces])
        boxes: list[PageBoxes] = []
        located = bool(pieces)
        for page, _, _, position in pieces:
            page_glyphs = glyphs[page]
            rects = highlight(page_glyphs, texts[page], position)
            if rects is None:
                located = False
                continue
            boxes.append(PageBoxes(page, page_glyphs.width, page_glyphs.height, rects))
        return Highlights(document_id, start, end, located, boxes if located else [])

    def _write(self, tenant: str, document_id: str, name: str, data: bytes) -> None:
        """Cache a file; a document deleted meanwhile keeps none (its erasure ran first)."""
        self.cache.write(name, data)
        try:
            self.store.get_document(tenant, document_id)
        except NotFound:
            self.cache.forget(document_id)
            raise

    def _glyphs(self, tenant: str, document_id: str, pages: list[int]) -> dict[int, PageGlyphs]:
        """The pages' glyphs: OCR'd pages from the cache when read before."""
        found: dict[int, PageGlyphs] = {}
        with self._lock:
            for page in pages:
                if (document_id, page) in self._recent:
                    self._recent.move_to_end((document_id, page))
                    found[page] = self._recent[(document_id, page)]
        for page in pages:
            if page in found:
                continue
            cached = self.cache.read(f"{document_id}/ocr-{page}.json")
            if cached is not None:
                w, h, text, boxes = json.loads(cached)
                found[page] = PageGlyphs(w, h, text, [tuple(b) for b in boxes], ocr=True)
        missing = [p for p in pages if p not in found]
        if missing:
            data = self.blobs.get(document_id)
            read = self.geometry.glyphs(data, self.store.password_for(document_id), missing)
            for page, glyphs in read.items():
                if glyphs.ocr:
                    body = [glyphs.width, glyphs.height, glyphs.text, list(glyphs.boxes)]
                    name = f"{document_id}/ocr-{page}.json"
                    self._write(tenant, document_id, name, json.dumps(body).encode())
            found.update(read)
        with self._lock:
            for page in pages:
                self._recent[(document_id, page)] = found[page]
                self._recent.move_to_end((document_id, page))
            while len(self._recent) > self.recent_pages:
                self._recent.popitem(last=False)
        return found


def _pieces(
    starts: Sequence[int], length: int, start: int, end: int
) -> list[tuple[int, int, int, float]]:
    """(page, lo, hi, position) of the range cut at page boundaries; `position` is where the
    piece begins in its page's text, as a share of that text's length."""
    out: list[tuple[int, int, int, float]] = []
    for index, page_start in enumerate(starts):
        page_end = starts[index + 1] - len(PAGE_SEPARATOR) if index + 1 < len(starts) else length
        lo, hi = max(start, page_start), min(end, page_end)
        if lo < hi:
            position = (lo - page_start) / max(page_end - page_start, 1)
            out.append((index + 1, lo, hi, position))
    return out
