"""Findings from the model's replies: pointers located in the document, wording findings,
findings over the same span merged.

The quote of a finding is the document's own text (`pipelines.grounding`), never the
model's words; an unlocated pointer keeps the passage's closest sentence, `grounded=False`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipelines.grounding import SourceText, normalise
from pipelines.models import Chunk
from pipelines.risk_candidates import Candidate, wording
from pipelines.risk_models import Finding
from pipelines.risk_taxonomy import Severity

_RANK = {"high": 0, "medium": 1, "low": 2}
_SENTENCE_END = re.compile(r"(?<=[.;:!?。；！？])\s+|\n\s*\n|(?<=[。；！？])")


def located_findings(
    raw: Sequence[dict[str, object]], batch: Sequence[Candidate], source: SourceText
) -> list[Finding]:
    """The model's items -> findings quoting the document's own text."""
    out: list[Finding] = []
    for item in raw:
        number = item.get("passage")
        if not isinstance(number, int) or not 1 <= number <= len(batch):
            continue
        candidate = batch[number - 1]
        if str(item["category"]) not in {c.id for c in candidate.categories}:
            continue  # a category it was not retrieved for: not this passage's question
        pointer = " ".join(str(item.get("quote", "")).split())
        span = (candidate.chunk.char_start, candidate.chunk.char_end)
        match = source.find(pointer, within=span) if pointer else None  # what it was shown
        if match is None:
            start, end = _closest_sentence(candidate.chunk, pointer)
            quote, page, grounded = (
                candidate.chunk.text[
                    start - candidate.chunk.char_start : end - candidate.chunk.char_start
                ],
                source.page_of(start),
                False,
            )
        else:
            start, end = match.char_start, match.char_end
            quote, page, grounded = source.text_at(start, end), match.page, True
        out.append(
            Finding(
                category=str(item["category"]),
                severity=_severity(item.get("severity")),
                reason=" ".join(str(item.get("reason", "")).split())[:300],
                quote=" ".join(quote.split()),
                page=page,
                document_id=candidate.chunk.document_id,
                grounded=grounded,
                char_start=start,
                char_end=end,
            )
        )
    return out


def worded_findings(chosen: Sequence[Candidate], least: int, source: SourceText) -> list[Finding]:
    """Model-free findings: passages holding at least `least` phrases of a category they
    were retrieved for; the quote is the passage's sentence holding the most of them."""
    out: list[Finding] = []
    for candidate in chosen if least > 0 else ():
        for category in candidate.categories:
            words = wording(candidate.chunk.text, category)
            if len(words) < least:
                continue
            start, end = _closest_sentence(candidate.chunk, " ".join(words))
            offset = candidate.chunk.char_start
            out.append(
                Finding(
                    category=category.id,
                    severity="medium",
                    reason="the clause's own wording: " + ", ".join(f"'{w}'" for w in words[:4]),
                    quote=" ".join(candidate.chunk.text[start - offset : end - offset].split()),
                    page=source.page_of(start),
                    document_id=candidate.chunk.document_id,
                    grounded=True,
                    char_start=start,
                    char_end=end,
                    method="wording",
                )
            )
    return out


def _closest_sentence(chunk: Chunk, pointer: str) -> tuple[int, int]:
    """Document offsets of the sentence of `chunk` sharing most words with `pointer`."""
    words = set(_words(pointer))
    best = (-1.0, chunk.char_start, chunk.char_end)
    at = 0
    for piece in _SENTENCE_END.split(chunk.text):
        found = chunk.text.find(piece, at)
        if not piece.strip() or found < 0:
            continue
        at = found + len(piece)
        mine = set(_words(piece))
        score = len(words & mine) / (len(mine) ** 0.5 or 1.0)
        if score > best[0]:
            best = (score, chunk.char_start + found, chunk.char_start + at)
    return best[1], best[2]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def merged_findings(findings: Sequence[Finding]) -> list[Finding]:
    """Findings of one category over the same span merged, most severe first."""
    out: list[Finding] = []
    for finding in findings:
        if any(_same(finding, seen) for seen in out):
            out = [_stronger(finding, s) if _same(finding, s) else s for s in out]
        else:
            out.append(finding)
    return sorted(
        out, key=lambda f: (not f.grounded, _RANK[f.severity], f.page or 0, f.char_start or 0)
    )


def _severity(value: object) -> Severity:
    text = str(value).strip().lower()
    if text == "high":
        return "high"
    return "low" if text == "low" else "medium"


def _same(a: Finding, b: Finding) -> bool:
    if a.category != b.category or a.grounded != b.grounded:
        return False
    if a.char_start is not None and b.char_start is not None:
        return a.char_start < (b.char_end or 0) and b.char_start < (a.char_end or 0)
    return _key(a.quote) == _key(b.quote)


def _stronger(a: Finding, b: Finding) -> Finding:
    """The more severe; on a tie the model's (it graded the clause), then the longer."""

    def rank(f: Finding) -> tuple[int, bool, int]:
        return _RANK[f.severity], f.method != "model", -len(f.quote)

    return a if rank(a) < rank(b) else b


def _key(quote: str) -> str:
    return re.sub(r"\s+", "", normalise(quote)[0])
