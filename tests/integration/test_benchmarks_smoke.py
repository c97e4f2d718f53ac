"""Both benchmarks run end to end on a small slice of the dev set and end with their JSON."""

from __future__ import annotations

import pytest

from benchmarks.common import DEFAULT_DATA
from tests.benchmark_runner import run_quick

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DEFAULT_DATA.is_dir(), reason="dev set not present"),
]


def _run(module: str, *flags: str) -> dict[str, object]:
    return run_quick(module, *flags, timeout_s=300)


def test_ingest_benchmark_reports_both_pipelines() -> None:
    result = _run("benchmarks.ingest", "--limit", "2")
    for key in (
        "ours_pages_per_s",
        "langchain_pages_per_s",
        "raw_embed_chunks_per_s",
        "ours_over_raw_embed",
        "ours_over_langchain_pages",
    ):
        assert isinstance(result[key], float | int)
        assert result[key] > 0, key
    assert result["pages"] == result["langchain_pages"]  # both saw the same documents
    assert result["ours_chunks"] > 0
    assert result["langchain_chunks"] > 0


def test_retrieval_benchmark_scores_both_pipelines() -> None:
    result = _run("benchmarks.retrieval_quality", "--limit", "2")
    assert result["pairs"] > 0
    for side in ("ours", "langchain"):
        scores = result[side]
        assert isinstance(scores, dict)
        assert 0.0 <= scores["hit@1"] <= scores["hit@5"] <= scores["hit@10"] <= 1.0
        assert scores["ceiling"] > 0.5  # gold spans are found in the chunks at all
    assert result["per_category"]
