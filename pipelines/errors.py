"""One exception tree for the domain. Adapters convert third-party errors into these."""

from __future__ import annotations


class DocsightError(Exception):
    """Base of every error the domain raises."""

    code = "error"


class InvalidDocument(DocsightError):
    """The uploaded bytes cannot be ingested; the reason says why. Never retried."""

    code = "invalid_document"


class NotAPdf(InvalidDocument):
    code = "not_a_pdf"


class EmptyDocument(InvalidDocument):
    code = "empty"


class NoExtractableText(EmptyDocument):
    """The PDF opens but has no text on any page and no image to read by OCR (blank, vector
    drawings only, or a damaged file read as empty pages). Never a ready empty document."""

    code = "no_text"


class CorruptPdf(InvalidDocument):
    code = "corrupt"


class EncryptedPdf(InvalidDocument):
    code = "encrypted"


class UnsupportedPdf(InvalidDocument):
    code = "unsupported"


class TooLarge(InvalidDocument):
    code = "too_large"


class ResourceLimit(InvalidDocument):
    """Parsing exceeded a time or memory bound (decompression bomb, a page that takes too long)."""

    code = "resource_limit"


class NotFound(DocsightError):
    code = "not_found"


class Duplicate(DocsightError):
    code = "duplicate"


class ModelUnavailable(DocsightError):
    """A model cannot be loaded offline (not installed, would need a hub download)."""

    code = "model_unavailable"


class EmbeddingRejected(InvalidDocument):
    """The embedding server refuses a text of the document even when cut short (malformed
    input): the document fails with this reason; never retried."""

    code = "embedding_rejected"


class BackendUnavailable(DocsightError):
    """An outside component (index, store, broker) cannot be reached. Retried by tasks."""

    code = "backend_unavailable"


class StorageFull(DocsightError):
    """The file store has no space left (ENOSPC, quota): nothing of the upload was kept."""

    code = "storage_full"


class LlmUnavailable(BackendUnavailable):
    """No LLM server answers (refused, timed out, overloaded, 5xx) after bounded retries."""

    code = "llm_unavailable"


class LlmTimeout(LlmUnavailable):
    """The LLM took longer than the request's timeout, also on retries with longer ones
    (up to the ceiling): a smaller request (fewer passages, a smaller part) may succeed.
    Same code as `LlmUnavailable`: a job that gets it waits and is retried."""


class LlmRequestRejected(DocsightError):
    """The LLM server refused the request itself (HTTP 4xx, e.g. a prompt longer than its
    context). Retrying the same request cannot help."""

    code = "llm_request_rejected"


class LlmOutputInvalid(DocsightError):
    """The LLM's reply did not validate against the expected schema, even after one repair."""

    code = "llm_output_invalid"


class PromptTooLong(DocsightError):
    """The fixed instructions and the question alone exceed the prompt budget."""

    code = "prompt_too_long"


class DocumentNotReady(DocsightError):
    """The document exists but is not (yet) ready for analysis: still processing, or failed."""

    code = "document_not_ready"


class Unauthenticated(DocsightError):
    """No API key, an unknown one or a revoked one (HTTP 401)."""

    code = "unauthenticated"


class TooManyRequests(DocsightError):
    """A limit of the caller was reached; `retry_after_s` says when to try again, if known."""

    code = "too_many_requests"

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimited(TooManyRequests):
    """An API key sent more requests per minute than allowed."""

    code = "rate_limited"


class TooManyJobs(TooManyRequests):
    """A tenant has as many analysis jobs active as allowed."""

    code = "too_many_jobs"


class PagesPerMinuteExceeded(TooManyRequests):
    """A tenant's documents used the pages-per-minute limit: uploads get 429 and queued
    documents wait (status `queued`) until the minute's pages fall under the limit."""

    code = "pages_per_minute"
