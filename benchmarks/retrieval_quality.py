"""CUAD clause retrieval: hit@k of our hybrid search against LangChain's tutorial pipeline.

For each dev contract and each of its categories with at least one gold span, the query is
the category name followed by its CUAD description (`--query name` for the name alone),
searched within that contract only (document filter), with the same embedding model:

- ours: `pipelines.retrieval.retrieve` (dense + BM25-style sparse, RRF-fused by EdgeIndex)
  over our chunks (pypdfium2 text, 512 Qwen tokens, 64 overlap);
- langchain: `QdrantVectorStore.similarity_search` (dense only) with a `metadata.source`
  filter over PyPDFLoader + RecursiveCharacterTextSplitter(1000, 200) chunks.

A (contract, category) is a hit at k when any gold span of it is "inside" one of the top-k
chunks. Gold span inside chunk, applied identically to both pipelines:
both texts are normalised (NFKC, lowercase, every run of punctuation, symbols and
whitespace -> one space) and split into tokens; the chunk matches when
(a) the span's tokens occur in the chunk as one contiguous run (whole-token containment), or
(b) span and chunk share a contiguous token run of at least 50% of the shorter of the two,
    and at least 8 tokens. Rule (b) counts a long clause spread over two chunks (the chunk
    holding at least half of it) and a chunk lying mostly inside a clause longer than a chunk.
    Spans under 16 tokens therefore need (a).
`ceiling` is the share of pairs for which any chunk of the contract matches (hit@all): what
chunking and text extraction allow before ranking. Chunk sizes differ (ours are ~2.5x
longer), so the table also shows the mean characters in the top k.

Run: `.venv/bin/python -m benchmarks.retrieval_quality [--quick] [--k 1,5,10] [--data DIR]`
"""

from __future__ import annotations

import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path
from typing import Any

from benchmarks import common
from benchmarks import langchain_baseline as lc

TENANT = "bench"
QUICK_CONTRACTS = 5
MIN_RUN_TOKENS = 8
MIN_RUN_SHARE = 0.5


@lru_cache(maxsize=200_000)
def tokens(text: str) -> tuple[str, ...]:
    """Normalised tokens of a text (see the module docstring)."""
    return tuple(common.normalise(unicodedata.normalize("NFKC", text)).split())


@lru_cache(maxsize=500_000)
def span_in_chunk(span: str, chunk: str) -> bool:
    """The matching rule of the module docstring, for one gold span and one chunk text."""
    a, b = tokens(span), tokens(chunk)
    if not a or not b:
        return False
    if f" {' '.join(a)} " in f" {' '.join(b)} ":
        return True
    need = max(MIN_RUN_TOKENS, MIN_RUN_SHARE * min(len(a), len(b)))
    if min(len(a), len(b)) < need:
        return False
    present = set(b)
    if sum(1 for token in a if token in present) < need:  # upper bound on the shared run
        return False
    run = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    return run.size >= need


def first_hit(spans: Sequence[str], chunks: Sequence[str]) -> int | None:
    """1-based rank of the first chunk holding any span, or None."""
    for rank, chunk in enumerate(chunks, start=1):
        if any(span_in_chunk(span, chunk) for span in spans):
            return rank
    return None


def ingest_ours(contracts: Sequence[common.Contract], embedder: Any, folder: Path,
                batch_size: int) -> tuple[Any, dict[str, list[str]]]:
    """Index every contract with our stages; returns the index and chunk texts per contract."""
    from pipelines.ingest import chunk_stage, embed_and_index_stage, parse_stage
    from services.adapters.pdf import Pypdfium2Parser
    from services.adapters.qdrant_edge import EdgeIndex
    from services.adapters.tokens import load_token_counter

    parser, counter = Pypdfium2Parser(), load_token_counter()
    index = EdgeIndex(folder / "edge", embedder.dimension)
    texts: dict[str, list[str]] = {}
    for contract in contracts:
        parsed = parse_stage(parser, contract.pdf.read_bytes())
        chunks = chunk_stage(contract.name, parsed, counter)
        embed_and_index_stage(TENANT, chunks, embedder, index, batch_size=batch_size)
        texts[contract.name] = [chunk.text for chunk in chunks]
    return index, texts


def ingest_langchain(contracts: Sequence[common.Contract], embedder: Any, folder: Path,
                     batch_size: int) -> tuple[Any, dict[str, list[str]]]:
    """Index every contract with the tutorial pipeline; returns the store and chunk texts."""
    store = lc.open_store(folder / "langchain", lc.EmbedderAsLangChain(embedder),
                          embedder.dimension)
    texts: dict[str, list[str]] = {}
    for contract in contracts:
        splits = lc.split_pages(lc.load_pages(contract.pdf))
        store.add_documents(splits, batch_size=batch_size)
        texts[contract.name] = [split.page_content for split in splits]
    return store, texts


def make_query(category: str, descriptions: dict[str, str], mode: str) -> str:
    if mode == "name":
        return category
    return f"{category}: {descriptions.get(category, '')}".strip().rstrip(":")


def evaluate(contracts: Sequence[common.Contract], queries: dict[str, str], ks: Sequence[int],
             embedder: Any, index: Any, store: Any) -> list[dict[str, Any]]:
    """One row per (contract, category): ranks of the first hit for both pipelines."""
    from pipelines.retrieval import retrieve

    depth = max(ks)
    rows: list[dict[str, Any]] = []
    for contract in contracts:
        for category, spans in contract.gold.items():
            query = queries[category]
            ours = [scored.chunk.text for scored in retrieve(
                query, tenant=TENANT, embedder=embedder, index=index, limit=depth,
                document_ids=[contract.name])]
            theirs = [doc.page_content for doc in lc.search(store, query, contract.pdf, depth)]
            rows.append({
                "contract": contract.name, "category": category,
                "ours": first_hit(spans, ours), "langchain": first_hit(spans, theirs),
                "ours_chars": [sum(map(len, ours[:k])) for k in ks],
                "langchain_chars": [sum(map(len, theirs[:k])) for k in ks],
            })
    return rows


def ceiling(contracts: Sequence[common.Contract], texts: dict[str, list[str]]) -> float:
    """Share of (contract, category) pairs with a gold span inside any chunk of the contract."""
    found = total = 0
    for contract in contracts:
        for spans in contract.gold.values():
            total += 1
            found += first_hit(spans, texts[contract.name]) is not None
    return round(found / max(1, total), 3)


def hit_rate(rows: Sequence[dict[str, Any]], side: str, k: int) -> float:
    hits = sum(1 for row in rows if row[side] is not None and row[side] <= k)
    return round(hits / max(1, len(rows)), 3)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = common.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--k", default="1,5,10", help="comma-separated cut-offs")
    parser.add_argument("--query", choices=["name+description", "name"],
                        default="name+description")
    args = parser.parse_args(argv)
    ks = sorted({int(k) for k in args.k.split(",")})
    common.force_offline()
    limit = args.limit if args.limit is not None else (QUICK_CONTRACTS if args.quick else None)
    contracts = common.load_contracts(args.data, limit)
    descriptions = common.load_descriptions(args.data)
    categories = sorted({c for contract in contracts for c in contract.gold})
    queries = {c: make_query(c, descriptions, args.query) for c in categories}
    embedder = common.load_our_embedder(args.embedder, args.model, args.batch_size)
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp, \
            common.stopwatch() as wall:
        common.log(f"indexing {len(contracts)} contracts, ours ...")
        index, ours_texts = ingest_ours(contracts, embedder, Path(tmp), args.batch_size)
        common.log("indexing, langchain ...")
        store, lc_texts = ingest_langchain(contracts, embedder, Path(tmp), args.batch_size)
        common.log("querying ...")
        rows = evaluate(contracts, queries, ks, embedder, index, store)
        index.close()
        lc.close_store(store)

    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_category[row["category"]].append(row)
    heads = ["category", "n"] + [f"{side}@{k}" for side in ("ours", "lc") for k in ks]
    table = [[category, len(group)]
             + [hit_rate(group, side, k) for side in ("ours", "langchain") for k in ks]
             for category, group in sorted(by_category.items())]
    table.append(["ALL", len(rows)]
                 + [hit_rate(rows, side, k) for side in ("ours", "langchain") for k in ks])
    print(f"embedder: {embedder.name}; query: {args.query}; {len(contracts)} contracts; "
          f"{len(rows)} (contract, category) pairs with gold spans")
    common.print_table(heads, table)
    summary = {}
    for side, texts in (("ours", ours_texts), ("langchain", lc_texts)):
        chars = [sum(row[f"{side}_chars"][i] for row in rows) / max(1, len(rows))
                 for i in range(len(ks))]
        summary[side] = {
            **{f"hit@{k}": hit_rate(rows, side, k) for k in ks},
            "ceiling": ceiling(contracts, texts),
            "chunks": sum(map(len, texts.values())),
            **{f"mean_chars@{k}": round(c) for k, c in zip(ks, chars, strict=True)},
        }
    common.print_table(
        ["pipeline", "chunks", "ceiling", *[f"chars@{k}" for k in ks]],
        [[side, s["chunks"], s["ceiling"], *[s[f"mean_chars@{k}"] for k in ks]]
         for side, s in summary.items()],
    )
    print(f"wall time {wall[0]:.1f} s")
    result: dict[str, Any] = {
        "benchmark": "retrieval_quality",
        "quick": args.quick,
        "embedder": embedder.name,
        "query": args.query,
        "contracts": len(contracts),
        "pairs": len(rows),
        "k": ks,
        "ours": summary["ours"],
        "langchain": summary["langchain"],
        "per_category": {
            category: {side: {f"hit@{k}": hit_rate(group, side, k) for k in ks}
                       for side in ("ours", "langchain")} | {"n": len(group)}
            for category, group in sorted(by_category.items())
        },
        "seconds": round(wall[0], 1),
    }
    common.emit_json(result)
    return result


if __name__ == "__main__":
    main()
