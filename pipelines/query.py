"""Query understanding: what a search is about, beyond its words.

`plan_query` turns a user's query into a `QueryPlan`:
- the clause or finance categories it names (`pipelines.clause_terms`, English and
  Chinese names: "governing law" and "适用法律" both name Governing Law), whose typical
  clause phrases in both languages expand the keyword (sparse) side of the search and
  feed the reranker, with the headings such clauses sit under;
- the terms that must match exactly: numbers, amounts, percentages, dates and periods
  ("FY2022", "2024年末"), quoted phrases and defined terms ("the Distributor").

The dense side embeds the query as asked (plus the category names when the query is a bare
category), so a Chinese question still reaches English clauses where the embedder is
multilingual.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pipelines.clause_terms import ClauseTerms, match_categories

_NUMBER = re.compile(
    r"(?:[$€£¥]\s?)?\d(?:[\d,]*\d)?(?:\.\d+)?\s?(?:%|percent|million|billion|万元|亿元|元|万|亿)?",
    re.IGNORECASE,
)
_PERIOD = re.compile(
    r"\b(?:FY|Q[1-4]\s?)\s?'?\d{2,4}\b|\b(?:19|20)\d{2}\b|\d{4}\s?年(?:末|度|初)?"
    r"|\d{1,2}\s?月\s?\d{1,2}\s?日|(?:一|二|三|四)季度",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"[\"“「『]([^\"”」』]{2,80})[\"”」』]")
_DEFINED = re.compile(r"\bthe\s+((?:[A-Z][\w-]*)(?:\s+[A-Z][\w-]*){0,3})")
_NOT_DEFINED = frozenset({"Agreement", "Company", "Parties", "Party", "State", "United"})


@dataclass(frozen=True)
class QueryPlan:
    """A query with its categories, expansion phrases and exact terms."""

    text: str
    categories: tuple[ClauseTerms, ...] = ()
    exact: tuple[str, ...] = ()

    @property
    def phrases(self) -> tuple[str, ...]:
        """Clause phrases of the named categories, English and Chinese, de-duplicated."""
        seen: dict[str, None] = {}
        for category in self.categories:
            for phrase in (*category.names, *category.phrases_en, *category.phrases_zh):
                seen.setdefault(phrase.lower(), None)
        return tuple(seen)

    @property
    def headings(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for category in self.categories:
            for heading in category.headings:
                seen.setdefault(heading.lower(), None)
        return tuple(seen)

    def dense_text(self) -> str:
        """What the embedder sees: the query, with the category names when it is short."""
        if not self.categories or len(self.text) > 80:
            return self.text
        names = [name for category in self.categories for name in category.names[:3]]
        return f"{self.text} ({'; '.join(names)})"

    def sparse_text(self) -> str:
        """What the keyword side matches: the query and every expansion phrase."""
        return " ".join((self.text, *self.phrases))


def plan_query(query: str, *, expand: bool = True) -> QueryPlan:
    """The plan of `query` (`expand=False`: no categories, exact terms only)."""
    text = unicodedata.normalize("NFKC", query).strip()
    categories = tuple(match_categories(text)) if expand else ()
    return QueryPlan(text=text, categories=categories, exact=exact_terms(text))


def _period(text: str) -> str:
    """A period as documents print it: FY2022 and FY22 -> 2022 (statements head their
    columns with the year), 2024 年末 -> 2024年末."""
    compact = re.sub(r"\s+", "", text).lower()
    fiscal = re.fullmatch(r"fy'?(\d{2}|\d{4})", compact)
    if fiscal:
        year = fiscal.group(1)
        return year if len(year) == 4 else f"20{year}"
    return compact


def exact_terms(text: str) -> tuple[str, ...]:
    """Numbers, periods, quoted phrases and defined terms of `text`, lowercased, in order."""
    found: dict[str, None] = {}
    for match in _QUOTED.finditer(text):
        found.setdefault(match.group(1).strip().lower(), None)
    periods = [match.span() for match in _PERIOD.finditer(text)]
    for match in _PERIOD.finditer(text):
        found.setdefault(_period(match.group()), None)
    for match in _NUMBER.finditer(text):
        if any(start <= match.start() < end for start, end in periods):
            continue
        value = match.group().strip()
        digits = re.sub(r"\D", "", value)
        if len(digits) >= 2 or "%" in value or "$" in value:
            found.setdefault(value.lower(), None)
    for match in _DEFINED.finditer(text):
        term = match.group(1).strip()
        if term.split()[0] not in _NOT_DEFINED:
            found.setdefault(term.lower(), None)
    return tuple(found)
