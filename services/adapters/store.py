"""Metadata store on SQLAlchemy: SQLite in the embedded default, PostgreSQL in production.

`SqlStore` is made of parts: the database (services/adapters/store_engine.py), the documents'
rows (here), their chunks and page offsets (chunk_store.py), their kind and user metadata
(document_meta_store.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from pipelines.errors import Duplicate, NotFound
from pipelines.models import Document, DocumentStatus
from pipelines.portfolio import DocumentFacts
from services.adapters.chunk_store import ChunkRows
from services.adapters.document_meta_store import DocumentMetaRows
from services.adapters.schema import chunks as chunks  # the store's tables, re-exported
from services.adapters.schema import document_meta as document_meta
from services.adapters.schema import document_versions
from services.adapters.schema import documents as documents
from services.adapters.schema import erasures as erasures
from services.adapters.schema import page_layouts as page_layouts

_DESCRIBED = select(
    documents,
    document_meta.c.kind,
    document_meta.c.metadata,
    document_versions.c.previous_id.label("previous_id"),
).select_from(
    documents.outerjoin(document_meta, document_meta.c.document_id == documents.c.id).outerjoin(
        document_versions, document_versions.c.document_id == documents.c.id
    )
)

_DOCUMENT_FIELDS = set(Document.model_fields)
_UPDATABLE = _DOCUMENT_FIELDS - {"id", "tenant", "filename", "sha256", "size_bytes"} | {"password"}


def _now() -> datetime:
    return datetime.now(UTC)


class SqlStore(DocumentMetaRows, ChunkRows):
    """Documents and their parsed chunks; the source of truth for status and progress.

    `SqlStore(url, upgrade=...)` opens the database (`store_engine.StoreEngine`); the
    documents' rows are here, their chunks in `chunk_store`, their kind and user metadata
    in `document_meta_store`."""

    def add_document(
        self,
        document: Document,
        password: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Document:
        """Insert the row, and its user metadata (if any) in the same transaction."""
        now = _now()
        row = document.model_dump(mode="json") | {
            "password": password,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self._begin() as conn:
                conn.execute(insert(documents).values(**row))
                if metadata:
                    conn.execute(
                        insert(document_meta).values(
                            document_id=document.id, kind=None, metadata=dict(metadata)
                        )
                    )
        except IntegrityError as exc:
            raise Duplicate(f"document with sha256 {document.sha256} exists") from exc
        return document

    def get_document(self, tenant: str, document_id: str) -> Document:
        with self._begin() as conn:
            row = conn.execute(
                select(documents).where(documents.c.id == document_id, documents.c.tenant == tenant)
            ).first()
        if row is None:
            raise NotFound(f"no document {document_id}")
        return _document(row._mapping)

    def get_by_id(self, document_id: str) -> Document:
        with self._begin() as conn:
            row = conn.execute(select(documents).where(documents.c.id == document_id)).first()
        if row is None:
            raise NotFound(f"no document {document_id}")
        return _document(row._mapping)

    def find_by_sha256(self, tenant: str, sha256: str) -> Document | None:
        with self._begin() as conn:
            row = conn.execute(
                select(documents).where(documents.c.tenant == tenant, documents.c.sha256 == sha256)
            ).first()
        return None if row is None else _document(row._mapping)

    def list_documents(self, tenant: str, status: DocumentStatus | None = None) -> list[Document]:
        query = select(documents).where(documents.c.tenant == tenant)
        if status is not None:
            query = query.where(documents.c.status == status.value)
        with self._begin() as conn:
            rows = conn.execute(query.order_by(documents.c.created_at, documents.c.id)).all()
        return [_document(row._mapping) for row in rows]

    def update_document(self, document_id: str, **fields: object) -> None:
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        values = {k: (v.value if isinstance(v, DocumentStatus) else v) for k, v in fields.items()}
        with self._begin() as conn:
            conn.execute(
                update(documents)
                .where(documents.c.id == document_id)
                .values(**values, updated_at=_now())
            )

    def transition(
        self,
        document_id: str,
        from_statuses: Sequence[DocumentStatus],
        to_status: DocumentStatus,
        **fields: object,
    ) -> bool:
        """Atomically move a document to `to_status` if it is in one of `from_statuses`."""
        with self._begin() as conn:
            result = conn.execute(
                update(documents)
                .where(
                    documents.c.id == document_id,
                    documents.c.status.in_([s.value for s in from_statuses]),
                )
                .values(status=to_status.value, updated_at=_now(), **fields)
            )
        return bool(result.rowcount)

    def delete_document(self, document_id: str) -> None:
        with self._begin() as conn:
            conn.execute(delete(chunks).where(chunks.c.document_id == document_id))
            conn.execute(delete(page_layouts).where(page_layouts.c.document_id == document_id))
            conn.execute(delete(document_meta).where(document_meta.c.document_id == document_id))
            conn.execute(delete(documents).where(documents.c.id == document_id))

    def existing_ids(self, document_ids: Sequence[str]) -> set[str]:
        """Those of `document_ids` whose row exists (of any tenant)."""
        ids = list(dict.fromkeys(document_ids))
        found: set[str] = set()
        with self._begin() as conn:
            for i in range(0, len(ids), 500):
                found.update(
                    str(row[0])
                    for row in conn.execute(
                        select(documents.c.id).where(documents.c.id.in_(ids[i : i + 500]))
                    ).all()
                )
        return found

    def describe_documents(
        self,
        tenant: str,
        *,
        document_ids: Sequence[str] | None = None,
        status: DocumentStatus | None = None,
    ) -> list[tuple[Document, DocumentFacts]]:
        """The tenant's documents (those of `document_ids`, or all) with their kind,
        metadata and upload time, oldest first: one query."""
        query = _DESCRIBED.where(documents.c.tenant == tenant)
        if document_ids is not None:
            query = query.where(documents.c.id.in_(list(document_ids)))
        if status is not None:
            query = query.where(documents.c.status == status.value)
        with self._begin() as conn:
            rows = conn.execute(query.order_by(documents.c.created_at, documents.c.id)).all()
        return [(_document(row._mapping), _facts(row._mapping)) for row in rows]

    def unfinished_documents(self, idle_since: datetime | None = None) -> list[Document]:
        """Queued, parsing or indexing documents, oldest first; with `idle_since`, only
        those whose row has not changed since then (stuck)."""
        unfinished = [DocumentStatus.QUEUED, DocumentStatus.PARSING, DocumentStatus.INDEXING]
        query = select(documents).where(documents.c.status.in_([s.value for s in unfinished]))
        if idle_since is not None:
            query = query.where(documents.c.updated_at < idle_since)
        with self._begin() as conn:
            rows = conn.execute(query.order_by(documents.c.created_at)).all()
        return [_document(row._mapping) for row in rows]

    def documents_created_between(
        self, tenant: str, start: datetime, end: datetime
    ) -> list[Document]:
        """The tenant's documents created in [start, end) (aware datetimes), oldest first."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        with self._begin() as conn:
            rows = conn.execute(
                select(documents)
                .where(
                    documents.c.tenant == tenant,
                    documents.c.created_at >= start,
                    documents.c.created_at < end,
                )
                .order_by(documents.c.created_at, documents.c.id)
            ).all()
        return [_document(row._mapping) for row in rows]

    def tenants(self) -> list[str]:
        """Every tenant with at least one document."""
        with self._begin() as conn:
            rows = conn.execute(select(documents.c.tenant).distinct()).all()
        return sorted(row[0] for row in rows)

    def count_by_status(self, tenant: str | None = None) -> dict[str, int]:
        """Documents per status, of one tenant or every tenant."""
        statement = select(documents.c.status, func.count()).group_by(documents.c.status)
        if tenant is not None:
            statement = statement.where(documents.c.tenant == tenant)
        with self._begin() as conn:
            rows = conn.execute(statement).all()
        return {str(status): int(n) for status, n in rows}

    def password_for(self, document_id: str) -> str | None:
        with self._begin() as conn:
            value = conn.execute(
                select(documents.c.password).where(documents.c.id == document_id)
            ).scalar_one_or_none()
        return value


def _document(row: Any) -> Document:
    fields = {k: row[k] for k in _DOCUMENT_FIELDS}
    return Document.model_validate(fields | {"warnings": fields["warnings"] or []})


def _facts(row: Any) -> DocumentFacts:
    return DocumentFacts(
        kind=row["kind"],
        metadata=row["metadata"] or {},
        created_at=row["created_at"],
        previous_id=row["previous_id"],
    )
