"""Risk candidates: which passages the risk extractor shows the model, chosen by cross-validation.

No model runs here. Each dev contract is indexed as the service indexes it; for each
contract category of the risk taxonomy, retrieval ranks the contract's passages with the
category's query (`query`: the taxonomy's bilingual query; `name+query`: the category
name before it). `pipelines.risk_candidates.select_candidates` then keeps passages under a
`Selection` (at most `per_category` a category, a least score, `MAX_PASSAGES` in all).

- candidate recall: share of (contract, category with a gold span) pairs where a passage
  kept *for that category* holds a gold span (the rule of `retrieval_quality`): the
  ceiling of what the model can find;
- passages: mean passages kept per contract (what the model must read: time);
- absent-only passages: mean kept passages retrieved only for categories the contract
  does not have (what invites false alarms).

5-fold cross-validation over the contracts chooses the query form, `per_category` and
`min_score` (maximising candidate recall, fewer passages breaking ties) on four folds and
scores the fifth; the spread between folds is printed. Then, for findings made from a
passage's own clause wording without a model (`risk_candidates.wording`), the same folds
choose the least number of the category's phrases (maximising F1 of finding precision and
pair recall) and print the held-out precision and recall.

    .venv/bin/python -m benchmarks.risk_candidates [--quick] [--limit N]
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Sequence
from itertools import product
from pathlib import Path
from typing import Any

from benchmarks import common
from benchmarks.analysis_common import MemoryChunks
from benchmarks.retrieval_quality import TENANT, ingest_ours, span_in_chunk
from benchmarks.stages import folds

FORMS = ("query", "name+query")
PER_CATEGORY = (1, 2, 3, 4)
DEPTH = max(PER_CATEGORY)
Ranked = dict[str, list[tuple[Any, list[Any]]]]
"""contract -> [(category, passages best first)] for one query form."""


def query_of(category: Any, form: str) -> str:
    return category.query if form == "query" else f"{category.id}: {category.query}"


def rank_all(
    contracts: Sequence[common.Contract], embedder: Any, index: Any, source: Any
) -> dict[str, Ranked]:
    from pipelines.passages import search_passages
    from pipelines.rerank import LexicalReranker
    from pipelines.risk_taxonomy import categories

    out: dict[str, Ranked] = {form: {} for form in FORMS}
    reranker = LexicalReranker()
    for contract in contracts:
        for form in FORMS:
            out[form][contract.name] = [
                (
                    c,
                    search_passages(
                        query_of(c, form),
                        tenant=TENANT,
                        embedder=embedder,
                        index=index,
                        chunks=source,
                        reranker=reranker,
                        limit=DEPTH,
                        document_ids=[contract.name],
                    ),
                )
                for c in categories("contract")
            ]
    return out


def score(
    ranked: Ranked,
    gold: dict[str, dict[str, list[str]]],
    names: Sequence[str],
    per_category: int,
    min_score: float,
) -> dict[str, float]:
    from pipelines.risk_candidates import Selection, select_candidates

    selection = Selection(per_category=per_category, min_score=min_score)
    pairs = hits = passages = absent_only = 0
    for name in names:
        spans = gold[name]
        chosen = select_candidates(ranked[name], selection)
        passages += len(chosen)
        absent_only += sum(
            all(c.id.lower() not in spans for c in cand.categories) for cand in chosen
        )
        for category, _ in ranked[name]:
            wanted = spans.get(category.id.lower())
            if not wanted:
                continue
            pairs += 1
            hits += any(
                category in cand.categories
                and any(span_in_chunk(s, cand.chunk.text) for s in wanted)
                for cand in chosen
            )
    n = max(1, len(names))
    return {
        "recall": hits / max(1, pairs),
        "passages": passages / n,
        "absent_only": absent_only / n,
        "pairs": pairs,
    }


WORDING = (1, 2, 3, 4, 5)
"""Least count of a category's own clause wording in a passage for a model-free finding."""


def wording_findings(
    ranked: Ranked,
    gold: dict[str, dict[str, list[str]]],
    names: Sequence[str],
    per_category: int,
    min_score: float,
    least: int,
) -> dict[str, float]:
    """Findings made from the wording alone (`least` phrases of the category in a kept
    passage): precision (the passage holds a gold span of that category) and recall of
    (contract, category) pairs with a gold span."""
    from pipelines.risk_candidates import Selection, select_candidates, wording

    selection = Selection(per_category=per_category, min_score=min_score)
    made = right = pairs = found = 0
    for name in names:
        spans = gold[name]
        chosen = select_candidates(ranked[name], selection)
        hit_pairs: set[str] = set()
        for cand in chosen:
            for category in cand.categories:
                if len(wording(cand.chunk.text, category)) < least:
                    continue
                made += 1
                wanted = spans.get(category.id.lower(), [])
                if any(span_in_chunk(s, cand.chunk.text) for s in wanted):
                    right += 1
                    hit_pairs.add(category.id)
        pairs += sum(1 for category, _ in ranked[name] if spans.get(category.id.lower()))
        found += len(hit_pairs)
    precision = right / made if made else 0.0
    recall = found / pairs if pairs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "findings_per_contract": made / max(1, len(names)),
    }


def grid(ranked: dict[str, Ranked]) -> list[tuple[str, int, float]]:
    scores = sorted(
        s.score
        for by_form in ranked.values()
        for rows in by_form.values()
        for _, hits in rows
        for s in hits
    )
    cuts = [float("-inf")] + [
        round(scores[int(q * (len(scores) - 1))], 3) for q in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    ]
    return list(product(FORMS, PER_CATEGORY, sorted(set(cuts))))


def choose(
    ranked: dict[str, Ranked],
    gold: dict[str, dict[str, list[str]]],
    names: Sequence[str],
    options: Sequence[tuple[str, int, float]],
) -> tuple[str, int, float]:
    def key(option: tuple[str, int, float]) -> tuple[float, float]:
        form, k, t = option
        result = score(ranked[form], gold, names, k, t)
        return (round(result["recall"], 4), -result["passages"])

    return max(options, key=key)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = common.make_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    common.force_offline()
    from pipelines.risk_candidates import MIN_SCORE
    from pipelines.risk_candidates import PER_CATEGORY as DEFAULT_K

    contracts = common.pick_contracts(args.data, args.quick, args.limit, 5)
    gold = {c.name: {k.lower(): v for k, v in c.gold.items()} for c in contracts}
    names = [c.name for c in contracts]
    embedder = common.load_our_embedder(args.embedder, args.model, args.batch_size)
    with tempfile.TemporaryDirectory(prefix="bench-risk-cands-") as tmp, common.stopwatch() as wall:
        common.log(f"indexing {len(contracts)} contracts ...")
        index, texts = ingest_ours(contracts, embedder, Path(tmp), args.batch_size)
        source = MemoryChunks(c for chunks in texts.values() for c in chunks)
        common.log("ranking passages for every category ...")
        ranked = rank_all(contracts, embedder, index, source)
        index.close()
    options = grid(ranked)
    held_out: list[dict[str, Any]] = []
    for fold in folds(names, 5):
        train = [n for n in names if n not in fold]
        form, k, t = choose(ranked, gold, train, options)
        result = score(ranked[form], gold, fold, k, t)
        held_out.append(
            {
                "form": form,
                "per_category": k,
                "min_score": t,
                **{key: round(v, 3) for key, v in result.items()},
            }
        )
    form, k, t = choose(ranked, gold, names, options)
    everything = score(ranked[form], gold, names, k, t)
    wording_folds: list[dict[str, Any]] = []
    for fold in folds(names, 5):
        train = [n for n in names if n not in fold]
        least = max(
            WORDING, key=lambda w: wording_findings(ranked[form], gold, train, k, t, w)["f1"]
        )
        held = wording_findings(ranked[form], gold, fold, k, t, least)
        wording_folds.append({"least": least, **{key: round(v, 3) for key, v in held.items()}})
    common.print_table(
        ["fold", "least wording", "precision", "recall", "F1", "findings/contract"],
        [
            [i + 1, w["least"], w["precision"], w["recall"], w["f1"], w["findings_per_contract"]]
            for i, w in enumerate(wording_folds)
        ],
    )
    defaults = score(ranked["query"], gold, names, DEFAULT_K, MIN_SCORE)
    rows = [
        [
            f"fold {i + 1}",
            h["form"],
            h["per_category"],
            h["min_score"],
            h["recall"],
            h["passages"],
            h["absent_only"],
        ]
        for i, h in enumerate(held_out)
    ]
    rows.append(
        [
            "all (chosen)",
            form,
            k,
            t,
            round(everything["recall"], 3),
            round(everything["passages"], 1),
            round(everything["absent_only"], 1),
        ]
    )
    rows.append(
        [
            "all (defaults)",
            "query",
            DEFAULT_K,
            MIN_SCORE,
            round(defaults["recall"], 3),
            round(defaults["passages"], 1),
            round(defaults["absent_only"], 1),
        ]
    )
    common.print_table(
        ["", "form", "per category", "min score", "candidate recall", "passages", "absent-only"],
        rows,
    )
    recalls = [h["recall"] for h in held_out]
    result: dict[str, Any] = {
        "benchmark": "risk_candidates",
        "contracts": len(contracts),
        "held_out_recall_mean": round(statistics.mean(recalls), 3),
        "held_out_recall_min": min(recalls),
        "held_out_recall_max": max(recalls),
        "folds": held_out,
        "chosen_on_all": {"form": form, "per_category": k, "min_score": t, **everything},
        "defaults": defaults,
        "seconds": round(wall[0], 1),
        "wording_findings_folds": wording_folds,
    }
    print(
        f"held-out candidate recall {result['held_out_recall_mean']} "
        f"(folds {result['held_out_recall_min']}-{result['held_out_recall_max']})"
    )
    common.emit_json(result)
    return result


if __name__ == "__main__":
    main()
