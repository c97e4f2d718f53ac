"""PdfParser on pypdfium2, run in a child process with memory and time limits.

The parent never touches PDF bytes with native code: a forkserver child opens the
document under RLIMIT_AS and streams one message per page back through a pipe, so
progress is reported as pages arrive and a hung or crashed child becomes a clear
`ResourceLimit` / `CorruptPdf` instead of a hung or crashed worker. Pages without a text
layer, or whose text layer is garbled, are rendered and OCR'd with the `tesseract` CLI.
Every failure leaves this module as a `pipelines.errors` class.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import threading
import time
from typing import Any

from pipelines.errors import (
    CorruptPdf,
    EmptyDocument,
    EncryptedPdf,
    InvalidDocument,
    NoExtractableText,
    NotAPdf,
    ResourceLimit,
    TooLarge,
    UnsupportedPdf,
)
from pipelines.models import Page, ParsedDocument, Table
from pipelines.ports import PageProgress
from services.adapters import forkserver
from services.settings import usable_cpus

_ERRORS: dict[str, type[InvalidDocument]] = {
    cls.code: cls
    for cls in (
        CorruptPdf,
        EmptyDocument,
        EncryptedPdf,
        NoExtractableText,
        NotAPdf,
        ResourceLimit,
        TooLarge,
        UnsupportedPdf,
    )
}


class Pypdfium2Parser:
    """Parse PDF bytes into pages (text in reading order, tables, OCR for scans)."""

    def __init__(
        self,
        *,
        max_pages: int = 2000,
        max_bytes: int | None = None,
        page_timeout_s: float = 30.0,
        total_timeout_s: float = 600.0,
        memory_limit_mb: int = 2048,
        ocr: bool = True,
        ocr_languages: str = "chi_sim+eng",
        ocr_dpi: int = 200,
        tesseract: str = "tesseract",
        processes: int | None = None,
    ) -> None:
        """`processes`: PDFs parsed at once by this parser, each in a child process of its
        own (a crash or a memory bomb takes down that child only); None: one per CPU core.
        More parse steps than that wait their turn (threads of a worker share the cores
        with the embedder)."""
        self.max_pages = max_pages
        self.max_bytes = max_bytes
        self.page_timeout_s = page_timeout_s
        self.total_timeout_s = total_timeout_s
        self.memory_limit_mb = memory_limit_mb
        self.ocr = ocr
        self.ocr_languages = ocr_languages
        self.ocr_dpi = ocr_dpi
        self.tesseract = tesseract
        self.processes = processes or usable_cpus()
        self._slots = threading.BoundedSemaphore(self.processes)

    def parse(
        self, data: bytes, *, password: str | None = None, on_page: PageProgress | None = None
    ) -> ParsedDocument:
        """Parse PDF bytes; raises a `pipelines.errors.InvalidDocument` subclass on bad input."""
        if not data:
            raise EmptyDocument("The file is empty (0 bytes).")
        if self.max_bytes is not None and len(data) > self.max_bytes:
            raise TooLarge(
                f"The file is {len(data):,} bytes; the limit is {self.max_bytes:,} bytes."
            )
        options = {
            "max_pages": self.max_pages,
            "memory_limit_mb": self.memory_limit_mb,
            "ocr": self.ocr,
            "ocr_languages": self.ocr_languages,
            "ocr_dpi": self.ocr_dpi,
            "tesseract": self.tesseract,
            "ocr_timeout_s": max(self.page_timeout_s - 1.0, 1.0),
        }
        with self._slots:
            return self._parse_in_child(data, password, options, on_page)

    def _parse_in_child(
        self,
        data: bytes,
        password: str | None,
        options: dict[str, Any],
        on_page: PageProgress | None,
    ) -> ParsedDocument:
        ctx = forkserver.context()
        receiver, sender = ctx.Pipe(duplex=False)
        from services.adapters.pdf_child import run_child

        child = ctx.Process(target=run_child, args=(sender, data, password, options), daemon=True)
        child.start()
        sender.close()
        try:
            return self._collect(receiver, child, on_page)
        finally:
            receiver.close()
            if child.is_alive():
                child.kill()
            child.join(5)

    def _collect(
        self,
        receiver: multiprocessing.connection.Connection,
        child: Any,
        on_page: PageProgress | None,
    ) -> ParsedDocument:
        deadline = time.monotonic() + self.total_timeout_s
        pages: list[Page] = []
        warnings: list[str] = []
        total = 0
        while True:
            left = deadline - time.monotonic()
            wait = min(self.page_timeout_s, left)
            if wait <= 0 or not receiver.poll(wait):
                child.kill()
                where = f"page {len(pages) + 1}" if total else "opening the document"
                if left <= self.page_timeout_s:
                    raise ResourceLimit(
                        f"Parsing took longer than {self.total_timeout_s:g} s (stopped at {where})."
                    )
                raise ResourceLimit(
                    f"Parsing {where} took longer than {self.page_timeout_s:g} s; "
                    "the PDF may be a decompression bomb or extremely complex."
                )
            try:
                message = receiver.recv()
            except (EOFError, OSError):
                raise self._death(child, len(pages) + 1 if total else 0) from None
            kind = message[0]
            if kind == "open":
                total = message[1]
                if on_page is not None:
                    on_page(0, total)
            elif kind == "page":
                number, text, tables, ocr = message[1:]
                pages.append(
                    Page(
                        number=number,
                        text=text,
                        tables=[Table(caption=c, rows=r) for c, r in tables],
                        ocr=ocr,
                    )
                )
                if on_page is not None:
                    on_page(len(pages), total)
            elif kind == "warning":
                warnings.append(message[1])
            elif kind == "error":
                raise _ERRORS.get(message[1], CorruptPdf)(message[2])
            else:  # "done"
                return ParsedDocument(pages=pages, warnings=warnings)

    def _death(self, child: Any, page: int) -> InvalidDocument:
        child.join(5)
        code = child.exitcode
        where = f"on page {page}" if page else "while opening the document"
        if code is not None and code < 0 and -code in (signal.SIGKILL, signal.SIGABRT):
            return ResourceLimit(
                f"The PDF parser ran out of memory {where} (limit {self.memory_limit_mb} MB); "
                "the PDF may be a decompression bomb."
            )
        return CorruptPdf(f"The PDF is damaged: it crashed the parser {where} (exit {code}).")
