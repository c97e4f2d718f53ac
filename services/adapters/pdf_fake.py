"""A PdfParser for tests: returns the pages it was given, or raises the error it was given."""

from __future__ import annotations

from collections.abc import Sequence

from pipelines.errors import EmptyDocument, EncryptedPdf, InvalidDocument
from pipelines.models import Page, ParsedDocument
from pipelines.ports import PageProgress


class FakePdfParser:
    """Ignores the bytes (beyond emptiness) and replays `pages`, reporting progress."""

    def __init__(
        self,
        pages: Sequence[Page | str] = (),
        *,
        error: InvalidDocument | None = None,
        password: str | None = None,
        warnings: Sequence[str] = (),
    ) -> None:
        self.pages = [
            p if isinstance(p, Page) else Page(number=i, text=p) for i, p in enumerate(pages, 1)
        ]
        self.error = error
        self.password = password
        self.warnings = list(warnings)
        self.calls = 0

    def parse(
        self, data: bytes, *, password: str | None = None, on_page: PageProgress | None = None
    ) -> ParsedDocument:
        """Replay the configured pages; raise the configured error first if any."""
        self.calls += 1
        if not data:
            raise EmptyDocument("The file is empty (0 bytes).")
        if self.error is not None:
            raise self.error
        if self.password is not None and password != self.password:
            raise EncryptedPdf(
                "The password given for this PDF is wrong."
                if password
                else "This PDF is password-protected: a password is required to open it."
            )
        total = len(self.pages)
        if on_page is not None:
            on_page(0, total)
            for done in range(1, total + 1):
                on_page(done, total)
        return ParsedDocument(pages=[p.model_copy() for p in self.pages], warnings=self.warnings)
