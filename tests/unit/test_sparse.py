"""The keyword encoder: tokens, stable indices, BM25 weights."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipelines.sparse import (
    AVG_LEN,
    K1,
    encode_sparse,
    encode_sparse_query,
    term_index,
    tokenize,
)


def overlap(query: str, document: str) -> float:
    """Dot product of a query and a document vector (the index's score without IDF)."""
    q = encode_sparse_query(query)
    d = encode_sparse(document)
    weights = dict(zip(d.indices, d.values, strict=True))
    return sum(v * weights.get(i, 0.0) for i, v in zip(q.indices, q.values, strict=True))


def test_english_tokens_are_lowercased_stemmed_and_stopworded() -> None:
    assert tokenize("The Liquidated Damages of the Parties, liabilities & fees!") == [
        "liquidated",
        "damage",
        "party",
        "liability",
        "fee",
    ]
    assert tokenize("process status 10-K 2024") == ["process", "status", "10", "k", "2024"]


def test_chinese_gets_unigrams_and_bigrams() -> None:
    assert tokenize("违约金") == ["违", "约", "金", "违约", "约金"]
    assert tokenize("支付违约金 per day") == [
        "支",
        "付",
        "违",
        "约",
        "金",
        "支付",
        "付违",
        "违约",
        "约金",
        "per",
        "day",
    ]


def test_indices_are_stable_uint32_across_processes() -> None:
    here = encode_sparse_query("违约金 liquidated damages").indices
    code = (
        "from pipelines.sparse import encode_sparse_query;"
        "print(encode_sparse_query('违约金 liquidated damages').indices)"
    )
    there = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    ).stdout.strip()
    assert str(here) == there
    assert all(0 <= i < 2**32 for i in here)
    assert term_index("damage") == term_index("damage") != term_index("damages")


def test_vectors_are_sorted_unique_and_positive() -> None:
    vector = encode_sparse("违约金 违约金 liquidated damages damages damage " * 3)
    assert vector.indices == sorted(set(vector.indices))
    assert len(vector.indices) == len(vector.values)
    assert all(v > 0 for v in vector.values)
    assert set(encode_sparse_query("damages damage DAMAGE").values) == {1.0}
    assert len(encode_sparse_query("damages damage DAMAGE").indices) == 1


def test_document_weights_saturate_and_normalise_length() -> None:
    once = encode_sparse("penalty").values[0]
    many = max(encode_sparse("penalty " * 50).values)
    assert once < many < K1 + 1.0
    long_doc = "penalty " + "filler " * int(3 * AVG_LEN)
    weights = dict(
        zip(encode_sparse(long_doc).indices, encode_sparse(long_doc).values, strict=True)
    )
    assert weights[term_index("penalty")] < once


def test_exact_terms_score_above_partial_matches() -> None:
    assert overlap("liquidated damages", "pay liquidated damages") > overlap(
        "liquidated damages", "damages are limited"
    )
    assert overlap("违约金", "应向甲方支付违约金") > overlap("违约金", "应承担违约责任") > 0
    assert overlap("违约金", "董事会负责公司治理") == 0


def test_empty_text_gives_empty_vectors() -> None:
    assert encode_sparse("").indices == []
    assert encode_sparse_query("  ,.; ").indices == []
