"""Clause diff precision/recall on the committed version pairs, against two baselines.

Each pair (`benchmarks/data/version_pairs/pairs.json`, rebuilt by
`benchmarks.version_pairs.build_pair`) is split into clauses and diffed. A reported
clause (added, removed or changed) is correct when it overlaps a gold change of the same
kind (a changed one: on both sides); a gold change is found when a correct report hits it.
P = correct / reported, R = found / gold, per pair type and overall (micro). Renumbering:
of the aligned pairs, the share whose `renumbered` flag is right.

Baselines on the same clauses: "line diff" (difflib over lines; a clause with every line
deleted is removed, every line inserted added, some lines changed: changed, paired with
the clause holding the other side of the first opcode), and "clause zip" (difflib over
the clauses' exact texts, replaced runs paired by position, the rest added/removed).

The threshold and the heading bonus: 5-fold cross-validation by contract; each fold
picks the pair with the best F1 on the other folds' pairs and is scored on its own.

    .venv/bin/python -m benchmarks.version_diff [--quick]
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import emit_json, log, print_table  # noqa: E402
from benchmarks.version_pairs import PairGold, build_pair, load_pairs  # noqa: E402
from pipelines.clause_diff import (  # noqa: E402
    CHANGED_THRESHOLD,
    HEADING_BONUS,
    ClauseChange,
    diff_clauses,
)
from pipelines.clauses import Clause, split_clauses  # noqa: E402

Setting = tuple[float, float]  # (changed threshold, heading bonus)
GRID: list[Setting] = [
    (round(0.2 + 0.05 * k, 2), bonus) for k in range(15) for bonus in (0.0, 0.1, 0.25, 0.5)
]
Span = tuple[int, int]


@dataclass
class Tally:
    reported: int = 0
    correct: int = 0
    gold: int = 0
    found: int = 0
    aligned: int = 0
    renumber_right: int = 0

    def add(self, other: Tally) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def prf(self) -> tuple[float, float, float]:
        p = self.correct / self.reported if self.reported else 1.0
        r = self.found / self.gold if self.gold else 1.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@dataclass(frozen=True)
class Case:
    id: str
    contract: str
    type: str
    old: list[Clause]
    new: list[Clause]
    old_text: str
    new_text: str
    gold: PairGold


def _hits(a: Span, b: Span | None) -> bool:
    return b is not None and min(a[1], b[1]) > max(a[0], b[0])


def score(changes: Sequence[ClauseChange], gold: PairGold) -> Tally:
    tally = Tally(gold=len(gold.changes))
    found: set[int] = set()
    for change in changes:
        old = (change.old.char_start, change.old.char_end) if change.old else None
        new = (change.new.char_start, change.new.char_end) if change.new else None
        if old and new:
            tally.aligned += 1
            expected = change.new is not None and change.new.char_start in gold.renumbered
            tally.renumber_right += change.renumbered == expected
        if change.kind == "unchanged":
            continue
        tally.reported += 1
        hit = False
        for k, item in enumerate(gold.changes):
            if item.kind != change.kind:
                continue
            ok_old = old is None or _hits(old, item.old)
            ok_new = new is None or _hits(new, item.new)
            if ok_old and ok_new:
                hit = True
                found.add(k)
        tally.correct += hit
    tally.found = len(found)
    return tally


def line_diff(
    old: list[Clause], new: list[Clause], old_text: str, new_text: str
) -> list[ClauseChange]:
    """Baseline: difflib over lines, grouped to clauses."""
    old_lines, old_owner = _lines(old_text, old)
    new_lines, new_owner = _lines(new_text, new)
    matcher = SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    touched_old: dict[int, int] = defaultdict(int)
    touched_new: dict[int, int] = defaultdict(int)
    partner: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for i in range(i1, i2):
            touched_old[old_owner[i]] += 1
        for j in range(j1, j2):
            touched_new[new_owner[j]] += 1
        other_new = new_owner[min(j1, len(new_owner) - 1)] if new_owner else -1
        for i in {old_owner[i] for i in range(i1, i2)}:
            partner.setdefault(i, other_new)
        if i2 == i1 and old_owner:
            for j in {new_owner[j] for j in range(j1, j2)}:
                partner.setdefault(-1 - j, old_owner[min(i1, len(old_owner) - 1)])
    total_old = defaultdict(int, _count(old_owner))
    total_new = defaultdict(int, _count(new_owner))
    changes: list[ClauseChange] = []
    for i, count in touched_old.items():
        if count == total_old[i]:
            changes.append(ClauseChange("removed", old[i], None, 0.0, False))
        elif partner.get(i, -1) >= 0:
            changes.append(ClauseChange("changed", old[i], new[partner[i]], 0.0, False))
    for j, count in touched_new.items():
        if count == total_new[j]:
            changes.append(ClauseChange("added", None, new[j], 0.0, False))
        elif -1 - j in partner and partner[-1 - j] >= 0:
            changes.append(ClauseChange("changed", old[partner[-1 - j]], new[j], 0.0, False))
    return changes


def _lines(text: str, clauses: list[Clause]) -> tuple[list[str], list[int]]:
    lines: list[str] = []
    owner: list[int] = []
    position, k = 0, 0
    for line in text.split("\n"):
        if line.strip() and clauses:
            while k + 1 < len(clauses) and clauses[k + 1].char_start <= position:
                k += 1
            lines.append(line.strip())
            owner.append(k)
        position += len(line) + 1
    return lines, owner


def _count(owner: list[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for k in owner:
        counts[k] = counts.get(k, 0) + 1
    return counts


def clause_zip(old: list[Clause], new: list[Clause]) -> list[ClauseChange]:
    """Baseline: difflib over the clauses' exact texts; replaced runs paired by position."""
    matcher = SequenceMatcher(None, [c.text for c in old], [c.text for c in new], autojunk=False)
    changes: list[ClauseChange] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(pairs):
            changes.append(ClauseChange("changed", old[i1 + k], new[j1 + k], 0.0, False))
        changes += [ClauseChange("removed", c, None, 0.0, False) for c in old[i1 + pairs : i2]]
        changes += [ClauseChange("added", None, c, 0.0, False) for c in new[j1 + pairs : j2]]
    return changes


def evaluate(
    cases: Sequence[Case], method: Callable[[Case], list[ClauseChange]]
) -> dict[str, Tally]:
    by_type: dict[str, Tally] = defaultdict(Tally)
    for case in cases:
        tally = score(method(case), case.gold)
        by_type[case.type].add(tally)
        by_type["all"].add(tally)
    return by_type


def ours(threshold: float, bonus: float) -> Callable[[Case], list[ClauseChange]]:
    return lambda case: diff_clauses(case.old, case.new, threshold=threshold, heading_bonus=bonus)


def _preference(setting: Setting, f1: float) -> tuple[float, float, float]:
    """Best F1; on a tie the threshold nearest 0.5, then the smaller heading bonus."""
    return round(f1, 6), -abs(setting[0] - 0.5), -setting[1]


def cross_validate(cases: Sequence[Case], folds: int = 5) -> dict[str, Any]:
    """Each fold (contracts split 5 ways) picks (threshold, heading bonus) on the others."""
    contracts = sorted({c.contract for c in cases})
    random.Random(15).shuffle(contracts)
    fold_of = {name: k % folds for k, name in enumerate(contracts)}
    per_setting: dict[Setting, dict[int, Tally]] = {}
    for setting in GRID:
        per_setting[setting] = defaultdict(Tally)
        method = ours(*setting)
        for case in cases:
            per_setting[setting][fold_of[case.contract]].add(score(method(case), case.gold))
    chosen: list[Setting] = []
    held_out = Tally()
    fold_f1: list[float] = []
    for k in range(folds):
        train = {s: _sum(v for f, v in per_setting[s].items() if f != k).prf()[2] for s in GRID}
        best = max(GRID, key=lambda s: _preference(s, train[s]))
        chosen.append(best)
        held_out.add(per_setting[best][k])
        fold_f1.append(round(per_setting[best][k].prf()[2], 4))
    overall = {s: _sum(per_setting[s].values()).prf()[2] for s in GRID}
    return {
        "fold_settings": chosen,
        "fold_f1": fold_f1,
        "held_out_prf": [round(v, 4) for v in held_out.prf()],
        "f1_by_setting": {f"{t}/{h}": round(v, 4) for (t, h), v in overall.items()},
        "best_on_all": max(GRID, key=lambda s: _preference(s, overall[s])),
    }


def _sum(tallies: Any) -> Tally:
    total = Tally()
    for tally in tallies:
        total.add(tally)
    return total


def load_cases(quick: bool) -> list[Case]:
    specs = load_pairs()
    if quick:
        specs = [s for k, s in enumerate(specs) if k % 5 == 0]
    cases: list[Case] = []
    for spec in specs:
        old_text, new_text, gold = build_pair(spec)
        cases.append(
            Case(
                spec["id"],
                spec["contract"],
                spec["type"],
                split_clauses(old_text),
                split_clauses(new_text),
                old_text,
                new_text,
                gold,
            )
        )
    return cases


def main() -> None:
    quick = "--quick" in sys.argv
    cases = load_cases(quick)
    log(f"{len(cases)} pairs")
    methods: dict[str, Callable[[Case], list[ClauseChange]]] = {
        "ours": ours(CHANGED_THRESHOLD, HEADING_BONUS),
        "line diff": lambda c: line_diff(c.old, c.new, c.old_text, c.new_text),
        "clause zip": lambda c: clause_zip(c.old, c.new),
    }
    results = {name: evaluate(cases, method) for name, method in methods.items()}
    seconds = []
    for case in cases:
        started = time.perf_counter()
        diff_clauses(case.old, case.new)
        seconds.append(time.perf_counter() - started)
    rows = []
    for kind in sorted(results["ours"], key=lambda k: (k == "all", k)):
        row: list[object] = [kind, results["ours"][kind].gold, results["ours"][kind].reported]
        for name in methods:
            row += [round(v, 3) for v in results[name][kind].prf()]
        base = results["line diff"][kind].prf()[2]
        row.append(round(results["ours"][kind].prf()[2] / base, 2) if base else "-")
        rows.append(row)
    headers = ["type", "gold", "ours reported"]
    for name in methods:
        headers += [f"{name} P", "R", "F1"]
    print_table([*headers, "F1 ours/line"], rows)
    print(
        f"diff time per pair: median {statistics.median(seconds) * 1000:.1f} ms, "
        f"max {max(seconds) * 1000:.1f} ms"
    )
    renum = results["ours"]["all"]
    print(f"renumbered flag right: {renum.renumber_right}/{renum.aligned} aligned pairs")
    cv = cross_validate(cases)
    print(
        f"5-fold CV by contract (threshold, heading bonus): folds chose {cv['fold_settings']}, "
        f"held-out F1 per fold {cv['fold_f1']}, pooled held-out P/R/F1 {cv['held_out_prf']}; "
        f"best on all {cv['best_on_all']} (module default {CHANGED_THRESHOLD}, {HEADING_BONUS})"
    )
    f1 = cv["f1_by_setting"]
    for bonus in (0.0, 0.1, 0.25, 0.5):
        cells = [f"{t:.2f}:{f1[f'{t}/{bonus}']:.3f}" for t, h in GRID if h == bonus]
        print(f"  F1 with heading bonus {bonus}: " + " ".join(cells))
    emit_json(
        {
            "benchmark": "version_diff",
            "pairs": len(cases),
            "threshold": CHANGED_THRESHOLD,
            "heading_bonus": HEADING_BONUS,
            "prf": {
                name: {kind: [round(v, 4) for v in tally.prf()] for kind, tally in by_type.items()}
                for name, by_type in results.items()
            },
            "renumbered_right": [renum.renumber_right, renum.aligned],
            "cv": cv,
            "median_clauses": statistics.median(len(c.old) for c in cases),
            "diff_seconds": {
                "median": round(statistics.median(seconds), 4),
                "max": round(max(seconds), 4),
            },
        }
    )


if __name__ == "__main__":
    main()
