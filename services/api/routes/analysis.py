"""/v1/questions: answers with citations, cached; /v1/analysis/cache: the cache's hit rates.
(Summaries and risk reports run as jobs: routes/jobs.py.)"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from pipelines.errors import DocsightError
from services.api.deps import ContainerDep, TenantDep
from services.api.schemas import AnswerOut, CitationOut, QuestionIn
from services.app.analysis import AskResult
from services.app.cache import hit_rate

router = APIRouter(prefix="/v1", tags=["analysis"])
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {},
    409: {"description": "a document is not ready"},
    422: {},
    502: {"description": "the LLM's reply was unusable"},
    503: {"description": "no LLM available (ingestion and search still work)"},
}


def answer_out(result: AskResult) -> AnswerOut:
    answer = result.answer
    return AnswerOut(
        answer=answer.text,
        found=answer.found,
        grounded=answer.grounded,
        citations=[CitationOut(**c.model_dump()) for c in answer.citations],
        evidence=answer.evidence,
        extracted=answer.extracted,
        not_found_checked=answer.not_found_checked,
        model=result.model,
        cached=result.cached,
    )


@router.post("/questions", response_model=AnswerOut, responses=ERRORS)
def ask(body: QuestionIn, container: ContainerDep, tenant: TenantDep) -> Any:
    """Answer from the caller's ready documents (or `document_ids`), citing document, pages
    and chunks, with the evidence passages and the values read without the model.
    `stream=true` gives `text/event-stream`: `delta` events (JSON strings of text), then one
    `answer` event with the whole `AnswerOut` (evidence included), or an `error` event
    (`error_code`, `detail`) when the model fails after the first delta."""
    service = container.analysis
    if not body.stream:
        return answer_out(
            service.ask(tenant, body.question, body.document_ids, thinking=body.thinking)
        )
    stream = service.stream(tenant, body.question, body.document_ids, thinking=body.thinking)
    deltas = iter(stream)
    first = next(deltas, None)  # a model that cannot be reached is an HTTP error (503) here

    def events() -> Iterator[str]:
        try:
            for delta in itertools.chain([] if first is None else [first], deltas):
                yield f"event: delta\ndata: {json.dumps(delta, ensure_ascii=False)}\n\n"
            yield f"event: answer\ndata: {answer_out(stream.result()).model_dump_json()}\n\n"
        except DocsightError as exc:  # after the 200 went out: an error event, not a cut
            error = {"error_code": exc.code, "detail": str(exc)}
            yield f"event: error\ndata: {json.dumps(error, ensure_ascii=False)}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@router.get("/analysis/cache")
def cache_stats(
    container: ContainerDep, tenant: TenantDep
) -> dict[str, dict[str, int | float | None]]:
    """The caller's cache hits, misses and `hit_rate` (null before the first lookup) per
    kind since this process started (`/metrics` has the totals of all tenants)."""
    return {
        kind: {**counts, "hit_rate": hit_rate(counts["hits"], counts["misses"])}
        for kind, counts in container.analysis.cache_stats(tenant).items()
    }
