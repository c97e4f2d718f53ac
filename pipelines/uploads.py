"""Cheap checks on uploaded bytes, done before anything is stored or queued."""

from __future__ import annotations

import hashlib

from pipelines.errors import EmptyDocument, NotAPdf, TooLarge

_SNIFF_BYTES = 64 * 1024


def check_upload(data: bytes, *, max_bytes: int) -> str:
    """Reject what is clearly not an ingestible PDF; return the content's sha256.

    A PDF whose header is damaged but whose body has PDF objects is accepted here:
    the parser may still recover it, and fails the document with a reason if not.
    """
    if not data:
        raise EmptyDocument("the file is empty (0 bytes)")
    if len(data) > max_bytes:
        raise TooLarge(
            f"the file is {len(data) / 1e6:.1f} MB; the upload limit is {max_bytes / 1e6:.1f} MB"
        )
    head = data[:_SNIFF_BYTES]
    looks_like_pdf = b"%PDF-" in head[:1024] or (b" obj" in head and b"endobj" in head)
    if not looks_like_pdf:
        raise NotAPdf("the file is not a PDF (no %PDF- header and no PDF objects)")
    return hashlib.sha256(data).hexdigest()
