"""The embedded llama-server answers vLLM-style OpenAI requests and leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel, ConfigDict

from services.runtime.local_models.llm_server import MODEL_NAME, LocalLlmServer
from tests.llm import REPO, cache_dir

pytestmark = pytest.mark.slow


class City(BaseModel):
    model_config = ConfigDict(extra="forbid")

    city: str
    country: str
    founded_year: int


def _chat(url: str, **body: object) -> dict:
    request = {"model": "any", "temperature": 0, "max_tokens": 64, **body}
    # At most 64 tokens: seconds idle, a minute at 1.5 tokens/s (a load average of 6); the
    # bound only catches a hang.
    response = httpx.post(f"{url}/chat/completions", json=request, timeout=600)
    assert response.status_code == 200, response.text
    return response.json()


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (an unreaped zombie runs nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout_s: float = 15) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_chat_completion_answers(llm_url: str) -> None:
    reply = _chat(llm_url, messages=[{"role": "user", "content": "Say hello in one word."}])
    assert reply["choices"][0]["message"]["content"].strip()
    assert reply["usage"]["completion_tokens"] > 0
    models = httpx.get(f"{llm_url}/models", timeout=30).json()
    assert models["data"][0]["id"] == MODEL_NAME


def test_json_schema_response_format_is_honoured(llm_url: str) -> None:
    schema = City.model_json_schema()
    reply = _chat(
        llm_url,
        messages=[{"role": "user", "content": "Give the city, country and year Rome was founded."}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
        max_tokens=128,
    )
    content = reply["choices"][0]["message"]["content"]
    city = City.model_validate(json.loads(content))  # parses and has exactly the schema's keys
    assert city.city


def test_chat_template_kwargs_are_accepted(llm_url: str) -> None:
    reply = _chat(
        llm_url,
        messages=[{"role": "user", "content": "Reply with the word yes."}],
        chat_template_kwargs={"enable_thinking": False},
    )
    assert reply["choices"][0]["message"]["content"].strip()


def test_repeated_prompt_reports_cached_tokens(llm_url: str) -> None:
    document = " ".join(
        f"Clause {i}: the supplier delivers lot {i} within {i} days." for i in range(60)
    )
    messages = [
        {"role": "system", "content": "You analyse contracts."},
        {"role": "user", "content": f"{document}\n\nHow many clauses are there?"},
    ]
    first = _chat(llm_url, messages=messages, max_tokens=4)
    second = _chat(llm_url, messages=messages, max_tokens=4)
    prompt_tokens = second["usage"]["prompt_tokens"]
    cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert first["usage"]["prompt_tokens"] == prompt_tokens > 500
    assert cached >= prompt_tokens - 16  # all but the last few tokens come from the cache
    assert second["timings"]["cache_n"] == cached
    assert second["timings"]["prompt_n"] == prompt_tokens - cached


def test_stop_leaves_no_process() -> None:
    server = LocalLlmServer(cache_dir(), ctx=512, parallel=1)
    url = server.start()
    pid = server.pid
    assert pid is not None
    assert _alive(pid)
    assert httpx.get(url.removesuffix("/v1") + "/health", timeout=10).status_code == 200
    server.stop()
    assert not _alive(pid)
    assert server.base_url is None
    with pytest.raises(httpx.ConnectError):
        httpx.get(url.removesuffix("/v1") + "/health", timeout=5)


def test_killed_parent_leaves_no_process() -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from services.runtime.local_models.llm_server import LocalLlmServer\n"
        "server = LocalLlmServer(Path(sys.argv[1]), ctx=512, parallel=1)\n"
        "server.start()\n"
        "print(server.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(cache_dir())],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.strip().isdigit(), f"the parent printed {line!r}"
        child = int(line)
        assert _alive(child)
        os.kill(parent.pid, signal.SIGKILL)  # no atexit, no cleanup: only the kernel can help
        parent.wait(10)
        assert _wait_gone(child), f"llama-server {child} outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
