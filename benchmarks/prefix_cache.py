"""Prefix cache: prompt tokens sent vs prompt tokens the server had to evaluate.

One document (the smallest CUAD contract by default, `--pdf` for another) goes through
what a user does with it: a summary, a risk extraction and three questions, all with the
same `cache_salt` (one tenant). Each call's usage comes from the adapter's `usage()`
(`prompt_tokens`, and `cached_prompt_tokens` as the server reports them in
`usage.prompt_tokens_details.cached_tokens`). Evaluated = sent - cached; the figure is
evaluated / sent over all calls (target under 0.3: prompts are laid out instructions
first, document next, task last, so later calls reuse the document's prefix).
Questions get the whole document as candidates (`whole_document_candidates`, in order)
when it fits the budget, else the first chunks that fit, labelled with the file name as
the service does (so their prompt starts exactly like the summary's). `--quick` runs the
questions only (each summary or risk request costs the local model a minute of prompt
evaluation on 2 cores). A call whose reply does not validate (small outputs with --quick)
still counts its tokens and is marked failed.

    .venv/bin/python -m benchmarks.prefix_cache [--quick] [--llm-url URL] [--pdf FILE]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import analysis_common as ac
from benchmarks import common
from pipelines.errors import DocsightError

QUESTIONS = (
    "Who are the parties to this agreement?",
    "When does this agreement take effect and how long does it last?",
    "Which law governs this agreement?",
)
QUICK_OUTPUT_TOKENS = 24
SALT = "bench-tenant"


def smallest_contract(data: Path) -> Path:
    return common.pick_contracts(data, quick=True, limit=1, quick_count=1)[0].pdf


def measure(calls: Sequence[tuple[str, Callable[[], object]]], llm: Any) -> list[dict[str, Any]]:
    """Run each call; one row of usage deltas per call."""
    rows: list[dict[str, Any]] = []
    for name, call in calls:
        before = llm.usage()
        error = None
        with common.stopwatch() as took:
            try:
                call()
            except DocsightError as exc:
                error = type(exc).__name__
        after = llm.usage()
        sent = after.prompt_tokens - before.prompt_tokens
        cached = after.cached_prompt_tokens - before.cached_prompt_tokens
        rows.append(
            {
                "call": name,
                "requests": after.requests - before.requests,
                "sent": sent,
                "cached": cached,
                "evaluated": sent - cached,
                "completion": after.completion_tokens - before.completion_tokens,
                "seconds": round(took[0], 1),
                "error": error,
            }
        )
        common.log(f"{name}: sent {sent}, cached {cached}, {took[0]:.1f} s {error or ''}")
    return rows


def lexical_candidates(chunks: Sequence[Any]) -> Callable[[Any], list[Any]]:
    """Risk candidates without an index: the lexical reranker over the whole document."""
    from pipelines.rerank import LexicalReranker, rerank

    def candidates(category: Any) -> list[Any]:
        return rerank(category.query, ac.whole_document(chunks), LexicalReranker())

    return candidates


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = common.make_parser(__doc__.splitlines()[0])
    ac.add_llm_flags(parser)
    parser.add_argument(
        "--pdf", type=Path, default=None, help="document (default: smallest CUAD contract)"
    )
    parser.add_argument(
        "--steps",
        default=None,
        help="comma-separated of summary,risks,questions (default all; "
        "--quick: questions, to stay under a minute locally)",
    )
    args = parser.parse_args(argv)
    common.force_offline()
    from pipelines.answers import answer_question, whole_document_candidates
    from pipelines.risks import extract_risks
    from pipelines.summaries import summarize
    from services.adapters.tokens import load_token_counter

    pdf = args.pdf or smallest_contract(args.data.resolve())
    counter = load_token_counter()
    doc = ac.parse_pdf(pdf, "doc-1", counter)
    output = args.max_output_tokens or (QUICK_OUTPUT_TOKENS if args.quick else None)
    handle = ac.open_bench_llm(args)
    try:
        llm, budget = handle.require(), ac.bench_budget(handle, output)
        titles = {doc.document.id: doc.document.filename}  # as the service labels documents

        def candidates(question: str) -> list[Any]:
            return whole_document_candidates(
                question, doc.chunks, counter=counter, budget=budget, titles=titles
            ) or ac.whole_document(doc.chunks)

        steps = args.steps or ("questions" if args.quick else "summary,risks,questions")
        calls: list[tuple[str, Callable[[], object]]] = [
            (
                "summary",
                lambda: summarize(
                    doc.document,
                    doc.chunks,
                    kind="contract",
                    llm=llm,
                    counter=counter,
                    budget=budget,
                    cache_salt=SALT,
                ),
            ),
            (
                "risks",
                lambda: extract_risks(
                    doc.document,
                    doc.chunks,
                    kind="contract",
                    llm=llm,
                    budget=budget,
                    cache_salt=SALT,
                    candidates=lexical_candidates(doc.chunks),
                    page_starts=doc.page_starts,
                ),
            ),
        ]
        calls = [(name, call) for name, call in calls if name in steps.split(",")]
        for n, question in enumerate(QUESTIONS if "questions" in steps else (), 1):
            calls.append(
                (
                    f"question {n}",
                    lambda q=question: answer_question(
                        q,
                        candidates(q),
                        llm=llm,
                        counter=counter,
                        budget=budget,
                        titles=titles,
                        cache_salt=SALT,
                    ),
                )
            )
        rows = measure(calls, llm)
        model = llm.name
    finally:
        handle.close()
    sent = sum(row["sent"] for row in rows)
    cached = sum(row["cached"] for row in rows)
    ratio = round((sent - cached) / sent, 3) if sent else 0.0
    print(
        f"document: {pdf.name} ({len(doc.pages)} pages, {len(doc.chunks)} chunks); "
        f"model {model}; budget {budget}"
    )
    common.print_table(
        ["call", "requests", "sent", "cached", "evaluated", "completion", "seconds", "error"],
        [
            [
                r[k] or "" if k == "error" else r[k]
                for k in (
                    "call",
                    "requests",
                    "sent",
                    "cached",
                    "evaluated",
                    "completion",
                    "seconds",
                    "error",
                )
            ]
            for r in rows
        ],
    )
    print(f"evaluated / sent = {sent - cached} / {sent} = {ratio} (target < 0.3)")
    result = {
        "benchmark": "prefix_cache",
        "steps": steps,
        "document": pdf.name,
        "model": model,
        "local": args.llm_url is None,
        "calls": rows,
        "prompt_tokens_sent": sent,
        "prompt_tokens_cached": cached,
        "prompt_tokens_evaluated": sent - cached,
        "evaluated_ratio": ratio,
        "target_ratio": 0.3,
        "max_output_tokens": budget.max_output_tokens,
    }
    common.emit_json(result)
    return result


if __name__ == "__main__":
    main()
