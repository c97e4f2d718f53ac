"""Shared plumbing of the analysis benchmarks (extraction, FinanceBench evidence, prefix cache).

`--llm-url` scores a real OpenAI-compatible server (vLLM with Qwen3) with the production
budget; without it the embedded llama-server starts (`open_llm(LlmSettings())`) with its
small window. Documents go through our own stages (pypdfium2, Qwen token chunks).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import REPO_ROOT
from pipelines.context import Budget
from pipelines.models import Chunk, Document, Page, ScoredChunk
from services.runtime.llm import LlmHandle, open_llm
from services.settings import LlmSettings

TENANT = "bench"


def add_llm_flags(parser: argparse.ArgumentParser) -> None:
    """--llm-url, --llm-model, --max-model-len, --max-output-tokens, --context-budget,
    --local-ctx."""
    defaults = LlmSettings()
    parser.add_argument(
        "--llm-url",
        default=None,
        help="OpenAI-compatible base URL (e.g. http://vllm:8000/v1); "
        "absent: start the embedded llama-server",
    )
    parser.add_argument("--llm-model", default=defaults.model, help="served model name")
    parser.add_argument("--llm-api-key", default=None)
    parser.add_argument("--max-model-len", type=int, default=defaults.max_model_len)
    parser.add_argument(
        "--context-budget",
        type=int,
        default=defaults.context_budget_tokens,
        help="prompt budget (tokens) with --llm-url",
    )
    parser.add_argument(
        "--max-output-tokens",
        type=int,
        default=None,
        help="answer budget (default: the settings', smaller with --quick)",
    )
    parser.add_argument(
        "--local-ctx",
        type=int,
        default=defaults.local_ctx,
        help="window of the embedded llama-server (without --llm-url); "
        "e.g. 12288 to pack a contract whole, as the production budget does",
    )


def open_bench_llm(args: argparse.Namespace) -> LlmHandle:
    """The chat model the flags ask for, or raise `LlmUnavailable`'s message as SystemExit."""
    settings = LlmSettings(
        base_url=args.llm_url,
        model=args.llm_model,
        api_key=args.llm_api_key,
        max_model_len=args.max_model_len,
        context_budget_tokens=args.context_budget,
        local_ctx=args.local_ctx,
        cache_dir=REPO_ROOT / LlmSettings().cache_dir,
    )
    handle = open_llm(settings)
    if handle.model is None:
        raise SystemExit(f"no LLM: {handle.problem}")
    return handle


def bench_budget(
    handle: LlmHandle, output_tokens: int | None, prompt_tokens: int | None = None
) -> Budget:
    """The handle's budget, its output part (and prompt cap) replaced when given."""
    if output_tokens is None and prompt_tokens is None:
        return handle.budget
    window = handle.budget.max_model_len
    output = min(output_tokens or handle.budget.max_output_tokens, window - 256)
    prompt = min(handle.budget.max_prompt_tokens, window - output, prompt_tokens or window)
    return Budget(max_model_len=window, max_output_tokens=output, max_prompt_tokens=prompt)


@dataclass
class ParsedPdf:
    """One document through our parse and chunk stages."""

    document: Document
    pages: list[Page]
    chunks: list[Chunk]
    page_starts: list[int]


def parse_pdf(path: Path, document_id: str, counter: Any, parser: Any = None) -> ParsedPdf:
    """Parse and chunk one PDF into the service's default units."""
    from pipelines.chunking import page_starts
    from pipelines.ingest import chunk_stage, parse_stage
    from services.adapters.pdf import Pypdfium2Parser

    data = path.read_bytes()
    parsed = parse_stage(parser or Pypdfium2Parser(), data)
    chunks = chunk_stage(document_id, parsed, counter)
    document = Document(
        id=document_id,
        tenant=TENANT,
        filename=path.name,
        sha256="0" * 64,
        size_bytes=len(data),
        pages_total=len(parsed.pages),
    )
    return ParsedPdf(document, list(parsed.pages), chunks, page_starts(parsed.pages))


class MemoryChunks:
    """`pipelines.ports.ChunkSource` over chunks held in memory (stands in for the store)."""

    def __init__(self, chunks: Iterable[Chunk] = ()) -> None:
        self._chunks: dict[str, dict[int, Chunk]] = {}
        self.add(chunks)

    def add(self, chunks: Iterable[Chunk]) -> None:
        for chunk in chunks:
            self._chunks.setdefault(chunk.document_id, {})[chunk.number] = chunk

    def get_chunks(self, document_id: str, numbers: Sequence[int]) -> list[Chunk]:
        held = self._chunks.get(document_id, {})
        return [held[n] for n in sorted(set(numbers)) if n in held]


def whole_document(chunks: Sequence[Chunk]) -> list[ScoredChunk]:
    """Every chunk as a candidate, in document order (for a document that fits the budget)."""
    return [ScoredChunk(chunk=c, score=1.0 / (1 + n)) for n, c in enumerate(chunks)]
