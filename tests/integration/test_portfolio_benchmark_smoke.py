"""The portfolio benchmark runs end to end on a few contracts and ends with its JSON."""

from __future__ import annotations

import pytest

from benchmarks.common import DEFAULT_DATA
from tests.benchmark_runner import run_quick

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DEFAULT_DATA.is_dir(), reason="dev set not present"),
]


def test_portfolio_benchmark_ranks_documents_on_every_side() -> None:
    result = run_quick("benchmarks.portfolio", "--limit", "4", timeout_s=300)
    assert result["contracts"] == 4
    assert result["sides"] == ["passages", "retrieve", "langchain"]
    summary = result["summary"]
    assert isinstance(summary, dict)
    assert set(summary) == {"name", "name+description"}
    for by_side in summary.values():
        for side in result["sides"]:
            assert 0.0 < by_side[side]["MAP"] <= 1.0
            assert 0.0 <= by_side[side]["mean_recall@R"] <= 1.0
