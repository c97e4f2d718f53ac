"""The LLM the service uses: a configured OpenAI-compatible server, or the embedded one.

When no server is reachable the service keeps ingestion and search working and says why
on /ready and in every analysis request (`LlmUnavailable`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pipelines.context import Budget
from pipelines.errors import LlmUnavailable
from services.adapters.llm import LlmObserver, OpenAiChatModel
from services.adapters.llm_speed import Throughput
from services.runtime.local_models.llm_server import LocalLlmServer
from services.settings import LlmSettings

log = logging.getLogger(__name__)


@dataclass
class LlmHandle:
    """The chat model (None when unavailable, with `problem` saying why) and its budget."""

    model: OpenAiChatModel | None
    budget: Budget
    problem: str | None = None
    server: LocalLlmServer | None = field(default=None, repr=False)

    def require(self) -> OpenAiChatModel:
        if self.model is None:
            raise LlmUnavailable(self.problem or "no LLM configured")
        return self.model

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def budget_for(settings: LlmSettings, *, local: bool) -> Budget:
    """Production: the configured window; the embedded model: its small window."""
    if not local:
        return Budget(
            max_model_len=settings.max_model_len,
            max_output_tokens=settings.max_output_tokens,
            max_prompt_tokens=settings.context_budget_tokens,
        )
    output = min(settings.max_output_tokens, settings.local_ctx // 4)
    return Budget(
        max_model_len=settings.local_ctx,
        max_output_tokens=output,
        max_prompt_tokens=settings.local_ctx - output,
    )


def open_llm(settings: LlmSettings, observer: LlmObserver | None = None) -> LlmHandle:
    """Connect to `base_url`, or start the embedded llama-server on loopback; `observer` is
    told each request's model, seconds and completion (the deployment's metrics)."""
    local = settings.base_url is None
    budget = budget_for(settings, local=local)
    server = None
    try:
        if local:
            server = LocalLlmServer.from_settings(settings)
            base_url, name = server.start(), server.model_name
        else:
            base_url, name = str(settings.base_url), settings.model
    except Exception as exc:  # noqa: BLE001 - reported on /ready; ingestion goes on
        log.warning("no embedded LLM: %s", exc)
        return LlmHandle(None, budget, problem=f"the embedded LLM server did not start: {exc}")
    api_key = settings.api_key.get_secret_value() if settings.api_key else "not-needed"
    model = OpenAiChatModel(
        base_url,
        name,
        api_key=api_key,
        timeout_s=settings.timeout_s,
        timeout_min_s=settings.timeout_min_s,
        timeout_factor=settings.timeout_factor,
        speed=Throughput(
            settings.prompt_tps or (50.0 if local else 1000.0),
            settings.output_tps or (10.0 if local else 20.0),
        ),
        max_retries=settings.max_retries,
        max_concurrency=settings.max_concurrency if not local else settings.local_slots(),
        max_tokens=budget.max_output_tokens,
        observer=observer,
    )
    return LlmHandle(model, budget, server=server)
