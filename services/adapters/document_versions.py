"""Which document is the new version of which (`document_versions`), on the store's database.

One row per document uploaded as the new version of another: (document, tenant, previous).
A link is written only while both documents' rows exist (`store_engine.document_alive`,
in the write's transaction); deleting a document erases its row and the rows of the
versions that named it as previous (`services.adapters.erasure`), so a later version then
has no previous version.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.engine import Connection, Engine

from pipelines.errors import Duplicate, NotFound
from services.adapters.schema import document_versions as document_versions  # re-exported
from services.adapters.schema import documents
from services.adapters.store_engine import documents_alive, transaction

MAX_CHAIN = 1000  # a guard against a cycle written by hand into the table


def forget_in(conn: Connection, document_id: str) -> None:
    """In `conn`'s transaction: the document's own link and the links naming it previous."""
    conn.execute(
        delete(document_versions).where(
            or_(
                document_versions.c.document_id == document_id,
                document_versions.c.previous_id == document_id,
            )
        )
    )


class SqlDocumentVersions:
    """Rows of `document_versions` on `engine` (migrated by `schema.prepare`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _begin(self) -> AbstractContextManager[Connection]:
        return transaction(self.engine, "metadata store")

    def link(self, tenant: str, document_id: str, previous_id: str) -> None:
        """Record `document_id` as the new version of `previous_id` (both the tenant's),
        replacing any previous link of `document_id`. `NotFound` when either is gone;
        `Duplicate` when the link would make a cycle (the document is an earlier version
        of `previous_id`, or is `previous_id`)."""
        if document_id == previous_id:
            raise Duplicate(f"document {document_id} cannot be its own previous version")
        with self._begin() as conn:
            alive = documents_alive(conn, [document_id, previous_id])
            owned = {
                str(row[0])
                for row in conn.execute(
                    select(documents.c.id).where(
                        documents.c.id.in_([document_id, previous_id]),
                        documents.c.tenant == tenant,
                    )
                ).all()
            }
            for wanted in (previous_id, document_id):
                if wanted not in alive or wanted not in owned:
                    raise NotFound(f"no document {wanted}")
            if document_id in _ancestors(conn, tenant, previous_id):
                raise Duplicate(
                    f"document {document_id} is an earlier version of {previous_id}: "
                    "it cannot also be its next version"
                )
            conn.execute(
                delete(document_versions).where(document_versions.c.document_id == document_id)
            )
            conn.execute(
                insert(document_versions).values(
                    document_id=document_id,
                    tenant=tenant,
                    previous_id=previous_id,
                    created_at=datetime.now(UTC),
                )
            )

    def previous_of(self, tenant: str, document_id: str) -> str | None:
        """The id of the document's previous version, or None."""
        with self._begin() as conn:
            return _previous(conn, tenant, document_id)

    def chain(self, tenant: str, document_id: str) -> list[str]:
        """The versions the document belongs to, oldest first: its earlier versions, itself,
        then its later ones (where two documents name one previous version, the later
        uploaded is followed)."""
        with self._begin() as conn:
            earlier = _ancestors(conn, tenant, document_id)
            later: list[str] = []
            seen = {document_id, *earlier}
            current = document_id
            while len(later) < MAX_CHAIN:
                row = conn.execute(
                    select(document_versions.c.document_id)
                    .where(
                        document_versions.c.tenant == tenant,
                        document_versions.c.previous_id == current,
                    )
                    .order_by(
                        document_versions.c.created_at.desc(), document_versions.c.document_id
                    )
                ).first()
                if row is None or str(row[0]) in seen:
                    break
                current = str(row[0])
                seen.add(current)
                later.append(current)
        return [*reversed(earlier), document_id, *later]


def _previous(conn: Connection, tenant: str, document_id: str) -> str | None:
    value = conn.execute(
        select(document_versions.c.previous_id).where(
            document_versions.c.document_id == document_id,
            document_versions.c.tenant == tenant,
        )
    ).scalar_one_or_none()
    return None if value is None else str(value)


def _ancestors(conn: Connection, tenant: str, document_id: str) -> list[str]:
    """The document's earlier versions, newest first."""
    found: list[str] = []
    current: str | None = document_id
    while len(found) < MAX_CHAIN:
        current = _previous(conn, tenant, current) if current else None
        if current is None or current == document_id or current in found:
            break
        found.append(current)
    return found
