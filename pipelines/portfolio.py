"""Portfolio search values: what is known of a document besides its text (its kind, the
user's metadata, its upload time) and the filters a search applies to them.

A document's kind is computed from its chunks when it is indexed (`risks.detect_kind`);
its metadata is a flat object of strings given at upload, bounded so that one tenant's
rows stay small and every key can be matched exactly by the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, StringConstraints

from pipelines.risk_taxonomy import DocumentKind

MAX_METADATA_KEYS = 32
MAX_KEY_CHARS = 64
MAX_VALUE_CHARS = 256
MAX_DOCUMENT_IDS = 1000

MetadataKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_KEY_CHARS, pattern=r"^[\w][\w .:/@+-]*$"),
]
"""Letters, digits and `_ .:/@+-` (no quotes or control characters: a key is also a JSON
path in the store's query), starting with a letter, digit or underscore."""

MetadataValue = Annotated[str, StringConstraints(max_length=MAX_VALUE_CHARS)]


def _printable(value: dict[str, str]) -> dict[str, str]:
    for key, text in value.items():
        if not all(ch.isprintable() for ch in text):
            raise ValueError(f"metadata value of {key!r} has control characters")
    return value


Metadata = Annotated[
    dict[MetadataKey, MetadataValue],
    Field(max_length=MAX_METADATA_KEYS),
    AfterValidator(_printable),
]
"""User metadata of a document: at most 32 keys of <= 64 characters, values <= 256."""


def _utc(value: datetime | None) -> datetime | None:
    """A store that drops the offset (SQLite keeps UTC without it) gets it back here."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class DocumentFacts(BaseModel):
    """What portfolio search knows of a document besides its text. `kind` is None until
    the document is indexed."""

    kind: DocumentKind | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    created_at: Annotated[datetime | None, AfterValidator(_utc)] = None
    previous_id: str | None = None
    """The document it is the new version of (uploaded as such), if any."""


class DocumentFilter(BaseModel):
    """Which of a tenant's ready documents a search covers; every given field must match.

    `uploaded_after` is inclusive, `uploaded_before` exclusive. `document_ids`, when given,
    restricts to those documents (an empty list matches none)."""

    document_ids: Sequence[str] | None = None
    kind: DocumentKind | None = None
    uploaded_after: AwareDatetime | None = None
    uploaded_before: AwareDatetime | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @property
    def restricts(self) -> bool:
        """True when the search covers less than every document of the tenant."""
        return (
            self.document_ids is not None
            or self.kind is not None
            or self.uploaded_after is not None
            or self.uploaded_before is not None
            or bool(self.metadata)
        )


def unique_ids(ids: Sequence[str]) -> list[str]:
    """`ids` without repeats, in first-seen order."""
    return list(dict.fromkeys(ids))
