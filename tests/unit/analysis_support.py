"""Helpers of the analysis and job service unit tests: a scripted responder, an LLM
handle, `ready` (upload, then drain the inline queue). Their fixtures are in conftest.py."""

from __future__ import annotations

import json
import re

from pipelines.context import Budget
from pipelines.errors import LlmUnavailable
from pipelines.models import ChatMessage
from pipelines.summary_models import ContractSummary
from services.adapters.llm_fake import FakeChatModel
from services.app.documents import DocumentService
from tests.unit.test_documents_service import PDF, InlineQueue

MARKER = re.compile(r"^(\[doc:[^\]\n]+\])$", re.MULTILINE)
BUDGET = Budget(max_model_len=20_000, max_output_tokens=500, max_prompt_tokens=15_000)


def responder(messages: list[ChatMessage]) -> str:
    """Answers cite the first passage shown; summaries and risks get minimal valid JSON."""
    prompt = "\n".join(m.content for m in messages)
    if "Question:" in prompt:
        found = MARKER.search(prompt)
        return f"Damages apply {found.group(1)}." if found else "Not found in the documents."
    if "risk" in messages[0].content.casefold():
        return json.dumps({"findings": []})
    value = {"text": "term", "pages": [1]}
    return json.dumps({name: value for name in ContractSummary.model_fields})


class Handle:
    def __init__(self, model: FakeChatModel | None) -> None:
        self.model = model
        self.budget = BUDGET

    def require(self) -> FakeChatModel:
        if self.model is None:
            raise LlmUnavailable("no LLM server reachable")
        return self.model


def ready(docs: DocumentService, queue: InlineQueue, body: bytes, tenant: str = "t1") -> str:
    document_id = docs.upload(tenant, "contract.pdf", PDF + body).document.id
    queue.drain()
    return document_id


def answers_asked(llm: FakeChatModel) -> int:
    return sum("Question:" in c.messages[-1].content for c in llm.calls)
