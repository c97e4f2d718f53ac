"""Metadata store on SQLAlchemy: SQLite in the embedded default, PostgreSQL in production."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    true,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from pipelines.errors import BackendUnavailable, Duplicate, NotFound
from pipelines.models import Chunk, Document, DocumentStatus
from pipelines.portfolio import DocumentFacts, DocumentFilter
from services.adapters.schema import chunks as chunks  # the store's tables, re-exported
from services.adapters.schema import document_meta as document_meta
from services.adapters.schema import documents as documents
from services.adapters.schema import erasures as erasures
from services.adapters.schema import page_layouts as page_layouts
from services.adapters.schema import prepare

_DESCRIBED = select(documents, document_meta.c.kind, document_meta.c.metadata).select_from(
    documents.outerjoin(document_meta, document_meta.c.document_id == documents.c.id)
)

_CHUNKS_BY_NUMBER = (
    select(chunks)
    .where(
        chunks.c.document_id == bindparam("document_id"),
        chunks.c.number.in_(bindparam("numbers", expanding=True)),
    )
    .order_by(chunks.c.number)
)

_DOCUMENT_FIELDS = set(Document.model_fields)
_UPDATABLE = _DOCUMENT_FIELDS - {"id", "tenant", "filename", "sha256", "size_bytes"} | {"password"}


def _now() -> datetime:
    return datetime.now(UTC)


def _enable_sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA secure_delete=ON")  # a deleted document's text is overwritten
    cursor.close()


def document_alive(conn: Connection, document_id: str) -> bool:
    """Whether the document's row exists, locking it until `conn`'s transaction ends.

    Every write of data derived from a document (chunks, page offsets, kind, the page
    ledger, a report's entries) checks this in its own transaction: delete removes the row
    first (`services.adapters.erasure`), so a task still running on a deleted document
    writes nothing, and one that wrote before has its rows erased with it. A no-op UPDATE
    takes the row lock on PostgreSQL and the write lock on SQLite."""
    result = conn.execute(
        update(documents)
        .where(documents.c.id == document_id)
        .values(updated_at=documents.c.updated_at)
    )
    return bool(result.rowcount)


def documents_alive(conn: Connection, document_ids: Sequence[str]) -> set[str]:
    """`document_alive` for many: those whose row exists, locked until the transaction ends."""
    ids = list(dict.fromkeys(document_ids))
    found: set[str] = set()
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        conn.execute(
            update(documents)
            .where(documents.c.id.in_(part))
            .values(updated_at=documents.c.updated_at)
        )
        found.update(
            str(row[0])
            for row in conn.execute(select(documents.c.id).where(documents.c.id.in_(part))).all()
        )
    return found


@contextmanager
def transaction(engine: Engine, what: str) -> Iterator[Connection]:
    """A transaction on `engine`, for every table on the store's database; a database that
    cannot be reached raises `BackendUnavailable` naming `what`."""
    try:
        with engine.begin() as conn:
            yield conn
    except OperationalError as exc:
        raise BackendUnavailable(f"{what} unavailable: {exc.orig}") from exc


class SqlStore:
    """Documents and their parsed chunks; the source of truth for status and progress."""

    def __init__(self, url: str, *, upgrade: bool | None = True) -> None:
        """`upgrade`: True migrates the database to this release's schema (embedded
        deployment, tests), False checks it is there (production: `docsight db upgrade`
        migrates), None leaves it alone (`services.adapters.schema.prepare`)."""
        self.url = url
        is_sqlite = url.startswith("sqlite")
        # JSON as written (no \u escapes): SQLite's JSON paths match keys by their raw text.
        kwargs: dict[str, Any] = {
            "pool_pre_ping": True,
            "json_serializer": partial(json.dumps, ensure_ascii=False),
        }
        if is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine: Engine = create_engine(url, **kwargs)
        if is_sqlite:
            event.listen(self.engine, "connect", _enable_sqlite_wal)
        if upgrade is not None:
            try:
                prepare(self.engine, upgrade=upgrade)
            except OperationalError as exc:
                raise BackendUnavailable(f"metadata store unavailable: {exc.orig}") from exc

    def _begin(self) -> AbstractContextManager[Connection]:
        return transaction(self.engine, "metadata store")

    def ping(self) -> None:
        with self._begin() as conn:
            conn.execute(text("SELECT 1"))

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

    def save_chunks(
        self, document_id: str, items: Sequence[Chunk], page_starts: Sequence[int] = ()
    ) -> None:
        """Replace the document's chunks and page offsets (idempotent); nothing is written
        for a document deleted meanwhile."""
        rows = [
            chunk.model_dump(exclude={"document_id", "context"}) | {"document_id": document_id}
            for chunk in items
        ]
        with self._begin() as conn:
            if not document_alive(conn, document_id):
                return
            conn.execute(delete(chunks).where(chunks.c.document_id == document_id))
            conn.execute(delete(page_layouts).where(page_layouts.c.document_id == document_id))
            if rows:
                conn.execute(insert(chunks), rows)
            if page_starts:
                conn.execute(
                    insert(page_layouts),
                    [{"document_id": document_id, "page_starts": list(page_starts)}],
                )

    def load_page_starts(self, document_id: str) -> list[int] | None:
        """Where each page begins in the document's text (None for documents parsed before
        page offsets were kept: pages then come from the chunks' page spans)."""
        with self._begin() as conn:
            value = conn.execute(
                select(page_layouts.c.page_starts).where(page_layouts.c.document_id == document_id)
            ).scalar_one_or_none()
        return None if value is None else [int(v) for v in value]

    def load_chunks(self, document_id: str) -> list[Chunk]:
        with self._begin() as conn:
            rows = conn.execute(
                select(chunks).where(chunks.c.document_id == document_id).order_by(chunks.c.number)
            ).all()
        return [Chunk.model_validate(dict(row._mapping)) for row in rows]

    def get_chunks(self, document_id: str, numbers: Sequence[int]) -> list[Chunk]:
        """The document's chunks with these numbers, ordered by number (one SELECT ... IN).

        On the per-question path (neighbours of each hit): a plain read connection (no
        transaction to commit) and one prepared statement, ~0.1 ms a call on SQLite."""
        wanted = sorted(set(numbers))
        if not wanted:
            return []
        try:
            with self.engine.connect() as conn:
                rows = (
                    conn.execute(_CHUNKS_BY_NUMBER, {"document_id": document_id, "numbers": wanted})
                    .mappings()
                    .all()
                )
        except OperationalError as exc:
            raise BackendUnavailable(f"metadata store unavailable: {exc.orig}") from exc
        return [Chunk.model_validate(row) for row in rows]

    def close(self) -> None:
        self.engine.dispose()


def _document(row: Any) -> Document:
    fields = {k: row[k] for k in _DOCUMENT_FIELDS}
    return Document.model_validate(fields | {"warnings": fields["warnings"] or []})


def _facts(row: Any) -> DocumentFacts:
    return DocumentFacts(
        kind=row["kind"], metadata=row["metadata"] or {}, created_at=row["created_at"]
    )
