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


def test_ingest_benchmark_times_the_service_against_both_baselines() -> None:
    result = _run("benchmarks.ingest", "--limit", "2", "--repeats", "1")
    assert result["shape"] == "embedded"
    assert result["service_failures"] == 0
    assert result["same_pages"] is True  # all three pipelines saw the same pages
    assert result["chunks_match"] is True  # raw embeds the very chunks the service made
    runs = result["runs"]
    assert isinstance(runs, list)
    assert sorted(run["pipeline"] for run in runs) == ["langchain", "raw", "service"]
    for run in runs:
        assert run["pages_per_s"] > 0
        assert run["load_before"] >= 0
    (service,) = [run for run in runs if run["pipeline"] == "service"]
    assert service["cpu_s_api_process"] > service["cpu_s_embedder_threads"] > 0  # USE runs
    assert service["cpu_s_children"] > 0  # parsing runs in child processes
    assert service["cpu_s_api_process"] + service["cpu_s_children"] == pytest.approx(
        service["cpu_s"], abs=0.05
    )
    ratios = result["ratios"]
    assert isinstance(ratios, dict)
    for key in ("service_over_langchain", "service_over_raw"):
        assert ratios[key]["min"] <= ratios[key]["median"] <= ratios[key]["max"]
        assert ratios[key]["median"] > 0


def test_ingest_search_benchmark_probes_while_ingesting() -> None:
    result = _run("benchmarks.ingest_search")
    ingest = result["ingest"]
    assert isinstance(ingest, dict)
    assert ingest["ready"] == result["contracts"] == 6
    assert ingest["failed"] == []
    probes = result["probes"]
    assert isinstance(probes, dict)
    for name in ("search", "status", "search during ingestion", "status during ingestion"):
        assert probes[name]["requests"] > 0, name
        assert probes[name]["server_errors"] == 0, name
        assert probes[name]["ok"] == probes[name]["requests"], name
    p99 = result["p99_during_ingestion_s"]
    assert isinstance(p99, dict)
    assert set(p99) == {"search during ingestion", "status during ingestion"}


def test_retrieval_benchmark_scores_both_pipelines() -> None:
    result = _run("benchmarks.retrieval_quality", "--limit", "2")
    assert result["pairs"] > 0
    for side in ("ours", "langchain"):
        scores = result[side]
        assert isinstance(scores, dict)
        assert 0.0 <= scores["hit@1"] <= scores["hit@5"] <= scores["hit@10"] <= 1.0
        assert scores["ceiling"] > 0.5  # gold spans are found in the chunks at all
    assert result["per_category"]
