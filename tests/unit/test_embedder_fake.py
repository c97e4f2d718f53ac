import math

import pytest

from services.adapters.embedder_fake import HashEmbedder
from services.adapters.embedders import load_embedder


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_vectors_are_normalised_and_of_the_dimension() -> None:
    embedder = HashEmbedder(32)
    vectors = embedder.embed_documents(["termination for convenience", "", "!!!", "不良贷款率"])
    assert embedder.dimension == 32
    assert len(vectors) == 4
    for vector in vectors:
        assert len(vector) == 32
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-9)


def test_deterministic_across_instances() -> None:
    text = "Governing law: the State of New York"
    assert HashEmbedder().embed_query(text) == HashEmbedder().embed_documents([text])[0]


def test_shared_words_score_higher_than_unrelated_text() -> None:
    embedder = HashEmbedder(256)
    query = embedder.embed_query("termination for convenience")
    related, unrelated = embedder.embed_documents(
        ["Either party may terminate for convenience on notice.", "Payment is due monthly."]
    )
    assert _cos(query, related) > _cos(query, unrelated)


def test_chinese_characters_are_tokens() -> None:
    embedder = HashEmbedder(256)
    query = embedder.embed_query("资本充足率")
    related, unrelated = embedder.embed_documents(["本行资本充足率为13%", "天气很好"])
    assert _cos(query, related) > _cos(query, unrelated)


def test_load_embedder_builds_hash() -> None:
    embedder = load_embedder("hash", "128", None, 8)
    assert embedder.dimension == 128
    assert embedder.name == "hash-128"


def test_rejects_tiny_dimension() -> None:
    with pytest.raises(ValueError, match="dimension"):
        HashEmbedder(1)
