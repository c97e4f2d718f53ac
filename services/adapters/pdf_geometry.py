"""Page geometry and page images with pypdfium2, each request in a child process.

`PdfiumGeometry.glyphs` gives, per page, its characters with their loose boxes (top-left
origin, points): from the text layer, or, for a page the parser reads by OCR (no usable
text layer, or a garbled one: the same rule as services/adapters/pdf_child.py), from
`tesseract`'s TSV word boxes on the rendered page, each word's box shared out among its
characters. `render_png` renders a page to PNG at a given pixel width. The native code runs
in a forkserver child under RLIMIT_AS with a time limit; a failure becomes a
`pipelines.errors.ResourceLimit` or `CorruptPdf`.
"""

from __future__ import annotations

import shutil
import threading
from typing import Any

from pipelines.errors import CorruptPdf, ResourceLimit
from pipelines.highlight_match import PageGlyphs
from services.adapters import forkserver
from services.settings import usable_cpus


class PdfiumGeometry:
    """Character boxes and rendered pages of PDF bytes (implements `PageGeometry`)."""

    def __init__(
        self,
        *,
        timeout_s: float = 60.0,
        memory_limit_mb: int = 2048,
        ocr: bool = True,
        ocr_languages: str = "chi_sim+eng",
        ocr_dpi: int = 200,
        tesseract: str = "tesseract",
        processes: int | None = None,
    ) -> None:
        """`processes`: children at once (None: one per CPU core); more requests wait."""
        self.timeout_s = timeout_s
        self._slots = threading.BoundedSemaphore(processes or usable_cpus())
        self.memory_limit_mb = memory_limit_mb
        self.options = {
            "ocr": ocr and shutil.which(tesseract) is not None,
            "ocr_languages": ocr_languages,
            "ocr_dpi": ocr_dpi,
            "tesseract": tesseract,
            "ocr_timeout_s": max(timeout_s - 5.0, 5.0),
        }

    def glyphs(self, data: bytes, password: str | None, pages: list[int]) -> dict[int, PageGlyphs]:
        """The characters and boxes of these pages (1-based numbers)."""
        found = self._run(data, password, {"op": "glyphs", "pages": pages, **self.options})
        return {
            number: PageGlyphs(width=w, height=h, text=text, boxes=boxes, ocr=ocr)
            for number, (w, h, text, boxes, ocr) in found.items()
        }

    def render_png(self, data: bytes, password: str | None, page: int, width: int) -> bytes:
        """Page `page` (1-based) as a PNG `width` pixels wide."""
        png: bytes = self._run(data, password, {"op": "render", "page": page, "width": width})
        return png

    def _run(self, data: bytes, password: str | None, job: dict[str, Any]) -> Any:
        with self._slots:
            return self._run_child(data, password, job)

    def _run_child(self, data: bytes, password: str | None, job: dict[str, Any]) -> Any:
        ctx = forkserver.context()
        receiver, sender = ctx.Pipe(duplex=False)
        from services.adapters.pdf_geometry_child import run_child

        limit = self.memory_limit_mb * 1024 * 1024
        child = ctx.Process(
            target=run_child, args=(sender, data, password, job, limit), daemon=True
        )
        child.start()
        sender.close()
        try:
            if not receiver.poll(self.timeout_s):
                raise ResourceLimit(f"Reading the page took longer than {self.timeout_s:g} s.")
            try:
                kind, value = receiver.recv()
            except (EOFError, OSError):
                raise CorruptPdf("The PDF crashed the page reader.") from None
            if kind == "error":
                raise CorruptPdf(value)
            return value
        finally:
            receiver.close()
            if child.is_alive():
                child.kill()
            child.join(5)
