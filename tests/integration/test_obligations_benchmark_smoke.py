"""benchmarks/obligations_service on one dev contract: it runs end to end through a real
server and its figures hold together (every quote at its offsets and on its page, one feed
event per dated row, the rebuild writing the same rows)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.devset import DEVSET
from tests.integration.conftest import REPO

pytestmark = [pytest.mark.integration]


def test_the_obligations_benchmark_on_one_contract() -> None:
    if not (DEVSET / "cuad_annotations.jsonl").exists():
        pytest.skip("the dev set is not here")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.obligations_service", "--contracts", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ready"] == 1
    assert result["obligations"] > 0
    quotes = result["quotes"]
    assert quotes["at_offsets"] == quotes["rows"] == result["obligations"]
    assert quotes["on_page"] == quotes["rows"]
    assert result["feed_events_match_dated"] is True
    assert result["rebuild_same_rows"] is True
    assert result["rebuild"]["failed"] == []
