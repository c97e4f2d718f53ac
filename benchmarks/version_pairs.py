"""Version pairs for the clause diff benchmark: dev contracts edited programmatically.

A base text is a dev contract's TXT (CUAD, `full_contract_txt`) cut into paragraphs (at
line breaks and at runs of 3+ spaces, which the TXT uses between paragraphs), each
wrapped at 90 columns (45 for Chinese) and separated by a blank line: the shape of the
text the service reads from a PDF. The Chinese base is `data/version_pairs/
chinese_contract.txt`. `pairs.json` holds each pair's edit operations (not its texts):
`build_pair(spec)` rebuilds both texts from the dev set and the gold changes.

Operations, applied in order to the paragraph list (indices are those at that step):
- insert `{"before", "label", "source"}`: a new clause `label title. body` from the pool
  (`pool.json`) or another contract's paragraph (its label replaced);
- delete `{"start", "end"}`: paragraphs [start, end);
- reword `{"para", "find", "replace"}`: the first `find` after the paragraph's label;
- renumber `{"from", "min", "delta"}`: top-level numbers >= min from paragraph `from` on;
- relabel `{"pattern", "repl"}`: a regex over every paragraph's start ("5." -> "Section 5.");
- substitute `{"para", "source"}`: the paragraph's text after its label replaced by another
  contract's clause of the same heading (gold: changed, a rewritten clause).
Gold: each inserted clause is "added" (its new span), each deleted run "removed" (its old
span), each reworded paragraph "changed" (both spans); renumbered clauses are listed
by their new start offset (they are "unchanged", renumbered).

    .venv/bin/python -m benchmarks.version_pairs    # regenerate pairs.json (seed 15)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from benchmarks.version_edits import plan_pairs
from benchmarks.version_text import (
    DATA,
    Para,
    apply_op,
    base_paragraphs,
    pdf_from_text,
    render,
)

PAIRS_FILE = DATA / "pairs.json"
__all__ = ["GoldChange", "PairGold", "build_pair", "load_pairs", "pdf_from_text"]


@dataclass(frozen=True)
class GoldChange:
    """A clause the diff must report: spans are (start, end) in the old / new text."""

    kind: str  # "added" | "removed" | "changed"
    old: tuple[int, int] | None
    new: tuple[int, int] | None
    op: str


@dataclass(frozen=True)
class PairGold:
    changes: list[GoldChange]
    renumbered: frozenset[int] = field(default_factory=frozenset)  # new clause starts


def load_pairs(path: Path = PAIRS_FILE) -> list[dict[str, Any]]:
    """The committed pair specs."""
    pairs: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["pairs"]
    return pairs


def build_pair(spec: dict[str, Any]) -> tuple[str, str, PairGold]:
    """(old text, new text, gold) of one spec from `pairs.json`."""
    base = _base(spec["contract"])
    paras = [Para(text, origin=k) for k, text in enumerate(base)]
    deleted: list[tuple[str, list[int]]] = []
    for number, op in enumerate(spec["ops"]):
        removed = apply_op(paras, op, tag=number)
        if removed:
            deleted.append((op.get("kind", "delete"), removed))
    old_text, old_spans = render(base)
    new_text, new_spans = render([p.text for p in paras])
    changes: list[GoldChange] = []
    for tag in sorted({p.tag for p in paras if p.tag is not None}):
        rows = [k for k, p in enumerate(paras) if p.tag == tag]
        span = (new_spans[rows[0]][0], new_spans[rows[-1]][1])
        changes.append(GoldChange("added", None, span, paras[rows[0]].op))
    for op_name, olds in deleted:
        for run in _runs(sorted(olds)):
            span = (old_spans[run[0]][0], old_spans[run[-1]][1])
            changes.append(GoldChange("removed", span, None, op_name))
    for k, para in enumerate(paras):
        if para.reworded and para.origin is not None:
            changes.append(GoldChange("changed", old_spans[para.origin], new_spans[k], para.op))
    renumbered = frozenset(new_spans[k][0] for k, p in enumerate(paras) if p.renumbered)
    return old_text, new_text, PairGold(changes, renumbered)


def _runs(indices: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for index in indices:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


@cache
def _base(contract: str) -> tuple[str, ...]:
    return tuple(base_paragraphs(contract))


def main() -> None:
    pairs = plan_pairs(seed=15)
    lines = ",\n".join(json.dumps(spec, ensure_ascii=False) for spec in pairs)
    PAIRS_FILE.write_text(f'{{"seed": 15, "pairs": [\n{lines}\n]}}\n', encoding="utf-8")
    kinds: dict[str, int] = {}
    for spec in pairs:
        build_pair(spec)  # every spec must rebuild
        kinds[spec["type"]] = kinds.get(spec["type"], 0) + 1
    print(f"{len(pairs)} pairs -> {PAIRS_FILE}: {kinds}")


if __name__ == "__main__":
    main()
