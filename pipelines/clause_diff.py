"""Two versions' clauses -> the clauses added, removed, changed and unchanged.

Texts are compared as word tokens (CJK characters one by one), lower-cased, with the
clause number, punctuation and line wrapping left out. Alignment, in order:
1. equal texts, in order (longest matching runs): unchanged, `renumbered` when the
   numbers differ;
2. between those anchors, an order-preserving alignment (dynamic programming) of the
   remaining clauses that maximises the summed similarity above `CHANGED_THRESHOLD`
   (difflib ratio of the token lists, +`HEADING_BONUS` when both carry the same heading):
   changed;
3. equal texts out of order (a moved clause): unchanged; then moved clauses whose
   similarity reaches `MOVED_THRESHOLD`: changed;
4. the rest: removed (old) or added (new).

Page-number lines and lines repeated 3+ times in a document (running headers/footers)
are left out, and clause numbers at paragraph starts are masked, so a renumbering or a
page break that moved does not count as a change.

CHANGED_THRESHOLD = 0.5 and HEADING_BONUS = 0.5 were chosen together by 5-fold
cross-validation by contract on the 279 committed version pairs (`python -m
benchmarks.version_diff`, grid 0.2-0.9 x 0, 0.1, 0.25, 0.5): every fold chose (0.5, 0.5);
pooled held-out P/R/F1 0.981/0.995/0.988. Without the heading bonus the best F1 is 0.980
(threshold 0.2) and 0.929 at 0.5: a clause rewritten under its own heading (another
contract's "Governing Law" in place of this one's) is then reported removed + added.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from pipelines.clauses import PAGE_NUMBER, Clause, clause_number

ChangeKind = Literal["added", "removed", "changed", "unchanged"]

CHANGED_THRESHOLD = 0.5
MOVED_THRESHOLD = 0.8
HEADING_BONUS = 0.5
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_]+")


@dataclass(frozen=True)
class ClauseChange:
    """One aligned pair (or a lone clause); similarity is 0 for added and removed."""

    kind: ChangeKind
    old: Clause | None
    new: Clause | None
    similarity: float
    renumbered: bool


def tokens(clause: Clause, furniture: frozenset[str] = frozenset()) -> list[str]:
    """The clause's words without clause numbers at paragraph starts (its own and any
    sub-clause's), page numbers and `furniture` lines (running headers and footers):
    what versions are compared on."""
    kept: list[str] = []
    paragraph_start, footer = True, False
    for raw in clause.text.split("\n"):
        line = raw.strip()
        if line and (PAGE_NUMBER.match(line) or _line_key(line) in furniture):
            footer = True  # the sentence before a page footer may go on after it
            continue
        if not line:
            paragraph_start = paragraph_start or not footer
            continue
        found = clause_number(line) if paragraph_start else None
        kept.append(line[found[1] :] if found else line)
        paragraph_start = footer = False
    return _TOKEN.findall("\n".join(kept).lower())


def furniture_lines(clauses: Sequence[Clause]) -> frozenset[str]:
    """Short lines repeated at least 3 times in a document (digits folded): running
    headers and footers such as "Source: ACME INC, 8-K, 3/22/2012"."""
    seen: Counter[str] = Counter()
    for clause in clauses:
        seen.update(
            _line_key(line) for line in clause.text.split("\n") if 0 < len(line.strip()) <= 120
        )
    return frozenset(key for key, n in seen.items() if n >= 3 and key)


def _line_key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()).lower())


def similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """difflib's ratio of two token lists (1.0 for two empty lists)."""
    if not a and not b:
        return 1.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def _upper_bound(a: Counter[str], b: Counter[str], size: int) -> float:
    """difflib's quick_ratio: a bound on `similarity` from the shared tokens' counts."""
    if not size:
        return 1.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    shared = 0
    for token, n in small.items():
        m = large.get(token)
        if m:
            shared += n if n < m else m
    return 2.0 * shared / size


def _norm_number(number: str | None) -> str | None:
    return None if number is None else number.rstrip(".").upper()


@dataclass(frozen=True)
class _Side:
    """One version's clauses with what they are compared on."""

    clauses: Sequence[Clause]
    tokens: list[list[str]]
    keys: list[str]
    counts: list[Counter[str]]
    headings: list[str]  # lower case, words only

    @classmethod
    def of(cls, clauses: Sequence[Clause], furniture: frozenset[str]) -> _Side:
        words = [tokens(c, furniture) for c in clauses]
        headings = [" ".join(_TOKEN.findall(c.heading.lower())) for c in clauses]
        keys = [" ".join(w) for w in words]
        return cls(clauses, words, keys, [Counter(w) for w in words], headings)


def diff_clauses(
    old: Sequence[Clause],
    new: Sequence[Clause],
    *,
    threshold: float = CHANGED_THRESHOLD,
    heading_bonus: float = HEADING_BONUS,
) -> list[ClauseChange]:
    """Every clause of both once, in the new document's order; a removed clause follows
    the partner of its old predecessor."""
    furniture = furniture_lines(old) | furniture_lines(new)
    a, b = _Side.of(old, furniture), _Side.of(new, furniture)
    pairs: dict[int, tuple[int, float]] = {}  # new index -> (old index, similarity)
    matcher = SequenceMatcher(None, a.keys, b.keys, autojunk=False)
    i_prev = j_prev = 0
    for block in matcher.get_matching_blocks():
        rows, cols = range(i_prev, block.a), range(j_prev, block.b)
        _align_gap(a, b, rows, cols, threshold, heading_bonus, pairs)
        for k in range(block.size):
            pairs[block.b + k] = (block.a + k, 1.0)
        i_prev, j_prev = block.a + block.size, block.b + block.size
    _pair_moved(a, b, pairs)
    return _ordered(old, new, a.keys, b.keys, pairs)


def _pair_score(a: _Side, b: _Side, i: int, j: int, floor: float) -> float | None:
    """similarity(old i, new j) when it can reach `floor`, else None (cheap bounds first)."""
    size_a, size_b = len(a.tokens[i]), len(b.tokens[j])
    total = size_a + size_b
    if total and 2.0 * min(size_a, size_b) / total < floor:
        return None
    if _upper_bound(a.counts[i], b.counts[j], total) < floor:
        return None
    sim = similarity(a.tokens[i], b.tokens[j])
    return sim if sim >= floor else None


def _same_heading(a: _Side, b: _Side, i: int, j: int) -> bool:
    return bool(a.headings[i]) and a.headings[i] == b.headings[j]


def _align_gap(
    a: _Side,
    b: _Side,
    rows: range,
    cols: range,
    threshold: float,
    heading_bonus: float,
    pairs: dict[int, tuple[int, float]],
) -> None:
    """Order-preserving pairing of old[rows] with new[cols]: the most summed similarity
    above the threshold (dynamic programming)."""
    if not rows or not cols:
        return
    gain: dict[tuple[int, int], tuple[float, float]] = {}  # (row, col) -> (gain, similarity)
    for r, i in enumerate(rows):
        for c, j in enumerate(cols):
            bonus = heading_bonus if _same_heading(a, b, i, j) else 0.0
            sim = _pair_score(a, b, i, j, threshold - bonus)
            if sim is not None:
                gain[(r, c)] = (sim + bonus - threshold + 1e-3, sim)
    if not gain:
        return
    n, m = len(rows), len(cols)
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for r in range(n - 1, -1, -1):
        for c in range(m - 1, -1, -1):
            value = max(best[r + 1][c], best[r][c + 1])
            if (r, c) in gain:
                value = max(value, gain[(r, c)][0] + best[r + 1][c + 1])
            best[r][c] = value
    r = c = 0
    while r < n and c < m:
        if (r, c) in gain and best[r][c] > max(best[r + 1][c], best[r][c + 1]) - 1e-12:
            pairs[cols[c]] = (rows[r], gain[(r, c)][1])
            r, c = r + 1, c + 1
        elif best[r + 1][c] >= best[r][c + 1]:
            r += 1
        else:
            c += 1


def _pair_moved(a: _Side, b: _Side, pairs: dict[int, tuple[int, float]]) -> None:
    """Pair clauses that moved: equal texts first, then near-equal ones."""
    used = {i for i, _ in pairs.values()}
    by_key: dict[str, list[int]] = {}
    for i in range(len(a.keys)):
        if i not in used:
            by_key.setdefault(a.keys[i], []).append(i)
    for j in range(len(b.keys)):
        if j not in pairs and by_key.get(b.keys[j]):
            pairs[j] = (by_key[b.keys[j]].pop(0), 1.0)
    used = {i for i, _ in pairs.values()}
    free = [i for i in range(len(a.keys)) if i not in used]
    for j in range(len(b.keys)):
        if j in pairs:
            continue
        best, best_i = MOVED_THRESHOLD, -1
        for i in free:
            sim = None if i in used else _pair_score(a, b, i, j, best)
            if sim is not None:
                best, best_i = sim, i
        if best_i >= 0:
            pairs[j] = (best_i, best)
            used.add(best_i)


def _ordered(
    old: Sequence[Clause],
    new: Sequence[Clause],
    old_keys: Sequence[str],
    new_keys: Sequence[str],
    pairs: dict[int, tuple[int, float]],
) -> list[ClauseChange]:
    partner_of_old = {i: j for j, (i, _) in pairs.items()}
    removed_after: dict[int, list[int]] = {}  # new index (-1: the start) -> removed old ones
    anchor = -1
    for i in range(len(old)):
        if i in partner_of_old:
            anchor = partner_of_old[i]
        else:
            removed_after.setdefault(anchor, []).append(i)
    changes = [_removed(old[i]) for i in removed_after.get(-1, [])]
    for j, clause in enumerate(new):
        if j in pairs:
            i, sim = pairs[j]
            kind: ChangeKind = "unchanged" if old_keys[i] == new_keys[j] else "changed"
            renumbered = _norm_number(old[i].number) != _norm_number(clause.number)
            changes.append(ClauseChange(kind, old[i], clause, round(sim, 4), renumbered))
        else:
            changes.append(ClauseChange("added", None, clause, 0.0, False))
        changes.extend(_removed(old[i]) for i in removed_after.get(j, []))
    return changes


def _removed(clause: Clause) -> ClauseChange:
    return ClauseChange("removed", clause, None, 0.0, False)
