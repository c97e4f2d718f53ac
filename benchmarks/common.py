"""Shared plumbing for the benchmarks: flags, dev-set discovery, timing, output.

Every benchmark prints a readable table and ends with ONE JSON object on its last line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.settings import EmbedderSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "devset"
CHINESE_REPORT = Path("cn_annual_reports") / "pingan_bank_000001_2024_annual_report.pdf"
DEFAULT_EMBEDDER: str = EmbedderSettings().kind
"""The service's default embedder."""
EMBED_BATCH = 64
"""Batch size of both pipelines (and of LangChain's own `add_documents` default)."""


def force_offline() -> None:
    """No model hub access from a benchmark: a missing model must fail, not download."""
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[key] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def make_parser(description: str) -> argparse.ArgumentParser:
    """Flags every benchmark shares: --data, --quick, --limit, --embedder, --model."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="dev set folder")
    parser.add_argument("--quick", action="store_true", help="small subset, under a minute")
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="use at most N CUAD contracts (with --quick: the N smallest)",
    )
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDER, help="embedder kind")
    parser.add_argument("--model", default=None, help="embedding model (kind's default)")
    parser.add_argument("--batch-size", type=int, default=EMBED_BATCH)
    return parser


def load_our_embedder(kind: str, model: str | None, batch_size: int) -> Any:
    """The project's embedder, built by its own factory; both pipelines share it."""
    from services.adapters.embedders import load_embedder

    return load_embedder(kind, model=model, device="cpu", batch_size=batch_size)


@dataclass(frozen=True)
class Contract:
    """One CUAD dev contract: its PDF and the gold spans of each labelled category."""

    name: str
    pdf: Path
    gold: dict[str, list[str]]
    """category -> span texts (only categories with at least one span)."""


def load_contracts(data: Path, limit: int | None = None) -> list[Contract]:
    """CUAD contracts from `cuad_annotations.jsonl`, in file order."""
    contracts: list[Contract] = []
    with (data / "cuad_annotations.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            gold = {
                category: [span[2] for span in label["spans"]]
                for category, label in row["labels"].items()
                if label["spans"]
            }
            pdf = data / "cuad" / row["pdf_path"]
            contracts.append(Contract(name=row["contract"], pdf=pdf, gold=gold))
            if limit is not None and len(contracts) >= limit:
                break
    return contracts


def pick_contracts(data: Path, quick: bool, limit: int | None, quick_count: int) -> list[Contract]:
    """All contracts in file order (the first `limit`), or with --quick the smallest PDFs."""
    if not quick:
        return load_contracts(data, limit)
    contracts = sorted(load_contracts(data), key=lambda contract: contract.pdf.stat().st_size)
    return contracts[: limit if limit is not None else quick_count]


def load_descriptions(data: Path) -> dict[str, str]:
    """Lowercased CUAD category -> its description, from `cuad_category_descriptions.csv`.

    Lowercased because the annotations capitalise differently ("Cap On Liability").
    """
    descriptions: dict[str, str] = {}
    with (data / "cuad_category_descriptions.csv").open(encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row in reader:
            category = row[0].removeprefix("Category:").strip()
            descriptions[category.lower()] = row[1].removeprefix("Description:").strip()
    return descriptions


def pdf_prefix(source: Path, pages: int, folder: Path) -> Path:
    """Write the first `pages` pages of `source` to a new PDF in `folder` (for --quick)."""
    import pypdfium2 as pdfium

    src = pdfium.PdfDocument(str(source))
    try:
        out = pdfium.PdfDocument.new()
        out.import_pages(src, list(range(min(pages, len(src)))))
        target = folder / f"{source.stem}_first{pages}.pdf"
        out.save(str(target))
        out.close()
    finally:
        src.close()
    return target


_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Lowercase, punctuation -> space, whitespace collapsed (for gold-span matching)."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """`with stopwatch() as t: ...` then `t[0]` is the elapsed seconds (perf_counter)."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start


def rate(count: float, seconds: float) -> float:
    return round(count / seconds, 2) if seconds > 0 else 0.0


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Plain aligned text table on stdout."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))
    sys.stdout.flush()


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def emit_json(result: dict[str, Any]) -> None:
    """The machine-readable result: one JSON object, the last line of stdout.

    Adds `load_average_1m` (this machine is shared: figures taken under load are slower).
    """
    result = {**result, "load_average_1m": round(os.getloadavg()[0], 2)}
    print(f"load average (1 min) at the end: {result['load_average_1m']}")
    sys.stdout.flush()
    print(json.dumps(result, ensure_ascii=False, sort_keys=True), flush=True)


def log(message: str) -> None:
    """Progress for humans, on stderr so the stdout tail stays parseable."""
    print(message, file=sys.stderr, flush=True)
