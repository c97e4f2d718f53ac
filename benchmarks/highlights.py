"""Highlight coverage and page render time on the dev set.

The 40 CUAD contracts and the Chinese annual report are parsed by the real parser; ~200
sentences are sampled (fixed seed) from their stored text (`document_text`), 4 per contract
and 40 from the report, and each range goes through `HighlightService.highlights` with the
real geometry adapter (a child process per request) over an in-memory store holding the
parsed text: the share located (every piece placed), the share with any rectangle, and the
request time. False positives: each document's sentences looked for on a random page of
the next document, and on a random other page of their own (where the sentence is not
repeated): none should be placed. Page renders: 2 random pages per document at width 1000, uncached
(`PdfiumGeometry.render_png`, child process included): p50/p95 seconds.

    .venv/bin/python -m benchmarks.highlights [--quick]
Writes var/benchmarks/highlights.json; ends with one JSON object on the last line.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    CHINESE_REPORT,
    REPO_ROOT,
    emit_json,
    force_offline,
    load_contracts,
    log,
    make_parser,
    print_table,
)
from pipelines.chunking import document_text, page_starts  # noqa: E402
from pipelines.highlight_match import fold, locate  # noqa: E402
from pipelines.models import Chunk, Document, DocumentStatus, Page  # noqa: E402
from services.adapters.page_cache import FilePageCache  # noqa: E402
from services.adapters.pdf import Pypdfium2Parser  # noqa: E402
from services.adapters.pdf_geometry import PdfiumGeometry  # noqa: E402
from services.app.highlights import HighlightService  # noqa: E402

_SENTENCE = re.compile(r"[^.。;；!?！？]+[.。;；!?！？]")
TENANT = "bench"


class _Memory:
    """The store and blob store of one benchmark run: parsed documents in memory."""

    def __init__(self) -> None:
        self.docs: dict[str, tuple[Document, list[Chunk], list[int], bytes]] = {}

    def add(self, doc_id: str, data: bytes, pages: list[Page]) -> str:
        starts = page_starts(pages)
        chunks = [
            Chunk(document_id=doc_id, number=i, text=p.text, page_start=p.number,
                  page_end=p.number, char_start=s, char_end=s + len(p.text), token_count=0)
            for i, (p, s) in enumerate(zip(pages, starts, strict=True))
        ]  # fmt: skip
        document = Document(
            id=doc_id, tenant=TENANT, filename=doc_id, sha256="0" * 64, size_bytes=len(data),
            status=DocumentStatus.READY, pages_total=len(pages),
        )  # fmt: skip
        self.docs[doc_id] = (document, chunks, starts, data)
        return document_text(pages)

    def get_document(self, tenant: str, document_id: str) -> Document:
        return self.docs[document_id][0]

    def load_chunks(self, document_id: str) -> list[Chunk]:
        return self.docs[document_id][1]

    def load_page_starts(self, document_id: str) -> list[int] | None:
        return self.docs[document_id][2]

    def password_for(self, document_id: str) -> str | None:
        return None

    def get(self, key: str) -> bytes:
        return self.docs[key][3]

    def put(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError


def _sample(text: str, count: int, rng: random.Random, min_len: int) -> list[tuple[int, int]]:
    spans = [
        (m.start() + len(m.group()) - len(m.group().lstrip()), m.end())
        for m in _SENTENCE.finditer(text)
        if len(m.group().strip()) >= min_len
    ]
    return rng.sample(spans, min(count, len(spans)))


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = make_parser(__doc__ or "")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    force_offline()
    rng = random.Random(args.seed)
    contracts = load_contracts(args.data, 5 if args.quick else None)
    sources = [(c.name[:40], c.pdf, 4, 30) for c in contracts]
    sources.append(("chinese report", args.data / CHINESE_REPORT, 10 if args.quick else 40, 15))
    memory = _Memory()
    pdf_parser = Pypdfium2Parser(processes=1)
    geometry = PdfiumGeometry()
    rows: list[list[object]] = []
    located = anything = total = 0
    request_s: list[float] = []
    render_s: list[float] = []
    misses: list[str] = []
    previous: list[str] = []  # the last document's sentences, for the false-positive check
    wrong = tried = 0
    with tempfile.TemporaryDirectory(prefix="docsight-highlights-") as tmp:
        service = HighlightService(
            store=memory, blobs=memory, geometry=geometry, cache=FilePageCache(Path(tmp))
        )
        for index, (name, path, count, min_len) in enumerate(sources):
            data = path.read_bytes()
            pages = pdf_parser.parse(data).pages
            doc_id = f"doc{index}"
            text = memory.add(doc_id, data, pages)
            found = 0
            other = rng.randrange(1, len(pages) + 1)
            glyphs = geometry.glyphs(data, None, [other])[other]
            for quote in previous:  # another document's sentence: must not be placed here
                tried += 1
                wrong += locate(glyphs, quote, 0.5) is not None
            previous = []
            page_folded = fold(glyphs.text)[0]
            for start, end in _sample(text, count, rng, min_len):
                previous.append(text[start:end])
                if fold(text[start:end])[0] not in page_folded:
                    tried += 1
                    if locate(glyphs, text[start:end], 0.5) is not None:
                        wrong += 1
                        misses.append(f"placed on page {other} too: {text[start:end][:160]!r}")
                started = time.perf_counter()
                result = service.highlights(TENANT, doc_id, start, end)
                request_s.append(time.perf_counter() - started)
                total += 1
                found += result.located
                located += result.located
                anything += bool(result.boxes)
                if not result.located:
                    misses.append(f"not located, {name}: {text[start:end][:100]!r}")
            for number in rng.sample(range(1, len(pages) + 1), min(2, len(pages))):
                started = time.perf_counter()
                geometry.render_png(data, None, number, 1000)
                render_s.append(time.perf_counter() - started)
            rows.append([name, len(pages), count, found])
            log(f"{name}: {found}/{count} located")
    print_table(["document", "pages", "sentences", "located"], rows)
    for miss in misses:
        print(miss)
    result: dict[str, Any] = {
        "benchmark": "highlights",
        "documents": len(sources),
        "sentences": total,
        "located_share": round(located / max(total, 1), 4),
        "any_rect_share": round(anything / max(total, 1), 4),
        "false_located": wrong,
        "false_located_tried": tried,
        "highlight_request_s_p50": round(statistics.median(request_s), 4),
        "highlight_request_s_p95": round(_quantile(request_s, 0.95), 4),
        "renders": len(render_s),
        "render_width": 1000,
        "render_s_p50": round(statistics.median(render_s), 4),
        "render_s_p95": round(_quantile(render_s, 0.95), 4),
        "seed": args.seed,
    }
    print(
        f"located {located}/{total} ({result['located_share']:.1%}); render at width 1000: "
        f"p50 {result['render_s_p50']:.3f} s, p95 {result['render_s_p95']:.3f} s"
    )
    out = REPO_ROOT / "var" / "benchmarks" / "highlights.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    emit_json(result)


if __name__ == "__main__":
    main()
