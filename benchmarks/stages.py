"""Our retrieval, stage by stage, for the quality benchmarks.

The expensive part of a search (embedding the query, the hybrid search for the candidate
units, the reranker's features) is run once per query and cached as a `Candidates`;
every configuration (stages on or off, reranker weights, prior weight, clause size) is
then scored from that cache in microseconds. That is what makes cross-validation of the
weights over folds of the dev contracts affordable on 2 cores.

Configurations are `Config`s; `passages(candidates, config, source)` gives what the
service would return with `pipelines.passages.search_passages` and those settings (the
same functions: `rerank`'s formula, `to_passages`).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pipelines.models import ScoredChunk
from pipelines.passages import PARENT_TOKENS, to_passages
from pipelines.ports import ChunkSource
from pipelines.query import plan_query
from pipelines.rerank import FEATURES, PRIOR_WEIGHT, WEIGHTS, features, passage_text, weighted
from pipelines.sparse import encode_sparse_query

DEPTH = 50


@dataclass
class Candidates:
    """One query's first-stage units (best first) and their reranker features."""

    hits: list[ScoredChunk]
    rows: list[tuple[float, ...]]


@dataclass(frozen=True)
class Config:
    expand: bool = True
    rerank: bool = True
    parent_tokens: int = PARENT_TOKENS
    prior_weight: float = PRIOR_WEIGHT
    weights: tuple[tuple[str, float], ...] = field(default=tuple(WEIGHTS.items()))

    @property
    def label(self) -> str:
        parts = ["expand" if self.expand else "-", "rerank" if self.rerank else "-",
                 f"parent{self.parent_tokens}" if self.parent_tokens else "units"]
        return "+".join(parts)


def candidates(query: str, *, expand: bool, tenant: str, embedder: Any, index: Any,
               document_ids: Sequence[str] | None, depth: int = DEPTH) -> Candidates:
    """Stages 1-2 of `search_passages` and the reranker's features of each unit."""
    plan = plan_query(query, expand=expand)
    hits = index.search(tenant=tenant, dense=embedder.embed_query(plan.dense_text()),
                        sparse=encode_sparse_query(plan.sparse_text()), limit=depth,
                        document_ids=document_ids)
    # The reranker always sees the full plan (its own query understanding).
    rows = features(plan_query(query), [passage_text(hit) for hit in hits])
    return Candidates(hits, rows)


def ranked_units(cands: Candidates, config: Config) -> list[ScoredChunk]:
    """Stage 3 with `config`'s weights (the formula of `pipelines.rerank.rerank`)."""
    if not config.rerank or not cands.hits:
        return cands.hits
    weights = dict(config.weights)
    count = len(cands.hits)
    scored = [
        ScoredChunk(chunk=hit.chunk,
                    score=weighted(row, weights) + config.prior_weight * (1 - rank / count))
        for rank, (hit, row) in enumerate(zip(cands.hits, cands.rows, strict=True))
    ]
    return sorted(scored, key=lambda s: -s.score)


def passages(cands: Candidates, config: Config, source: ChunkSource,
             limit: int = 20) -> list[ScoredChunk]:
    """What the service returns for this query and `config` (stage 4 included)."""
    return to_passages(ranked_units(cands, config), source, limit=limit,
                       parent_tokens=config.parent_tokens)


# --- cross-validation ---------------------------------------------------------------------

WEIGHT_GRID = (0.0, 0.5, 1.0, 2.0, 4.0)
PRIOR_GRID = (1.0, 2.0, 4.0, 8.0)
PARENT_GRID = (128, 192, 256, 384)


def tune(score: Callable[[Config], float], start: Config, passes: int = 2) -> Config:
    """Coordinate ascent over the weights, the prior and the clause size."""
    best, best_score = start, score(start)
    for _ in range(passes):
        improved = False
        for name in FEATURES:
            for value in WEIGHT_GRID:
                weights = tuple((n, value if n == name else w) for n, w in best.weights)
                trial = replace(best, weights=weights)
                trial_score = score(trial)
                if trial_score > best_score + 1e-9:
                    best, best_score, improved = trial, trial_score, True
        for prior in PRIOR_GRID:
            trial = replace(best, prior_weight=prior)
            if (s := score(trial)) > best_score + 1e-9:
                best, best_score, improved = trial, s, True
        for parent in PARENT_GRID:
            trial = replace(best, parent_tokens=parent)
            if (s := score(trial)) > best_score + 1e-9:
                best, best_score, improved = trial, s, True
        if not improved:
            break
    return best


def folds(names: Sequence[str], count: int, seed: int = 7) -> list[list[str]]:
    """`names` shuffled (fixed seed) into `count` folds of near-equal size."""
    shuffled = sorted(names)
    random.Random(seed).shuffle(shuffled)
    return [shuffled[i::count] for i in range(count)]


def cross_validate(names: Sequence[str], score_on: Callable[[Config, set[str]], float],
                   start: Config, count: int = 5) -> dict[str, Any]:
    """Tune on all folds but one, score the held-out fold; the spread across folds."""
    held_out: list[float] = []
    chosen: list[Config] = []
    for fold in folds(names, count):
        test = set(fold)
        train = set(names) - test
        config = tune(lambda c, train=train: score_on(c, train), start)  # type: ignore[misc]
        chosen.append(config)
        held_out.append(score_on(config, test))
    return {
        "folds": count,
        "held_out": [round(v, 3) for v in held_out],
        "mean": round(statistics.mean(held_out), 3),
        "min": round(min(held_out), 3),
        "max": round(max(held_out), 3),
        "configs": [describe(c) for c in chosen],
    }


def describe(config: Config) -> dict[str, Any]:
    return {"weights": dict(config.weights), "prior_weight": config.prior_weight,
            "parent_tokens": config.parent_tokens, "expand": config.expand,
            "rerank": config.rerank}
