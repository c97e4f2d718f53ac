"""DiffService: the clauses that changed between two versions of a document.

Both documents must be the tenant's and ready. Each one's text is rebuilt from its stored
chunks at the offsets they index (`document_text`), cut into clauses
(`pipelines.clauses.split_clauses`) and aligned (`pipelines.clause_diff.diff_clauses`).
The alignment, with each clause's pages and the risk categories its wording names
(`pipelines.clause_terms` phrases, English and Chinese), is cached per pair of documents
in the `AnalysisCache` (forgotten with either). Findings come from the cached risk reports
only (`cached_risks`): nothing is analysed here.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

from pydantic import TypeAdapter

from pipelines.clause_diff import ClauseChange, diff_clauses
from pipelines.clause_terms import lookup, normalise_text
from pipelines.clauses import Clause, split_clauses
from pipelines.errors import LlmUnavailable, NotFound
from pipelines.models import Chunk, Document
from pipelines.risk_models import Finding
from pipelines.risk_taxonomy import DocumentKind, categories
from services.app.analysis_results import RisksResult
from services.app.cache_keys import digest
from services.app.diff_results import (
    AlignedClause,
    ClauseChangeOut,
    ClauseOut,
    DiffCounts,
    DiffOut,
    FindingsChange,
    FindingsDiff,
)
from services.app.ports import AnalysisCache, AnalysisStore, DocumentVersions

DIFF_FORMAT = 2
"""Part of a diff's cache key: a change to the clause splitter or aligner bumps it."""
_ALIGNED = TypeAdapter(list[AlignedClause])


class RiskReports(Protocol):
    """What the diff reads of the analyses (`AnalysisService`)."""

    def cached_risks(self, tenant: str, document_id: str) -> RisksResult | None: ...


class DiffService:
    def __init__(
        self,
        *,
        store: AnalysisStore,
        versions: DocumentVersions,
        risks: RiskReports,
        cache: AnalysisCache,
    ) -> None:
        self.store = store
        self.versions = versions
        self.risks = risks
        self.cache = cache

    def diff(self, tenant: str, document_id: str, against: str | None = None) -> DiffOut:
        """`document_id`'s clauses compared with `against` (default: its previous version).
        `NotFound` for an unknown document (or another tenant's) and for a document with no
        previous version when `against` is not given; `DocumentNotReady` unless both are
        ready."""
        new = self.store.get_document(tenant, document_id)
        if against is None:
            against = self.versions.previous_of(tenant, document_id)
            if against is None:
                raise NotFound(
                    f"document {document_id} has no previous version (not uploaded as a new "
                    "version, or its previous version was deleted); name the document to "
                    "compare it with: ?against=ID"
                )
        old = self.store.get_document(tenant, against)
        for document in (old, new):
            document.require_ready("a diff needs both documents ready")
        aligned = self._aligned(tenant, old, new)
        before = self._findings(tenant, old.id)
        after = self._findings(tenant, new.id)
        changes = [_with_findings(a, before, after) for a in aligned]
        return DiffOut(document_id=new.id, against=old.id, counts=_counts(changes), changes=changes)

    def _aligned(self, tenant: str, old: Document, new: Document) -> list[AlignedClause]:
        key = digest("diff", DIFF_FORMAT, tenant, *(_version(d) for d in (old, new)))
        hit = self.cache.get(key)
        if hit is not None:
            return _ALIGNED.validate_json(hit)
        described = self.store.describe_documents(tenant, document_ids=[new.id])
        kind: DocumentKind = (described[0][1].kind if described else None) or "contract"
        old_text, old_pages = self._text(old.id)
        new_text, new_pages = self._text(new.id)
        changes = diff_clauses(split_clauses(old_text), split_clauses(new_text))
        aligned = [_aligned(c, old_pages, new_pages, kind) for c in changes]
        self.cache.put(
            key,
            _ALIGNED.dump_json(aligned).decode(),
            kind="diffs",
            tenant=tenant,
            document_id=new.id,
            document_ids=[old.id],
        )
        gone = {old.id, new.id} - self.store.existing_ids([old.id, new.id])
        for document_id in gone:  # deleted meanwhile: what was just put goes too
            self.cache.forget_document(document_id)
        if gone:
            raise NotFound(f"no document {sorted(gone)[0]}: deleted while it was compared")
        return aligned

    def _text(self, document_id: str) -> tuple[str, Pages]:
        chunks = self.store.load_chunks(document_id)
        return document_text(chunks), Pages(chunks, self.store.load_page_starts(document_id))

    def _findings(self, tenant: str, document_id: str) -> list[Finding] | None:
        """The document's cached findings that carry offsets; None when none is cached."""
        try:
            result = self.risks.cached_risks(tenant, document_id)
        except LlmUnavailable:  # no model configured: no report can be cached for it
            return None
        if result is None:
            return None
        return [f for f in result.report.findings if f.char_start is not None]


def document_text(chunks: Sequence[Chunk]) -> str:
    """The document's text as the chunks' offsets index it. Chunks may overlap, and the
    whitespace between two (a blank line the chunker left out) is not stored: a gap is
    filled with line breaks, so clause numbers still start their lines."""
    pieces: list[str] = []
    end = 0
    for chunk in sorted(chunks, key=lambda c: (c.char_start, c.number)):
        if chunk.char_end <= end:
            continue
        if chunk.char_start > end:
            pieces.append("\n" * (chunk.char_start - end))
            end = chunk.char_start
        pieces.append(chunk.text[end - chunk.char_start :])
        end = chunk.char_end
    return "".join(pieces)


class Pages:
    """The page of a character offset: from the stored page offsets, or (documents parsed
    before they were kept) from the chunks' page spans."""

    def __init__(self, chunks: Sequence[Chunk], page_starts: Sequence[int] | None) -> None:
        self.starts = list(page_starts or [])
        ordered = sorted(chunks, key=lambda c: (c.char_start, c.number))
        self._chunk_starts = [c.char_start for c in ordered]
        self._chunks = ordered

    def at(self, offset: int) -> int:
        if self.starts:
            return max(1, bisect_right(self.starts, offset))
        index = bisect_right(self._chunk_starts, offset) - 1
        if index < 0:
            return 1
        chunk = self._chunks[index]
        return chunk.page_end if offset >= chunk.char_end else chunk.page_start


def _version(document: Document) -> tuple[str, str, int | None]:
    return (document.id, document.sha256, document.chunks_total)


def _clause_out(clause: Clause | None, pages: Pages) -> ClauseOut | None:
    if clause is None:
        return None
    return ClauseOut(
        number=clause.number,
        heading=clause.heading,
        text=clause.text,
        page=pages.at(clause.char_start),
        page_end=pages.at(max(clause.char_start, clause.char_end - 1)),
        char_start=clause.char_start,
        char_end=clause.char_end,
    )


def _aligned(change: ClauseChange, old: Pages, new: Pages, kind: DocumentKind) -> AlignedClause:
    texts = [c.text for c in (change.old, change.new) if c is not None]
    return AlignedClause(
        kind=change.kind,
        similarity=round(change.similarity, 4),
        renumbered=change.renumbered,
        old=_clause_out(change.old, old),
        new=_clause_out(change.new, new),
        worded=worded_categories(texts, kind),
    )


def worded_categories(texts: Sequence[str], kind: DocumentKind) -> list[str]:
    """The risk categories of `kind` whose names or typical phrases (the lexicon's, English
    and Chinese) occur in any of `texts`, in taxonomy order."""
    plain = [normalise_text(t) for t in texts]
    return [
        category.id
        for category in categories(kind)
        if any(p in t for p in _phrases(category.id) for t in plain)
    ]


@lru_cache(maxsize=128)
def _phrases(category_id: str) -> tuple[str, ...]:
    terms = lookup(category_id)
    if terms is None:
        return ()
    wanted = (*terms.names, *terms.phrases_en, *terms.phrases_zh)
    return tuple(p for p in dict.fromkeys(normalise_text(t) for t in wanted) if p)


def _inside(findings: Sequence[Finding], clause: ClauseOut | None) -> list[Finding]:
    if clause is None:
        return []
    return [
        f
        for f in findings
        if f.char_start is not None and clause.char_start <= f.char_start < clause.char_end
    ]


def _with_findings(
    aligned: AlignedClause, before: list[Finding] | None, after: list[Finding] | None
) -> ClauseChangeOut:
    old = _inside(before or [], aligned.old)
    new = _inside(after or [], aligned.new)
    found = {f.category for f in (*old, *new)}
    order = {c: i for i, c in enumerate(aligned.worded)}
    named = [*aligned.worded, *sorted(found - set(order))]
    return ClauseChangeOut(
        kind=aligned.kind,
        similarity=aligned.similarity,
        renumbered=aligned.renumbered,
        old=aligned.old,
        new=aligned.new,
        categories=named,
        findings=FindingsDiff(
            before=old,
            after=new,
            change="not_analysed" if before is None or after is None else _change(old, new),
        ),
    )


def _change(before: Sequence[Finding], after: Sequence[Finding]) -> FindingsChange:
    if not before and not after:
        return "same"
    if not before:
        return "added"
    if not after:
        return "removed"

    def signature(findings: Sequence[Finding]) -> set[tuple[str, str, str]]:
        return {(f.category, f.severity, " ".join(f.quote.split())) for f in findings}

    return "same" if signature(before) == signature(after) else "changed"


def _counts(changes: Sequence[ClauseChangeOut]) -> DiffCounts:
    counts = DiffCounts()
    for change in changes:
        setattr(counts, change.kind, getattr(counts, change.kind) + 1)
        counts.renumbered += change.renumbered
    return counts
