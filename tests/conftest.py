"""Session fixtures shared by every test tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.adapters.llm_speed import Throughput
from services.runtime.local_models.llm_server import LocalLlmServer
from tests.llm import llm_server, measure_speed


@pytest.fixture(scope="session")
def local_llm() -> Iterator[LocalLlmServer]:
    """The embedded llama-server with the bundled model, one for the whole session."""
    with llm_server() as server:
        yield server


@pytest.fixture(scope="session")
def llm_url(local_llm: LocalLlmServer) -> str:
    """OpenAI base URL of the session's llama-server: http://127.0.0.1:PORT/v1."""
    assert local_llm.base_url is not None
    return local_llm.base_url


@pytest.fixture(scope="session")
def llm_speed(llm_url: str) -> Throughput:
    """The session's llama-server speed, measured once with a tiny request; model-backed
    tests derive their timeouts from it (`tests.llm.chat_model`)."""
    speed = measure_speed(llm_url)
    print(f"llama-server: {speed.prompt_tps:.0f} prompt, {speed.output_tps:.1f} generated tokens/s")
    return speed
