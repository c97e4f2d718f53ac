"""Portfolio search: which contracts contain a clause? Documents ranked per CUAD category.

Every dev contract is indexed into one tenant. For each CUAD category the query is the
category name ("Change of Control"), and in a second run its name and CUAD description;
the documents are ranked over all contracts at once:

- passages: `pipelines.passages.search_passages(..., per_document=1, limit=N)` with the
  service's reranker (lexical) and its candidate count for a by-document search
  (`services.app.search.candidates_for`), i.e. what `POST /v1/search` with `group_by:
  document` returns;
- retrieve: `pipelines.retrieval.retrieve` (hybrid units, no reranker) with a deep limit,
  each document ranked by its best unit;
- langchain: the tutorial pipeline (`benchmarks/langchain_baseline.py`, dense only over
  1,000-character chunks) with a deep k, each document ranked by its best chunk.

A contract is relevant to a category when its CUAD labels for it have spans. Per category:
average precision (AP: the mean, over the relevant contracts, of the precision at the rank
where each is found; one not ranked at all counts 0) and recall@R (the share of the R
relevant contracts among the first R). MAP is the mean AP over the categories that some but
not all contracts have (a category every contract has is answered by any ranking).

Run: `.venv/bin/python -m benchmarks.portfolio [--quick] [--side passages,retrieve]`
"""

from __future__ import annotations

import json
import statistics
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import common
from benchmarks import retrieval_quality as rq
from benchmarks.analysis_common import MemoryChunks

QUICK_CONTRACTS = 10
OURS = ("passages", "retrieve")
VARIANTS = ("name", "name+description")
DEPTH = 2000
"""Units (retrieve) or chunks (langchain) read per query to rank every document."""

Ranker = Callable[[str], list[str]]


def category_names(data: Path) -> list[str]:
    """The CUAD categories as the annotations spell them, in file order."""
    with (data / "cuad_annotations.jsonl").open(encoding="utf-8") as handle:
        return list(json.loads(handle.readline())["labels"])


def best_per_document(document_ids: Sequence[str]) -> list[str]:
    """Documents in the order of their first (best) occurrence."""
    return list(dict.fromkeys(document_ids))


def average_precision(ranking: Sequence[str], relevant: set[str]) -> float:
    found, total = 0, 0.0
    for rank, document_id in enumerate(ranking, start=1):
        if document_id in relevant:
            found += 1
            total += found / rank
    return total / len(relevant) if relevant else 0.0


def recall_at_r(ranking: Sequence[str], relevant: set[str]) -> float:
    return len(set(ranking[: len(relevant)]) & relevant) / len(relevant) if relevant else 0.0


def our_rankers(
    sides: Sequence[str],
    index: Any,
    embedder: Any,
    chunks: Any,
    limit: int,
    candidates: int | None = None,
) -> dict[str, Ranker]:
    from pipelines.passages import search_passages
    from pipelines.rerank import LexicalReranker
    from pipelines.retrieval import retrieve
    from services.app.search import candidates_for
    from services.settings import RerankerSettings

    reranker = LexicalReranker()
    if candidates is None:
        candidates = candidates_for("document", limit, RerankerSettings().candidates)

    def passages(query: str) -> list[str]:
        return [
            hit.chunk.document_id
            for hit in search_passages(
                query,
                tenant=rq.TENANT,
                embedder=embedder,
                index=index,
                chunks=chunks,
                reranker=reranker,
                limit=limit,
                candidates=candidates,
                per_document=1,
            )
        ]

    def retrieved(query: str) -> list[str]:
        return best_per_document(
            [
                hit.chunk.document_id
                for hit in retrieve(
                    query, tenant=rq.TENANT, embedder=embedder, index=index, limit=DEPTH
                )
            ]
        )

    available = {"passages": passages, "retrieve": retrieved}
    return {side: available[side] for side in sides}


def langchain_ranker(store: Any, names: dict[str, str]) -> Ranker:
    def ranked(query: str) -> list[str]:
        found = store.similarity_search(query, k=DEPTH)
        return best_per_document([names[doc.metadata["source"]] for doc in found])

    return ranked


def evaluate(
    rankers: dict[str, Ranker], queries: dict[str, dict[str, str]], relevant: dict[str, set[str]]
) -> list[dict[str, Any]]:
    """One row per (category, variant): R, and per side its AP, recall@R and ranking."""
    rows = []
    for category, by_variant in queries.items():
        for variant, query in by_variant.items():
            row: dict[str, Any] = {
                "category": category,
                "variant": variant,
                "R": len(relevant[category]),
            }
            for side, rank in rankers.items():
                with common.stopwatch() as took:
                    ranking = rank(query)
                row[side] = {
                    "ap": average_precision(ranking, relevant[category]),
                    "recall@R": recall_at_r(ranking, relevant[category]),
                    "ranked": len(ranking),
                    "ms": took[0] * 1000,
                }
            rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = common.make_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--side",
        default=",".join(OURS),
        help=f"our searches to compare, comma-separated: {', '.join(OURS)}",
    )
    parser.add_argument(
        "--candidates",
        type=int,
        default=None,
        help="units reranked by `passages` (default: the service's)",
    )
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help="queries: name, name+description (comma-separated)",
    )
    args = parser.parse_args(argv)
    ours = [s for s in args.side.split(",") if s]
    variants = [v for v in args.variants.split(",") if v]
    if not set(ours) <= set(OURS) or not set(variants) <= set(VARIANTS) or not variants:
        parser.error(f"--side among {OURS}, --variants among {VARIANTS}")
    common.force_offline()
    from benchmarks import langchain_baseline as lc

    contracts = common.pick_contracts(args.data, args.quick, args.limit, QUICK_CONTRACTS)
    descriptions = common.load_descriptions(args.data)
    relevant = {c: {k.name for k in contracts if c in k.gold} for c in category_names(args.data)}
    relevant = {c: names for c, names in relevant.items() if names}  # no contract: no AP
    queries = {c: {v: rq.make_query(c, descriptions, v) for v in variants} for c in relevant}
    informative = {c for c, docs in relevant.items() if 0 < len(docs) < len(contracts)}
    embedder = common.load_our_embedder(args.embedder, args.model, args.batch_size)
    sides = [*ours, "langchain"]
    with tempfile.TemporaryDirectory(prefix="bench-portfolio-") as tmp, common.stopwatch() as wall:
        common.log(f"indexing {len(contracts)} contracts into one tenant, ours ...")
        index, chunks = rq.ingest_ours(contracts, embedder, Path(tmp), args.batch_size)
        common.log("indexing, langchain ...")
        store, _ = rq.ingest_langchain(contracts, embedder, Path(tmp), args.batch_size)
        source = MemoryChunks(c for units in chunks.values() for c in units)
        rankers = our_rankers(ours, index, embedder, source, len(contracts), args.candidates)
        rankers["langchain"] = langchain_ranker(store, {str(k.pdf): k.name for k in contracts})
        common.log(f"ranking documents for {len(queries)} categories x {len(variants)} queries ...")
        rows = evaluate(rankers, queries, relevant)
        index.close()
        lc.close_store(store)

    print(
        f"embedder: {embedder.name}; {len(contracts)} contracts in one tenant; "
        f"{len(relevant)} categories that some contract has, {len(informative)} of them "
        "not by all (MAP over those; * marks the others)"
    )
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for variant in variants:
        mine = [r for r in rows if r["variant"] == variant]
        print(f"\nquery: {variant}")
        common.print_table(
            ["category", "R", *[f"{side[:5]} {m}" for side in sides for m in ("AP", "R@R")]],
            [
                [
                    r["category"] + ("" if r["category"] in informative else " *"),
                    r["R"],
                    *[r[side][m] for side in sides for m in ("ap", "recall@R")],
                ]
                for r in mine
            ],
        )
        counted = [r for r in mine if r["category"] in informative]
        summary[variant] = (
            {
                side: {
                    "MAP": round(statistics.fmean(r[side]["ap"] for r in counted), 3),
                    "mean_recall@R": round(
                        statistics.fmean(r[side]["recall@R"] for r in counted), 3
                    ),
                    "ms_per_query": round(statistics.fmean(r[side]["ms"] for r in mine), 1),
                }
                for side in sides
            }
            if counted
            else {}
        )
    print()
    common.print_table(
        ["query", *[f"{side} {m}" for side in sides for m in ("MAP", "R@R", "ms")]],
        [
            [
                variant,
                *[
                    summary[variant][side][m]
                    for side in sides
                    for m in ("MAP", "mean_recall@R", "ms_per_query")
                ],
            ]
            for variant in summary
        ],
    )
    print(f"wall time {wall[0]:.1f} s")
    result: dict[str, Any] = {
        "benchmark": "portfolio",
        "quick": args.quick,
        "embedder": embedder.name,
        "contracts": len(contracts),
        "categories": len(relevant),
        "categories_in_map": len(informative),
        "sides": sides,
        "summary": summary,
        "per_category": {
            variant: {
                r["category"]: {"R": r["R"]}
                | {
                    side: {"ap": round(r[side]["ap"], 3), "recall@R": round(r[side]["recall@R"], 3)}
                    for side in sides
                }
                for r in rows
                if r["variant"] == variant
            }
            for variant in variants
        },
        "seconds": round(wall[0], 1),
    }
    common.emit_json(result)
    return result


if __name__ == "__main__":
    main()
