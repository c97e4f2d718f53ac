"""Citation markers: how packed context labels its passages and how answers cite them.

Every passage of packed context starts with a marker line `[doc:REF, p.N]` (or
`[doc:REF, p.N-M]` when the passage spans pages), where REF is the document's short
reference (`document_refs`) and N, M are 1-based PDF page numbers. The model is told to
copy markers after the sentences they support. `resolve_citations` maps the markers of an
answer back to document ids, pages and chunk numbers; it accepts the forms models tend to
write (`p.4` for a passage marked `p.3-4`, several citations in one bracket separated by
`;`) and reports the markers it cannot map, which are never shown as sources.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_SAFE_ID = re.compile(r"[A-Za-z0-9_-]+")
_BRACKET = re.compile(r"\[\s*(doc\s*:[^\[\]]{1,400})\]")
_ITEM = re.compile(
    r"doc\s*:\s*([A-Za-z0-9_-]+)\s*,\s*(?:pages?|pp?)\.?\s*(\d+)(?:\s*[-–]\s*(\d+))?"
)
REF_LENGTH = 8


@dataclass(frozen=True)
class Citation:
    """What a marker stands for: a document's pages and the chunks shown under it."""

    marker: str
    ref: str
    document_id: str
    page_start: int
    page_end: int
    chunk_numbers: tuple[int, ...]


def format_marker(ref: str, page_start: int, page_end: int) -> str:
    """`[doc:REF, p.N]`, or `[doc:REF, p.N-M]` for a page range."""
    pages = f"{page_start}" if page_end <= page_start else f"{page_start}-{page_end}"
    return f"[doc:{ref}, p.{pages}]"


def document_ref(document_id: str, length: int = REF_LENGTH) -> str:
    """A document's short reference: its id's first `length` characters when the id is made
    of letters, digits, `-` and `_` (uuids are), else a hash of it. Same id, same ref."""
    if _SAFE_ID.fullmatch(document_id):
        return document_id[:length]
    return hashlib.blake2b(document_id.encode("utf-8"), digest_size=16).hexdigest()[:length]


def document_refs(document_ids: Iterable[str]) -> dict[str, str]:
    """document id -> short reference, unique within the set (longer only on a clash)."""
    ids = sorted(set(document_ids))
    length = REF_LENGTH
    while True:
        refs = {document_id: document_ref(document_id, length) for document_id in ids}
        if len(set(refs.values())) == len(refs) or length >= 64:
            return refs
        length *= 2


def resolve_citations(
    text: str, citations: Mapping[str, Citation]
) -> tuple[list[Citation], list[str]]:
    """Citations an answer makes, in order of first appearance, and the markers that match
    nothing in `citations` (a reference not in the context, or a page outside its passages).

    A cited page range matches every passage of that document whose pages intersect it.
    """
    by_ref: dict[str, list[Citation]] = {}
    for citation in citations.values():
        by_ref.setdefault(citation.ref, []).append(citation)
    found: list[Citation] = []
    unresolved: list[str] = []
    for bracket in _BRACKET.finditer(text):
        items = list(_ITEM.finditer(bracket.group(1)))
        if not items:
            unresolved.append(bracket.group(0))
        for item in items:
            first = int(item.group(2))
            last = int(item.group(3) or first)
            matches = [
                c
                for c in by_ref.get(item.group(1), [])
                if c.page_start <= last and first <= c.page_end
            ]
            if not matches:
                unresolved.append(f"[{item.group(0)}]")
            found.extend(c for c in matches if c not in found)
    return found, unresolved
