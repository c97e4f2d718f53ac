"""CUAD risk extraction: recall of gold clauses, false alarms and grounding, per category.

Each dev contract (PDF, our parse and chunk stages, indexed for `candidates` as the service
does) goes through `extract_risks(kind="contract")`.
Categories are the taxonomy's CUAD ids (compared case-insensitively with the annotations).
Gold spans index the TXT; spans and quotes are compared after lowercasing, punctuation to
spaces and whitespace collapsed (`common.normalise`), as tokens:

- recall: a gold span of category C counts as found when a grounded finding of C (one a
  user is shown) quotes it with token Jaccard >= 0.5 (CUAD's own evaluation threshold);
- false alarms: findings of a category for which the contract has no gold span;
- grounding rate: share of findings whose quote was found verbatim (after normalising) in
  the document text (`Finding.grounded`).

Absolute figures with the bundled 0.5B local model are low: the harness is the point;
score a real Qwen3 server with `--llm-url`. `--quick`: the smallest contract, a few
categories (one with gold spans, one without), prompts capped at 1,200 tokens and
small outputs.

    .venv/bin/python -m benchmarks.extraction_quality [--quick] [--limit N] [--llm-url URL]
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import analysis_common as ac
from benchmarks import common
from pipelines.errors import DocsightError

JACCARD = 0.5
QUICK_OUTPUT_TOKENS = 96
QUICK_PROMPT_TOKENS = 1200
SALT = "bench-tenant"
COUNTS = (
    "contracts",
    "gold_spans",
    "found_spans",
    "findings",
    "grounded",
    "absent",
    "false_alarms",
    "contracts_alarmed",
)


def token_set(text: str) -> frozenset[str]:
    return frozenset(common.normalise(text).split())


def jaccard(a: str, b: str) -> float:
    x, y = token_set(a), token_set(b)
    return len(x & y) / len(x | y) if x or y else 0.0


def quick_categories(ids: Sequence[str], gold: dict[str, list[str]]) -> list[str]:
    """One category with gold spans (Governing Law when labelled) and one without, from the
    same taxonomy group when it has one (one request when the contract exceeds the budget)."""
    from pipelines.risk_taxonomy import groups

    with_gold = sorted((i for i in ids if i.lower() in gold), key=lambda i: i != "Governing Law")
    if not with_gold:
        return [i for i in ids if i.lower() not in gold][:1]
    group = next(g for _, g in groups("contract") if with_gold[0] in {c.id for c in g})
    without = [c.id for c in group if c.id.lower() not in gold]
    without = without or [i for i in ids if i.lower() not in gold]
    return with_gold[:1] + without[:1]


def pick(
    data: Path, quick: bool, limit: int | None, ids: Sequence[str], max_pages: int | None = None
) -> list[Any]:
    """All contracts (the first `limit` of those with at most `max_pages` pages), or with
    --quick the smallest with a gold span in a taxonomy category."""
    if not quick:
        if max_pages is None:
            return common.load_contracts(data, limit)
        import pypdfium2 as pdfium

        short = [
            c
            for c in common.load_contracts(data)
            if len(pdfium.PdfDocument(str(c.pdf))) <= max_pages
        ]
        return short[:limit] if limit is not None else short
    wanted = {i.lower() for i in ids}
    ordered = common.pick_contracts(data, quick=True, limit=10_000, quick_count=1)
    usable = [c for c in ordered if wanted & {k.lower() for k in c.gold}]
    return usable[: limit or 1]


def score_contract(
    findings: Sequence[Any],
    gold: dict[str, list[str]],
    asked: Sequence[str],
    stats: dict[str, dict[str, int]],
) -> None:
    """Add one contract's counts to `stats[category]` (`gold` keyed by lowercased category)."""
    for category in asked:
        row = stats[category]
        mine = [f for f in findings if f.category.lower() == category.lower()]
        spans = gold.get(category.lower(), [])
        row["contracts"] += 1
        row["gold_spans"] += len(spans)
        row["found_spans"] += sum(
            1
            for span in spans
            if any(f.grounded and jaccard(f.quote, span) >= JACCARD for f in mine)
        )
        row["findings"] += len(mine)
        row["grounded"] += sum(1 for f in mine if f.grounded)
        if not spans:
            row["absent"] += 1
            row["false_alarms"] += len(mine)
            row["contracts_alarmed"] += bool(mine)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = common.make_parser(__doc__.splitlines()[0])
    ac.add_llm_flags(parser)
    parser.add_argument(
        "--categories",
        default=None,
        help="comma-separated category ids to ask (default: all; --quick: few)",
    )
    parser.add_argument(
        "--hits",
        type=int,
        default=None,
        help="passages retrieved per category (default: the service's)",
    )
    parser.add_argument(
        "--max-pages", type=int, default=None, help="only contracts of at most this many pages"
    )
    args = parser.parse_args(argv)
    common.force_offline()
    from pipelines.ingest import embed_and_index_stage
    from pipelines.passages import search_passages
    from pipelines.rerank import LexicalReranker
    from pipelines.risk_candidates import PER_CATEGORY
    from pipelines.risk_taxonomy import RiskCategory, category_ids
    from pipelines.risks import extract_risks
    from services.adapters.qdrant_edge import EdgeIndex
    from services.adapters.tokens import load_token_counter

    data = args.data.resolve()
    ids = list(category_ids("contract"))
    contracts = pick(data, args.quick, args.limit, ids, args.max_pages)
    counter = load_token_counter()
    embedder = common.load_our_embedder(args.embedder, args.model, args.batch_size)
    handle = ac.open_bench_llm(args)
    output = args.max_output_tokens or (QUICK_OUTPUT_TOKENS if args.quick else None)
    budget = ac.bench_budget(handle, output, QUICK_PROMPT_TOKENS if args.quick else None)
    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    seconds: list[float] = []
    try:
        llm = handle.require()
        with tempfile.TemporaryDirectory(prefix="bench-extract-") as folder:
            index = EdgeIndex(Path(folder) / "edge", embedder.dimension)
            store = ac.MemoryChunks()
            for n, contract in enumerate(contracts):
                doc = ac.parse_pdf(contract.pdf, f"c{n:03d}", counter)
                embed_and_index_stage(
                    ac.TENANT,
                    doc.chunks,
                    embedder,
                    index,
                    batch_size=args.batch_size,
                    title=contract.pdf.stem,
                )
                store.add(doc.chunks)

                def candidates(
                    category: RiskCategory, document_id: str = doc.document.id
                ) -> list[Any]:
                    return search_passages(
                        category.query,
                        tenant=ac.TENANT,
                        embedder=embedder,
                        index=index,
                        chunks=store,
                        reranker=LexicalReranker(),
                        limit=args.hits or PER_CATEGORY,
                        document_ids=[document_id],
                    )

                gold = {k.lower(): v for k, v in contract.gold.items()}
                asked = (
                    args.categories.split(",")
                    if args.categories
                    else quick_categories(ids, gold)
                    if args.quick
                    else ids
                )
                with common.stopwatch() as took:
                    try:
                        report = extract_risks(
                            doc.document,
                            doc.chunks,
                            kind="contract",
                            llm=llm,
                            budget=budget,
                            candidates=candidates,
                            cache_salt=SALT,
                            only=asked,
                            page_starts=doc.page_starts,
                        )
                    except DocsightError as exc:
                        common.log(f"{contract.name}: {type(exc).__name__}: {exc}")
                        totals["contracts_failed"] += 1
                        continue
                seconds.append(round(took[0], 1))
                score_contract(report.findings, gold, asked, stats)
                totals["contracts"] += 1
                totals["requests"] += report.requests
                totals["failed_requests"] += len(report.failed)
                common.log(
                    f"{contract.name[:60]}: {report.mode}, {report.requests} requests, "
                    f"{len(report.findings)} findings, {took[0]:.1f} s"
                )
            index.close()
    finally:
        handle.close()
    return report_table(stats, totals, args, llm.name, seconds)


def report_table(
    stats: dict[str, dict[str, int]],
    totals: dict[str, int],
    args: Any,
    model: str,
    seconds: Sequence[float] = (),
) -> dict[str, Any]:
    def share(a: int, b: int) -> float | None:
        return round(a / b, 3) if b else None

    per_category: dict[str, dict[str, Any]] = {}
    for category, row in sorted(stats.items()):
        per_category[category] = {
            **{key: row[key] for key in COUNTS},
            "recall": share(row["found_spans"], row["gold_spans"]),
            "grounding_rate": share(row["grounded"], row["findings"]),
            "false_alarm_contract_rate": share(row["contracts_alarmed"], row["absent"]),
        }
    common.print_table(
        [
            "category",
            "gold",
            "found",
            "recall",
            "findings",
            "grounded",
            "false alarms",
            "absent in",
        ],
        [
            [
                c,
                r["gold_spans"],
                r["found_spans"],
                r["recall"] if r["recall"] is not None else "-",
                r["findings"],
                r["grounded"],
                r["false_alarms"],
                r["absent"],
            ]
            for c, r in per_category.items()
        ],
    )
    sums = {
        key: sum(r[key] for r in stats.values())
        for key in (
            "gold_spans",
            "found_spans",
            "findings",
            "grounded",
            "false_alarms",
            "absent",
            "contracts_alarmed",
        )
    }
    result: dict[str, Any] = {
        "benchmark": "extraction_quality",
        "model": model,
        "local": args.llm_url is None,
        **totals,
        **sums,
        "recall": share(sums["found_spans"], sums["gold_spans"]),
        "grounding_rate": share(sums["grounded"], sums["findings"]),
        "false_alarm_contract_rate": share(sums["contracts_alarmed"], sums["absent"]),
        "jaccard_threshold": JACCARD,
        "per_category": per_category,
        "seconds_per_contract": list(seconds),
        "seconds_median": sorted(seconds)[len(seconds) // 2] if seconds else None,
    }
    print(
        f"recall {result['recall']}, grounding {result['grounding_rate']}, "
        f"false alarms {sums['false_alarms']} over {sums['absent']} absent pairs"
    )
    common.emit_json(result)
    return result


if __name__ == "__main__":
    main()
