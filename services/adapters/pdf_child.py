"""The child-process half of services/adapters/pdf.py: opens the PDF with pypdfium2.

Runs under RLIMIT_AS and sends, through a pipe, ("open", pages_total), then one
("page", number, text, tables, ocr) per page, ("warning", text), and finally ("done",) or
("error", code, message) where code is a `pipelines.errors` class code.

Rules hold for any file: the password is tried as given and SASLprep'd; right-to-left words
are measured glyph by glyph so layout orders them by position; a garbled page is OCR'd (or
flagged); a document with no text and no image left for OCR fails as `no_text`; a load
failure is explained from the file's structure (`pdf_diagnose`). Reading a page (its words,
images and OCR) is services/adapters/pdf_page.py.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
from multiprocessing.connection import Connection
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from pipelines.page_text import needs_ocr, normalize_text
from pipelines.parsing import layout_page
from pipelines.passwords import password_candidates
from pipelines.text_repair import garbled_share, is_garbled, strip_garbled
from services.adapters.pdf_diagnose import declares_encryption, unsupported_filters
from services.adapters.pdf_page import OcrFailed, image_area_ratio, ocr_page, page_chars

_PDF_MAGIC = b"%PDF-"


class _Fail(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def run_child(conn: Connection, data: bytes, password: str | None, options: dict[str, Any]) -> None:
    """Entry point of the child process."""
    limit = options["memory_limit_mb"] * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        doc = open_document(data, password)
        total = len(doc)
        if total == 0:
            raise _Fail("empty", "The PDF has no pages.")
        if total > options["max_pages"]:
            raise _Fail(
                "too_large", f"The PDF has {total} pages; the limit is {options['max_pages']}."
            )
        conn.send(("open", total))
        _send_pages(conn, doc, total, options, data)
        conn.send(("done",))
    except _Fail as fail:
        conn.send(("error", fail.code, fail.message))
    except MemoryError:
        conn.send(
            (
                "error",
                "resource_limit",
                f"The PDF needs more than {options['memory_limit_mb']} MB of memory to parse; "
                "it may be a decompression bomb.",
            )
        )
    except pdfium.PdfiumError as exc:
        conn.send(("error", "corrupt", f"The PDF is damaged and cannot be read ({exc})."))
    except Exception as exc:  # a bug of ours or an input pdfium accepted but we cannot lay out
        conn.send(
            (
                "error",
                "corrupt",
                f"The PDF could not be parsed ({type(exc).__name__}: {exc}).",
            )
        )
    finally:
        conn.close()


def open_document(data: bytes, password: str | None) -> pdfium.PdfDocument:
    """Open bytes with pdfium, mapping failures to error codes; recovers a missing header."""
    try:
        return _load(data, password)
    except _Fail as fail:
        head = data[:1024]
        if fail.code != "corrupt" or _PDF_MAGIC in head:
            raise
        if b" obj" not in data[:65536] and b"\nobj" not in data[:65536]:
            raise _Fail("not_a_pdf", "The file is not a PDF (no %PDF header).") from None
        try:
            return _load(b"%PDF-1.7\n" + data, password)
        except _Fail:
            raise _Fail(
                "not_a_pdf", "The file is not a readable PDF (no %PDF header, body unreadable)."
            ) from None


_HOW_TO_GIVE_PASSWORD = (
    "Upload it again with its password: the `password` form field of "
    "POST /v1/documents, or `docsight ingest --password PASSWORD FILE`."
)


def _load(data: bytes, password: str | None) -> pdfium.PdfDocument:
    """Try the password as given, then its SASLprep form (what AES-256 R6 writers hash)."""
    candidates = password_candidates(password)
    for attempt, candidate in enumerate(candidates, 1):
        try:
            return pdfium.PdfDocument(data, password=candidate)
        except pdfium.PdfiumError as exc:
            code = getattr(exc, "err_code", None)
            if code == pdfium_c.FPDF_ERR_PASSWORD and attempt < len(candidates):
                continue
            raise _load_failure(data, code, bool(password), exc) from None
    raise AssertionError("unreachable: password_candidates is never empty")


def _load_failure(data: bytes, code: int | None, has_password: bool, exc: Exception) -> _Fail:
    """pdfium's load error -> a code; a format error is explained from the file's structure."""
    if code == pdfium_c.FPDF_ERR_PASSWORD:
        if has_password:
            return _Fail(
                "encrypted", "The password given for this PDF is wrong. " + _HOW_TO_GIVE_PASSWORD
            )
        return _Fail(
            "encrypted",
            "This PDF is password-protected: a password is required "
            "to open it. " + _HOW_TO_GIVE_PASSWORD,
        )
    if code == pdfium_c.FPDF_ERR_SECURITY:
        return _Fail("unsupported", "This PDF uses an unsupported encryption (security handler).")
    if filters := unsupported_filters(data):
        return _Fail("unsupported", _filters_message(filters))
    if declares_encryption(data):
        return _Fail(
            "corrupt", "This PDF's encryption settings are damaged; it cannot be decrypted."
        )
    return _Fail("corrupt", f"The PDF is damaged and cannot be read ({exc}).")


def _filters_message(filters: list[str]) -> str:
    names = ", ".join(filters)
    return f"This PDF uses the {names} stream filter(s), which are not supported."


def _send_pages(
    conn: Connection, doc: pdfium.PdfDocument, total: int, opts: dict[str, Any], data: bytes
) -> None:
    ocr_ready = opts["ocr"] and shutil.which(opts["tesseract"]) is not None
    skipped_ocr = failed = ocr_tried = with_text = 0
    for index in range(total):
        try:
            page = doc[index]
        except pdfium.PdfiumError:
            failed += 1
            conn.send(("warning", f"Page {index + 1} cannot be read and was left empty."))
            conn.send(("page", index + 1, "", [], False))
            continue
        chars = page_chars(page)
        raw = "".join(c.text for c in chars)
        try:
            text, tables = layout_page(chars, page.get_width())
        except (ValueError, IndexError, ArithmeticError) as exc:  # keep the text, lose layout
            conn.send(("warning", f"Page {index + 1}: layout analysis failed ({exc})."))
            text, tables = normalize_text(page.get_textpage().get_text_range()), []
        garbled = is_garbled(raw)
        # needs_ocr(text, 1.0) is the cheap test (little text); images are counted only then
        scan = needs_ocr(text, 1.0) and needs_ocr(text, image_area_ratio(page))
        ocr = False
        if garbled:
            bad, visible = garbled_share(raw)
            note = (
                f"Page {index + 1}: the text layer is garbled ({bad} of {visible} "
                "characters are unmapped glyphs, private-use or replacement characters)"
            )
            if ocr_ready:
                conn.send(("warning", note + "; the page was read by OCR."))
            else:
                text = strip_garbled(text)
                conn.send(
                    (
                        "warning",
                        note + "; OCR is not available, so its text may be incomplete or wrong.",
                    )
                )
        if (scan or garbled) and ocr_ready:
            ocr_tried += 1
            try:
                text, tables, ocr = ocr_page(page, opts), [], True
            except (OSError, subprocess.SubprocessError, pdfium.PdfiumError, OcrFailed) as exc:
                conn.send(("warning", f"OCR of page {index + 1} failed: {exc}"))
        elif scan:
            skipped_ocr += 1
        with_text += bool(text.strip())
        conn.send(("page", index + 1, text, [(t.caption, t.rows) for t in tables], ocr))
        page.close()
    if failed == total:
        raise _Fail("corrupt", "The PDF is damaged: none of its pages can be read.")
    if skipped_ocr:
        why = (
            "OCR is turned off"
            if not opts["ocr"]
            else "OCR needs the `tesseract` program, which is not installed"
        )
        conn.send(
            ("warning", f"{skipped_ocr} page(s) have no text layer and were left empty: {why}.")
        )
    elif not with_text:
        raise _no_text(total, ocr_tried, data)


def _no_text(total: int, ocr_tried: int, data: bytes) -> _Fail:
    """A document without a character of text and without an image left for OCR to read."""
    if filters := unsupported_filters(data):
        return _Fail("unsupported", _filters_message(filters) + " No text could be read.")
    what = (
        "OCR of its images found no text either"
        if ocr_tried
        else "its pages have no text layer and no image to read by OCR"
    )
    return _Fail(
        "no_text",
        f"The PDF has {total} page(s) but no extractable text: {what} "
        "(a blank or drawing-only file, or a damaged one read as empty pages).",
    )
