"""FinanceBench evidence: is the gold evidence page among the retrieved, and the cited, pages?

For each dev question (`financebench_questions.jsonl`) its filing is ingested with our
stages (pypdfium2, small units under contextual headers, `--embedder`, the embedded
qdrant-edge index), then the service's search (`search_passages`: expansion, lexical
reranker, small-to-big) is run for the question within that filing. The headline is the
evidence page (+-1) among the pages of the passages returned within `--chars` characters
(whole passages in rank order), next to the LangChain tutorial pipeline (PyPDFLoader,
1000/200 splits, dense top-k) measured the same way in the same run. Unless `--no-llm`,
`answer_question` answers from the top `--hits` passages and its citations give the cited
pages. `evidence_page_num` is 0-based: gold page = it + 1 (pypdfium2 pages are 1-based);
a question scores when any of its evidence pages is within +-1 of a returned (resp. cited)
page; `cited` counts over the questions answered (a "not found" cites nothing).

    .venv/bin/python -m benchmarks.finance_evidence [--quick] [--no-llm] [--llm-url URL]

`--cv` (retrieval only) chooses the table-page constants of `pipelines.passages`
(`TABLE_PAGES`, `PAGE_BONUS`, `PAGE_TOKENS`, `PAGE_POOL`, `pipelines.table_pages.TABLE_SHARE`)
by 5-fold cross-validation over the dev questions: these 28 and the Chinese gold set's
(`benchmarks/chinese_retrieval.py`), folds drawn over both together as
`retrieval_quality.py --cv` draws them over contracts. A question scores 1 when its
benchmark counts it a hit: here the evidence page (+-1) within `--chars`, there the gold
phrase within 4,000 characters. Coordinate ascent on four folds, scored on the fifth;
printed: each fold's held-out score and choice, the held-out rate of each question set
(each question scored by the choice of the folds without it), the folds' median choice,
and both sets with the feature off and with the current defaults.

    .venv/bin/python -m benchmarks.finance_evidence --cv
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import analysis_common as ac
from benchmarks import common
from pipelines.errors import DocsightError

QUICK_QUESTIONS = 1
QUICK_OUTPUT_TOKENS = 48
DEPTH = 40
"""Passages asked of each pipeline: more than fit the character budget."""
SALT = "bench-tenant"


def load_questions(data: Path) -> list[dict[str, Any]]:
    with (data / "financebench_questions.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def pick_questions(data: Path, quick: bool, limit: int | None) -> list[dict[str, Any]]:
    """All questions in file order, or with --quick those of the smallest filing."""
    questions = load_questions(data)
    if quick:
        folder = data / "financebench" / "pdfs"
        questions.sort(key=lambda q: (folder / f"{q['doc_name']}.pdf").stat().st_size)
        limit = limit if limit is not None else QUICK_QUESTIONS
    return questions[:limit] if limit is not None else questions


def near(pages: Iterable[int], gold: set[int]) -> bool:
    """Any page within +-1 of a gold page."""
    return any(abs(page - g) <= 1 for page in pages for g in gold)


def covered(spans: Iterable[tuple[int, int]]) -> set[int]:
    return {page for start, end in spans for page in range(start, end + 1)}


def within_chars(ranked: Iterable[tuple[tuple[int, int], int]], budget: int) -> set[int]:
    """Pages of the passages, in rank order, that fit `budget` characters in all."""
    spans: list[tuple[int, int]] = []
    used = 0
    for span, chars in ranked:
        used += chars
        if used > budget:
            break
        spans.append(span)
    return covered(spans)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = common.make_parser(__doc__.splitlines()[0])
    ac.add_llm_flags(parser)
    parser.add_argument("--no-llm", action="store_true", help="score retrieval only")
    parser.add_argument("--hits", type=int, default=10, help="passages given to the model")
    parser.add_argument(
        "--chars",
        type=int,
        default=8000,
        help="character budget of the headline (passages in rank order)",
    )
    parser.add_argument(
        "--cv",
        action="store_true",
        help="choose the table-page constants by cross-validation over these "
        "and the Chinese gold set's questions (retrieval only)",
    )
    args = parser.parse_args(argv)
    common.force_offline()
    if args.cv:
        from benchmarks.table_pages_cv import run_cv

        return run_cv(args)
    from benchmarks import langchain_baseline as lc
    from pipelines.answers import answer_question
    from pipelines.ingest import embed_and_index_stage
    from pipelines.passages import search_passages
    from pipelines.rerank import LexicalReranker
    from services.adapters.qdrant_edge import EdgeIndex
    from services.adapters.tokens import load_token_counter

    data = args.data.resolve()
    questions = pick_questions(data, args.quick, args.limit)
    counter = load_token_counter()
    embedder = common.load_our_embedder(args.embedder, args.model, args.batch_size)
    handle = None if args.no_llm else ac.open_bench_llm(args)
    output = args.max_output_tokens or (QUICK_OUTPUT_TOKENS if args.quick else None)
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-finance-") as folder:
            index = EdgeIndex(Path(folder) / "edge", embedder.dimension)
            lc_store = lc.open_store(
                Path(folder) / "langchain", lc.EmbedderAsLangChain(embedder), embedder.dimension
            )
            store, done = ac.MemoryChunks(), set()
            for q in questions:
                name = q["doc_name"]
                if name not in done:
                    with common.stopwatch() as took:
                        doc = ac.parse_pdf(
                            data / "financebench" / "pdfs" / f"{name}.pdf", name, counter
                        )
                        embed_and_index_stage(
                            ac.TENANT,
                            doc.chunks,
                            embedder,
                            index,
                            batch_size=args.batch_size,
                            title=name,
                        )
                    lc.ingest_pdf(
                        lc_store, data / "financebench" / "pdfs" / f"{name}.pdf", args.batch_size
                    )
                    store.add(doc.chunks)
                    done.add(name)
                    common.log(
                        f"{name}: {len(doc.pages)} pages, {len(doc.chunks)} chunks "
                        f"in {took[0]:.1f} s"
                    )
                gold = {
                    e["evidence_page_num"] + 1
                    for e in q["evidence"]
                    if e.get("doc_name", name) == name
                }
                passages = search_passages(
                    q["question"],
                    tenant=ac.TENANT,
                    embedder=embedder,
                    index=index,
                    chunks=store,
                    reranker=LexicalReranker(),
                    limit=DEPTH,
                    document_ids=[name],
                )
                candidates = passages[: args.hits]
                retrieved = within_chars(
                    [((p.chunk.page_start, p.chunk.page_end), len(p.chunk.text)) for p in passages],
                    args.chars,
                )
                pdf = data / "financebench" / "pdfs" / f"{name}.pdf"
                lc_pages = within_chars(
                    [
                        ((d.metadata["page"] + 1, d.metadata["page"] + 1), len(d.page_content))
                        for d in lc.search(lc_store, q["question"], pdf, DEPTH)
                    ],
                    args.chars,
                )
                row: dict[str, Any] = {
                    "id": q["financebench_id"],
                    "doc": name,
                    "gold": sorted(gold),
                    "retrieved_hit": near(retrieved, gold),
                    "retrieved_pages": len(retrieved),
                    "langchain_hit": near(lc_pages, gold),
                    "langchain_pages": len(lc_pages),
                }
                if handle is not None:
                    llm = handle.require()
                    try:
                        answer = answer_question(
                            q["question"],
                            candidates,
                            llm=llm,
                            counter=counter,
                            budget=ac.bench_budget(handle, output),
                            cache_salt=SALT,
                        )
                        cited = covered((c.page_start, c.page_end) for c in answer.citations)
                        row.update(
                            found=answer.found,
                            cited_pages=sorted(cited),
                            cited_hit=near(cited, gold),
                            error=None,
                        )
                    except DocsightError as exc:
                        row.update(
                            found=False, cited_pages=[], cited_hit=False, error=type(exc).__name__
                        )
                rows.append(row)
                common.log(
                    f"{row['id']}: gold {sorted(gold)} retrieved_hit "
                    f"{row['retrieved_hit']} cited_hit {row.get('cited_hit')}"
                )
            index.close()
            lc.close_store(lc_store)
    finally:
        if handle is not None:
            handle.close()
    return report(rows, args, handle is not None)


def report(rows: Sequence[dict[str, Any]], args: Any, with_llm: bool) -> dict[str, Any]:
    headers = ["question", "doc", "gold pages", "ours hit", "langchain hit"]
    if with_llm:
        headers += ["cited pages", "cited hit", "error"]
    table = []
    for r in rows:
        line = [
            r["id"],
            r["doc"],
            ",".join(map(str, r["gold"])),
            r["retrieved_hit"],
            r["langchain_hit"],
        ]
        if with_llm:
            line += [",".join(map(str, r["cited_pages"])), r["cited_hit"], r["error"] or ""]
        table.append(line)
    common.print_table(headers, table)
    n = max(1, len(rows))
    result: dict[str, Any] = {
        "benchmark": "finance_evidence",
        "questions": len(rows),
        "hits": args.hits,
        "embedder": args.embedder,
        "llm": with_llm,
        "chars": args.chars,
        "retrieved_page_rate": round(sum(r["retrieved_hit"] for r in rows) / n, 3),
        "mean_retrieved_pages": round(sum(r["retrieved_pages"] for r in rows) / n, 1),
        "langchain_page_rate": round(sum(r["langchain_hit"] for r in rows) / n, 3),
        "langchain_mean_pages": round(sum(r["langchain_pages"] for r in rows) / n, 1),
    }
    if with_llm:
        result["cited_page_rate"] = round(sum(r["cited_hit"] for r in rows) / n, 3)
        result["answered"] = sum(1 for r in rows if r["found"])
        result["errors"] = sum(1 for r in rows if r["error"])
        result["llm_url"] = args.llm_url
    common.emit_json(result)
    return result


if __name__ == "__main__":
    main()
