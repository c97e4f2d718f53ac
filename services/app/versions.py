"""VersionService: a document uploaded as the new version of another, and a document's
chain of versions.

The upload is `DocumentService.upload` (same checks and limits), then the link
(`DocumentVersions.link`, written only while both documents exist). The same bytes as a
document already stored give that document, linked as the new version; the same bytes as
the previous version itself are refused (`Duplicate`, 409).
"""

from __future__ import annotations

from collections.abc import Mapping

from pipelines.errors import Duplicate
from pipelines.models import Document
from pipelines.portfolio import DocumentFacts
from services.app.documents import DocumentService, Upload
from services.app.ports import DocumentVersions


class VersionService:
    def __init__(self, *, documents: DocumentService, versions: DocumentVersions) -> None:
        self.documents = documents
        self.versions = versions

    def upload(
        self,
        tenant: str,
        previous_id: str,
        filename: str,
        data: bytes,
        password: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Upload:
        """Store and queue `data` as the new version of the tenant's document `previous_id`
        (any status). `NotFound` when the tenant has no such document."""
        self.documents.get(tenant, previous_id)  # NotFound, also across tenants
        upload = self.documents.upload(tenant, filename, data, password, metadata)
        if upload.document.id == previous_id:
            raise Duplicate(f"the file is the same as document {previous_id}, its previous version")
        self.versions.link(tenant, upload.document.id, previous_id)
        return Upload(*self.documents.describe(tenant, upload.document.id), upload.duplicate)

    def chain(self, tenant: str, document_id: str) -> list[tuple[Document, DocumentFacts]]:
        """The versions `document_id` belongs to, oldest first, with their facts."""
        self.documents.get(tenant, document_id)
        ids = self.versions.chain(tenant, document_id)
        found = self.documents.store.describe_documents(tenant, document_ids=ids)
        by_id = {document.id: (document, facts) for document, facts in found}
        return [by_id[i] for i in ids if i in by_id]
