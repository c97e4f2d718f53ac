"""Documents' kind and user metadata, and the documents a filter selects, in the metadata
store (part of `services.adapters.store.SqlStore`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

from sqlalchemy import and_, case, insert, select, true, update
from sqlalchemy.exc import IntegrityError

from pipelines.models import DocumentStatus
from pipelines.portfolio import DocumentFilter
from services.adapters.schema import document_meta, documents
from services.adapters.store_engine import StoreEngine, document_alive


class DocumentMetaRows(StoreEngine):
    """The kind (computed when a document is indexed) and user metadata of documents."""

    def set_kind(self, document_id: str, kind: str) -> None:
        """Record the document's kind (computed when it is indexed); keeps its metadata."""
        self._upsert_meta(document_id, {"kind": kind}, {"metadata": {}})

    def set_metadata(self, document_id: str, values: Mapping[str, str]) -> None:
        """Replace the document's user metadata; keeps its kind."""
        self._upsert_meta(document_id, {"metadata": dict(values)}, {"kind": None})

    def _upsert_meta(
        self, document_id: str, values: dict[str, Any], defaults: dict[str, Any]
    ) -> None:
        for attempt in range(2):  # a concurrent first insert wins; then update its row
            try:
                with self._begin() as conn:
                    if not document_alive(conn, document_id):
                        return  # deleted meanwhile: nothing is written back
                    where = document_meta.c.document_id == document_id
                    if not conn.execute(
                        update(document_meta).where(where).values(**values)
                    ).rowcount:
                        conn.execute(
                            insert(document_meta).values(
                                document_id=document_id, **defaults, **values
                            )
                        )
                return
            except IntegrityError:
                if attempt:
                    raise

    def ready_without_kind(self) -> list[str]:
        """Ready documents with no kind recorded (indexed before kinds were kept)."""
        with self._begin() as conn:
            rows = conn.execute(
                select(documents.c.id)
                .select_from(
                    documents.outerjoin(
                        document_meta, document_meta.c.document_id == documents.c.id
                    )
                )
                .where(
                    documents.c.status == DocumentStatus.READY.value, document_meta.c.kind.is_(None)
                )
            ).all()
        return [str(row[0]) for row in rows]

    def matching_documents(self, tenant: str, where: DocumentFilter) -> dict[str, bool]:
        """Which of the tenant's documents `where` selects (ready, and every given field
        matching), in one query.

        With `where.document_ids`: each of those ids that the tenant has -> whether it
        matches (an id missing from the answer is unknown to the tenant). Without: the
        matching documents' ids -> True.
        """
        conditions = [documents.c.status == DocumentStatus.READY.value]
        if where.kind is not None:
            conditions.append(document_meta.c.kind == where.kind)
        if where.uploaded_after is not None:
            conditions.append(documents.c.created_at >= where.uploaded_after.astimezone(UTC))
        if where.uploaded_before is not None:
            conditions.append(documents.c.created_at < where.uploaded_before.astimezone(UTC))
        for key, value in sorted(where.metadata.items()):
            conditions.append(document_meta.c.metadata[key].as_string() == value)
        matches = and_(*conditions)
        joined = documents.outerjoin(document_meta, document_meta.c.document_id == documents.c.id)
        if where.document_ids is None:
            query = select(documents.c.id, true()).where(documents.c.tenant == tenant, matches)
        else:
            query = select(documents.c.id, case((matches, True), else_=False)).where(
                documents.c.tenant == tenant, documents.c.id.in_(list(where.document_ids))
            )
        with self._begin() as conn:
            rows = conn.execute(query.select_from(joined)).all()
        return {str(document_id): bool(matched) for document_id, matched in rows}
