"""Time of a contract's risk report and summary, as the service computes them.

One contract (default: the dev set's 8-page LUCID distributor agreement) goes through our
parse, chunk, embed and index stages; then, `--runs` times each, `extract_risks` (its
candidates from `search_passages` with the lexical reranker, as the service) and
`summarize`. Every run starts a fresh embedded llama-server, so that no run reuses the
previous one's prompt cache (with `--llm-url` the server is shared: say so when you
compare). Prints each run, the median, the target, and the load average before and after
(the targets hold for 2 idle cores: compare only runs with a low load).

    .venv/bin/python -m benchmarks.analysis_time [--runs 3] [--steps risks,summary]
        [--pdf FILE] [--llm-url URL]
"""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import analysis_common as ac
from benchmarks import common

LUCID = Path(
    "cuad/full_contract_pdf/Part_III/Distributor/"
    "LUCIDINC_04_15_2011-EX-10.9-DISTRIBUTOR AGREEMENT.PDF"
)
TARGET_S = {"risks": 180.0, "summary": 90.0}
"""Issue 10's targets with the embedded model on 2 idle cores."""


def load() -> float:
    return round(os.getloadavg()[0], 2)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = common.make_parser(__doc__.splitlines()[0])
    ac.add_llm_flags(parser)
    parser.add_argument("--pdf", type=Path, default=None, help="a contract (default LUCID)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", default="risks,summary")
    args = parser.parse_args(argv)
    common.force_offline()
    from pipelines.ingest import embed_and_index_stage
    from pipelines.passages import search_passages
    from pipelines.rerank import LexicalReranker
    from pipelines.risk_candidates import PER_CATEGORY
    from pipelines.risk_taxonomy import RiskCategory
    from pipelines.risks import detect_kind, extract_risks
    from pipelines.summaries import summarize
    from services.adapters.qdrant_edge import EdgeIndex
    from services.adapters.tokens import load_token_counter

    pdf = args.pdf or args.data.resolve() / LUCID
    counter = load_token_counter()
    embedder = common.load_our_embedder(args.embedder, args.model, args.batch_size)
    doc = ac.parse_pdf(pdf, "doc-1", counter)
    kind = detect_kind(doc.chunks)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-analysis-time-") as folder:
        index = EdgeIndex(Path(folder) / "edge", embedder.dimension)
        embed_and_index_stage(
            ac.TENANT, doc.chunks, embedder, index, batch_size=args.batch_size, title=pdf.stem
        )
        store = ac.MemoryChunks(doc.chunks)

        def candidates(category: RiskCategory) -> list[Any]:
            return search_passages(
                category.query,
                tenant=ac.TENANT,
                embedder=embedder,
                index=index,
                chunks=store,
                reranker=LexicalReranker(),
                limit=PER_CATEGORY,
                document_ids=[doc.document.id],
            )

        def risks(llm: Any, budget: Any) -> dict[str, Any]:
            report = extract_risks(
                doc.document,
                doc.chunks,
                kind=kind,
                llm=llm,
                budget=budget,
                candidates=candidates,
                page_starts=doc.page_starts,
            )
            return {
                "requests": report.requests,
                "passages": report.passages,
                "findings": len(report.shown().findings),
                "categories": sorted({f.category for f in report.shown().findings}),
                "unverified": report.unverified,
                "failed": len(report.failed),
            }

        def summary(llm: Any, budget: Any) -> dict[str, Any]:
            result = summarize(
                doc.document, doc.chunks, kind=kind, llm=llm, counter=counter, budget=budget
            )
            return {
                "fields": sum(
                    1 for v in result.model_dump().values() if isinstance(v, dict) and v.get("text")
                )
            }

        steps: dict[str, Callable[[Any, Any], dict[str, Any]]] = {
            "risks": risks,
            "summary": summary,
        }
        for run in range(1, args.runs + 1):
            for name in args.steps.split(","):
                handle = ac.open_bench_llm(args)
                try:
                    llm, before = handle.require(), load()
                    with common.stopwatch() as took:
                        facts = steps[name](llm, handle.budget)
                    row = {
                        "step": name,
                        "run": run,
                        "seconds": round(took[0], 1),
                        "load_before": before,
                        "load_after": load(),
                        **facts,
                        "model": llm.name,
                    }
                finally:
                    handle.close()
                common.log(str(row))
                rows.append(row)
        index.close()
    result: dict[str, Any] = {
        "benchmark": "analysis_time",
        "pdf": pdf.name,
        "pages": len(doc.pages),
        "chunks": len(doc.chunks),
        "cpus": os.cpu_count(),
        "runs": rows,
        "medians": {},
    }
    table = []
    for name in args.steps.split(","):
        times = [r["seconds"] for r in rows if r["step"] == name]
        median = statistics.median(times)
        result["medians"][name] = median
        table.append(
            [
                name,
                ", ".join(f"{t:.0f}" for t in times),
                f"{median:.0f}",
                f"{TARGET_S[name]:.0f}",
                "yes" if median <= TARGET_S[name] else "no",
                ", ".join(f"{r['load_before']:.1f}" for r in rows if r["step"] == name),
            ]
        )
    common.print_table(["step", "runs s", "median s", "target s", "met", "load before"], table)
    common.emit_json(result)
    return result


if __name__ == "__main__":
    main()
