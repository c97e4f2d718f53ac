"""CUAD's normalised answers (`answer_normalized`) and the comparator to our values.

Gold formats: dates "6/21/99" (month/day/two-digit year), "[]/[]/2006" or "04/30/[]" (a
date the text leaves blank), "perpetual", durations "30 days", "1 year", renewals
"successive 1 year", jurisdictions "New York", "" (not determinable from the text).

`matches(field, predicted, gold)`:
- "" or a gold with "[]" (blank in the contract): right when we give no value of that type
  (None, or a kind that carries no typed value: "text", "yes_no"; for the date fields, any
  value without a date that is not "perpetual", e.g. a term whose start is unknown);
- a date: right when ours is a date with the same month, day and year (two-digit years
  compared modulo 100);
- "perpetual": right when ours is perpetual;
- a duration, with or without "successive": the same length (12 months = 1 year) and, for
  a renewal, the same "successive" or not;
- anything else: the same text, case and spaces folded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import DEFAULT_DATA
from pipelines.contract_values import Normalised
from pipelines.durations import Duration, parse_duration

FIELDS = (
    "Agreement Date",
    "Effective Date",
    "Expiration Date",
    "Renewal Term",
    "Notice Period To Terminate Renewal",
    "Governing Law",
)
"""The fields whose CUAD gold is a normalised value (not Yes/No)."""

_GOLD_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\s*$")
_DATE_FIELDS = {"Agreement Date", "Effective Date", "Expiration Date"}
_TYPED = {"date", "duration", "renewal", "jurisdiction", "amount", "perpetual"}


@dataclass(frozen=True)
class GoldItem:
    """One contract's gold for one field: the span texts and the normalised answer."""

    contract: str
    spans: tuple[str, ...]
    answer: str

    @property
    def text(self) -> str:
        """The spans joined (one per line), as `normalise` is given them."""
        return "\n".join(self.spans)


def load_gold(field: str, data: Path = DEFAULT_DATA) -> list[GoldItem]:
    """Every contract's gold for `field` that has a span or an answer, in file order."""
    items: list[GoldItem] = []
    with (data / "cuad_annotations.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            label = row["labels"].get(field)
            if not label:
                continue
            spans = tuple(span[2] for span in label["spans"])
            answer = str(label.get("answer_normalized") or "")
            if spans or answer:
                items.append(GoldItem(row["contract"], spans, answer))
    return items


def gold_values(field: str, data: Path = DEFAULT_DATA) -> dict[str, str]:
    """Contract name -> CUAD's normalised answer for `field` ("" when not determinable)."""
    return {item.contract: item.answer for item in load_gold(field, data)}


START_FIELDS = ("Effective Date", "Agreement Date")


def gold_start_date(
    contract: str, data: Path = DEFAULT_DATA, fields: tuple[str, ...] = START_FIELDS
) -> str:
    """The gold Effective Date of `contract`, else its Agreement Date ("" when neither)."""
    for field in fields:
        answer = gold_values(field, data).get(contract, "")
        if _GOLD_DATE.match(answer):
            return answer
    return ""


def gold_date(answer: str) -> tuple[int, int, int] | None:
    """(month, day, year) of a gold date "6/21/99", or None."""
    match = _GOLD_DATE.match(answer)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def matches(field: str, predicted: Normalised | None, gold: str) -> bool:
    """Whether `predicted` is CUAD's `gold` answer for `field` (see the module doc)."""
    gold = " ".join(gold.split())
    if not gold or "[]" in gold:
        if field in _DATE_FIELDS:
            return predicted is None or (predicted.date is None and predicted.kind != "perpetual")
        return predicted is None or predicted.kind not in _TYPED
    if predicted is None:
        return False
    when = gold_date(gold)
    if when is not None:
        if predicted.date is None or predicted.kind != "date":
            return False
        month, day, year = when
        ours = predicted.date
        same_year = ours.year == year if year >= 100 else ours.year % 100 == year
        return (ours.month, ours.day) == (month, day) and same_year
    folded = gold.casefold()
    if folded == "perpetual":
        return predicted.kind == "perpetual"
    length = parse_duration(folded)
    if length is not None and predicted.duration is not None:
        successive = folded.startswith("successive")
        ours_successive = predicted.value.casefold().startswith("successive")
        if field == "Renewal Term" and successive != ours_successive:
            return False
        return _same_length(length, predicted.duration)
    return predicted.value.casefold() == folded


def _same_length(a: Duration, b: Duration) -> bool:
    if a.unit == "day" or b.unit == "day":
        return a.unit == b.unit and a.amount == b.amount
    return a.months() == b.months()
