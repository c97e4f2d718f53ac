"""Real embedding models, loaded offline from installed packages."""

import time

import numpy as np
import pytest

from pipelines.errors import ModelUnavailable
from services.adapters.embedders import load_embedder

EN_QUERY = "Can either party end the agreement early without cause?"
EN_PARAPHRASE = "Each party may terminate this contract for convenience upon thirty days notice."
EN_UNRELATED = "The licensee shall pay royalties quarterly in United States dollars."
ZH_QUERY = "不良贷款率是多少"
ZH_PARAPHRASE = "报告期末，本行不良贷款占全部贷款的比例为1.06%，较上年末持平。"
ZH_UNRELATED = "公司董事会定于六月召开年度股东大会，审议利润分配方案。"


@pytest.fixture(scope="module")
def minilm():  # type: ignore[no-untyped-def]
    return load_embedder("sentence-transformers", None, "cpu", 8)


@pytest.fixture(scope="module")
def use():  # type: ignore[no-untyped-def]
    return load_embedder("use-onnx", None, None, 8)


def _check_vectors(embedder, texts: list[str], dimension: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    vectors = np.array(embedder.embed_documents(texts))
    assert vectors.shape == (len(texts), dimension)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    return vectors


def _closer(embedder, query: str, near: str, far: str) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    q = np.array(embedder.embed_query(query))
    near_v, far_v = np.array(embedder.embed_documents([near, far]))
    return float(q @ near_v), float(q @ far_v)


@pytest.mark.slow
def test_minilm_vectors(minilm) -> None:  # type: ignore[no-untyped-def]
    assert minilm.dimension == 384
    assert "all-MiniLM-L6-v2" in minilm.name
    _check_vectors(minilm, ["short", "a longer sentence about indemnification " * 20], 384)
    assert minilm.embed_documents([]) == []


@pytest.mark.slow
def test_minilm_english_paraphrase_is_closer(minilm) -> None:  # type: ignore[no-untyped-def]
    near, far = _closer(minilm, EN_QUERY, EN_PARAPHRASE, EN_UNRELATED)
    assert near > far + 0.05


@pytest.mark.slow
def test_use_vectors(use) -> None:  # type: ignore[no-untyped-def]
    assert use.dimension == 512
    vectors = _check_vectors(use, ["short", "不良贷款率", "x " * 500] * 4, 512)
    # batching does not change a text's vector beyond quantisation noise
    single = np.array(use.embed_query("不良贷款率"))
    assert float(single @ vectors[1]) > 0.99


@pytest.mark.slow
def test_use_runs_in_parallel_keep_order() -> None:
    """Concurrent single-thread runs give each text the vector a one-thread embedder gives."""
    from services.adapters.embedder_use import UseOnnxEmbedder

    texts = [f"clause {n}: the supplier shall deliver {n} units" for n in range(23)]
    texts[7] = "不良贷款率为1.06%"
    parallel = np.array(UseOnnxEmbedder(run_size=3, threads=3).embed_documents(texts))
    serial = np.array(UseOnnxEmbedder(run_size=3, threads=1).embed_documents(texts))
    assert parallel.shape == (23, 512)
    assert np.allclose(parallel, serial, atol=1e-5)
    # a text's own vector sits at its own position, not a neighbour's
    assert float(parallel[7] @ serial[7]) > 0.999 > float(parallel[7] @ serial[8])


@pytest.mark.slow
def test_use_english_paraphrase_is_closer(use) -> None:  # type: ignore[no-untyped-def]
    near, far = _closer(use, EN_QUERY, EN_PARAPHRASE, EN_UNRELATED)
    assert near > far + 0.05


@pytest.mark.slow
def test_use_chinese_paraphrase_is_closer(use) -> None:  # type: ignore[no-untyped-def]
    near, far = _closer(use, ZH_QUERY, ZH_PARAPHRASE, ZH_UNRELATED)
    assert near > far + 0.05


@pytest.mark.slow
def test_use_cross_lingual(use) -> None:  # type: ignore[no-untyped-def]
    near, far = _closer(use, "non-performing loan ratio", ZH_PARAPHRASE, ZH_UNRELATED)
    assert near > far


def test_unknown_model_fails_fast_without_network() -> None:
    start = time.monotonic()
    with pytest.raises(ModelUnavailable, match="no-such-org/no-such-model"):
        load_embedder("sentence-transformers", "no-such-org/no-such-model", "cpu", 8)
    assert time.monotonic() - start < 10


def test_missing_local_path_fails_fast(tmp_path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "model"
    empty.mkdir()
    start = time.monotonic()
    with pytest.raises(ModelUnavailable):
        load_embedder("sentence-transformers", str(empty), "cpu", 8)
    assert time.monotonic() - start < 10


def test_missing_onnx_file_is_model_unavailable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelUnavailable, match="not found"):
        load_embedder("use-onnx", str(tmp_path / "none.onnx"), None, 8)
