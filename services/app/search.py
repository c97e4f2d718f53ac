"""Portfolio search: passages of a tenant's documents, ranked by passage or by document.

"Which contracts have a change of control clause?" The filters (document ids, kind, upload
time, user metadata) resolve to the tenant's matching ready documents in one store query;
`search_passages` then ranks passages within them, and each hit is described with its
document's file name and kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipelines.errors import NotFound
from pipelines.models import Document, ScoredChunk
from pipelines.passages import search_passages
from pipelines.portfolio import DocumentFacts, DocumentFilter, unique_ids
from services.app.ports import Embedder, Reranker, SearchStore, VectorIndex

GroupBy = Literal["chunk", "document"]
UNITS_PER_DOCUMENT = 10
"""A search by document reranks at least this many candidate units per document asked
for: a document's units crowd the first candidates, and a document with none among them
cannot be ranked."""


@dataclass(frozen=True)
class Hit:
    """One passage (the matched clause, with pages and character offsets) of a document."""

    passage: ScoredChunk
    document: Document
    facts: DocumentFacts


def search(
    query: str,
    *,
    tenant: str,
    where: DocumentFilter,
    store: SearchStore,
    embedder: Embedder,
    index: VectorIndex,
    reranker: Reranker | None = None,
    limit: int = 10,
    group_by: GroupBy = "chunk",
    candidates: int = 50,
) -> list[Hit]:
    """The best `limit` passages (group_by "chunk") or the best `limit` documents, each with
    its best passage (group_by "document"), among the documents `where` selects.

    Raises `NotFound` for a document id the tenant does not have. Filters that match no
    document answer no hits (never a search over everything)."""
    document_ids = documents_to_search(tenant, where, store)
    if document_ids is not None and not document_ids:
        return []
    passages = search_passages(
        query,
        tenant=tenant,
        embedder=embedder,
        index=index,
        chunks=store,
        reranker=reranker,
        limit=limit,
        document_ids=document_ids,
        candidates=candidates_for(group_by, limit, candidates),
        per_document=1 if group_by == "document" else None,
    )
    hit_ids = unique_ids([p.chunk.document_id for p in passages])
    described = {
        doc.id: (doc, facts)
        for doc, facts in store.describe_documents(tenant, document_ids=hit_ids)
    }
    return [
        Hit(p, *described[p.chunk.document_id])
        for p in passages
        if p.chunk.document_id in described
    ]  # deleted meanwhile: gone


def candidates_for(group_by: GroupBy, limit: int, candidates: int) -> int:
    """The first-stage units to rerank: `candidates` (reranker.candidates), and for a
    search by document at least `UNITS_PER_DOCUMENT` per document asked for."""
    return max(candidates, limit * UNITS_PER_DOCUMENT) if group_by == "document" else candidates


def documents_to_search(tenant: str, where: DocumentFilter, store: SearchStore) -> list[str] | None:
    """The ids of the tenant's ready documents that `where` selects (given ids keep their
    order), or None when it selects every document (the search then needs no filter)."""
    if not where.restricts:
        return None
    matched = store.matching_documents(tenant, where)
    if where.document_ids is None:
        return sorted(document_id for document_id, ok in matched.items() if ok)
    requested = unique_ids(where.document_ids)
    unknown = [document_id for document_id in requested if document_id not in matched]
    if unknown:
        raise NotFound(f"no document {unknown[0]}")
    return [document_id for document_id in requested if matched[document_id]]
