"""How fast the served model is, measured, and the timeout of a request derived from it.

`Throughput` keeps an exponentially weighted estimate of prompt and generation speed of
one model (averaged as seconds per token, so a slow request weighs more than a fast one),
fed by every finished request: from llama.cpp's `timings` when the server sends them
(prompt and generation measured apart), else from the request's tokens and wall time (both
rates scaled by how much slower or faster it was than expected). A request that timed out
slows the estimate by at least the time it waited.

`TimeoutPolicy` turns the estimate into a request's timeout: the time its prompt tokens and
`max_tokens` should take, times a safety factor, within a floor and a ceiling; each retry
after a timeout doubles it (never the same timeout twice), and when the ceiling is reached
there is no retry (the caller splits the work instead).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from pipelines.models import ChatMessage

_MIN_PROMPT_SAMPLE = 16  # fewer tokens measure the request's overhead, not the rate
_MIN_OUTPUT_SAMPLE = 4


def estimate_prompt_tokens(messages: Sequence[ChatMessage]) -> int:
    """An upper estimate of the prompt's tokens without a tokenizer: a token per 3
    characters (English runs near 4) or per 4 UTF-8 bytes (Chinese near 1.4 characters,
    4.2 bytes, a token), whichever is more, plus the chat template's few per message."""
    chars = sum(len(m.content) for m in messages)
    data = sum(len(m.content.encode()) for m in messages)
    return max(chars // 3, data // 4) + 8 * len(messages)


class Throughput:
    """Prompt and generation tokens per second of one served model, measured as it runs
    (thread-safe). Starts from `prompt_tps` / `output_tps`, a deliberately slow guess."""

    def __init__(self, prompt_tps: float, output_tps: float, *, weight: float = 0.3) -> None:
        if prompt_tps <= 0 or output_tps <= 0 or not 0 < weight <= 1:
            raise ValueError("rates > 0 and 0 < weight <= 1")
        self.prompt_tps, self.output_tps = prompt_tps, output_tps
        self.weight = weight
        self.samples = 0
        self._lock = threading.Lock()

    def expected_s(self, prompt_tokens: int, output_tokens: int) -> float:
        """Seconds a request of these sizes should take at the current estimate."""
        with self._lock:
            return prompt_tokens / self.prompt_tps + output_tokens / self.output_tps

    def observe(
        self,
        *,
        prompt_tokens: int,
        output_tokens: int,
        seconds: float,
        timings: dict[str, float] | None = None,
    ) -> None:
        """Learn from a finished request: `prompt_tokens` evaluated (cached ones left out),
        `output_tokens` generated in `seconds`; llama.cpp's `timings` when present."""
        prompt_rate = output_rate = None
        if timings:
            prompt_n, prompt_ms = timings.get("prompt_n", 0), timings.get("prompt_ms", 0)
            output_n, output_ms = timings.get("predicted_n", 0), timings.get("predicted_ms", 0)
            if prompt_n >= _MIN_PROMPT_SAMPLE and prompt_ms > 0:
                prompt_rate = prompt_n / (prompt_ms / 1000)
            if output_n >= _MIN_OUTPUT_SAMPLE and output_ms > 0:
                output_rate = output_n / (output_ms / 1000)
        elif seconds > 0 and (
            prompt_tokens >= _MIN_PROMPT_SAMPLE or output_tokens >= _MIN_OUTPUT_SAMPLE
        ):
            expected = self.expected_s(prompt_tokens, output_tokens)
            factor = seconds / expected if expected > 0 else 1.0
            with self._lock:
                prompt_rate, output_rate = self.prompt_tps / factor, self.output_tps / factor
        if prompt_rate is None and output_rate is None:
            return
        with self._lock:  # averaged as seconds per token: a slow request weighs more
            weight = max(self.weight, 0.5) if self.samples == 0 else self.weight
            if prompt_rate is not None:
                self.prompt_tps = 1 / (
                    1 / self.prompt_tps + weight * (1 / prompt_rate - 1 / self.prompt_tps)
                )
            if output_rate is not None:
                self.output_tps = 1 / (
                    1 / self.output_tps + weight * (1 / output_rate - 1 / self.output_tps)
                )
            self.samples += 1

    def timed_out(self, *, prompt_tokens: int, output_tokens: int, waited_s: float) -> None:
        """A request of these sizes got no answer in `waited_s`: the model is at least that
        slow now (both rates scaled down so the request would take `waited_s`)."""
        expected = self.expected_s(prompt_tokens, output_tokens)
        if expected <= 0 or waited_s <= expected:
            return
        factor = waited_s / expected
        with self._lock:
            self.prompt_tps /= factor
            self.output_tps /= factor


@dataclass(frozen=True)
class TimeoutPolicy:
    """A request's timeout: `factor` times the time its size should take at the measured
    speed, within [`floor_s`, `ceiling_s`], doubled on each retry after a timeout."""

    factor: float = 3.0
    floor_s: float = 30.0
    ceiling_s: float = 300.0

    def __post_init__(self) -> None:
        if self.factor < 1 or not 0 < self.floor_s <= self.ceiling_s:
            raise ValueError(f"factor >= 1 and 0 < floor <= ceiling: {self}")

    def timeout_s(
        self, speed: Throughput, prompt_tokens: int, max_tokens: int, attempt: int = 0
    ) -> float:
        """The timeout of `attempt` (0: the first; n: after n timeouts)."""
        grow = float(2**attempt)
        wanted = speed.expected_s(prompt_tokens, max_tokens) * self.factor * grow
        return min(self.ceiling_s, max(self.floor_s * grow, wanted))
