"""Bilingual lexicon of contract clauses (the 41 CUAD categories) and annual-report topics.

For query expansion and reranking: `names` are the ways a user names a category (English
and Chinese), `phrases_en` / `phrases_zh` are wording typical of the clause or disclosure
itself (lowercase plain substrings), `headings` are words of the section headings that
hold it. Contract ids are the exact CUAD category names (`cuad_category_descriptions.csv`,
the casing of `risk_taxonomy`); annual-report ids are `risk_taxonomy`'s categories plus a
few financial topics (Revenue, Net Profit, ...). Written from legal and financial usage,
not from any dev-set answer. `match_categories` finds the categories a query refers to.
The lexicon itself is data: `pipelines/data/clause_terms.json` (per kind, in order).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

Kind = Literal["contract", "annual_report"]


@dataclass(frozen=True)
class ClauseTerms:
    """The vocabulary of one category; `id` is its CUAD name or annual-report category."""

    id: str
    kind: Kind
    names: tuple[str, ...]
    phrases_en: tuple[str, ...]
    phrases_zh: tuple[str, ...]
    headings: tuple[str, ...]


Words = tuple[str, ...]


@cache
def _data() -> dict[str, list[dict[str, Any]]]:
    """`data/clause_terms.json` (shipped as package data), read once."""
    text = resources.files("pipelines").joinpath("data/clause_terms.json").read_text("utf-8")
    data: dict[str, list[dict[str, Any]]] = json.loads(text)
    return data


def _load(kind: Kind) -> tuple[ClauseTerms, ...]:
    """The entries of `kind` in `data/clause_terms.json`, in file order."""
    return tuple(
        ClauseTerms(
            e["id"],
            kind,
            tuple(e["names"]),
            tuple(e["phrases_en"]),
            tuple(e["phrases_zh"]),
            tuple(e["headings"]),
        )
        for e in _data()[kind]
    )


CONTRACT_TERMS: tuple[ClauseTerms, ...] = _load("contract")
ANNUAL_REPORT_TERMS: tuple[ClauseTerms, ...] = _load("annual_report")

CLAUSE_TERMS: tuple[ClauseTerms, ...] = CONTRACT_TERMS + ANNUAL_REPORT_TERMS
BY_ID: dict[str, ClauseTerms] = {terms.id: terms for terms in CLAUSE_TERMS}
_BY_FOLDED_ID = {terms.id.casefold(): terms for terms in CLAUSE_TERMS}

_SEPARATORS = re.compile(r"[\s\-_\u2010-\u2015]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def lookup(category_id: str) -> ClauseTerms | None:
    """The entry of `category_id`, case-insensitively ("Cap On Liability" as annotated)."""
    return _BY_FOLDED_ID.get(category_id.strip().casefold())


def normalise_text(text: str) -> str:
    """Lowercase, hyphens and runs of spaces as one space, British spelling as American."""
    text = text.lower().replace("\u2019", "'").replace("licenc", "licens")
    return _SEPARATORS.sub(" ", text.replace("favour", "favor")).strip()


def _name_pattern(name: str) -> re.Pattern[str] | None:
    """Word-bounded regex for an English name (plural allowed); None for a Chinese one."""
    if _CJK.search(name):
        return None
    plural = "(?:e?s)?" if name[-1].isalpha() else ""
    return re.compile(rf"(?<![a-z0-9]){re.escape(name)}{plural}(?![a-z0-9])")


_NAMES: tuple[tuple[int, str, re.Pattern[str] | None], ...] = tuple(
    (index, name, _name_pattern(name))
    for index, terms in enumerate(CLAUSE_TERMS)
    for name in dict.fromkeys(normalise_text(n) for n in terms.names)
)
_IDS = tuple(
    re.compile(rf"{re.escape(normalise_text(terms.id))}(?![a-z0-9])") for terms in CLAUSE_TERMS
)


def _spans(query: str) -> list[tuple[int, int, int]]:
    """Every (start, end, category index) where a name occurs, or the id starts the query."""
    spans: list[tuple[int, int, int]] = []
    for index, name, pattern in _NAMES:
        if pattern is not None:
            spans += [(m.start(), m.end(), index) for m in pattern.finditer(query)]
            continue
        start = query.find(name)
        while start >= 0:
            spans.append((start, start + len(name), index))
            start = query.find(name, start + 1)
    for index, id_pattern in enumerate(_IDS):
        if (match := id_pattern.match(query)) is not None:
            spans.append((0, match.end(), index))
    return spans


def match_categories(query: str) -> list[ClauseTerms]:
    """The categories `query` names, the most specific first.

    A category matches when one of its names occurs in the query (case-insensitive, word
    bounded for English, a plain substring for Chinese; hyphens count as spaces, "licence"
    as "license") or the query starts with its id. A name inside a longer name of another
    category does not count ("renewal" in "notice period to terminate renewal", "revenue"
    in "revenue sharing"). Ordered by the length of the longest name matched, then by
    lexicon order.
    """
    spans = _spans(normalise_text(query))
    best: dict[int, int] = {}
    for start, end, index in spans:
        covered = any(
            other != index and s <= start and end <= e and e - s > end - start
            for s, e, other in spans
        )
        if not covered:
            best[index] = max(best.get(index, 0), end - start)
    order = sorted(best, key=lambda index: (-best[index], index))
    return [CLAUSE_TERMS[index] for index in order]
