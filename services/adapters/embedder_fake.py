"""Deterministic bag-of-words hashing embedder, for tests that need vectors but no model."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_]+", re.UNICODE)


def _bucket(token: str, dimension: int) -> tuple[int, float]:
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dimension, 1.0 if (value >> 63) & 1 else -1.0


class HashEmbedder:
    """Signed feature hashing of lower-cased words (and single CJK characters).

    Same text, same vector, in every process. Texts sharing words have a positive cosine;
    vectors are L2-normalised (a text without words maps to a fixed unit vector).
    """

    def __init__(self, dimension: int = 64) -> None:
        if dimension < 2:
            raise ValueError("dimension must be at least 2")
        self._dimension = dimension

    @property
    def name(self) -> str:
        return f"hash-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalised vector per text, in order."""
        return [self._embed(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)

    def _embed(self, text: str) -> list[float]:
        vector = [0.0] * self._dimension
        tokens = _TOKEN.findall(text.lower()) or ["\x00empty"]
        for token in tokens:
            index, sign = _bucket(token, self._dimension)
            vector[index] += sign
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0.0:  # every token cancelled out: fall back to a fixed direction
            vector[0], norm = 1.0, 1.0
        return [x / norm for x in vector]
