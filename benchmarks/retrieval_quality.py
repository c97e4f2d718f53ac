"""CUAD clause retrieval: hit@k of our hybrid search against LangChain's tutorial pipeline.

For each dev contract and each of its categories with at least one gold span, the query is
the category name followed by its CUAD description (`--query name` for the name alone),
searched within that contract only (document filter), with the same embedding model:

- ours: `pipelines.retrieval.retrieve` (dense + BM25-style sparse, RRF-fused by EdgeIndex)
  over our chunks (pypdfium2 text, 512 Qwen tokens, 64 overlap);
- langchain: `QdrantVectorStore.similarity_search` (dense only) with a `metadata.source`
  filter over PyPDFLoader + RecursiveCharacterTextSplitter(1000, 200) chunks.

A (contract, category) is a hit at k when any gold span of it is "inside" one of the top-k
chunks. Gold span inside chunk, applied identically to both pipelines, after NFKC and
lowercasing:
(a) the span with every character that is not a letter or digit removed is a substring of
    the chunk so compacted (PDF text splits and joins words differently from CUAD's TXT:
    "1s t day" vs "1st day"; this way all 1,051 dev spans are found in pypdf's page text), or
(b) span and chunk, as tokens (runs of letters and digits), share a contiguous run of at
    least 50% of the shorter of the two and at least 8 tokens. Rule (b) counts a long clause
    spread over two chunks (the chunk holding at least half of it) and a chunk lying mostly
    inside a clause longer than a chunk. Spans under 16 tokens therefore need (a).
`ceiling` is the share of pairs for which any chunk of the contract matches (hit@all): what
chunking and text extraction allow before ranking. Chunk sizes differ (ours are ~2x
longer), so hit@k favours ours; `hit@Nchars` is the fair figure: whole chunks are taken in
rank order while they fit N characters (as a context packer would), is a gold span among
them? The mean characters in the top k are shown too.

langchain_baseline is imported lazily: the PDF parser's child processes re-import the main
module, and LangChain there would add seconds to every parse.

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
from benchmarks import stages as st
from benchmarks.analysis_common import MemoryChunks
from pipelines.models import Chunk
from pipelines.ports import ChunkSource

TENANT = "bench"
QUICK_CONTRACTS = 5
MIN_RUN_TOKENS = 8
MIN_RUN_SHARE = 0.5


@lru_cache(maxsize=200_000)
def tokens(text: str) -> tuple[str, ...]:
    """Normalised tokens of a text (see the module docstring)."""
    return tuple(common.normalise(unicodedata.normalize("NFKC", text)).split())


@lru_cache(maxsize=200_000)
def compact(text: str) -> str:
    """Letters and digits only, lowercased (see the module docstring)."""
    return "".join(tokens(text))


@lru_cache(maxsize=500_000)
def span_in_chunk(span: str, chunk: str) -> bool:
    """The matching rule of the module docstring, for one gold span and one chunk text."""
    a, b = tokens(span), tokens(chunk)
    if not a or not b:
        return False
    if compact(span) in compact(chunk):
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


def ingest_ours(
    contracts: Sequence[common.Contract], embedder: Any, folder: Path, batch_size: int
) -> tuple[Any, dict[str, list[Chunk]]]:
    """Index every contract with our stages (small units under contextual headers, as the
    service does); returns the index and the chunks per contract."""
    from pipelines.ingest import chunk_stage, embed_and_index_stage, parse_stage
    from services.adapters.pdf import Pypdfium2Parser
    from services.adapters.qdrant_edge import EdgeIndex
    from services.adapters.tokens import load_token_counter

    parser, counter = Pypdfium2Parser(), load_token_counter()
    index = EdgeIndex(folder / "edge", embedder.dimension)
    chunks: dict[str, list[Chunk]] = {}
    for contract in contracts:
        parsed = parse_stage(parser, contract.pdf.read_bytes())
        chunks[contract.name] = chunk_stage(contract.name, parsed, counter)
        embed_and_index_stage(
            TENANT,
            chunks[contract.name],
            embedder,
            index,
            batch_size=batch_size,
            title=contract.pdf.stem,
        )
    return index, chunks


def ingest_langchain(
    contracts: Sequence[common.Contract], embedder: Any, folder: Path, batch_size: int
) -> tuple[Any, dict[str, list[str]]]:
    """Index every contract with the tutorial pipeline; returns the store and chunk texts."""
    from benchmarks import langchain_baseline as lc

    store = lc.open_store(
        folder / "langchain", lc.EmbedderAsLangChain(embedder), embedder.dimension
    )
    texts: dict[str, list[str]] = {}
    for contract in contracts:
        splits = lc.split_pages(lc.load_pages(contract.pdf))
        store.add_documents(splits, batch_size=batch_size)
        texts[contract.name] = [split.page_content for split in splits]
    return store, texts


def make_query(category: str, descriptions: dict[str, str], mode: str) -> str:
    if mode == "name":
        return category
    return f"{category}: {descriptions[category.lower()]}".strip().rstrip(":")


STAGES: dict[str, st.Config] = {
    "hybrid": st.Config(expand=False, rerank=False, parent_tokens=0),
    "+expand": st.Config(expand=True, rerank=False, parent_tokens=0),
    "+rerank": st.Config(expand=True, rerank=True, parent_tokens=0),
    "ours": st.Config(),  # + small-to-big: every stage, the service's defaults
    "ours-no-expand": st.Config(expand=False),
    "ours-no-rerank": st.Config(rerank=False),
}
"""Our pipeline with each stage on or off; "ours" is what the service runs."""
SIDES = (*STAGES, "langchain")
CV_BUDGETS = (4000, 8000)
"""Cross-validation maximises the mean hit within these character budgets."""


def evaluate(
    contracts: Sequence[common.Contract],
    queries: dict[str, str],
    depth: int,
    embedder: Any,
    index: Any,
    store: Any,
    source: ChunkSource,
) -> tuple[list[dict[str, Any]], dict[tuple[str, str, bool], st.Candidates]]:
    """One row per (contract, category); per side, its ranked passages as (chars, is_hit).
    Also the cached candidates of every (contract, category, expand) for cross-validation."""
    from benchmarks import langchain_baseline as lc

    rows: list[dict[str, Any]] = []
    cache: dict[tuple[str, str, bool], st.Candidates] = {}
    for contract in contracts:
        for category, spans in contract.gold.items():
            query = queries[category]
            for expand in (False, True):
                cache[contract.name, category, expand] = st.candidates(
                    query,
                    expand=expand,
                    tenant=TENANT,
                    embedder=embedder,
                    index=index,
                    document_ids=[contract.name],
                    source=source,
                )
            row: dict[str, Any] = {"contract": contract.name, "category": category}
            for side, config in STAGES.items():
                row[side] = score_passages(
                    st.passages(
                        cache[contract.name, category, config.expand], config, source, limit=depth
                    ),
                    spans,
                )
            row["langchain"] = [
                (len(doc.page_content), any(span_in_chunk(s, doc.page_content) for s in spans))
                for doc in lc.search(store, query, contract.pdf, depth)
            ]
            rows.append(row)
    return rows, cache


def score_passages(ranked: Sequence[Any], spans: Sequence[str]) -> list[tuple[int, bool]]:
    return [(len(p.chunk.text), any(span_in_chunk(s, p.chunk.text) for s in spans)) for p in ranked]


def cross_validate(
    contracts: Sequence[common.Contract],
    cache: dict[tuple[str, str, bool], st.Candidates],
    source: ChunkSource,
    depth: int,
) -> dict[str, Any]:
    """Weights, prior and clause size chosen on 4 folds of contracts, scored on the 5th."""
    gold = {contract.name: contract.gold for contract in contracts}

    def score_on(config: st.Config, names: set[str]) -> float:
        rows = [
            {
                config.label: score_passages(
                    st.passages(cache[name, category, config.expand], config, source, limit=depth),
                    spans,
                )
            }
            for name in sorted(names)
            for category, spans in gold[name].items()
        ]
        return sum(hit_at_chars(rows, config.label, b) for b in CV_BUDGETS) / len(CV_BUDGETS)

    return st.cross_validate(sorted(gold), score_on, st.Config())


def hit_at_k(rows: Sequence[dict[str, Any]], side: str, k: int) -> float:
    """Share of rows with a matching chunk among the first k."""
    hits = sum(1 for row in rows if any(hit for _, hit in row[side][:k]))
    return round(hits / max(1, len(rows)), 3)


def hit_at_chars(rows: Sequence[dict[str, Any]], side: str, budget: int) -> float:
    """Share of rows with a match among the whole chunks, in rank order, fitting `budget` chars."""
    hits = 0
    for row in rows:
        used = 0
        for chars, hit in row[side]:
            used += chars
            if used > budget:
                break
            if hit:
                hits += 1
                break
    return round(hits / max(1, len(rows)), 3)


def mean_chars(rows: Sequence[dict[str, Any]], side: str, k: int) -> int:
    return round(sum(sum(c for c, _ in row[side][:k]) for row in rows) / max(1, len(rows)))


def ceiling(contracts: Sequence[common.Contract], texts: dict[str, list[str]]) -> float:
    """Share of (contract, category) pairs with a gold span inside any chunk of the contract."""
    found = total = 0
    for contract in contracts:
        for spans in contract.gold.values():
            total += 1
            found += first_hit(spans, texts[contract.name]) is not None
    return round(found / max(1, total), 3)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = common.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--k", default="1,5,10", help="comma-separated cut-offs")
    parser.add_argument(
        "--budgets", default="4000,8000,16000", help="comma-separated context budgets in characters"
    )
    parser.add_argument("--query", choices=["name+description", "name"], default="name+description")
    parser.add_argument(
        "--cv",
        action="store_true",
        help="also choose the reranker weights by 5-fold cross-validation",
    )
    args = parser.parse_args(argv)
    ks = sorted({int(k) for k in args.k.split(",")})
    budgets = sorted({int(b) for b in args.budgets.split(",")})
    common.force_offline()
    from benchmarks import langchain_baseline as lc

    contracts = common.pick_contracts(args.data, args.quick, args.limit, QUICK_CONTRACTS)
    descriptions = common.load_descriptions(args.data)
    categories = sorted({c for contract in contracts for c in contract.gold})
    queries = {c: make_query(c, descriptions, args.query) for c in categories}
    embedder = common.load_our_embedder(args.embedder, args.model, args.batch_size)
    depth = max(max(ks), max(budgets) // 500)  # deep enough to fill the budgets
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp, common.stopwatch() as wall:
        common.log(f"indexing {len(contracts)} contracts, ours ...")
        index, texts = ingest_ours(contracts, embedder, Path(tmp), args.batch_size)
        common.log("indexing, langchain ...")
        store, lc_texts = ingest_langchain(contracts, embedder, Path(tmp), args.batch_size)
        common.log("querying ...")
        source = MemoryChunks(c for chunks in texts.values() for c in chunks)
        rows, cache = evaluate(contracts, queries, depth, embedder, index, store, source)
        index.close()
        lc.close_store(store)
        cv = None
        if args.cv:
            common.log("cross-validating the reranker weights ...")
            cv = cross_validate(contracts, cache, source, depth)
    unit_texts = {name: [c.text for c in chunks] for name, chunks in texts.items()}
    chunk_texts = {**{side: unit_texts for side in STAGES}, "langchain": lc_texts}

    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_category[row["category"]].append(row)
    groups = [*sorted(by_category.items()), ("ALL", rows)]
    print(
        f"embedder: {embedder.name}; query: {args.query}; {len(contracts)} contracts; "
        f"{len(rows)} (contract, category) pairs with gold spans"
    )
    shown = ("ours", "langchain")
    common.print_table(
        ["category", "n", *[f"{side[:4]}@{k}" for side in shown for k in ks]],
        [
            [name, len(group), *[hit_at_k(group, side, k) for side in shown for k in ks]]
            for name, group in groups
        ],
    )
    summary = {
        side: {
            **{f"hit@{k}": hit_at_k(rows, side, k) for k in ks},
            **{f"hit@{b}chars": hit_at_chars(rows, side, b) for b in budgets},
            **{f"mean_chars@{k}": mean_chars(rows, side, k) for k in ks},
            "ceiling": ceiling(contracts, chunk_texts[side]),
            "chunks": sum(map(len, chunk_texts[side].values())),
        }
        for side in SIDES
    }
    common.print_table(
        [
            "pipeline",
            "chunks",
            "ceiling",
            *[f"hit@{b}ch" for b in budgets],
            *[f"chars@{k}" for k in ks],
        ],
        [
            [
                side,
                s["chunks"],
                s["ceiling"],
                *[s[f"hit@{b}chars"] for b in budgets],
                *[s[f"mean_chars@{k}"] for k in ks],
            ]
            for side, s in summary.items()
        ],
    )
    if cv is not None:
        print(
            f"cross-validation (mean hit within {CV_BUDGETS} chars, held-out folds): "
            f"{cv['held_out']} mean {cv['mean']} (min {cv['min']}, max {cv['max']})"
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
        "budgets_chars": budgets,
        **summary,
        "stages": {side: st.describe(config) for side, config in STAGES.items()},
        "cross_validation": cv,
        "per_category": {
            name: {"n": len(group)}
            | {side: {f"hit@{k}": hit_at_k(group, side, k) for k in ks} for side in SIDES}
            for name, group in sorted(by_category.items())
        },
        "seconds": round(wall[0], 1),
    }
    common.emit_json(result)
    return result


if __name__ == "__main__":
    main()
