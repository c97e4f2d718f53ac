"""Steps of a job kept across its attempts: a retried job resumes, it does not start over.

`StepCachedModel` wraps the `ChatModel` a job's pipeline calls. Every reply of `complete`
and `structured` is kept in the analysis cache (kind "steps", under the document, so it
goes with it) keyed by a digest of the whole request: the model, the messages, the schema,
the options and a `scope`. When an attempt fails halfway (the LLM timed out or went away,
the worker was killed), the next attempt sends the same requests for the steps done before
and gets their replies at once; only the step that failed and those after it reach the
model. Streams are not kept (answers are cached whole by the service).

`scope` is "" for ordinary jobs, so a new job on the same document also reuses what a
failed one finished; a refresh passes its job id, so it recomputes every step once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence

from pipelines.errors import BackendUnavailable
from pipelines.llm_text import ModelT
from pipelines.models import ChatMessage, Completion, LlmUsage
from pipelines.ports import ChatModel
from services.app.cache import AnalysisCache

log = logging.getLogger(__name__)
KIND = "steps"


class StepCachedModel:
    """`pipelines.ports.ChatModel` answering requests made before from the cache."""

    def __init__(
        self,
        model: ChatModel,
        cache: AnalysisCache,
        *,
        tenant: str,
        document_id: str,
        scope: str = "",
    ) -> None:
        self.model, self.cache = model, cache
        self.tenant, self.document_id, self.scope = tenant, document_id, scope
        self.hits = 0
        """Requests answered from the cache by this wrapper."""

    @property
    def name(self) -> str:
        return self.model.name

    def usage(self) -> LlmUsage:
        return self.model.usage()

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        thinking: bool = False,
        max_tokens: int | None = None,
        cache_salt: str | None = None,
    ) -> Completion:
        key = self._key("complete", messages, thinking, max_tokens, cache_salt)
        kept = self._get(key)
        if kept is not None:
            return Completion.model_validate_json(kept)
        reply = self.model.complete(
            messages, thinking=thinking, max_tokens=max_tokens, cache_salt=cache_salt
        )
        if reply.finish_reason != "length":  # a cut-off reply is not worth keeping
            self._put(key, reply.model_dump_json())
        return reply

    def structured(
        self,
        messages: Sequence[ChatMessage],
        schema: type[ModelT],
        *,
        thinking: bool = False,
        max_tokens: int | None = None,
        cache_salt: str | None = None,
    ) -> ModelT:
        key = self._key(
            "structured", messages, thinking, max_tokens, cache_salt, schema.model_json_schema()
        )
        kept = self._get(key)
        if kept is not None:
            return schema.model_validate_json(kept)
        reply = self.model.structured(
            messages, schema, thinking=thinking, max_tokens=max_tokens, cache_salt=cache_salt
        )
        self._put(key, reply.model_dump_json())
        return reply

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        thinking: bool = False,
        max_tokens: int | None = None,
        cache_salt: str | None = None,
    ) -> Iterator[str]:
        return self.model.stream(
            messages, thinking=thinking, max_tokens=max_tokens, cache_salt=cache_salt
        )

    def _key(self, call: str, messages: Sequence[ChatMessage], *options: object) -> str:
        request = [
            KIND,
            call,
            self.scope,
            self.model.name,
            [m.model_dump() for m in messages],
            *options,
        ]
        text = json.dumps(request, ensure_ascii=False, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def _get(self, key: str) -> str | None:
        try:
            kept = self.cache.get(key)
        except BackendUnavailable as exc:  # the step is recomputed, the job goes on
            log.warning("step cache unavailable: %s", exc)
            return None
        self.hits += kept is not None
        return kept

    def _put(self, key: str, value: str) -> None:
        try:
            self.cache.put(key, value, kind=KIND, tenant=self.tenant, document_id=self.document_id)
        except BackendUnavailable as exc:
            log.warning("step not kept (cache unavailable): %s", exc)
