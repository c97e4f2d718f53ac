"""Fixtures shared by the adapter tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import postgres_bin, postgres_server


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL on loopback, one per test module; skipped when not installed."""
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed")
    with postgres_server() as url:
        yield url
