"""Short normalised values of contract clauses (model-free, English and Chinese).

`normalise(category, text)` reads the typed value of a clause: ISO dates (Agreement,
Effective, Expiration Date), durations (notice period, warranty), renewal terms
("successive 1 year"), the governing law's jurisdiction, a liability cap's amount or rule;
for any other CUAD category the clause's presence ("Yes"), for a summary field its text.
Dates and the governing law come from `pipelines.extract_dates` / `pipelines.extract_law`;
terms, renewals and notice periods from `pipelines.term_values`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pipelines.amounts import fees_rule, find_amount
from pipelines.durations import Duration, add_duration, parse_duration
from pipelines.extract_dates import find_agreement_date, find_dates, find_effective_date
from pipelines.extract_law import find_governing_law
from pipelines.short_values import is_short, short_date, short_duration, short_law, short_renewal
from pipelines.term_values import notice_period, renewal, term_durations, term_end

__all__ = [
    "NORMALISED_CATEGORIES",
    "Duration",
    "Normalised",
    "add_duration",
    "canonical_category",
    "effective_date",
    "normalise",
    "parse_duration",
]

ValueKind = Literal[
    "date", "duration", "renewal", "jurisdiction", "amount", "perpetual", "yes_no", "text"
]

NORMALISED_CATEGORIES: tuple[str, ...] = (
    "Agreement Date",
    "Effective Date",
    "Expiration Date",
    "Renewal Term",
    "Notice Period To Terminate Renewal",
    "Governing Law",
    "Cap On Liability",
    "Warranty Duration",
)
"""The categories `normalise` reads a typed value for."""

SUMMARY_FIELDS: dict[str, str | None] = {
    "governing_law": "Governing Law",
    "term_and_renewal": "Expiration Date",
    "liability_and_indemnity": "Cap On Liability",
    "parties": None,
    "subject": None,
    "payment": None,
    "obligations": None,
    "termination": None,
}
"""Summary field -> the category whose value it carries (None: its text is the value)."""

TEXT_CHARS = 160


@dataclass(frozen=True)
class Normalised:
    """A clause's value; `text[start:end]` are the words it was read from."""

    kind: ValueKind
    value: str
    start: int
    end: int
    date: date | None = None
    duration: Duration | None = None
    rule: str | None = None


_ZH_EFFECTIVE_AFTER = re.compile(r"\s*(?:起|开始)?\s*(?:正式)?\s*生效")
_CONDITIONAL = re.compile(r"\b(?:earlier|later)\s+of\b|\bwhichever\b|以较早|以较晚", re.I)


def canonical_category(category: str) -> str:
    """A CUAD category name from any spelling ("renewal_term", "RENEWAL TERM") or the
    category a summary field carries; unknown names are returned as given."""
    field = SUMMARY_FIELDS.get(category)
    if field is not None:
        return field
    folded = " ".join(category.replace("_", " ").split()).casefold()
    for known in NORMALISED_CATEGORIES:
        if known.casefold() == folded:
            return known
    return category


def normalise(
    category: str,
    text: str,
    *,
    effective: date | None = None,
    agreement: date | None = None,
) -> Normalised | None:
    """The value of `text` (a clause or sentence) for `category` (a CUAD category or a
    summary field), or None when the text states none. `effective` (the contract's
    effective date) turns a term into an expiration date; `agreement` (its agreement date,
    optional) is the start of a term counted from "the date hereof"."""
    if not text.strip():
        return None
    name = canonical_category(category)
    if category == "term_and_renewal":
        return _expiration(text, effective, agreement) or _renewal(text)
    if name == "Expiration Date":
        found = _expiration(text, effective, agreement)
        return found if found is not None or not is_short(text) else _short(name, text)
    reader = _READERS.get(name)
    if reader is not None:
        found = reader(text, effective)
        return found if found is not None or not is_short(text) else _short(name, text)
    if category in SUMMARY_FIELDS:
        return _text_value(text)
    return _presence(text)


def _short(name: str, text: str) -> Normalised | None:
    """A value written on its own (see `pipelines.short_values`)."""
    if name in ("Agreement Date", "Effective Date", "Expiration Date"):
        when = short_date(text)
        return None if when is None else _date_value(*when)
    if name == "Governing Law":
        law = short_law(text)
        return None if law is None else Normalised("jurisdiction", *law)
    if name == "Renewal Term":
        renewal_value = short_renewal(text)
        if renewal_value is None:
            return None
        value, found = renewal_value
        return Normalised("renewal", value, found.start, found.end, duration=found.duration)
    if name in ("Notice Period To Terminate Renewal", "Warranty Duration"):
        length = short_duration(text)
        if length is not None:
            duration = length.duration
            return Normalised(
                "duration", str(duration), length.start, length.end, duration=duration
            )
    return None


def _agreement(text: str, _: date | None) -> Normalised | None:
    found = find_agreement_date(text)
    return None if found is None else _date_value(*found)


def effective_date(text: str) -> tuple[date, int, int] | None:
    """The date `text` names as effective or commencement date: `find_effective_date`, or a
    date followed by "起生效" / "生效"."""
    found = find_effective_date(text)
    if found is not None:
        return found
    for value, start, end in find_dates(text):
        if _ZH_EFFECTIVE_AFTER.match(text[end : end + 12]):
            return value, start, end
    return None


def _effective(text: str, _: date | None) -> Normalised | None:
    found = effective_date(text)
    if found is None:
        dates = find_dates(text)
        found = dates[0] if dates else None
    if found is None or _CONDITIONAL.search(text[: found[1]]):
        return None
    return _date_value(*found)


def _date_value(value: date, start: int, end: int, rule: str | None = None) -> Normalised:
    return Normalised("date", value.isoformat(), start, end, date=value, rule=rule)


def _expiration(
    text: str, effective: date | None, agreement: date | None = None
) -> Normalised | None:
    found = term_end(text, effective, agreement)
    if found is None:
        return None
    if found.kind == "perpetual":
        return Normalised("perpetual", "perpetual", found.start, found.end, rule=found.rule)
    if found.kind == "duration" and found.duration is not None:
        value = str(found.duration)
        return Normalised(
            "duration", value, found.start, found.end, duration=found.duration, rule=found.rule
        )
    assert found.date is not None
    return Normalised(
        "date",
        found.date.isoformat(),
        found.start,
        found.end,
        date=found.date,
        duration=found.duration,
        rule=found.rule,
    )


def _renewal(text: str, _: date | None = None) -> Normalised | None:
    found = renewal(text)
    if found is None:
        return None
    if found.perpetual:
        return Normalised("perpetual", "perpetual", found.start, found.end, rule="until terminated")
    if found.duration is None:
        return None
    value = f"successive {found.duration}" if found.successive else str(found.duration)
    rule = "renews automatically" if found.automatic else "renewal by the parties' choice"
    return Normalised("renewal", value, found.start, found.end, duration=found.duration, rule=rule)


def _notice(text: str, _: date | None) -> Normalised | None:
    found = notice_period(text)
    if found is None:
        return None
    return Normalised(
        "duration", str(found.duration), found.start, found.end, duration=found.duration
    )


def _law(text: str, _: date | None) -> Normalised | None:
    found = find_governing_law(text)
    if found is None:
        return None
    return Normalised("jurisdiction", found[0], found[1], found[2])


def _cap(text: str, _: date | None) -> Normalised | None:
    amount = find_amount(text)
    if amount is not None:
        return Normalised("amount", *amount)
    rule = fees_rule(text)
    if rule is not None:
        return Normalised("text", rule[0], rule[1], rule[2], rule=rule[0])
    return _presence(text)


def _warranty(text: str, _: date | None) -> Normalised | None:
    lengths = term_durations(text)
    if not lengths:
        return _presence(text)
    first = lengths[0]
    return Normalised(
        "duration", str(first.duration), first.start, first.end, duration=first.duration
    )


def _presence(text: str) -> Normalised:
    start = len(text) - len(text.lstrip())
    return Normalised("yes_no", "Yes", start, len(text.rstrip()))


def _text_value(text: str) -> Normalised:
    start = len(text) - len(text.lstrip())
    words = " ".join(text.split())
    value = words if len(words) <= TEXT_CHARS else words[: TEXT_CHARS - 1].rstrip() + "…"
    return Normalised("text", value, start, len(text.rstrip()))


_READERS: dict[str, Callable[[str, date | None], Normalised | None]] = {
    "Agreement Date": _agreement,
    "Effective Date": _effective,
    "Expiration Date": _expiration,
    "Renewal Term": _renewal,
    "Notice Period To Terminate Renewal": _notice,
    "Governing Law": _law,
    "Cap On Liability": _cap,
    "Warranty Duration": _warranty,
}
