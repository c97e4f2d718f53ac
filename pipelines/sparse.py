"""BM25-style keyword vectors for English and Chinese text, usable with any Qdrant engine.

Documents get BM25 term-frequency weights (saturation `K1`, length normalisation `B`
against the fixed `AVG_LEN`); queries get 1.0 per distinct term. The index applies the
IDF modifier, so the dot product of the two is a BM25 score.

Terms: lowercase latin words and numbers (plurals lightly stemmed, a few English stopwords
dropped) and, for Chinese, Japanese and Korean ideographs, every character and every
pair of adjacent characters, so that "违约金" matches "违约金" without a word segmenter.
A term's index is the CRC-32 of its UTF-8 bytes: stable across processes and versions.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter

from pipelines.models import SparseVector

K1 = 1.2
B = 0.75
AVG_LEN = 300.0
"""Average document length in terms; roughly a 512-token chunk of either language."""

_TOKEN = re.compile(
    r"[a-z0-9][a-z0-9\u00c0-\u024f]*"
    r"|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]+"
)
_CJK_START = "\u3040"

STOPWORDS = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is"}
    | {"it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "will", "with"}
    | {"shall"}
)


def _stem(word: str) -> str:
    """Strip an English plural ending: damages -> damage, liabilities -> liability."""
    if len(word) <= 3 or not word.endswith("s") or word[0].isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ss", "us", "is")):
        return word
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    return word[:-1]


def tokenize(text: str) -> list[str]:
    """Text -> terms: stemmed latin words, CJK character unigrams and bigrams."""
    terms: list[str] = []
    for match in _TOKEN.finditer(text.lower()):
        token = match.group()
        if token[0] >= _CJK_START:
            terms.extend(token)
            terms.extend(token[i : i + 2] for i in range(len(token) - 1))
        elif token not in STOPWORDS:
            terms.append(_stem(token))
    return terms


def term_index(term: str) -> int:
    """Stable uint32 index of a term."""
    return zlib.crc32(term.encode("utf-8"))


def _vector(weights: dict[int, float]) -> SparseVector:
    indices = sorted(weights)
    return SparseVector(indices=indices, values=[weights[i] for i in indices])


def encode_sparse(text: str) -> SparseVector:
    """Document vector: BM25 saturated term frequency per term (IDF applied by the index)."""
    terms = tokenize(text)
    norm = K1 * (1.0 - B + B * len(terms) / AVG_LEN)
    weights: dict[int, float] = {}
    for term, tf in Counter(terms).items():
        index = term_index(term)
        # Hash collisions (rare) add up rather than overwrite.
        weights[index] = weights.get(index, 0.0) + tf * (K1 + 1.0) / (tf + norm)
    return _vector(weights)


def encode_sparse_query(text: str) -> SparseVector:
    """Query vector: weight 1.0 for each distinct term."""
    return _vector({term_index(term): 1.0 for term in set(tokenize(text))})
