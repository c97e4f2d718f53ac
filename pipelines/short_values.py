"""Values written on their own ("2025-03-31", "30 days", "New York"), as a model or a
person gives them, for `pipelines.contract_values.normalise` when a clause's cues are
absent. Only texts of at most `SHORT_VALUE_CHARS` characters are read this way."""

from __future__ import annotations

import re
from datetime import date

from pipelines.durations import DurationFound, find_durations
from pipelines.extract_dates import find_dates
from pipelines.extract_law import find_governing_law

SHORT_VALUE_CHARS = 60
_ISO = re.compile(r"\b(?P<y>(?:19|20)\d{2})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})\b")
_LAW_PREFIX = "governed by the laws of "
_SUCCESSIVE = re.compile(r"successive|consecutive|\beach\b|automatic|连续|自动", re.IGNORECASE)


def is_short(text: str) -> bool:
    return len(text.strip()) <= SHORT_VALUE_CHARS


def short_date(text: str) -> tuple[date, int, int] | None:
    """An ISO date ("2025-03-31") or any date `find_dates` reads."""
    for match in _ISO.finditer(text):
        try:
            value = date(int(match.group("y")), int(match.group("m")), int(match.group("d")))
        except ValueError:
            continue
        return value, match.start(), match.end()
    dates = find_dates(text)
    return dates[0] if dates else None


def short_duration(text: str) -> DurationFound | None:
    found = find_durations(text)
    return found[0] if found else None


def short_renewal(text: str) -> tuple[str, DurationFound] | None:
    """("successive 1 year" or "1 year", the duration) of a renewal written on its own."""
    found = short_duration(text)
    if found is None:
        return None
    successive = _SUCCESSIVE.search(text) is not None
    return (f"successive {found.duration}" if successive else str(found.duration)), found


def short_law(text: str) -> tuple[str, int, int] | None:
    """The jurisdiction a place name alone names ("New York", "PRC", "中华人民共和国")."""
    found = find_governing_law(_LAW_PREFIX + text) or find_governing_law(f"适用{text}法律")
    if found is None:
        return None
    shift = len(_LAW_PREFIX) if found[1] >= len(_LAW_PREFIX) else 2
    start, end = found[1] - shift, found[2] - shift
    if start < 0 or end > len(text):
        return None
    return found[0], start, end
