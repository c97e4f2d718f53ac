"""benchmarks/load.py --quick end to end: a real embedded server takes 10 concurrent uploads and
40 concurrent searches with no 5xx and no lost document."""

from __future__ import annotations

import pytest

from benchmarks.common import DEFAULT_DATA
from tests.benchmark_runner import run_quick

pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.skipif(not DEFAULT_DATA.is_dir(), reason="dev set not present"),
]


def test_quick_load_run_loses_nothing_and_never_fails() -> None:
    result = run_quick("benchmarks.load", timeout_s=300)
    documents = result["documents"]
    assert isinstance(documents, dict)
    assert documents["accepted"] == documents["uploaded"] == 10
    assert documents["lost"] == 0
    assert documents["states"] == {"ready": 10}
    assert result["server_errors"] == 0
    operations = result["operations"]
    assert isinstance(operations, dict)
    assert operations["upload"]["ok"] == 10
    assert operations["search"]["ok"] == 40
    for name in ("upload", "search"):
        assert (
            0 < operations[name]["p50_s"] <= operations[name]["p95_s"] <= operations[name]["p99_s"]
        )
