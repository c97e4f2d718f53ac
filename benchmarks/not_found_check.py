"""Checking a "not found": the relevance threshold by cross-validation; extractor accuracy.

Every CUAD dev contract is indexed with our stages (`retrieval_quality.ingest_ours`). For
each contract and each of the 41 categories, the query is the category's name, searched
within that contract with `pipelines.passages.search_passages` and the lexical reranker
(the service's embedded defaults); the signal is `pipelines.evidence.relevance` of the best
passage (`top1`) or the best of the first three (`top3`, what the service uses). A pair
with gold spans is a clause that is present; without, absent.

Threshold: 5 folds of the contracts (contract i in fold i mod 5); on four folds the
threshold with the best balanced accuracy (mean of the present pairs called relevant and
the absent ones not; ties: the lowest, since calling absent a clause that is there is the
worse error) is chosen and scored on the fifth. `RELEVANT_THRESHOLD` is the median of the
folds' choices.

Extraction: `pipelines.extract.extract_fields` on what the service gives it (the top 5
passages for the category's name and the contract's first units), against CUAD's
`answer_normalized` of Governing Law, Agreement Date and Effective Date: right, wrong and
missed where the gold has a full value; extracted where the gold has none; for Effective
Date, how often the agreement date was given instead (no effective date named) and how
often that equals the gold effective date.

Run: `.venv/bin/python -m benchmarks.not_found_check [--quick] [--limit N]`
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks import common
from benchmarks.analysis_common import MemoryChunks
from benchmarks.retrieval_quality import TENANT, ingest_ours

FOLDS = 5
QUICK_CONTRACTS = 5
EVIDENCE = 5
EXTRACTED = ("Governing Law", "Agreement Date", "Effective Date")


def categories_and_answers(data: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    """All CUAD categories, and per contract the `answer_normalized` of the extracted ones."""
    categories: dict[str, None] = {}
    answers: dict[str, dict[str, str]] = {}
    with (data / "cuad_annotations.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            categories.update(dict.fromkeys(row["labels"]))
            answers[row["contract"]] = {
                c: (row["labels"].get(c, {}).get("answer_normalized") or "") for c in EXTRACTED
            }
    return list(categories), answers


def balanced_accuracy(rows: Sequence[tuple[float, bool]], threshold: float) -> dict[str, float]:
    present = [s for s, p in rows if p]
    absent = [s for s, p in rows if not p]
    tpr = sum(s >= threshold for s in present) / len(present) if present else 0.0
    tnr = sum(s < threshold for s in absent) / len(absent) if absent else 0.0
    return {
        "balanced_accuracy": round((tpr + tnr) / 2, 4),
        "present_called_relevant": round(tpr, 4),
        "absent_called_absent": round(tnr, 4),
    }


def choose(rows: Sequence[tuple[float, bool]]) -> float:
    """The threshold with the best balanced accuracy on `rows` (lowest among ties)."""
    values = sorted({s for s, _ in rows})
    grid = [values[0] - 1e-6, *values, values[-1] + 1e-6] if values else [0.0]
    best = max(balanced_accuracy(rows, t)["balanced_accuracy"] for t in grid)
    return next(t for t in grid if balanced_accuracy(rows, t)["balanced_accuracy"] == best)


def cross_validate(
    rows: dict[str, list[tuple[float, bool]]], names: Sequence[str]
) -> dict[str, Any]:
    folds = [[n for i, n in enumerate(names) if i % FOLDS == k] for k in range(FOLDS)]
    per_fold = []
    for held in folds:
        train = [r for n in names if n not in held for r in rows[n]]
        test = [r for n in held for r in rows[n]]
        threshold = choose(train)
        per_fold.append(
            {
                "threshold": round(threshold, 4),
                "train": balanced_accuracy(train, threshold)["balanced_accuracy"],
                **balanced_accuracy(test, threshold),
            }
        )
    held_out = [f["balanced_accuracy"] for f in per_fold]
    chosen = statistics.median(f["threshold"] for f in per_fold)
    everything = [r for n in names for r in rows[n]]
    return {
        "folds": per_fold,
        "held_out_mean": round(statistics.mean(held_out), 4),
        "held_out_min": min(held_out),
        "held_out_max": max(held_out),
        "held_out_stdev": round(statistics.stdev(held_out), 4) if len(held_out) > 1 else 0.0,
        "chosen_threshold": round(chosen, 4),
        "all_pairs_at_chosen": balanced_accuracy(everything, chosen),
    }


def gold_date(text: str) -> date | None:
    match = re.fullmatch(r"\s*(\d{1,2})/(\d{1,2})/(\d{2,4})\s*", text)
    if not match:
        return None
    month, day, year = (int(g) for g in match.groups())
    year += 0 if year >= 100 else (2000 if year < 50 else 1900)
    try:
        return date(year, month, day)
    except ValueError:
        return None


def same(category: str, value: str | None, gold: str) -> bool | None:
    """Does `value` equal the gold answer (None: the gold has no full value)."""
    if category == "Governing Law":
        if not gold.strip():
            return None
        return value is not None and value.casefold() == gold.strip().casefold()
    expected = gold_date(gold)
    if expected is None:
        return None
    return value == expected.isoformat()


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = common.make_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    common.force_offline()
    from pipelines.evidence import RELEVANT_THRESHOLD, best_relevance
    from pipelines.extract import FIELDS, OPENING_UNITS, extract_fields, readable
    from pipelines.passages import search_passages
    from pipelines.rerank import LexicalReranker

    contracts = common.pick_contracts(args.data, args.quick, args.limit, QUICK_CONTRACTS)
    categories, answers = categories_and_answers(args.data)
    embedder = common.load_our_embedder(args.embedder, args.model, args.batch_size)
    reranker = LexicalReranker()
    signals: dict[str, dict[str, list[tuple[float, bool]]]] = {"top1": {}, "top3": {}}
    extraction: dict[str, dict[str, int]] = {
        c: {
            "right": 0,
            "wrong": 0,
            "missed": 0,
            "extracted_without_gold": 0,
            "no_gold": 0,
            "agreement_date_instead": 0,
            "agreement_date_instead_matches_gold": 0,
        }
        for c in EXTRACTED
    }
    mistakes: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-notfound-") as tmp, common.stopwatch() as wall:
        common.log(f"indexing {len(contracts)} contracts ...")
        index, chunks = ingest_ours(contracts, embedder, Path(tmp), args.batch_size)
        source = MemoryChunks()
        for units in chunks.values():
            source.add(units)
        common.log("querying ...")
        for contract in contracts:
            for depth in (1, 3):
                signals[f"top{depth}"][contract.name] = []
            for category in categories:
                passages = search_passages(
                    category,
                    tenant=TENANT,
                    embedder=embedder,
                    index=index,
                    chunks=source,
                    reranker=reranker,
                    limit=EVIDENCE,
                    document_ids=[contract.name],
                )
                present = category in contract.gold
                for depth in (1, 3):
                    signals[f"top{depth}"][contract.name].append(
                        (best_relevance(category, passages, depth), present)
                    )
                if category not in EXTRACTED:
                    continue
                gold = answers[contract.name][category]
                [found] = extract_fields(
                    [FIELDS[category]],
                    readable([p.chunk for p in passages], source),
                    chunks[contract.name][:OPENING_UNITS],
                ) or [None]
                value = found.value if found and found.field == FIELDS[category] else None
                verdict = same(category, value, gold)
                counts = extraction[category]
                if found is not None and found.field != FIELDS[category]:
                    # no effective date named: the agreement date is shown, as such
                    counts["agreement_date_instead"] += 1
                    counts["agreement_date_instead_matches_gold"] += bool(
                        same(category, found.value, gold)
                    )
                if verdict is None:
                    counts["no_gold"] += 1
                    counts["extracted_without_gold"] += value is not None
                elif verdict:
                    counts["right"] += 1
                else:
                    counts["missed" if value is None else "wrong"] += 1
                    mistakes.append(
                        {
                            "contract": contract.name[:60],
                            "category": category,
                            "gold": gold,
                            "extracted": str(value),
                        }
                    )
        index.close()
    names = [c.name for c in contracts]
    cv = {side: cross_validate(rows, names) for side, rows in signals.items()}
    print(
        f"{len(contracts)} contracts x {len(categories)} categories; "
        f"embedder {embedder.name}; signal: pipelines.evidence.relevance"
    )
    for side, result in cv.items():
        print(f"\nsignal {side}: threshold chosen on 4 folds, balanced accuracy on the 5th")
        common.print_table(
            ["fold", "threshold", "train BA", "held-out BA", "present->relevant", "absent->absent"],
            [
                [
                    k + 1,
                    f["threshold"],
                    f["train"],
                    f["balanced_accuracy"],
                    f["present_called_relevant"],
                    f["absent_called_absent"],
                ]
                for k, f in enumerate(result["folds"])
            ],
        )
        print(
            f"held-out BA mean {result['held_out_mean']} (min {result['held_out_min']}, "
            f"max {result['held_out_max']}, stdev {result['held_out_stdev']}); median "
            f"threshold {result['chosen_threshold']}: all pairs "
            f"{result['all_pairs_at_chosen']}"
        )
    in_code = {
        side: balanced_accuracy([r for n in names for r in rows[n]], RELEVANT_THRESHOLD)
        for side, rows in signals.items()
    }
    print(f"\nRELEVANT_THRESHOLD in code = {RELEVANT_THRESHOLD}: {in_code}")
    print("\nextraction (gold: CUAD answer_normalized; dates compared as calendar dates)")
    common.print_table(
        [
            "field",
            "right",
            "wrong",
            "missed",
            "accuracy",
            "no gold",
            "extracted w/o gold",
            "agreement date instead (= gold)",
        ],
        [
            [
                c,
                e["right"],
                e["wrong"],
                e["missed"],
                round(e["right"] / max(1, e["right"] + e["wrong"] + e["missed"]), 3),
                e["no_gold"],
                e["extracted_without_gold"],
                f"{e['agreement_date_instead']} ({e['agreement_date_instead_matches_gold']})",
            ]
            for c, e in extraction.items()
        ],
    )
    for mistake in mistakes:
        common.log(f"  {mistake}")
    print(f"wall time {wall[0]:.1f} s")
    result: dict[str, Any] = {
        "benchmark": "not_found_check",
        "quick": args.quick,
        "embedder": embedder.name,
        "contracts": len(contracts),
        "categories": len(categories),
        "pairs": sum(len(r) for r in signals["top1"].values()),
        "present": sum(p for rows in signals["top1"].values() for _, p in rows),
        "cross_validation": cv,
        "threshold_in_code": RELEVANT_THRESHOLD,
        "at_threshold_in_code": in_code,
        "extraction": {
            c: {
                **e,
                "accuracy": round(e["right"] / max(1, e["right"] + e["wrong"] + e["missed"]), 3),
            }
            for c, e in extraction.items()
        },
        "extraction_mistakes": mistakes,
        "seconds": round(wall[0], 1),
    }
    common.emit_json(result)
    return result


if __name__ == "__main__":
    main()
