"""The child-process half of services/adapters/pdf_geometry.py.

Runs under RLIMIT_AS and answers through a pipe with ("ok", value) or ("error", message):
for "glyphs", {page: (width, height, text, boxes, ocr)}; for "render", PNG bytes.
"""

from __future__ import annotations

import ctypes
import os
import resource
import struct
import subprocess
import tempfile
import zlib
from multiprocessing.connection import Connection
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from pipelines.highlight_match import Box
from pipelines.page_text import needs_ocr, normalize_text
from pipelines.text_repair import is_garbled
from services.adapters.pdf_child import open_document
from services.adapters.pdf_page import image_area_ratio

_NO_BOX: Box = (0.0, 0.0, 0.0, 0.0)


def run_child(
    conn: Connection, data: bytes, password: str | None, job: dict[str, Any], limit: int
) -> None:
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        doc = open_document(data, password)
        if job["op"] == "render":
            conn.send(("ok", _render(doc, job["page"], job["width"])))
        else:
            conn.send(("ok", {n: _glyphs(doc[n - 1], job) for n in job["pages"]}))
    except MemoryError:
        conn.send(("error", "The page needs more memory than allowed to read."))
    except Exception as exc:  # pdfium errors, our _Fail, OCR failures: one message
        conn.send(("error", f"The page could not be read ({type(exc).__name__}: {exc})."))
    finally:
        conn.close()


def _render(doc: pdfium.PdfDocument, number: int, width: int) -> bytes:
    page = doc[number - 1]
    scale = width / max(page.get_width(), 1.0)
    bitmap = page.render(scale=scale, may_draw_forms=True, rev_byteorder=True)  # RGB
    return _png(bitmap.width, bitmap.height, bitmap.stride, bytes(bitmap.buffer), 3)


def _png(width: int, height: int, stride: int, buffer: bytes, channels: int) -> bytes:
    """PNG of 8-bit rows (colour type 2 for RGB, 0 for grey); no imaging library needed."""
    row = width * channels
    raw = b"".join(b"\x00" + buffer[y * stride : y * stride + row] for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    colour = 2 if channels == 3 else 0
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def _glyphs(page: pdfium.PdfPage, job: dict[str, Any]) -> tuple[Any, ...]:
    width, height = page.get_width(), page.get_height()
    text, boxes = _text_layer(page)
    scan = needs_ocr(normalize_text(text), 1.0) and needs_ocr(
        normalize_text(text), image_area_ratio(page)
    )
    if job["ocr"] and (scan or is_garbled(text)):
        text, boxes = _ocr_words(page, job)
        return width, height, text, boxes, True
    return width, height, text, boxes, False


def _placer(page: pdfium.PdfPage) -> Any:
    """PDF user space (y up) -> the page as displayed (its crop box, turned by /Rotate
    clockwise; origin top left), where the rendered image and `get_width` live."""
    left, bottom, right, top = page.get_bbox()
    w, h = right - left, top - bottom
    turn = page.get_rotation() % 360

    def place(x: float, y: float) -> tuple[float, float]:
        u, v = x - left, top - y
        if turn == 90:
            return h - v, u
        if turn == 180:
            return w - u, h - v
        if turn == 270:
            return v, w - u
        return u, v

    return place


def _text_layer(page: pdfium.PdfPage) -> tuple[str, list[Box]]:
    place = _placer(page)
    textpage = page.get_textpage()
    try:
        raw = textpage.raw
        count = pdfium_c.FPDFText_CountChars(raw)
        rect = pdfium_c.FS_RECTF()
        ref = ctypes.byref(rect)
        box = memoryview(rect).cast("B").cast("f")  # left, top, right, bottom
        get_unicode, get_box = pdfium_c.FPDFText_GetUnicode, pdfium_c.FPDFText_GetLooseCharBox
        chars: list[str] = []
        boxes: list[Box] = []
        for i in range(count):
            code = get_unicode(raw, i)
            ch = chr(code) if 0 < code < 0x110000 else "\ufffd"
            chars.append(ch)
            if ch.isspace() or not get_box(raw, i, ref):
                boxes.append(_NO_BOX)
                continue
            left, top, right, bottom = box
            (x0, y0), (x1, y1) = place(left, top), place(right, bottom)
            boxes.append((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        return "".join(chars), boxes
    finally:
        textpage.close()


def _ocr_words(page: pdfium.PdfPage, job: dict[str, Any]) -> tuple[str, list[Box]]:
    """tesseract's TSV words on the page rendered in grey, boxes in points."""
    width, height = page.get_width(), page.get_height()
    scale = job["ocr_dpi"] / 72
    scale = min(scale, (40_000_000 / max(width * height, 1.0)) ** 0.5)  # as pdf_page.ocr_page
    bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True)
    png = _png(bitmap.width, bitmap.height, bitmap.stride, bytes(bitmap.buffer), 1)
    with tempfile.TemporaryDirectory(prefix="docsight-ocr-") as tmp:
        path = os.path.join(tmp, "page.png")
        with open(path, "wb") as fh:
            fh.write(png)
        done = subprocess.run(
            [job["tesseract"], path, "stdout", "-l", job["ocr_languages"]]
            + ["--dpi", str(round(scale * 72)), "tsv"],
            capture_output=True,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
            timeout=job["ocr_timeout_s"],
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace").strip()[-300:])
    chars: list[str] = []
    boxes: list[Box] = []
    for row in done.stdout.decode("utf-8", errors="replace").splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        left, top, w, h = (int(v) / scale for v in cells[6:10])
        word = cells[11].strip()
        step = w / len(word)
        for k, ch in enumerate(word):
            chars.append(ch)
            boxes.append((left + k * step, top, left + (k + 1) * step, top + h))
        chars.append(" ")
        boxes.append(_NO_BOX)
    return "".join(chars), boxes
