"""Agreement and effective dates found by pattern (model-free; see `pipelines.extract`).

- agreement date: the first date after "dated", "as of", "made", "entered into",
  "executed", "day of" (e.g. "this 7th day of April, 2017"), else the first date of the
  text searched (the caller passes the opening passages first); the value is ISO
  (1999-06-21);
- effective date: a date next to "effective" / "commence(s) on" / '("Effective Date")'.
"""

from __future__ import annotations

import re
from datetime import date

_MONTHS = {
    m: i
    for i, m in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        1,
    )
}
_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?"
    r"|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ORDINAL = r"(?:\s?(?:s\s?t|n\s?d|r\s?d|t\s?h))?"
_DATE = re.compile(
    rf"\b{_MONTH}\s+(?P<d1>\d{{1,2}}){_ORDINAL}\s*,?\s*(?P<y1>(?:19|20)\d{{2}})\b"
    rf"|\b(?P<d2>\d{{1,2}}){_ORDINAL}\s+(?:(?:day\s+)?of\s+)?{_MONTH.replace('month', 'month2')}"
    rf"\s*,?\s*(?:A\.?D\.?\s*)?(?P<y2>(?:19|20)\d{{2}})\b"
    r"|\b(?P<m3>\d{1,2})/(?P<d3>\d{1,2})/(?P<y3>(?:19|20)?\d{2})\b"
    r"|(?P<y4>(?:19|20)\d{2})\s*年\s*(?P<m4>\d{1,2})\s*月\s*(?P<d4>\d{1,2})\s*日",
    re.IGNORECASE,
)
_AGREEMENT_CUE = re.compile(
    r"\b(?:dated|as\s+of|made|entered\s+into|executed|day\s+of|effective|agreement\s+date)\b"
    r"|签订|签署|订立",
    re.IGNORECASE,
)
_EFFECTIVE_BEFORE = re.compile(
    r"\beffective(?:\s+date)?\b|\bcommenc\w*\s+(?:on|as\s+of)\b|\bbegin\w*\s+on\b|生效",
    re.IGNORECASE,
)
_EFFECTIVE_AFTER = re.compile(
    r"^[\s,]*\(\s*(?:the\s+|this\s+)?[\"“”']?\s*effective\s+date", re.IGNORECASE
)
_CUE_WINDOW = 100


def parse_date(match: re.Match[str]) -> date | None:
    """The date a `_DATE` match names, or None when it is not a calendar date."""
    groups = match.groupdict()
    try:
        if groups["y1"]:
            month = _month(groups["month"])
            return date(int(groups["y1"]), month, int(groups["d1"]))
        if groups["y2"]:
            return date(int(groups["y2"]), _month(groups["month2"]), int(groups["d2"]))
        if groups["y3"]:
            year = int(groups["y3"])
            year += 0 if year >= 100 else (2000 if year < 50 else 1900)
            return date(year, int(groups["m3"]), int(groups["d3"]))
        return date(int(groups["y4"]), int(groups["m4"]), int(groups["d4"]))
    except ValueError:
        return None


def _month(name: str) -> int:
    prefix = name.casefold().rstrip(".")[:3]
    return next(n for m, n in _MONTHS.items() if m.startswith(prefix))


def find_dates(text: str) -> list[tuple[date, int, int]]:
    """Every calendar date in `text` with its span."""
    found: list[tuple[date, int, int]] = []
    for match in _DATE.finditer(text):
        value = parse_date(match)
        if value is not None:
            found.append((value, match.start(), match.end()))
    return found


def find_agreement_date(text: str) -> tuple[date, int, int] | None:
    """The first date after an agreement cue (`_AGREEMENT_CUE` within 100 characters
    before it), else the first date of `text`."""
    dates = find_dates(text)
    for value, start, end in dates:
        if _AGREEMENT_CUE.search(text[max(0, start - _CUE_WINDOW) : start]):
            return value, start, end
    return dates[0] if dates else None


def find_effective_date(text: str) -> tuple[date, int, int] | None:
    """The first date named as effective or commencement date in `text`, or None."""
    for value, start, end in find_dates(text):
        before = text[max(0, start - _CUE_WINDOW) : start]
        if _EFFECTIVE_BEFORE.search(before) or _EFFECTIVE_AFTER.match(text[end : end + 60]):
            return value, start, end
    return None
