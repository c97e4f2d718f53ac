"""Keys of the analysis cache: what an answer, a summary or a risk report is cached under.

- answers by (tenant, normalised question, the version of the documents in scope, model,
  thinking): a document becoming ready or being deleted changes the version, so the next
  ask misses and is recomputed;
- summaries and risk reports by (tenant, document, its sha256 and chunk count, model).

Each key starts with its format: results cached in an older form miss and are computed anew.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Literal

from pipelines.models import Document

Kind = Literal["answers", "summaries", "risks", "comparisons"]
ANSWER_FORMAT = 2
"""Part of an answer's cache key: answers cached before they carried evidence (1) miss."""
RISKS_FORMAT = 2
"""Part of the risk cache key: 2 is retrieval-chosen candidates classified in batches
(reports cached by the whole-document extractor before are computed anew)."""
SUMMARY_FORMAT = 2
"""Part of the summary cache key: 2 is statements with located evidence (summaries cached
before, with the model's own pages, are computed anew)."""


def normalise_question(question: str) -> str:
    """Casefolded, whitespace collapsed: the form answers are cached under."""
    return " ".join(question.casefold().split())


def digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def documents_version(documents: Sequence[Document]) -> str:
    """A hash of the ids, contents and chunk counts of `documents` (order ignored)."""
    return digest(sorted((d.id, d.sha256, d.chunks_total or 0) for d in documents))


def answer_key(
    tenant: str, question: str, scope: Sequence[Document], model: str, thinking: bool
) -> str:
    """An answer's key: the question as normalised, over the documents of `scope`."""
    return digest(
        "answer",
        ANSWER_FORMAT,
        tenant,
        normalise_question(question),
        documents_version(scope),
        model,
        thinking,
    )


def document_key(kind: str, tenant: str, document: Document, model: str) -> str:
    """A per-document result's key (`kind` such as "summary-2"): the document's content
    and the model."""
    return digest(kind, tenant, document.id, document.sha256, document.chunks_total, model)
