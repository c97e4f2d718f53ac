"""The not-found check benchmark runs end to end on five small dev contracts: a threshold
per fold, held-out balanced accuracy, and the extractors scored against CUAD's answers."""

from __future__ import annotations

import pytest

from benchmarks.common import DEFAULT_DATA
from tests.benchmark_runner import run_quick

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DEFAULT_DATA.is_dir(), reason="dev set not present"),
]


def test_not_found_check_benchmark_reports_folds_and_extraction() -> None:
    result = run_quick("benchmarks.not_found_check", "--limit", "5", timeout_s=300)
    assert result["contracts"] == 5
    assert result["pairs"] == 5 * result["categories"]
    for side in ("top1", "top3"):
        cv = result["cross_validation"][side]
        assert len(cv["folds"]) == 5
        assert all(0.0 <= f["balanced_accuracy"] <= 1.0 for f in cv["folds"])
        assert cv["held_out_min"] <= cv["held_out_mean"] <= cv["held_out_max"]
    extraction = result["extraction"]
    assert set(extraction) == {"Governing Law", "Agreement Date", "Effective Date"}
    assert extraction["Governing Law"]["wrong"] == 0
