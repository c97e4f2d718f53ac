"""The embedded llama-server with 1 or 2 parallel slots: per-request latency and throughput.

`python -m benchmarks.llm_parallel [--requests 4] [--prompt-words 300] [--max-tokens 96]`
starts the bundled model once per slot count, sends the same requests (as many at once as
there are slots) and prints seconds per request and for all of them, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from services.runtime.local_models.llm_server import LocalLlmServer
from tests.llm import cache_dir

_TEXT = (
    "The supplier shall deliver the goods within thirty days of the order and the buyer "
    "shall pay each invoice within sixty days of receipt. "
)


def _request(url: str, n: int, words: int, max_tokens: int) -> dict[str, float]:
    body = " ".join([f"Clause {n}."] + _TEXT.split() * (words // len(_TEXT.split()) + 1))
    started = time.perf_counter()
    reply = httpx.post(
        f"{url}/chat/completions",
        timeout=900,
        json={
            "messages": [{"role": "user", "content": f"{body}\nSummarise the clause above."}],
            "max_tokens": max_tokens,
            "temperature": 0,
            "ignore_eos": True,
            "cache_prompt": False,
        },
    ).json()
    timings = reply.get("timings", {})
    return {
        "s": time.perf_counter() - started,
        "prompt_n": timings.get("prompt_n", 0),
        "predicted_n": timings.get("predicted_n", 0),
    }


def measure(parallel: int, requests: int, words: int, max_tokens: int) -> dict[str, object]:
    with LocalLlmServer(cache_dir(), ctx=4096, parallel=parallel) as server:
        assert server.base_url is not None
        _request(server.base_url, -1, 20, 8)  # warm-up
        started = time.perf_counter()
        with ThreadPoolExecutor(parallel) as pool:
            done = list(
                pool.map(
                    lambda n: _request(server.base_url or "", n, words, max_tokens), range(requests)
                )
            )
        total = time.perf_counter() - started
    latencies = sorted(d["s"] for d in done)
    return {
        "parallel": parallel,
        "requests": requests,
        "total_s": round(total, 1),
        "median_request_s": round(latencies[len(latencies) // 2], 1),
        "prompt_tokens": done[0]["prompt_n"],
        "output_tokens": done[0]["predicted_n"],
        "load_average": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4)
    parser.add_argument("--prompt-words", type=int, default=300)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--slots", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    for parallel in args.slots:
        print(
            json.dumps(measure(parallel, args.requests, args.prompt_words, args.max_tokens)),
            flush=True,
        )


if __name__ == "__main__":
    main()
