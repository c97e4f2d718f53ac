"""Daily report generation time for 10, 100 and 1,000 documents with analyses cached.

A SQLite store is filled with N ready documents created today (their chunks: passages
of CUAD contracts from --data when present, else synthetic text), and each one's summary
and risk report is computed once through `AnalysisService` with a scripted model (so the
cache holds them under their real keys). Then the report is built by `ReportService` as
the Celery task would (`step` until finished) and timed: it must make no model call and
submit no job (no repeated analysis). Rebuilding the same date (the upsert path) and
rendering Markdown and HTML are timed too.

    python -m benchmarks.report [--quick] [--sizes 10,100,1000] [--data DIR]
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import emit_json, force_offline, log, make_parser, print_table
from pipelines.context import Budget
from pipelines.models import ChatMessage, Chunk, Document, DocumentStatus
from pipelines.summary_models import ContractSummary
from services.adapters.embedder_fake import HashEmbedder
from services.adapters.index_fake import InMemoryIndex
from services.adapters.jobs import SqlJobStore
from services.adapters.llm_fake import FakeChatModel
from services.adapters.reports import SqlReportStore
from services.adapters.store import SqlStore
from services.app.analysis import AnalysisService
from services.app.jobs import JobService
from services.app.rendering.html import render_html
from services.app.rendering.markdown import render_markdown
from services.app.reports import ReportService
from services.settings import ReportSettings

FALLBACK = (
    "The Supplier shall indemnify the Customer against all losses without limit. "
    "This Agreement is governed by the laws of the State of New York. Either party "
    "may terminate this Agreement for convenience on thirty days notice."
)
CATEGORIES = (
    "Uncapped Liability",
    "Governing Law",
    "Termination for Convenience",
    "Audit Rights",
    "Exclusivity",
)


class Words:
    def count(self, text: str) -> int:
        return len(text.split())


class Handle:
    budget = Budget(max_model_len=32768, max_output_tokens=4096, max_prompt_tokens=28000)

    def __init__(self, model: FakeChatModel) -> None:
        self.model = model

    def require(self) -> FakeChatModel:
        return self.model


def responder(messages: list[ChatMessage]) -> str:
    """Risks: findings quoting the document's first sentences; summaries: valid JSON."""
    prompt = messages[-1].content
    if "Task: report the risks" in prompt:
        sentences = [s.strip() + "." for s in prompt.split(".") if len(s.split()) > 6][:3]
        digest = int(hashlib.sha1(prompt.encode()).hexdigest(), 16)
        return json.dumps(
            {
                "findings": [
                    {
                        "category": CATEGORIES[(digest + i) % len(CATEGORIES)],
                        "severity": ("high", "medium", "low")[(digest >> i) % 3],
                        "reason": "benchmark finding",
                        "quote": s.split("\n")[-1],
                        "page": 1,
                    }
                    for i, s in enumerate(sentences)
                ]
            }
        )
    value = {"text": "Acme Corp and Beta LLC", "pages": [1]}
    if '"key_figures"' in prompt:  # an annual report's summary
        return json.dumps(
            {
                "business": value,
                "outlook": value,
                "major_risks": [value],
                "key_figures": [
                    {"name": "revenue", "value": "USD 1m", "period": "2024", "page": 1}
                ],
            }
        )
    return json.dumps({name: value for name in ContractSummary.model_fields})


def passages(data: Path) -> list[str]:
    """Paragraphs of the dev set's CUAD contract texts, if present."""
    folder = data / "cuad"
    texts = sorted(folder.rglob("*.txt"))[:40] if folder.is_dir() else []
    out = [
        p.strip()
        for t in texts
        for p in t.read_text(errors="ignore").split("\n\n")
        if 40 < len(p.split()) < 200
    ]
    return out or [FALLBACK]


def fill(store: SqlStore, n: int, texts: list[str]) -> list[str]:
    ids = []
    for i in range(n):
        doc_id = f"doc-{n}-{i:05d}"
        body = [texts[(i * 2 + k) % len(texts)] for k in range(2)]
        body[0] = "AGREEMENT. This Agreement is made by the parties hereto. " + body[0]
        store.add_document(
            Document(
                id=doc_id,
                tenant="bench",
                filename=f"contract_{i:05d}.pdf",
                sha256=hashlib.sha256(doc_id.encode()).hexdigest(),
                size_bytes=1000,
            )
        )
        chunks, start = [], 0
        for k, text in enumerate(body):
            chunks.append(
                Chunk(
                    document_id=doc_id,
                    number=k,
                    text=text,
                    page_start=k + 1,
                    page_end=k + 1,
                    char_start=start,
                    char_end=start + len(text),
                    token_count=len(text.split()),
                )
            )
            start += len(text) + 2
        store.save_chunks(doc_id, chunks, page_starts=[0, len(body[0]) + 2])
        store.update_document(
            doc_id,
            status=DocumentStatus.READY,
            chunks_total=2,
            chunks_embedded=2,
            pages_total=2,
            pages_parsed=2,
        )
        ids.append(doc_id)
    failed = f"doc-{n}-failed"
    store.add_document(
        Document(
            id=failed,
            tenant="bench",
            filename="broken.pdf",
            sha256=hashlib.sha256(failed.encode()).hexdigest(),
            size_bytes=10,
        )
    )
    store.update_document(
        failed, status=DocumentStatus.FAILED, error_code="corrupt", reason="the PDF is damaged"
    )
    return ids


def measure(n: int, texts: list[str], folder: Path) -> dict[str, object]:
    store = SqlStore(f"sqlite:///{folder / f'report_{n}.db'}")
    llm = FakeChatModel(responder=responder, name="bench-model")
    analysis = AnalysisService(
        store=store,
        embedder=HashEmbedder(32),
        index=InMemoryIndex(32),
        counter=Words(),
        llm=Handle(llm),
    )  # type: ignore[arg-type]
    jobs = SqlJobStore(store.engine)
    service = ReportService(
        store=store,
        reports=SqlReportStore(store.engine),
        analysis=analysis,
        jobs=JobService(jobs=jobs, analysis=analysis),
        settings=ReportSettings(),
    )
    ids = fill(store, n, texts)
    t0 = time.perf_counter()
    for doc_id in ids:
        analysis.compute_summary("bench", doc_id)
        analysis.compute_risks("bench", doc_id)
    prefill_s = time.perf_counter() - t0
    prefill_calls = len(llm.calls)
    day = datetime.now(UTC).date()

    t0 = time.perf_counter()
    step = service.step("bench", day)
    build_s = time.perf_counter() - t0
    calls_after_build = len(llm.calls) - prefill_calls
    t0 = time.perf_counter()
    again = service.step("bench", day)  # the same date again: one row, updated
    rebuild_s = time.perf_counter() - t0
    record = again.record
    assert record is not None, "no report row"
    assert record.report is not None, record
    report = record.report
    t0 = time.perf_counter()
    markdown = render_markdown(report)
    markdown_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    html = render_html(report)
    html_s = time.perf_counter() - t0
    result = {
        "documents": n,
        "status": record.status,
        "pending": step.pending,
        "jobs_submitted": step.submitted + again.submitted,
        "jobs_in_store": len(jobs.unfinished()),
        "build_s": round(build_s, 3),
        "rebuild_s": round(rebuild_s, 3),
        "ms_per_document": round(1000 * build_s / n, 3),
        "markdown_s": round(markdown_s, 4),
        "html_s": round(html_s, 4),
        "html_kb": round(len(html.encode()) / 1024, 1),
        "markdown_kb": round(len(markdown.encode()) / 1024, 1),
        "llm_calls_prefill": prefill_calls,
        "llm_calls_report": len(llm.calls) - prefill_calls,
        "llm_calls_first_build": calls_after_build,
        "reports_rows": len(service.list_reports("bench")),
        "categories": len(report.categories),
        "findings_shown": sum(len(e.findings) for e in report.documents),
        "prefill_s": round(prefill_s, 2),
    }
    store.close()
    return result


def main() -> None:
    force_offline()
    parser = make_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="document counts")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    texts = passages(args.data)
    log(f"{len(texts)} passages from {args.data} (fallback text if 1)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            log(f"{n} documents: filling the store and the cache")
            rows.append(measure(n, texts, Path(tmp)))
    print_table(
        [
            "documents",
            "build s",
            "ms/doc",
            "rebuild s",
            "html s",
            "html KB",
            "LLM calls",
            "jobs",
            "rows",
            "categories",
            "findings shown",
        ],
        [
            [
                r["documents"],
                r["build_s"],
                r["ms_per_document"],
                r["rebuild_s"],
                r["html_s"],
                r["html_kb"],
                r["llm_calls_report"],
                r["jobs_submitted"],
                r["reports_rows"],
                r["categories"],
                r["findings_shown"],
            ]
            for r in rows
        ],
    )
    first, last = rows[0], rows[-1]
    growth = (
        float(last["ms_per_document"]) / float(first["ms_per_document"])  # type: ignore[arg-type]
        if float(first["ms_per_document"])
        else None
    )  # type: ignore[arg-type]
    emit_json(
        {
            "benchmark": "report",
            "quick": args.quick,
            "passages": len(texts),
            "sizes": rows,
            "llm_calls_report_total": sum(int(r["llm_calls_report"]) for r in rows),  # type: ignore[call-overload]
            "repeated_analyses": sum(
                int(r["llm_calls_report"]) + int(r["jobs_submitted"])  # type: ignore[call-overload]
                for r in rows
            ),
            "per_document_cost_ratio_last_vs_first": round(growth, 2) if growth else None,
        }
    )


if __name__ == "__main__":
    main()
