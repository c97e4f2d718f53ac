"""One embedded llama-server (services/runtime/local_models/llm_server.py) for a test session,
its measured speed, and the adapter model-backed tests use, with timeouts derived from that speed.

No model-backed test may fail because a shared machine is slow (the suite must pass at a
load average of 6 on 2 cores, where the 0.5B model runs 3-10x slower than when idle):
`measure_speed` times one tiny request once per session, and `chat_model` gives each
request `LOAD_MARGIN` times what its size takes at that speed (at least `FLOOR_S`). The
adapter then learns the speed as requests finish, and a request that still times out is
retried with twice the time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from services.adapters.llm import OpenAiChatModel
from services.adapters.llm_speed import Throughput
from services.runtime.local_models.llm_server import MODEL_NAME, LocalLlmServer
from services.settings import Settings

REPO = Path(__file__).resolve().parents[1]
LOAD_MARGIN = 10.0
"""How much slower than measured a request may run before it times out: measured at the
session's start, it may run at a load average of 6 later (3-10x slower on 2 cores)."""
FLOOR_S = 60.0
"""The least a model request waits: a loaded machine's fixed costs per request (template,
sampling set-up, a slot freed by the request before) are seconds, not tokens."""
CEILING_S = 1200.0
"""Only a hung server gets there; pytest's own limit (600 s a test) comes first."""


def cache_dir() -> Path:
    """settings.llm.cache_dir, relative paths taken from the repository root."""
    path = Settings().llm.cache_dir
    return path if path.is_absolute() else REPO / path


@contextmanager
def llm_server() -> Iterator[LocalLlmServer]:
    """Builds or reuses the binary and the model, starts the server, stops it afterwards."""
    settings = Settings().llm
    server = LocalLlmServer(cache_dir(), ctx=settings.local_ctx, parallel=settings.local_slots())
    with server:
        yield server


def measure_speed(base_url: str) -> Throughput:
    """Prompt and generation tokens per second of the server at `base_url`, from one tiny
    request (about 100 prompt tokens, 16 generated) timed by llama.cpp itself."""
    words = " ".join(f"clause {n} applies;" for n in range(30))
    started = time.monotonic()
    reply = httpx.post(
        f"{base_url}/chat/completions",
        timeout=CEILING_S,
        json={
            "model": MODEL_NAME,
            "max_tokens": 16,
            "temperature": 0,
            "ignore_eos": True,
            "cache_prompt": False,
            "messages": [{"role": "user", "content": f"{words}\nRepeat the first clause."}],
        },
    )
    reply.raise_for_status()
    timings = reply.json().get("timings") or {}
    elapsed = time.monotonic() - started
    prompt_ms = timings.get("prompt_ms") or elapsed * 500
    output_ms = timings.get("predicted_ms") or elapsed * 500
    return Throughput(
        timings.get("prompt_n", 100) / (prompt_ms / 1000),
        timings.get("predicted_n", 16) / (output_ms / 1000),
    )


def chat_model(
    base_url: str, speed: Throughput, model: str = MODEL_NAME, **options: Any
) -> OpenAiChatModel:
    """The adapter for a model-backed test: timeouts of `LOAD_MARGIN` times the measured
    `speed` (a copy: what one test learns stays in it), at least `FLOOR_S`."""
    return OpenAiChatModel(
        base_url,
        model,
        speed=Throughput(speed.prompt_tps, speed.output_tps),
        timeout_factor=LOAD_MARGIN,
        timeout_min_s=FLOOR_S,
        timeout_s=CEILING_S,
        **options,
    )
