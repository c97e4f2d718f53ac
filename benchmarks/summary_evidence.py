"""Summary evidence: the share of summary statements backed by a quote located in the document.

Each dev contract of at most `--max-pages` pages (our parse and chunk stages) is summarised
as a contract by `pipelines.summaries.summarize`, and the first `--report-pages` pages of the
Chinese annual report as an annual report (0: skip it). A statement counts when it has text;
it is verified when one of its quotes (or its text) was found in the document text
(`pipelines.summary_evidence`); a key figure is verified only when its located quote also
shows its value. Reported per field and overall, with seconds per document.

With the bundled 0.5B model most quotes are paraphrases, so the share is low: the harness is
the point; score a real Qwen3 server with `--llm-url`.

    .venv/bin/python -m benchmarks.summary_evidence [--max-pages 3] [--limit N] \
        [--report-pages 12] [--llm-url URL]
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import analysis_common as ac
from benchmarks import common
from benchmarks.extraction_quality import pick
from pipelines.errors import DocsightError


def tally(summary: Any, counts: dict[str, dict[str, int]]) -> None:
    """Add one summary's statements to `counts[field]` (stated, verified)."""
    for name in type(summary).model_fields:
        value = getattr(summary, name)
        items = value if isinstance(value, list) else [value]
        for item in items:
            text = getattr(item, "text", None)
            stated = bool(text.strip()) if text is not None else bool(item.value.strip())
            if stated:
                counts[name]["stated"] += 1
                counts[name]["verified"] += bool(item.verified)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = common.make_parser(__doc__.splitlines()[0])
    ac.add_llm_flags(parser)
    parser.add_argument(
        "--max-pages", type=int, default=3, help="only contracts of at most this many pages"
    )
    parser.add_argument(
        "--report-pages",
        type=int,
        default=12,
        help="first pages of the Chinese annual report to summarise (0: none)",
    )
    args = parser.parse_args(argv)
    common.force_offline()
    from pipelines.summaries import summarize
    from services.adapters.tokens import load_token_counter

    data = args.data.resolve()
    contracts = pick(
        data, False, 1 if args.quick else args.limit, [], 2 if args.quick else args.max_pages
    )
    documents: list[tuple[str, Path, Any]] = [(c.name, c.pdf, "contract") for c in contracts]
    counter = load_token_counter()
    handle = ac.open_bench_llm(args)
    budget = ac.bench_budget(handle, args.max_output_tokens)
    counts: dict[str, dict[str, dict[str, int]]] = {
        "contract": defaultdict(lambda: defaultdict(int)),
        "annual_report": defaultdict(lambda: defaultdict(int)),
    }
    seconds: list[float] = []
    failed = 0
    try:
        llm = handle.require()
        with tempfile.TemporaryDirectory(prefix="bench-summary-") as folder:
            if args.report_pages and not args.quick:
                report = common.pdf_prefix(
                    data / common.CHINESE_REPORT, args.report_pages, Path(folder)
                )
                documents.append((report.name, report, "annual_report"))
            for n, (name, pdf, kind) in enumerate(documents):
                doc = ac.parse_pdf(pdf, f"s{n:03d}", counter)
                with common.stopwatch() as took:
                    try:
                        summary = summarize(
                            doc.document,
                            doc.chunks,
                            kind=kind,
                            llm=llm,
                            counter=counter,
                            budget=budget,
                            page_starts=doc.page_starts,
                        )
                    except DocsightError as exc:
                        common.log(f"{name}: {type(exc).__name__}: {exc}")
                        failed += 1
                        continue
                seconds.append(round(took[0], 1))
                tally(summary, counts[kind])
                common.log(f"{name[:60]}: {kind}, {took[0]:.1f} s")
    finally:
        handle.close()
    return report_table(counts, args, llm.name, seconds, failed, len(documents))


def report_table(
    counts: dict[str, dict[str, dict[str, int]]],
    args: Any,
    model: str,
    seconds: Sequence[float],
    failed: int,
    documents: int,
) -> dict[str, Any]:
    def share(a: int, b: int) -> float | None:
        return round(a / b, 3) if b else None

    rows, per_field = [], {}
    for kind, fields in counts.items():
        for name, row in sorted(fields.items()):
            per_field[f"{kind}.{name}"] = {**row, "share": share(row["verified"], row["stated"])}
            rows.append(
                [
                    f"{kind}.{name}",
                    row["stated"],
                    row["verified"],
                    per_field[f"{kind}.{name}"]["share"] if row["stated"] else "-",
                ]
            )
    common.print_table(["field", "stated", "verified", "share"], rows)
    stated = sum(r["stated"] for f in counts.values() for r in f.values())
    verified = sum(r["verified"] for f in counts.values() for r in f.values())
    result: dict[str, Any] = {
        "benchmark": "summary_evidence",
        "model": model,
        "local": args.llm_url is None,
        "documents": documents,
        "failed": failed,
        "stated": stated,
        "verified": verified,
        "verified_share": share(verified, stated),
        "per_field": per_field,
        "seconds_per_document": list(seconds),
    }
    print(f"verified {verified} of {stated} statements ({result['verified_share']})")
    common.emit_json(result)
    return result


if __name__ == "__main__":
    main()
