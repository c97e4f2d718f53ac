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

CHANGED_THRESHOLD was chosen by 5-fold cross-validation by contract over the benchmark
pairs (`python -m benchmarks.version_diff`); see the figures there.
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
HEADING_BONUS = 0.1
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
    return 2.0 * sum((a & b).values()) / size if size else 1.0


def _norm_number(number: str | None) -> str | None:
    return None if number is None else number.rstrip(".").upper()


def diff_clauses(
    old: Sequence[Clause],
    new: Sequence[Clause],
    *,
    threshold: float = CHANGED_THRESHOLD,
) -> list[ClauseChange]:
    """Every clause of both once, in the new document's order; a removed clause follows
    the partner of its old predecessor."""
    furniture = furniture_lines(old) | furniture_lines(new)
    old_tokens = [tokens(c, furniture) for c in old]
    new_tokens = [tokens(c, furniture) for c in new]
    old_keys = [" ".join(t) for t in old_tokens]
    new_keys = [" ".join(t) for t in new_tokens]
    pairs: dict[int, tuple[int, float]] = {}  # new index -> (old index, similarity)
    matcher = SequenceMatcher(None, old_keys, new_keys, autojunk=False)
    blocks = matcher.get_matching_blocks()
    i_prev = j_prev = 0
    for block in blocks:
        _align_gap(
            old,
            new,
            old_tokens,
            new_tokens,
            range(i_prev, block.a),
            range(j_prev, block.b),
            threshold,
            pairs,
        )
        for k in range(block.size):
            pairs[block.b + k] = (block.a + k, 1.0)
        i_prev, j_prev = block.a + block.size, block.b + block.size
    _pair_moved(old, new, old_tokens, new_tokens, old_keys, new_keys, pairs)
    return _ordered(old, new, old_keys, new_keys, pairs)


def _align_gap(
    old: Sequence[Clause],
    new: Sequence[Clause],
    old_tokens: Sequence[list[str]],
    new_tokens: Sequence[list[str]],
    rows: range,
    cols: range,
    threshold: float,
    pairs: dict[int, tuple[int, float]],
) -> None:
    """Order-preserving pairing of old[rows] with new[cols] by similarity."""
    if not rows or not cols:
        return
    counts_old = [Counter(old_tokens[i]) for i in rows]
    counts_new = [Counter(new_tokens[j]) for j in cols]
    score: dict[tuple[int, int], float] = {}
    for a, i in enumerate(rows):
        for b, j in enumerate(cols):
            size = len(old_tokens[i]) + len(new_tokens[j])
            bonus = HEADING_BONUS if old[i].heading and old[i].heading == new[j].heading else 0.0
            if _upper_bound(counts_old[a], counts_new[b], size) + bonus < threshold:
                continue
            sim = similarity(old_tokens[i], new_tokens[j])
            if sim + bonus >= threshold:
                score[(a, b)] = sim
    if not score:
        return
    n, m = len(rows), len(cols)
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for a in range(n - 1, -1, -1):
        for b in range(m - 1, -1, -1):
            value = max(best[a + 1][b], best[a][b + 1])
            if (a, b) in score:
                gain = score[(a, b)] - threshold + 1e-3
                heading = old[rows[a]].heading
                gain += HEADING_BONUS if heading and heading == new[cols[b]].heading else 0.0
                value = max(value, gain + best[a + 1][b + 1])
            best[a][b] = value
    a = b = 0
    while a < n and b < m:
        if (a, b) in score and best[a][b] > max(best[a + 1][b], best[a][b + 1]) - 1e-12:
            pairs[cols[b]] = (rows[a], score[(a, b)])
            a, b = a + 1, b + 1
        elif best[a + 1][b] >= best[a][b + 1]:
            a += 1
        else:
            b += 1


def _pair_moved(
    old: Sequence[Clause],
    new: Sequence[Clause],
    old_tokens: Sequence[list[str]],
    new_tokens: Sequence[list[str]],
    old_keys: Sequence[str],
    new_keys: Sequence[str],
    pairs: dict[int, tuple[int, float]],
) -> None:
    """Pair clauses that moved: equal texts first, then near-equal ones."""
    used = {i for i, _ in pairs.values()}
    free_old = [i for i in range(len(old)) if i not in used]
    by_key: dict[str, list[int]] = {}
    for i in free_old:
        by_key.setdefault(old_keys[i], []).append(i)
    for j in range(len(new)):
        if j not in pairs and by_key.get(new_keys[j]):
            pairs[j] = (by_key[new_keys[j]].pop(0), 1.0)
    used = {i for i, _ in pairs.values()}
    for j in range(len(new)):
        if j in pairs:
            continue
        best, best_i = MOVED_THRESHOLD, -1
        for i in range(len(old)):
            if i in used:
                continue
            size = len(old_tokens[i]) + len(new_tokens[j])
            if _upper_bound(Counter(old_tokens[i]), Counter(new_tokens[j]), size) < best:
                continue
            sim = similarity(old_tokens[i], new_tokens[j])
            if sim >= best:
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
