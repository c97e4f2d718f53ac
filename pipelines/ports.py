"""Small interfaces the domain needs from the outside world. Adapters live in services/adapters."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from pydantic import BaseModel

from pipelines.models import (
    ChatMessage,
    Chunk,
    Completion,
    Document,
    DocumentStatus,
    IndexedChunk,
    LlmUsage,
    ParsedDocument,
    ScoredChunk,
    SparseVector,
)

ModelT = TypeVar("ModelT", bound=BaseModel)

PageProgress = Callable[[int, int], None]
"""Called as on_page(pages_done, pages_total) while a document is parsed."""


class Progress(Protocol):
    """Told where a long job stands: `done` of `total` steps finished, `step` the one now
    running in words ("summarising part 2/4"). Pipelines call it before each model request
    and once more with done == total at the end; `total` may grow as work is split."""

    def __call__(self, done: int, total: int, step: str) -> None: ...


class PdfParser(Protocol):
    def parse(
        self, data: bytes, *, password: str | None = None, on_page: PageProgress | None = None
    ) -> ParsedDocument:
        """Parse PDF bytes into pages in reading order.

        Raises a `pipelines.errors.InvalidDocument` subclass for input that cannot be parsed.
        """
        ...


class TokenCounter(Protocol):
    def count(self, text: str) -> int:
        """Number of Qwen3 tokens in `text`."""
        ...


class Embedder(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalised vector per text, in order."""
        ...

    def embed_query(self, text: str) -> list[float]: ...


class VectorIndex(Protocol):
    """Dense + sparse vectors of chunks, filtered by tenant and document."""

    def upsert(self, items: Sequence[IndexedChunk]) -> None:
        """Insert or replace; point ids derive from document id and chunk number."""
        ...

    def search(
        self,
        *,
        tenant: str,
        dense: Sequence[float],
        sparse: SparseVector,
        limit: int,
        document_ids: Sequence[str] | None = None,
    ) -> list[ScoredChunk]:
        """Hybrid search: dense and sparse candidates fused by reciprocal rank."""
        ...

    def delete_document(self, tenant: str, document_id: str) -> None: ...

    def count(self, *, tenant: str | None = None, document_id: str | None = None) -> int: ...

    def close(self) -> None: ...


class Reranker(Protocol):
    """Second-stage relevance: scores candidate passages against a query.

    Adapters: a cross-encoder behind an HTTP rerank API (production) or the lexical and
    structural scorer of `pipelines.rerank` (embedded default). Raises
    `pipelines.errors.BackendUnavailable` when a remote reranker cannot be reached.
    """

    @property
    def name(self) -> str: ...

    @property
    def prior_weight(self) -> float:
        """How much the first stage's rank still counts beside these scores (their scale
        differs by reranker): the best candidate gets + prior_weight, the last + 0."""
        ...

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """One relevance score per passage, in order; higher is more relevant."""
        ...


class Store(Protocol):
    """Metadata store: documents and their parsed chunks. The source of truth for progress."""

    def add_document(self, document: Document, password: str | None = None) -> Document: ...

    def get_document(self, tenant: str, document_id: str) -> Document: ...

    def get_by_id(self, document_id: str) -> Document:
        """For workers, which act on a document id whatever its tenant."""
        ...

    def find_by_sha256(self, tenant: str, sha256: str) -> Document | None: ...

    def list_documents(
        self, tenant: str, status: DocumentStatus | None = None
    ) -> list[Document]: ...

    def update_document(self, document_id: str, **fields: object) -> None: ...

    def transition(
        self,
        document_id: str,
        from_statuses: Sequence[DocumentStatus],
        to_status: DocumentStatus,
        **fields: object,
    ) -> bool:
        """Atomically move a document to `to_status` if it is in one of `from_statuses`."""
        ...

    def delete_document(self, document_id: str) -> None: ...

    def unfinished_documents(self, idle_since: datetime | None = None) -> list[Document]: ...

    def password_for(self, document_id: str) -> str | None: ...

    def save_chunks(
        self, document_id: str, chunks: Sequence[Chunk], page_starts: Sequence[int] = ()
    ) -> None: ...

    def load_chunks(self, document_id: str) -> list[Chunk]: ...


class BlobStore(Protocol):
    """Uploaded files, addressed by document id. File names are never used as paths."""

    def put(self, key: str, data: bytes) -> None:
        """Store atomically: a reader never sees a half-written file."""
        ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...


class ChunkSource(Protocol):
    """Chunks of a document by number, for neighbouring-chunk expansion."""

    def get_chunks(self, document_id: str, numbers: Sequence[int]) -> list[Chunk]:
        """The document's chunks with these numbers, ordered by number; missing ones skipped."""
        ...


class ChatModel(Protocol):
    """A chat LLM (Qwen3 on vLLM in production, llama-server locally).

    Thinking is off unless a call asks for it; reasoning text never comes out (no
    `<think>` block, no reasoning field). `cache_salt` keeps one tenant's prompt prefixes
    out of another's prefix cache. Raises `pipelines.errors.LlmUnavailable` when no server
    answers after bounded retries, `LlmRequestRejected` when it refuses the request.
    """

    @property
    def name(self) -> str:
        """The served model's name, part of every cache key of its results."""
        ...

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        thinking: bool = False,
        max_tokens: int | None = None,
        cache_salt: str | None = None,
    ) -> Completion:
        """One reply and its token usage (`finish_reason` "length" when cut off)."""
        ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        thinking: bool = False,
        max_tokens: int | None = None,
        cache_salt: str | None = None,
    ) -> Iterator[str]:
        """Text deltas of one reply as they arrive. Close the iterator when stopping early."""
        ...

    def structured(
        self,
        messages: Sequence[ChatMessage],
        schema: type[ModelT],
        *,
        thinking: bool = False,
        max_tokens: int | None = None,
        cache_salt: str | None = None,
    ) -> ModelT:
        """A reply validated against `schema`, constrained by its JSON schema; one repair
        retry with the validation error, then `pipelines.errors.LlmOutputInvalid`."""
        ...

    def usage(self) -> LlmUsage:
        """Totals over every request so far, prefix-cache hits included when reported."""
        ...
