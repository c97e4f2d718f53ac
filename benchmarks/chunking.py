"""Chunking figures on the dev set, and Qwen3 token-counter speed.

Per document (CUAD contract PDFs and the 296-page Chinese annual report, parsed by
`services.adapters.pdf.Pypdfium2Parser` without OCR): chunks per page, the tokens-per-chunk
distribution, the share of chunks with a section path, chunking time (parsing excluded).
Counter speed: quicktok vs tokenizers (tokenizer.json) on the report's text, whole and one
call per line, and whether they agree.

    .venv/bin/python benchmarks/chunking.py --quick
    .venv/bin/python benchmarks/chunking.py
Ends with one JSON object on the last line.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import CHINESE_REPORT, emit_json, force_offline, log, make_parser  # noqa: E402
from pipelines.chunking import chunk_pages, document_text  # noqa: E402
from pipelines.models import Page  # noqa: E402
from services.adapters.pdf import Pypdfium2Parser  # noqa: E402
from services.adapters.tokens import QwenTokenCounter, load_token_counter  # noqa: E402


def chunk_figures(name: str, pages: list[Page], counter: QwenTokenCounter) -> dict[str, Any]:
    started = time.perf_counter()
    chunks = chunk_pages(name, pages, counter)
    seconds = time.perf_counter() - started
    tokens = sorted(c.token_count for c in chunks)
    deciles = statistics.quantiles(tokens, n=10, method="inclusive") if len(tokens) > 1 else tokens
    return {
        "document": name[:60],
        "pages": len(pages),
        "chunks": len(chunks),
        "chunks_per_page": round(len(chunks) / max(1, len(pages)), 2),
        "tokens_min": tokens[0] if tokens else 0,
        "tokens_p10": int(deciles[0]) if tokens else 0,
        "tokens_median": int(statistics.median(tokens)) if tokens else 0,
        "tokens_p90": int(deciles[-1]) if tokens else 0,
        "tokens_max": tokens[-1] if tokens else 0,
        "with_section_path": round(
            sum(bool(c.section_path) for c in chunks) / max(1, len(chunks)), 3
        ),
        "seconds": round(seconds, 3),
    }


def counter_speed(text: str) -> dict[str, Any]:
    fast, reference = load_token_counter(), load_token_counter("tokenizers")
    lines = [line for line in text.split("\n") if line]
    result: dict[str, Any] = {"chars": len(text), "lines": len(lines), "fast_backend": fast.backend}
    for label, counter in (("quicktok", fast), ("tokenizers", reference)):
        started = time.perf_counter()
        whole = counter.count(text)
        middle = time.perf_counter()
        per_line = [counter.count(line) for line in lines]
        finished = time.perf_counter()
        result[f"{label}_tokens"] = whole
        result[f"{label}_whole_s"] = round(middle - started, 4)
        result[f"{label}_per_line_s"] = round(finished - middle, 4)
        result[f"{label}_line_counts"] = per_line
    result["agree_lines"] = result.pop("quicktok_line_counts") == result.pop(
        "tokenizers_line_counts"
    )
    result["chars_per_token"] = round(len(text) / max(1, result["quicktok_tokens"]), 2)
    return result


def main() -> None:
    args = make_parser(__doc__.splitlines()[0]).parse_args()
    force_offline()
    parser = Pypdfium2Parser(ocr=False)
    counter = load_token_counter()
    contracts = sorted((args.data / "cuad" / "full_contract_pdf").glob("**/*.pdf"))
    contracts = contracts[: 3 if args.quick else args.limit or len(contracts)]
    rows = []
    report_text = ""
    for path in [*contracts, args.data / CHINESE_REPORT]:
        log(f"parsing {path.name}")
        pages = parser.parse(path.read_bytes()).pages
        rows.append(chunk_figures(path.stem, pages, counter))
        if path.name == CHINESE_REPORT.name:
            report_text = document_text(pages)
    for row in rows:
        print("  ".join(f"{k}={v}" for k, v in row.items()))
    speed = counter_speed(report_text)
    print("counter:", "  ".join(f"{k}={v}" for k, v in speed.items()))
    english = rows[:-1]
    emit_json(
        {
            "benchmark": "chunking",
            "documents": len(rows),
            "contracts_chunks_per_page": round(
                sum(r["chunks"] for r in english) / max(1, sum(r["pages"] for r in english)), 2
            ),
            "contracts_seconds": round(sum(r["seconds"] for r in english), 3),
            "report": rows[-1],
            "counter": speed,
            "max_tokens_seen": max(r["tokens_max"] for r in rows),
        }
    )


if __name__ == "__main__":
    main()
