"""Durations in contract text and date arithmetic (model-free, English and Chinese).

"one (1) year", "thirty (30) days", "sixty 90 days" (the figure next to the unit wins),
"one-year", "12 calendar months", "an additional year", "三十日", "一年", "6个月",
"十二个月", "两周"; weeks are read as days. `add_duration` clamps to the month's end
(2024-01-31 + 1 month = 2024-02-29).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Unit = Literal["day", "month", "year"]

_ONES = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_WORD = (
    rf"(?:(?:{'|'.join(_TENS)})(?:[\s-]+(?:{'|'.join(k for k in _ONES if _ONES[k] < 10)}))?"
    rf"|{'|'.join(sorted(_ONES, key=len, reverse=True))}"
    r"|(?:one|two|three|four|five|six)\s+hundred(?:\s+(?:and\s+)?[a-z]+(?:-[a-z]+)?)?)"
)
_EN = re.compile(
    rf"(?<![\w$.,])(?:(?P<word>{_WORD})\b[\s-]*)?"
    r"(?:\(\s*(?P<paren>\d{1,4})\s*\)\s*|(?P<digits>\d{1,4})(?![\d,.]\d)[\s-]*)?"
    r"(?:(?:full|consecutive|calendar|business|working)\s+)?"
    r"(?P<unit>days?|weeks?|months?|years?)\b"
    r"|\b(?P<article>an?|one)\s+(?:(?:additional|further|successive|subsequent|renewal)\s+)?"
    r"(?P<unit1>day|week|month|year)\b",
    re.IGNORECASE,
)
_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_ZH_DIGITS |= {"七": 7, "八": 8, "九": 9}
_ZH = re.compile(
    r"(?<![\d年月])(?P<num>\d{1,4}|[零〇一二两三四五六七八九十百]+)\s*(?:个)?\s*"
    r"(?:(?:自然|工作|营业|日历)\s*)?"
    r"(?P<unit>日|天|周|星期|月|年)(?!\s*[\d一二三四五六七八九十]{1,3}\s*[月日])"
)
_UNITS: dict[str, Unit] = {"day": "day", "month": "month", "year": "year"}
_ZH_UNITS: dict[str, tuple[Unit, int]] = {
    "日": ("day", 1),
    "天": ("day", 1),
    "周": ("day", 7),
    "星期": ("day", 7),
    "月": ("month", 1),
    "年": ("year", 1),
}


@dataclass(frozen=True)
class Duration:
    """A length of time as the contract states it (12 months stays 12 months)."""

    amount: int
    unit: Unit

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}{'' if self.amount == 1 else 's'}"

    def months(self) -> float:
        """The length in months (days as 1/30.4375), to compare 12 months with 1 year."""
        factor = {"day": 1 / 30.4375, "month": 1.0, "year": 12.0}[self.unit]
        return self.amount * factor


@dataclass(frozen=True)
class DurationFound:
    duration: Duration
    start: int
    end: int


def _english_number(words: str) -> int | None:
    total = 0
    for word in re.split(r"[\s-]+", words.casefold()):
        if word == "and" or not word:
            continue
        if word == "hundred":
            total = max(total, 1) * 100
        elif word in _ONES:
            total += _ONES[word]
        elif word in _TENS:
            total += _TENS[word]
        else:
            return None
    return total


def chinese_number(text: str) -> int | None:
    """ "三十" -> 30, "十二" -> 12, "一百二十" -> 120, "两" -> 2, "15" -> 15."""
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for char in text:
        if char in _ZH_DIGITS:
            current = _ZH_DIGITS[char]
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        elif char == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def _from_english(match: re.Match[str]) -> Duration | None:
    if match.group("unit1"):
        unit = match.group("unit1").casefold()
        return Duration(7, "day") if unit == "week" else Duration(1, _UNITS[unit])
    if match.group("paren"):
        amount: int | None = int(match.group("paren"))
    elif match.group("digits"):
        amount = int(match.group("digits"))
    elif match.group("word"):
        amount = _english_number(match.group("word"))
    else:
        return None
    if amount is None or amount <= 0:
        return None
    unit = match.group("unit").casefold().rstrip("s")
    if unit == "week":
        return Duration(amount * 7, "day")
    return Duration(amount, _UNITS[unit])


def find_durations(text: str, masked: Iterable[tuple[int, int]] = ()) -> list[DurationFound]:
    """Every duration in `text` with its span, in order; spans in `masked` (dates) skipped."""
    blocked = list(masked)
    found: list[DurationFound] = []
    for match in _EN.finditer(text):
        duration = _from_english(match)
        if duration is not None:
            found.append(DurationFound(duration, match.start(), match.end()))
    for match in _ZH.finditer(text):
        amount = chinese_number(match.group("num"))
        if not amount:
            continue
        unit, factor = _ZH_UNITS[match.group("unit")]
        if unit == "year" and amount > 200:  # "2024年" is a year, not 2024 years
            continue
        found.append(DurationFound(Duration(amount * factor, unit), match.start(), match.end()))
    kept = [
        item
        for item in found
        if not any(item.start < end and start < item.end for start, end in blocked)
    ]
    return sorted(kept, key=lambda item: item.start)


def parse_duration(text: str) -> Duration | None:
    """The first duration stated in `text`, or None."""
    found = find_durations(text)
    return found[0].duration if found else None


def add_duration(start: date, duration: Duration, sign: int = 1) -> date:
    """`start` plus (or, with sign -1, minus) `duration`; months and years clamp to the
    month's last day (2024-02-29 + 1 year = 2025-02-28)."""
    if duration.unit == "day":
        return start + timedelta(days=sign * duration.amount)
    months = duration.amount * (12 if duration.unit == "year" else 1) * sign
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last))
