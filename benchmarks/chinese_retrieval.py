"""Chinese annual report retrieval: is the gold phrase in what search returns? Ours vs LangChain.

Gold set: `benchmarks/data/cn_annual_report_questions.jsonl` (see its README): questions
over the Ping An Bank 2024 annual report (296 pages), 59 in Chinese (figures in tables and
text) and 8 in English over the Chinese text, each with the PDF page of its evidence and a
`must_find` phrase of that page.

The report is indexed once per pipeline, with the same embedding model:

- ours: the project's stages as `benchmarks/retrieval_quality.py` runs them (pypdfium2
  parse, `chunk_stage` with its defaults, `embed_and_index_stage` into the embedded
  qdrant-edge index), searched by `pipelines.passages.search_passages` with the
  service's reranker settings, asked for `RETRIEVE_DEPTH` passages like `retrieve`;
- retrieve (`--baseline`, on by default when ours is `search_passages`): the hybrid
  `pipelines.retrieval.retrieve` over the same index (its chunks as they are, asked for
  `RETRIEVE_DEPTH` of them so that small units still fill 8,000 characters);
- langchain: the tutorial pipeline of `benchmarks/langchain_baseline.py` (PyPDFLoader,
  RecursiveCharacterTextSplitter(1000, 200), dense `similarity_search`).

Each side is one `rank(query) -> [(text, page_start, page_end)]`, best first (`make_search`,
`make_langchain_search`): another retrieval function plugs in there.

Scores, per question: a passage is a hit when `must_find`, normalised (NFKC, whitespace
and the table-cell separator `|` removed), is a substring of the passage normalised the
same way. Without dropping `|`, no table figure could match our passages: the project's
parser renders detected tables as `营业收入 | 146,695 | 164,699`, the text layer (and
pypdf) as `营业收入 146,695 164,699`.
`hit@Nchars` (N = 2000, 4000, 8000; the fair figure across chunk sizes): whole passages
are taken in rank order while they fit N characters (`retrieval_quality.hit_at_chars`),
is a hit among them? `hit@k`: among the first k passages. `page@8000`: is the evidence
page (+-0, +-1) among the pages of the passages within 8000 characters? `ceiling`: share
of questions whose phrase lies inside some chunk of that pipeline at all (text layer and
chunk boundaries allow it).

Run: `.venv/bin/python -m benchmarks.chinese_retrieval [--quick] [--no-baseline]`
(`--quick`: the first 10 questions; the file order mixes types and languages).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from benchmarks import common
from benchmarks.analysis_common import MemoryChunks
from benchmarks.retrieval_quality import hit_at_chars, hit_at_k, mean_chars

GOLD = common.REPO_ROOT / "benchmarks" / "data" / "cn_annual_report_questions.jsonl"
TENANT = "bench"
DOCUMENT_ID = "pingan_bank_000001_2024_annual_report"
QUICK_QUESTIONS = 10
KS = (1, 5, 10)
BUDGETS = (2000, 4000, 8000)
PAGE_BUDGET = 8000
DEPTH = 24
"""Chunks asked of LangChain: enough to fill 8,000 characters (theirs are ~300-1,000)."""
RETRIEVE_DEPTH = 64
"""Passages asked of our search and of `retrieve`: 128-token units are ~150 characters of
Chinese."""

Passage = tuple[str, int, int]
"""(text, first page, last page); pages 1-based."""
Rank = Callable[[str], list[Passage]]


_DROP = re.compile(r"[\s|]+")


@lru_cache(maxsize=100_000)
def normalise(text: str) -> str:
    """The gold set's matching rule: NFKC, then whitespace and `|` removed (`|` is the cell
    separator our parser writes between table cells; the PDF text layer has none)."""
    return _DROP.sub("", unicodedata.normalize("NFKC", text))


def contains(passage: str, phrase: str) -> bool:
    return normalise(phrase) in normalise(passage)


def load_questions(
    path: Path = GOLD, quick: bool = False, limit: int | None = None
) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    if quick:
        rows = rows[:QUICK_QUESTIONS]
    return rows[:limit] if limit is not None else rows


# --- the sides -----------------------------------------------------------------------------


def make_search(index: Any, embedder: Any, chunks: Any, reranker: Any, candidates: int) -> Rank:
    """The service's search (`search_passages`) as `rank(query)`."""
    from pipelines.passages import search_passages

    def rank(query: str) -> list[Passage]:
        found = search_passages(
            query,
            tenant=TENANT,
            embedder=embedder,
            index=index,
            chunks=chunks,
            reranker=reranker,
            limit=RETRIEVE_DEPTH,
            document_ids=[DOCUMENT_ID],
            candidates=candidates,
        )
        return [(s.chunk.text, s.chunk.page_start, s.chunk.page_end) for s in found]

    return rank


def make_retrieve(index: Any, embedder: Any) -> Rank:
    """The hybrid first stage alone (`retrieve`) as `rank(query)`."""
    from pipelines.retrieval import retrieve

    def rank(query: str) -> list[Passage]:
        found = retrieve(
            query,
            tenant=TENANT,
            embedder=embedder,
            index=index,
            limit=RETRIEVE_DEPTH,
            document_ids=[DOCUMENT_ID],
        )
        return [(s.chunk.text, s.chunk.page_start, s.chunk.page_end) for s in found]

    return rank


def make_langchain_search(store: Any, pdf: Path, depth: int = DEPTH) -> Rank:
    """The tutorial pipeline as `rank(query)` (PyPDFLoader pages are 0-based)."""
    from benchmarks import langchain_baseline as lc

    def rank(query: str) -> list[Passage]:
        docs = lc.search(store, query, pdf, depth)
        return [(d.page_content, d.metadata["page"] + 1, d.metadata["page"] + 1) for d in docs]

    return rank


def index_ours(pdf: Path, embedder: Any, folder: Path, batch_size: int) -> tuple[Any, list[Any]]:
    """The report through our stages, as `retrieval_quality.ingest_ours` runs them."""
    from pipelines.ingest import chunk_stage, embed_and_index_stage, parse_stage
    from services.adapters.pdf import Pypdfium2Parser
    from services.adapters.qdrant_edge import EdgeIndex
    from services.adapters.tokens import load_token_counter

    parser, counter = Pypdfium2Parser(), load_token_counter()
    index = EdgeIndex(folder / "edge", embedder.dimension)
    parsed = parse_stage(parser, pdf.read_bytes())
    chunks = chunk_stage(DOCUMENT_ID, parsed, counter)
    embed_and_index_stage(TENANT, chunks, embedder, index, batch_size=batch_size, title=pdf.stem)
    return index, chunks


def index_langchain(
    pdf: Path, embedder: Any, folder: Path, batch_size: int
) -> tuple[Any, list[str]]:
    from benchmarks import langchain_baseline as lc

    store = lc.open_store(
        folder / "langchain", lc.EmbedderAsLangChain(embedder), embedder.dimension
    )
    splits = lc.split_pages(lc.load_pages(pdf))
    store.add_documents(splits, batch_size=batch_size)
    return store, [split.page_content for split in splits]


def our_reranker() -> tuple[Any, int]:
    """The service's reranker and candidate count from its settings (lexical by default)."""
    from services.runtime.composition import build_reranker
    from services.settings import Settings

    settings = Settings()
    return build_reranker(settings), settings.reranker.candidates


# --- scoring -------------------------------------------------------------------------------


def score(question: dict[str, Any], ranked: Sequence[Passage]) -> dict[str, Any]:
    """Per side: ranked (chars, is_hit) and the pages of the passages within PAGE_BUDGET."""
    pairs = [(len(text), contains(text, question["must_find"])) for text, _, _ in ranked]
    pages: set[int] = set()
    used = 0
    for text, first, last in ranked:
        used += len(text)
        if used > PAGE_BUDGET:
            break
        pages.update(range(first, last + 1))
    return {"pairs": pairs, "pages": pages}


def page_hit(rows: Sequence[dict[str, Any]], side: str, slack: int) -> float:
    hits = sum(
        1 for row in rows if any(abs(p - row["page"]) <= slack for p in row[f"{side}:pages"])
    )
    return round(hits / max(1, len(rows)), 3)


def ceiling(questions: Sequence[dict[str, Any]], texts: Sequence[str]) -> float:
    joined = [normalise(t) for t in texts]
    found = sum(1 for q in questions if any(normalise(q["must_find"]) in t for t in joined))
    return round(found / max(1, len(questions)), 3)


def evaluate(questions: Sequence[dict[str, Any]], sides: dict[str, Rank]) -> list[dict[str, Any]]:
    rows = []
    for n, question in enumerate(questions, start=1):
        row: dict[str, Any] = {k: question[k] for k in ("id", "type", "lang", "page")}
        for side, rank in sides.items():
            scored = score(question, rank(question["question"]))
            row[side] = scored["pairs"]
            row[f"{side}:pages"] = scored["pages"]
        rows.append(row)
        if n % 10 == 0:
            common.log(f"  {n}/{len(questions)} questions")
    return rows


def summarise(rows: Sequence[dict[str, Any]], side: str) -> dict[str, Any]:
    return {
        **{f"hit@{b}chars": hit_at_chars(rows, side, b) for b in BUDGETS},
        **{f"hit@{k}": hit_at_k(rows, side, k) for k in KS},
        f"page@{PAGE_BUDGET}chars": page_hit(rows, side, 0),
        f"page+-1@{PAGE_BUDGET}chars": page_hit(rows, side, 1),
        **{f"mean_chars@{k}": mean_chars(rows, side, k) for k in KS},
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = common.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=GOLD, help="gold set (JSONL)")
    parser.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also score the first stage alone, pipelines.retrieval.retrieve",
    )
    args = parser.parse_args(argv)
    common.force_offline()
    pdf = args.data / common.CHINESE_REPORT
    if not pdf.is_file():
        raise SystemExit(f"report missing: {pdf}")
    questions = load_questions(args.gold, args.quick, args.limit)
    embedder = common.load_our_embedder(args.embedder, args.model, args.batch_size)
    with (
        tempfile.TemporaryDirectory(prefix="bench-cn-retrieval-") as tmp,
        common.stopwatch() as wall,
    ):
        common.log(f"indexing {pdf.name}, ours ...")
        with common.stopwatch() as took_ours:
            index, chunks = index_ours(pdf, embedder, Path(tmp), args.batch_size)
        common.log(f"  {len(chunks)} chunks in {took_ours[0]:.1f} s; langchain ...")
        with common.stopwatch() as took_lc:
            store, lc_texts = index_langchain(pdf, embedder, Path(tmp), args.batch_size)
        common.log(f"  {len(lc_texts)} chunks in {took_lc[0]:.1f} s; querying ...")
        source = MemoryChunks()
        source.add(chunks)
        reranker, candidates = our_reranker()
        reranker_name = getattr(reranker, "name", None)
        sides: dict[str, Rank] = {
            "ours": make_search(index, embedder, source, reranker, candidates)
        }
        if args.baseline:
            sides["retrieve"] = make_retrieve(index, embedder)
        sides["langchain"] = make_langchain_search(store, pdf)
        rows = evaluate(questions, sides)
        index.close()
        from benchmarks import langchain_baseline as lc

        lc.close_store(store)

    names = list(sides)
    chunk_texts = {
        "langchain": lc_texts,
        **{s: [c.text for c in chunks] for s in names if s != "langchain"},
    }
    groups: list[tuple[str, list[dict[str, Any]]]] = [
        *[(f"type={t}", [r for r in rows if r["type"] == t]) for t in ("figure", "text")],
        *[(f"lang={lang}", [r for r in rows if r["lang"] == lang]) for lang in ("zh", "en")],
        ("ALL", list(rows)),
    ]
    groups = [(name, group) for name, group in groups if group]
    print(
        f"embedder: {embedder.name}; ours: pipelines.passages.search_passages"
        + (f" (reranker {reranker_name})" if reranker_name else "")
        + f"; {len(questions)} questions; report {pdf.name}"
    )
    common.print_table(
        [
            "group",
            "n",
            *[f"{s[:4]}@4000ch" for s in names],
            *[f"{s[:4]}@1" for s in names],
            *[f"{s[:4]}@10" for s in names],
        ],
        [
            [
                name,
                len(group),
                *[hit_at_chars(group, s, 4000) for s in names],
                *[hit_at_k(group, s, 1) for s in names],
                *[hit_at_k(group, s, 10) for s in names],
            ]
            for name, group in groups
        ],
    )
    summary = {
        side: {
            **summarise(rows, side),
            "ceiling": ceiling(questions, chunk_texts[side]),
            "chunks": len(chunk_texts[side]),
        }
        for side in names
    }
    common.print_table(
        [
            "pipeline",
            "chunks",
            "ceiling",
            *[f"hit@{b}ch" for b in BUDGETS],
            *[f"hit@{k}" for k in KS],
            "page@8000",
            "page±1@8000",
            *[f"chars@{k}" for k in KS],
        ],
        [
            [
                side,
                s["chunks"],
                s["ceiling"],
                *[s[f"hit@{b}chars"] for b in BUDGETS],
                *[s[f"hit@{k}"] for k in KS],
                s[f"page@{PAGE_BUDGET}chars"],
                s[f"page+-1@{PAGE_BUDGET}chars"],
                *[s[f"mean_chars@{k}"] for k in KS],
            ]
            for side, s in summary.items()
        ],
    )
    misses = {side: [r["id"] for r in rows if hit_at_chars([r], side, 4000) == 0] for side in names}
    for side, ids in misses.items():
        print(f"{side}: missed within 4000 chars: {' '.join(ids) or '-'}")
    print(f"wall time {wall[0]:.1f} s")
    result: dict[str, Any] = {
        "benchmark": "chinese_retrieval",
        "quick": args.quick,
        "embedder": embedder.name,
        "search": "pipelines.passages.search_passages",
        "reranker": reranker_name,
        "questions": len(questions),
        "k": list(KS),
        "budgets_chars": list(BUDGETS),
        **summary,
        "per_group": {
            name: {"n": len(group)}
            | {
                side: {f"hit@{b}chars": hit_at_chars(group, side, b) for b in BUDGETS}
                | {f"hit@{k}": hit_at_k(group, side, k) for k in KS}
                | {f"page+-1@{PAGE_BUDGET}chars": page_hit(group, side, 1)}
                for side in names
            }
            for name, group in groups
        },
        "misses@4000chars": misses,
        "index_seconds": {"ours": round(took_ours[0], 1), "langchain": round(took_lc[0], 1)},
        "seconds": round(wall[0], 1),
    }
    common.emit_json(result)
    return result


if __name__ == "__main__":
    main()
