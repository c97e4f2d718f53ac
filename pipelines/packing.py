"""Packing of atoms (sentences, short lines, table rows) into token-budgeted chunks.

Used by `pipelines.chunking`; the rules are described in its module docstring.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipelines.headings import Section
from pipelines.ports import TokenCounter

SENTENCE, PARAGRAPH, SECTION = 1, 2, 3
"""Strength of the boundary before an atom: how good a place it is to end a chunk."""
_CLAUSE_END = re.compile(r"[,，、:：]+\s*|\s+")

Span = tuple[int, int, int, tuple[str, ...]]
"""A chunk as (char_start, char_end, exact token count, section path)."""


@dataclass
class Atom:
    """A unit never split by packing: [start, end) of the document text."""

    start: int
    end: int
    tokens: int  # tokens of the atom with the whitespace before it
    strength: int  # how good a chunk boundary the position before it is
    section: int


def pack_atoms(
    text: str,
    atoms: Sequence[Atom],
    sections: Sequence[Section],
    counter: TokenCounter,
    limit: int,
    overlap: int,
) -> list[Span]:
    """Group atoms into chunk spans (start, end, tokens, section path)."""
    packer = _Packer(text, atoms, sections, counter, limit, overlap)
    for index in range(len(atoms)):
        packer.add(index)
    packer.finish()
    return packer.spans


def _common_path(paths: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    common = paths[0]
    for path in paths[1:]:
        size = 0
        while size < min(len(common), len(path)) and common[size] == path[size]:
            size += 1
        common = common[:size]
    return common


class _Packer:
    """Greedy packing of atoms into chunks; see the module docstring for the rules."""

    def __init__(
        self,
        text: str,
        atoms: Sequence[Atom],
        sections: Sequence[Section],
        counter: TokenCounter,
        limit: int,
        overlap: int,
    ) -> None:
        self.text, self.atoms, self.sections = text, atoms, sections
        self.counter, self.limit, self.overlap = counter, limit, overlap
        self.tiny = max(1, limit // 8)
        self.section_tokens = [0] * len(sections)
        for atom in atoms:
            self.section_tokens[atom.section] += atom.tokens
        self.lo = self.hi = 0  # current chunk: atoms[lo:hi], after an overlap head
        self.head: int | None = None  # where the overlap head starts, if any
        self.head_tokens = 0
        self.tokens = 0  # estimated tokens of atoms[lo:hi]
        self.spans: list[Span] = []
        self.last_lo, self.last_end_atom = 0, -1  # atoms of the last emitted chunk

    def add(self, index: int) -> None:
        atom = self.atoms[index]
        if self.hi > self.lo and self._top_changes(index):
            if self.tokens >= self.tiny:
                self._emit(self.hi)
                self._start(self.hi, None, 0)
            else:  # a tiny tail joins the previous chunk, or else runs on into this section
                self._merge_back()
        while self.hi > self.lo and self.head_tokens + self.tokens + atom.tokens > self.limit:
            end = self._emit(self._choose_cut(index))
            self._start(end, *self._overlap(end, index))
        self.hi = index + 1
        self.tokens += atom.tokens

    def finish(self) -> None:
        if self.hi > self.lo and (self.tokens >= self.tiny or not self._merge_back()):
            self._emit(self.hi)

    def _top_changes(self, index: int) -> bool:
        before = self.sections[self.atoms[index - 1].section].path[:1]
        return self.sections[self.atoms[index].section].path[:1] != before

    def _start(self, lo: int, head: int | None, head_tokens: int) -> None:
        self.lo, self.head, self.head_tokens = lo, head, head_tokens
        self.tokens = sum(atom.tokens for atom in self.atoms[lo : self.hi])

    def _choose_cut(self, index: int) -> int:
        """End (exclusive atom index) of the chunk to emit before atoms[index] is added."""
        best, best_strength = self.hi, -1
        filled = self.head_tokens
        for k in range(self.lo, self.hi):
            filled += self.atoms[k].tokens
            if k + 1 <= self.lo or filled < self.limit // 2:
                continue
            strength = self.atoms[k + 1].strength if k + 1 < self.hi else self.atoms[index].strength
            if strength > best_strength or (
                strength == best_strength and not self._headings_only(best, k + 1)
            ):
                best, best_strength = k + 1, strength
        return best

    def _headings_only(self, lo: int, end: int) -> bool:
        """Whether atoms[lo:end] are all bare headings (sections of a few tokens)."""
        return all(self.section_tokens[a.section] < self.tiny for a in self.atoms[lo:end])

    def _emit(self, end: int) -> int:
        """Emit atoms[lo:end] (with the head); drops the head or last atoms to fit exactly."""
        start = self.head if self.head is not None else self.atoms[self.lo].start
        while True:
            stop = self.atoms[end - 1].end
            exact = self.counter.count(self.text[start:stop])
            if exact <= self.limit or (self.head is None and end - self.lo == 1):
                break
            if self.head is not None:
                self.head, self.head_tokens = None, 0
                start = self.atoms[self.lo].start
            else:
                end -= 1
        self.spans.append((start, stop, exact, self._path(self.lo, end)))
        self.last_lo, self.last_end_atom = self.lo, end
        return end

    def _path(self, lo: int, end: int) -> tuple[str, ...]:
        weights: dict[int, int] = {}
        for atom in self.atoms[lo:end]:
            weights[atom.section] = weights.get(atom.section, 0) + atom.tokens
        paths = [self.sections[s].path for s in weights]
        common = _common_path(paths)
        if common or not any(paths):
            return common
        return self.sections[max(weights, key=lambda s: weights[s])].path

    def _merge_back(self) -> bool:
        """Append the current (tiny) chunk to the previous one if it fits; True if done."""
        if not self.spans or self.last_end_atom != self.lo:
            return False
        start, _, _, _ = self.spans[-1]
        stop = self.atoms[self.hi - 1].end
        exact = self.counter.count(self.text[start:stop])
        if exact > self.limit:
            return False
        self.spans[-1] = (start, stop, exact, self._path(self.last_lo, self.hi))
        self.last_end_atom = self.hi
        self._start(self.hi, None, 0)
        return True

    def _overlap(self, end: int, index: int) -> tuple[int | None, int]:
        """Start and tokens of the overlap head for a chunk whose first new atom is `end`."""
        following = self.atoms[end] if end < self.hi else self.atoms[index]
        carried = sum(atom.tokens for atom in self.atoms[end : self.hi])
        budget = min(self.overlap, self.limit - carried - self.atoms[index].tokens)
        if budget <= 0 or following.strength >= SECTION:
            return None, 0
        k, total = end - 1, 0
        while k >= 0 and self.atoms[k].section == following.section:
            if total + self.atoms[k].tokens > budget:
                break
            total += self.atoms[k].tokens
            k -= 1
        if total:
            return self.atoms[k + 1].start, total
        last = self.atoms[end - 1]
        if last.section != following.section:
            return None, 0
        return self._clause_tail(last, budget)

    def _clause_tail(self, atom: Atom, budget: int) -> tuple[int | None, int]:
        """The longest tail of an atom starting after a clause mark that fits the budget."""
        best: tuple[int | None, int] = (None, 0)
        if " | " in self.text[atom.start : atom.end]:
            return best  # never start inside a table row
        bounds = [m.end() for m in _CLAUSE_END.finditer(self.text, atom.start, atom.end)]
        for bound in reversed(bounds):
            if bound >= atom.end:
                continue
            tokens = self.counter.count(self.text[bound : atom.end])
            if tokens > budget:
                break
            best = (bound, tokens)
        return best
