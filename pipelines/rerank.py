"""Second-stage ranking of hybrid-search candidates.

`LexicalReranker` is the embedded default: no model, a few microseconds a passage. It
scores what a lawyer scanning a contract looks for, as features in [0, 1]:

- `coverage`: share of the query's content terms (English words reduced to their Porter2
  stems, so "cyclicality" finds "cyclical" and "termination" "terminate"; CJK characters
  and bigrams; question words dropped) found in the passage, each term weighted by its
  rarity among the candidates (a company name found in every candidate tells nothing);
- `proximity`: share of the query's adjacent word pairs found adjacent in the passage;
- `phrases`: clause phrases of the categories the query names (`pipelines.query`),
  English and Chinese, found in the passage (saturating at three);
- `heading`: a heading word of those categories in the passage's header (its section
  path and first line): "13. Governing Law" for a governing-law query;
- `names`: a category name itself in the passage ("change of control");
- `exact`: share of the query's exact terms (numbers, periods, quoted phrases, defined
  terms) found in the passage.

The score is the weighted sum (`WEIGHTS`, chosen by cross-validation over folds of the
dev contracts: `benchmarks/retrieval_quality.py --cv`). `rerank` adds the first stage's
rank as a prior, so a reranker only reorders what it can tell apart; each reranker says how
much the prior weighs against its own scores (`PRIOR_WEIGHT` for this one).
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache

import snowballstemmer

from pipelines.models import ScoredChunk
from pipelines.ports import Reranker
from pipelines.query import QueryPlan, plan_query
from pipelines.sparse import tokenize

FEATURES = ("coverage", "proximity", "phrases", "heading", "names", "exact")
WEIGHTS: Mapping[str, float] = {
    "coverage": 1.0,
    "proximity": 4.0,
    "phrases": 2.0,
    "heading": 0.5,
    "names": 0.0,
    "exact": 1.0,
}
PRIOR_WEIGHT = 4.0
"""Weight of the first stage's rank (1.0 for the best candidate, falling linearly to 0)."""

HEADER_CHARS = 160
"""How much of a passage counts as its header (section path and first line)."""
_QUESTION_WORDS = frozenset(
    {
        "which",
        "what",
        "who",
        "when",
        "where",
        "how",
        "does",
        "do",
        "did",
        "any",
        "there",
        "clause",
        "clauses",
        "contract",
        "contracts",
        "agreement",
        "provision",
        "document",
        "about",
        "can",
        "our",
        "their",
        "much",
        "many",
        "under",
        "me",
        "show",
        "find",
    }
    | {
        "多少",
        "什么",
        "哪些",
        "哪个",
        "是否",
        "如何",
        "怎么",
        "怎样",
        "为何",
        "为什么",
        "请问",
        "多",
        "少",
        "什",
        "么",
        "哪",
        "些",
        "吗",
        "呢",
        "的",
        "是",
        "了",
        "有",
        "在",
        "和",
        "与",
        "及",
        "其",
        "何",
        "请",
        "问",
    }
)
_SPACE = re.compile(r"\s+")
_STEMMER = snowballstemmer.stemmer("english")
_STEMMER_LOCK = threading.Lock()  # a Snowball stemmer keeps state while it works


class LexicalReranker:
    """Lexical and structural reranker (see the module docstring); implements `Reranker`."""

    def __init__(
        self, weights: Mapping[str, float] | None = None, prior_weight: float = PRIOR_WEIGHT
    ) -> None:
        self.weights = dict(WEIGHTS if weights is None else weights)
        self._prior_weight = prior_weight

    @property
    def name(self) -> str:
        return "lexical"

    @property
    def prior_weight(self) -> float:
        return self._prior_weight

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        return [weighted(row, self.weights) for row in features(plan_query(query), passages)]

    def score_among(
        self, query: str, passages: Sequence[str], background: Sequence[str]
    ) -> list[float]:
        """`passages` scored with term rarity counted among `background` (the candidates
        they compete with), so that each is scored as one more candidate."""
        rows = features(plan_query(query), passages, background=background)
        return [weighted(row, self.weights) for row in rows]


def weighted(row: Sequence[float], weights: Mapping[str, float]) -> float:
    """A passage's score: its `FEATURES` values weighted."""
    return sum(weights.get(name, 0.0) * value for name, value in zip(FEATURES, row, strict=True))


def features(
    plan: QueryPlan, passages: Sequence[str], background: Sequence[str] | None = None
) -> list[tuple[float, ...]]:
    """One row of `FEATURES` values per passage; term rarity is counted among `background`
    (default: the passages themselves)."""
    terms = [stem(t) for t in dict.fromkeys(tokenize(plan.text)) if t not in _QUESTION_WORDS]
    words = [t for t in terms if t[0] < "\u3040"]
    pairs = list(zip(words, words[1:], strict=False))
    phrases = [_norm(p) for p in plan.phrases]
    headings = [_norm(h) for h in plan.headings]
    names = [_norm(n) for c in plan.categories for n in c.names]
    exact = [_norm(e) for e in plan.exact]
    tokenized = [[stem(t) for t in tokenize(passage)] for passage in passages]
    present_in = [set(tokens) for tokens in tokenized]
    pool = (
        present_in
        if background is None
        else [{stem(t) for t in tokenize(passage)} for passage in background]
    )
    weight = {t: math.log(1 + len(pool) / (1 + sum(t in p for p in pool))) for t in terms}
    rows: list[tuple[float, ...]] = []
    for passage, tokens, present in zip(passages, tokenized, present_in, strict=True):
        text = _norm(passage)
        adjacent = set(zip(tokens, tokens[1:], strict=False))
        header = text[:HEADER_CHARS]
        rows.append(
            (
                _share(sum(weight[t] for t in terms if t in present), sum(weight.values())),
                _share(sum(p in adjacent for p in pairs), len(pairs)),
                min(3, sum(p in text for p in phrases)) / 3 if phrases else 0.0,
                1.0 if any(h in header for h in headings) else 0.0,
                1.0 if any(n in text for n in names) else 0.0,
                _share(sum(e in text for e in exact), len(exact)),
            )
        )
    return rows


def rerank(
    query: str,
    hits: Sequence[ScoredChunk],
    reranker: Reranker,
    *,
    prior_weight: float | None = None,
) -> list[ScoredChunk]:
    """`hits` (first-stage order) re-scored by `reranker` plus the rank prior (the
    reranker's own `prior_weight` unless given), best first."""
    if not hits:
        return []
    if prior_weight is None:
        prior_weight = reranker.prior_weight
    scores = reranker.score(query, [passage_text(hit) for hit in hits])
    count = len(hits)
    rescored = [
        ScoredChunk(chunk=hit.chunk, score=score + prior_weight * (1 - rank / count))
        for rank, (hit, score) in enumerate(zip(hits, scores, strict=True))
    ]
    return sorted(rescored, key=lambda s: -s.score)


def passage_text(hit: ScoredChunk) -> str:
    """What a reranker reads: the chunk's contextual header (or its section path), then
    its text."""
    header = hit.chunk.context or " > ".join(hit.chunk.section_path)
    return f"{header}\n{hit.chunk.text}" if header else hit.chunk.text


@lru_cache(maxsize=200_000)
def stem(term: str) -> str:
    """The Porter2 stem of an English word; other terms (numbers, CJK) as they are."""
    if not term.isascii() or not term.isalpha():
        return term
    with _STEMMER_LOCK:
        return str(_STEMMER.stemWord(term))


def _norm(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).lower())


def _share(found: float, total: float) -> float:
    return found / total if total else 0.0
