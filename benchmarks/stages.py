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

import itertools
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pipelines import table_pages
from pipelines.models import ScoredChunk
from pipelines.passages import (
    PAGE_BONUS,
    PAGE_COUNT,
    PAGE_POOL,
    PAGE_ROWS,
    PAGE_TOKENS,
    PAGE_WHOLE,
    PARENT_TOKENS,
    ROW_COUNT,
    TABLE_PAGES,
    to_passages,
)
from pipelines.ports import ChunkSource
from pipelines.query import plan_query
from pipelines.rerank import FEATURES, PRIOR_WEIGHT, WEIGHTS, features, passage_text, weighted
from pipelines.sparse import encode_sparse_query
from pipelines.table_pages import TABLE_SHARE, TablePage, find_table_pages, rank_pages

DEPTH = 50


@dataclass
class Candidates:
    """One query's first-stage units (best first) and their reranker features."""

    hits: list[ScoredChunk]
    rows: list[tuple[float, ...]]
    pages: list[TablePage] = field(default_factory=list)
    """Table pages (row share >= `PAGE_SHARE_FLOOR`) of every hit's page."""
    page_rows: list[tuple[float, ...]] = field(default_factory=list)
    unit_rows: list[list[tuple[float, ...]]] = field(default_factory=list)
    """Features of each unit of each page (`pipelines.table_pages.page_rows`)."""


@dataclass(frozen=True)
class Config:
    expand: bool = True
    rerank: bool = True
    parent_tokens: int = PARENT_TOKENS
    prior_weight: float = PRIOR_WEIGHT
    weights: tuple[tuple[str, float], ...] = field(default=tuple(WEIGHTS.items()))
    table_pages: bool = TABLE_PAGES
    page_whole: float = PAGE_WHOLE
    page_bonus: float = PAGE_BONUS
    page_tokens: int = PAGE_TOKENS
    page_pool: int = PAGE_POOL
    page_count: int = PAGE_COUNT
    page_rows: bool = PAGE_ROWS
    row_count: int = ROW_COUNT
    table_share: float = TABLE_SHARE

    @property
    def label(self) -> str:
        parts = [
            "expand" if self.expand else "-",
            "rerank" if self.rerank else "-",
            f"parent{self.parent_tokens}" if self.parent_tokens else "units",
        ]
        if self.table_pages and self.rerank:
            parts.append(
                f"pages{self.page_whole:g}/{self.page_bonus:g}/{self.page_tokens}/{self.page_pool}/"
                f"{self.table_share:g}"
            )
        return "+".join(parts)


PAGE_SHARE_FLOOR = 0.3
"""Cached table pages: the lowest `table_share` the cross-validation tries."""


def candidates(
    query: str,
    *,
    expand: bool,
    tenant: str,
    embedder: Any,
    index: Any,
    document_ids: Sequence[str] | None,
    depth: int = DEPTH,
    source: ChunkSource | None = None,
) -> Candidates:
    """Stages 1-2 of `search_passages` and the reranker's features of each unit, and with
    `source` the table pages of every hit with their features (`search_passages` looks at
    those of the top `page_pool` reranked units: `Config` picks them from these)."""
    plan = plan_query(query, expand=expand)
    hits = index.search(
        tenant=tenant,
        dense=embedder.embed_query(plan.dense_text()),
        sparse=encode_sparse_query(plan.sparse_text()),
        limit=depth,
        document_ids=document_ids,
    )
    # The reranker always sees the full plan (its own query understanding).
    full = plan_query(query)
    texts = [passage_text(hit) for hit in hits]
    rows = features(full, texts)
    if source is None:
        return Candidates(hits, rows)
    pages = find_table_pages(hits, hits, source, PAGE_SHARE_FLOOR)
    page_rows = features(full, [page.text for page in pages], background=texts)
    unit_rows = [
        features(
            full,
            [
                passage_text(ScoredChunk(chunk=row, score=0.0))
                for row in table_pages.page_rows(page)
            ],
            background=texts,
        )
        for page in pages
    ]
    return Candidates(hits, rows, pages, page_rows, unit_rows)


def ranked_units(cands: Candidates, config: Config) -> list[ScoredChunk]:
    """Stage 3 with `config`'s weights (the formula of `pipelines.rerank.rerank`)."""
    if not config.rerank or not cands.hits:
        return cands.hits
    weights = dict(config.weights)
    count = len(cands.hits)
    scored = [
        ScoredChunk(
            chunk=hit.chunk, score=weighted(row, weights) + config.prior_weight * (1 - rank / count)
        )
        for rank, (hit, row) in enumerate(zip(cands.hits, cands.rows, strict=True))
    ]
    return sorted(scored, key=lambda s: -s.score)


def _chosen_pages(cands: Candidates, config: Config, units: Sequence[ScoredChunk]) -> list[int]:
    """Indexes of the cached pages `search_passages` looks at with `config`."""
    if not (config.table_pages and config.rerank and cands.pages):
        return []
    pool = {(u.chunk.document_id, u.chunk.page_start) for u in units[: config.page_pool]}
    return [
        n
        for n, page in enumerate(cands.pages)
        if (page.document_id, page.page) in pool and page.share >= config.table_share
    ]


def ranked_pages(
    cands: Candidates, config: Config, units: Sequence[ScoredChunk]
) -> list[ScoredChunk]:
    """Stage 3b with `config` (the choice and formula of `passages.table_pages`)."""
    if config.page_rows:
        return []
    weights = dict(config.weights)
    chosen = _chosen_pages(cands, config, units)
    return rank_pages(
        [cands.pages[n] for n in chosen],
        [weighted(cands.page_rows[n], weights) for n in chosen],
        units,
        candidates=len(cands.hits),
        prior_weight=config.prior_weight,
        whole=config.page_whole,
        bonus=config.page_bonus,
        count=config.page_count,
        max_tokens=config.page_tokens,
    )


def with_rows(cands: Candidates, config: Config, units: list[ScoredChunk]) -> list[ScoredChunk]:
    """Stage 3b by rows with `config` (`passages.table_rows`)."""
    if not config.page_rows:
        return units
    weights = dict(config.weights)
    chosen = _chosen_pages(cands, config, units)
    if not chosen:
        return units
    return table_pages.add_page_rows(
        units,
        [cands.pages[n] for n in chosen],
        [[weighted(row, weights) for row in cands.unit_rows[n]] for n in chosen],
        candidates=len(cands.hits),
        prior_weight=config.prior_weight,
        bonus=config.page_bonus,
        count=config.row_count,
    )


def passages(
    cands: Candidates, config: Config, source: ChunkSource, limit: int = 20
) -> list[ScoredChunk]:
    """What the service returns for this query and `config` (stage 4 included)."""
    units = with_rows(cands, config, ranked_units(cands, config))
    return to_passages(
        units,
        source,
        limit=limit,
        parent_tokens=config.parent_tokens,
        pages=ranked_pages(cands, config, units),
    )


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


PAGE_GRID: dict[str, tuple[Any, ...]] = {
    "page_whole": (0.0, 0.5, 1.0),
    "page_bonus": (-4.0, -3.0, -2.0, -1.0, 0.0, 1.0),
    "page_tokens": (256, 512, 1024, 2048),
    "page_pool": (5, 10),
    "table_share": (0.3, 0.6),
    "page_count": (1, 3),
}
ROWS_GRID: dict[str, tuple[Any, ...]] = {
    "page_bonus": (-2.0, -1.0, -0.5, 0.0, 1.0),
    "page_pool": (1, 2, 3, 5),
    "table_share": (0.3, 0.6),
    "row_count": (2, 3, 5, 8),
}
"""The same by rows (`page_rows`): the bonus of a page's units, the pool, the share and the
units of a page added."""
"""The table-page constants and the values the cross-validation tries (every combination,
and the stage off)."""


def page_grid(start: Config) -> list[Config]:
    """The stage off, then by rows, then by pages, each with every combination of its
    constants: in order of the characters they add, so that the cheaper wins a tie (the
    cross-validation takes the first best). The reranker's own weights stay as chosen on
    the contracts."""
    return [
        replace(start, table_pages=False),
        *(
            replace(
                start, table_pages=True, page_rows=True, **dict(zip(ROWS_GRID, values, strict=True))
            )
            for values in itertools.product(*ROWS_GRID.values())
        ),
        *(
            replace(
                start,
                table_pages=True,
                page_rows=False,
                **dict(zip(PAGE_GRID, values, strict=True)),
            )
            for values in itertools.product(*PAGE_GRID.values())
        ),
    ]


def median_config(configs: Sequence[Config], start: Config) -> Config:
    """The folds' choice: on when most folds chose it, each constant the median of the
    folds that chose the stage on."""
    on = [c for c in configs if c.table_pages]
    if not on:
        return replace(start, table_pages=False)
    majority = 2 * len(on) > len(configs)
    values: dict[str, Any] = {}
    rows = sorted(c.page_rows for c in on)
    values["page_rows"] = rows[len(rows) // 2]
    on = [c for c in on if c.page_rows == values["page_rows"]]
    for name in PAGE_GRID if not values["page_rows"] else ROWS_GRID:
        chosen = sorted(getattr(c, name) for c in on)
        values[name] = chosen[len(chosen) // 2]
    return replace(start, table_pages=majority, **values)


def folds(names: Sequence[str], count: int, seed: int = 7) -> list[list[str]]:
    """`names` shuffled (fixed seed) into `count` folds of near-equal size."""
    shuffled = sorted(names)
    random.Random(seed).shuffle(shuffled)
    return [shuffled[i::count] for i in range(count)]


def cross_validate(
    names: Sequence[str],
    score_on: Callable[[Config, set[str]], float],
    start: Config,
    count: int = 5,
) -> dict[str, Any]:
    """Tune on all folds but one, score the held-out fold; the spread across folds."""
    return cross_validate_with(names, score_on, start, count)[0]


def cross_validate_with(
    names: Sequence[str],
    score_on: Callable[[Config, set[str]], float],
    start: Config,
    count: int = 5,
    tuner: Callable[[Callable[[Config], float], Config], Config] = tune,
) -> tuple[dict[str, Any], list[Config]]:
    """`cross_validate` with another `tuner`; also the configuration each fold chose."""
    held_out: list[float] = []
    chosen: list[Config] = []
    for fold in folds(names, count):
        test = set(fold)
        train = set(names) - test
        config = tuner(lambda c, train=train: score_on(c, train), start)  # type: ignore[misc]
        chosen.append(config)
        held_out.append(score_on(config, test))
    return {
        "folds": count,
        "held_out": [round(v, 3) for v in held_out],
        "mean": round(statistics.mean(held_out), 3),
        "min": round(min(held_out), 3),
        "max": round(max(held_out), 3),
        "configs": [describe(c) for c in chosen],
    }, chosen


def describe(config: Config) -> dict[str, Any]:
    return {
        "weights": dict(config.weights),
        "prior_weight": config.prior_weight,
        "parent_tokens": config.parent_tokens,
        "expand": config.expand,
        "rerank": config.rerank,
        "table_pages": config.table_pages,
        "page_whole": config.page_whole,
        "page_bonus": config.page_bonus,
        "page_tokens": config.page_tokens,
        "page_pool": config.page_pool,
        "page_count": config.page_count,
        "table_share": config.table_share,
        "page_rows": config.page_rows,
        "row_count": config.row_count,
    }
