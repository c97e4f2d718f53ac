"""One embedded llama-server (services/llm_server.py) for a test session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from services.llm_server import LocalLlmServer
from services.settings import Settings

REPO = Path(__file__).resolve().parents[1]


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
