"""Cross-validation of the table-page constants over the dev questions (FinanceBench and
the Chinese gold set): `python -m benchmarks.finance_evidence --cv` runs it.

Both question sets are searched once each (`benchmarks.stages.candidates`: the first stage,
the reranker's features of each unit, the table pages of every hit with their features);
every configuration of the table-page stage is then scored from that cache, with the
functions `search_passages` runs (`stages.passages`): the stage off and every combination
of `stages.PAGE_GRID`, each fold choosing the best on the other four (the stage off wins
ties). A question scores 1 when its own
benchmark counts a hit: a FinanceBench question when an evidence page (+-1) is among the
pages of the passages within `--chars` (8,000) characters, a Chinese one when its gold
phrase is in a passage within 4,000 characters.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import analysis_common as ac
from benchmarks import chinese_retrieval as cr
from benchmarks import common
from benchmarks import stages as st
from benchmarks.finance_evidence import near, pick_questions, within_chars
from pipelines.models import ScoredChunk

FOLDS = 5
CN_BUDGET = 4000
FINANCE_LIMIT = 40
"""Passages asked, as `finance_evidence` asks (`DEPTH`) and `chinese_retrieval` asks."""
CN_LIMIT = cr.RETRIEVE_DEPTH

COLUMNS = tuple(dict.fromkeys((*st.ROWS_GRID, *st.PAGE_GRID)))
Hit = Callable[[Sequence[ScoredChunk]], bool]


def finance_hit(gold: set[int], chars: int) -> Hit:
    def hit(passages: Sequence[ScoredChunk]) -> bool:
        pages = within_chars(
            [((p.chunk.page_start, p.chunk.page_end), len(p.chunk.text)) for p in passages], chars
        )
        return near(pages, gold)

    return hit


def chinese_hit(phrase: str) -> Hit:
    def hit(passages: Sequence[ScoredChunk]) -> bool:
        used = 0
        for passage in passages:
            used += len(passage.chunk.text)
            if used > CN_BUDGET:
                return False
            if cr.contains(passage.chunk.text, phrase):
                return True
        return False

    return hit


def run_cv(args: Any) -> dict[str, Any]:
    from pipelines.ingest import embed_and_index_stage
    from services.adapters.qdrant_edge import EdgeIndex
    from services.adapters.tokens import load_token_counter
    from services.settings import Settings

    data = args.data.resolve()
    counter = load_token_counter()
    embedder = common.load_our_embedder(args.embedder, args.model, args.batch_size)
    store = ac.MemoryChunks()
    cases: dict[str, tuple[st.Candidates, Hit, int]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-table-pages-") as folder,
        common.stopwatch() as wall,
    ):
        index = EdgeIndex(Path(folder) / "finance", embedder.dimension)
        done: set[str] = set()
        for q in pick_questions(data, args.quick, args.limit):
            name = q["doc_name"]
            if name not in done:
                doc = ac.parse_pdf(data / "financebench" / "pdfs" / f"{name}.pdf", name, counter)
                embed_and_index_stage(
                    ac.TENANT, doc.chunks, embedder, index, batch_size=args.batch_size, title=name
                )
                store.add(doc.chunks)
                done.add(name)
            gold = {
                e["evidence_page_num"] + 1 for e in q["evidence"] if e.get("doc_name", name) == name
            }
            cands = st.candidates(
                q["question"],
                expand=True,
                tenant=ac.TENANT,
                embedder=embedder,
                index=index,
                document_ids=[name],
                depth=st.DEPTH,
                source=store,
            )
            cases[q["financebench_id"]] = (cands, finance_hit(gold, args.chars), FINANCE_LIMIT)
        index.close()
        common.log(f"finance: {len(cases)} questions searched; the Chinese report ...")
        cn_folder = Path(folder) / "cn"
        cn_folder.mkdir()
        cn_index, cn_chunks = cr.index_ours(
            data / common.CHINESE_REPORT, embedder, cn_folder, args.batch_size
        )
        store.add(cn_chunks)
        candidates = Settings().reranker.candidates  # as `chinese_retrieval` asks
        for q in cr.load_questions(quick=args.quick):
            cands = st.candidates(
                q["question"],
                expand=True,
                tenant=cr.TENANT,
                embedder=embedder,
                index=cn_index,
                document_ids=[cr.DOCUMENT_ID],
                depth=max(candidates, CN_LIMIT),
                source=store,
            )
            cases[q["id"]] = (cands, chinese_hit(q["must_find"]), CN_LIMIT)
        cn_index.close()
        common.log(f"{len(cases)} questions searched; cross-validating ...")

        def hits(config: st.Config, names: set[str]) -> dict[str, bool]:
            return {
                name: cases[name][1](
                    st.passages(cases[name][0], config, store, limit=cases[name][2])
                )
                for name in sorted(names)
            }

        names = sorted(cases)
        grid = st.page_grid(st.Config())
        results = {config: hits(config, set(names)) for config in grid}
        common.log(f"{len(grid)} configurations scored")

        def score_on(config: st.Config, subset: set[str]) -> float:
            found = results[config]
            return statistics.mean(found[name] for name in subset)

        def best_of_grid(score: Callable[[st.Config], float], _: st.Config) -> st.Config:
            return max(grid, key=score)  # the first best: the stage off wins ties

        cv, chosen = st.cross_validate_with(names, score_on, st.Config(), FOLDS, tuner=best_of_grid)
        held: dict[str, bool] = {}
        for fold, config in zip(st.folds(names, FOLDS), chosen, strict=True):
            held |= {name: results[config][name] for name in fold}
        cv["off_held_out"] = [
            round(score_on(grid[0], set(fold)), 3) for fold in st.folds(names, FOLDS)
        ]
        median = st.median_config(chosen, st.Config())
        configs = {"off": grid[0], "defaults": st.Config(), "folds' choice": median}
        whole = {label: hits(config, set(names)) for label, config in configs.items()}
    return report(cv, held, whole, chosen, median, wall[0])


def _rate(found: dict[str, bool], chinese: bool) -> float:
    picked = [v for k, v in found.items() if k.startswith("cn-") == chinese]
    return round(statistics.mean(picked), 3) if picked else 0.0


def report(
    cv: dict[str, Any],
    held: dict[str, bool],
    whole: dict[str, dict[str, bool]],
    chosen: Sequence[st.Config],
    median: st.Config,
    seconds: float,
) -> dict[str, Any]:
    common.print_table(
        ["fold", "held-out", "table_pages", "page_rows", *COLUMNS],
        [
            [n + 1, score, c.table_pages, c.page_rows, *[getattr(c, name) for name in COLUMNS]]
            for n, (score, c) in enumerate(zip(cv["held_out"], chosen, strict=True))
        ],
    )
    print(
        f"held-out folds: {cv['held_out']} mean {cv['mean']} (min {cv['min']}, "
        f"max {cv['max']}, spread {round(cv['max'] - cv['min'], 3)}); the same folds with "
        f"the stage off: {cv['off_held_out']}"
    )
    rows = [["cross-validated (held out)", _rate(held, False), _rate(held, True)]]
    rows += [[label, _rate(found, False), _rate(found, True)] for label, found in whole.items()]
    common.print_table(["table pages", "FinanceBench page@8k", "Chinese hit@4k"], rows)
    print(f"folds' choice (majority on/off, median constants): {st.describe(median)}")
    print(f"wall time {seconds:.1f} s")
    result: dict[str, Any] = {
        "benchmark": "table_pages_cv",
        "questions": len(held),
        "cross_validation": cv,
        "held_out": {"finance": _rate(held, False), "chinese": _rate(held, True)},
        "whole": {
            label: {"finance": _rate(found, False), "chinese": _rate(found, True)}
            for label, found in whole.items()
        },
        "median": st.describe(median),
        "seconds": round(seconds, 1),
    }
    common.emit_json(result)
    return result
