"""Term, renewal and notice values read from a clause (model-free; see
`pipelines.contract_values`, which wraps them as `Normalised`).

Rules, from how contracts state them:
- end date: a date after "until", "through", "expire(s) on", "end(ing) on", "至 ... 止";
- perpetual: "until terminated", "in perpetuity", "indefinitely", "无固定期限";
- term: "the Nth anniversary", "the Nth day after", else the first duration that is not a
  notice period; "until the end of the (current) calendar year" is 31 December;
- notice period: a duration followed by "prior", "before", "in advance", "notice" or
  preceded by "at least", "no less than", "upon", "提前";
- renewal: the duration after "renew"/"extend"/"续"; successive when the text says
  successive, consecutive, another, "N years each", or renews automatically without "an
  additional"/"a further" (one renewal only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pipelines.durations import Duration, DurationFound, find_durations
from pipelines.extract_dates import find_dates

_END_CUE = re.compile(
    r"(?:\buntil|\bthrough|\bthru|\bexpir\w*(?:\s+on)?|\bend(?:s|ing)?\s+on|\bterminat\w*\s+on"
    r"|\bexpiration\s+date\s*(?:is|:|of)?|\bto\s+and\s+including|至|到|截止)[\s,:]*(?:the\s+)?$"
    r"|\d\s*(?:-|–|—|\bto)\s*$",
    re.IGNORECASE,
)
_START_CUE = re.compile(
    r"(?:\bcommenc\w*|\bbegin\w*|\bstart\w*|\beffective)\s+(?:on|as\s+of|from)?\s*(?:the\s+)?$"
    r"|\bfrom\s+(?:and\s+including\s+)?(?:the\s+)?$|自\s*$",
    re.IGNORECASE,
)
_PERPETUAL = re.compile(
    r"\buntil\s+(?:it\s+is\s+|so\s+)?terminated\b|\buntil\s+(?:either|any|one)\s+party\s+terminates"
    r"|\bin\s+perpetuity\b|\bperpetual(?:ly)?\b|\bindefinite(?:ly)?\b|\bno\s+fixed\s+(?:term|end)"
    r"|\bevergreen\b|无固定期限|长期有效|永久有效",
    re.IGNORECASE,
)
_UNTIL_NOTICE = re.compile(
    r"\buntil\b[^.]{0,200}\b(?:written\s+)?notice\s+of\s+termination\b", re.IGNORECASE
)
_SIGNING_ANCHOR = re.compile(
    r"\bdate\s+(?:hereof|of\s+(?:this|the)\s+agreement|of\s+(?:its\s+)?execution)"
    r"|\bagreement\s+date\b|\bexecution\s+(?:date|hereof)|签订之日|签署之日",
    re.IGNORECASE,
)
_ANNIVERSARY = re.compile(
    r"\b(?P<n>first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|\d{1,2}(?:st|nd|rd|th))"
    r"\s*(?:\(\s*\d{1,2}(?:st|nd|rd|th)?\s*\)\s*)?anniversary\b",
    re.IGNORECASE,
)
_NTH_DAY = re.compile(
    r"\b(?P<n>\d{1,3})(?:st|nd|rd|th)\s*(?:calendar\s+)?day\s+(?:after|following)", re.IGNORECASE
)
_ORDINALS = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
]
_YEAR_END = re.compile(
    r"\bend\s+of\s+(?:the\s+|that\s+|such\s+)?(?:current\s+|then[- ]current\s+)?calendar\s+year"
    r"|当年(?:度)?(?:12|十二)月(?:31|三十一)日",
    re.IGNORECASE,
)
_NOTICE_AFTER = re.compile(
    r"^[\s')’\"]*(?:calendar\s+|business\s+)?(?:period\s+)?(?:\s*(?:prior|before|in\s+advance|advance"
    r"|written|of\s+(?:prior\s+)?(?:written\s+)?notice)|\s*notice|前|以前|之前"
    r"|(?:以)?(?:书面)?(?:形式)?通知)",
    re.IGNORECASE,
)
_NOTICE_BEFORE = re.compile(
    r"(?:at\s+least|no\s+less\s+than|not\s+less\s+than|no\s+later\s+than|not\s+later\s+than"
    r"|upon|providing|giving|minimum\s+of|notice\s+of|notify\s+\w+\s+within|提前"
    r"|(?:期满|届满|到期|终止)(?:之|以)?前(?:至少)?)\s*$",
    re.IGNORECASE,
)
_DEADLINE_BEFORE = re.compile(r"\bwithin\s*$|在\s*$", re.IGNORECASE)
_AFTER_END = re.compile(
    r"\s*(?:after|following|from|of)\s+(?:the\s+|any\s+|such\s+)?(?:date\s+of\s+)?"
    r"(?:termination|expiration|expiry)|\s*内",
    re.IGNORECASE,
)
_EVERGREEN = re.compile(
    r"\bthereafter\s+(?:until|unless\s+and\s+until)\s+terminated|\bthereafter\s+"
    r"(?:on\s+a\s+)?(?:month[- ]to[- ]month|year[- ]to[- ]year)\s+basis\s+until",
    re.IGNORECASE,
)
_YEAR_TO_YEAR = re.compile(
    r"\b(?:year|month)[- ]to[- ](?:year|month)\b|\bfrom\s+(?:year|month)\s+to\s+(?:year|month)\b",
    re.IGNORECASE,
)
_RENEW = re.compile(
    r"renew|extend|extension|\b(?:year|month)[- ]to[- ](?:year|month)\b|续|延长|顺延", re.IGNORECASE
)
_AUTOMATIC = re.compile(r"automatic|auto-renew|自动", re.IGNORECASE)
_SHALL_RENEW = re.compile(
    r"\b(?:shall|will)\s+(?:be\s+)?(?:automatically\s+)?(?:renew|extend)", re.IGNORECASE
)
_OPTIONAL = re.compile(
    r"\bmay\s+(?:be\s+)?(?:renew|extend)|\boption|renewable|by\s+(?:mutual|written)\s+agreement"
    r"|by\s+amendment|upon\s+mutual|协商|双方同意",
    re.IGNORECASE,
)
_REPEATING = re.compile(
    r"successive|consecutive|\banother\b|\bsubsequent\b|\b(?:years?|months?|terms?|periods?)\s+each"
    r"|\bbasis\b|year[- ]to[- ]year|from\s+year\s+to\s+year|每次|连续|逐年|依此类推|以此类推",
    re.IGNORECASE,
)
_SINGLE = re.compile(r"\b(?:an|one)\s+additional\b|\ba\s+further\b|\bonce\b|一次", re.IGNORECASE)


@dataclass(frozen=True)
class TermEnd:
    """How a term ends: an explicit or computed date, a duration (start unknown), or
    perpetual; `start`/`end` span the words it was read from."""

    kind: str  # "date", "duration", "perpetual"
    start: int
    end: int
    date: date | None = None
    duration: Duration | None = None
    rule: str | None = None


def _date_spans(text: str) -> list[tuple[int, int]]:
    return [(start, end) for _, start, end in find_dates(text)]


def is_notice(text: str, item: DurationFound) -> bool:
    """Whether the duration at `item` states a notice period."""
    return bool(
        _NOTICE_AFTER.match(text[item.end : item.end + 40])
        or _NOTICE_BEFORE.search(text[max(0, item.start - 30) : item.start])
    )


def term_durations(text: str) -> list[DurationFound]:
    """Durations in `text` that are not notice periods, deadlines ("within 30 days") or
    survival periods ("two years after termination"), and not inside a date."""
    return [
        d
        for d in find_durations(text, _date_spans(text))
        if not is_notice(text, d)
        and not _DEADLINE_BEFORE.search(text[max(0, d.start - 12) : d.start])
        and not _AFTER_END.match(text[d.end : d.end + 40])
    ]


def notice_period(text: str) -> DurationFound | None:
    """The first notice period stated in `text`."""
    for item in find_durations(text, _date_spans(text)):
        if is_notice(text, item):
            return item
    return None


def _stated_start(text: str) -> date | None:
    """A date the text names as the term's start ("commencing on 1 January 2020")."""
    for value, start, _ in find_dates(text):
        if _START_CUE.search(text[max(0, start - 30) : start]):
            return value
    return None


def explicit_end(text: str) -> tuple[date, int, int] | None:
    """A date the text names as the term's end."""
    for value, start, end in find_dates(text):
        if _END_CUE.search(text[max(0, start - 40) : start]):
            return value, start, end
    return None


def term_end(text: str, effective: date | None, agreement: date | None = None) -> TermEnd | None:
    """When the term in `text` ends (see the module's rules); a term counted from "the
    date hereof" starts on `agreement` when given, any other on `effective`."""
    from pipelines.durations import add_duration

    found = explicit_end(text)
    if found is not None:
        return TermEnd("date", found[1], found[2], date=found[0], rule="date stated")
    perpetual = _PERPETUAL.search(text)
    if perpetual is not None:
        return TermEnd("perpetual", perpetual.start(), perpetual.end(), rule="until terminated")
    anchor, begin = "Effective Date", effective
    if agreement is not None and (begin is None or _SIGNING_ANCHOR.search(text)):
        anchor, begin = "Agreement date", agreement
    stated = _stated_start(text)
    if stated is not None:
        anchor, begin = "start date", stated
    year_end = _YEAR_END.search(text)
    if year_end is not None and begin is not None:
        value = date(begin.year, 12, 31)
        rule = f"end of the calendar year of the {anchor} {begin.isoformat()}"
        return TermEnd("date", year_end.start(), year_end.end(), date=value, rule=rule)
    duration, start, end = _term_length(text)
    if duration is None:
        until = _UNTIL_NOTICE.search(text)
        if until is not None:
            rule = "until a party gives notice of termination"
            return TermEnd("perpetual", until.start(), until.end(), rule=rule)
        return None
    if begin is None:
        rule = f"{duration} from the start of the term (start date not known)"
        return TermEnd("duration", start, end, duration=duration, rule=rule)
    value = add_duration(begin, duration)
    rule = f"{anchor} {begin.isoformat()} + {duration}"
    return TermEnd("date", start, end, date=value, duration=duration, rule=rule)


def _term_length(text: str) -> tuple[Duration | None, int, int]:
    anniversary = _ANNIVERSARY.search(text)
    if anniversary is not None:
        word = anniversary.group("n").casefold()
        n = _ORDINALS.index(word) + 1 if word in _ORDINALS else int(word[:-2])
        return Duration(n, "year"), anniversary.start(), anniversary.end()
    nth_day = _NTH_DAY.search(text)
    if nth_day is not None:
        return Duration(int(nth_day.group("n")), "day"), nth_day.start(), nth_day.end()
    lengths = term_durations(text)
    if not lengths:
        return None, 0, 0
    return lengths[0].duration, lengths[0].start, lengths[0].end


@dataclass(frozen=True)
class Renewal:
    """A renewal term: its length (None when the text gives none), whether it repeats,
    whether it is automatic; `start`/`end` span the words."""

    duration: Duration | None
    successive: bool
    automatic: bool
    perpetual: bool
    start: int
    end: int


def renewal(text: str) -> Renewal | None:
    """The renewal term stated in `text`, or None when it states none."""
    perpetual = _EVERGREEN.search(text)
    if perpetual is not None:
        return Renewal(None, False, False, True, perpetual.start(), perpetual.end())
    cue = _RENEW.search(text)
    if cue is None:
        return None
    optional = _OPTIONAL.search(text) is not None
    automatic = bool(_AUTOMATIC.search(text)) or (
        bool(_SHALL_RENEW.search(text) or _YEAR_TO_YEAR.search(text)) and not optional
    )
    lengths = term_durations(text)
    yearly = _YEAR_TO_YEAR.search(text)
    if yearly is not None:
        unit: Literal["month", "year"] = "month" if yearly.group(0)[0] in "mM" else "year"
        lengths.append(DurationFound(Duration(1, unit), yearly.start(), yearly.end()))
        lengths.sort(key=lambda item: item.start)
    after = [d for d in lengths if d.start >= cue.start()]
    chosen = after[0] if after else (lengths[0] if lengths and automatic else None)
    window = text[cue.start() : (chosen.end + 40) if chosen else cue.end() + 120]
    successive = bool(_REPEATING.search(window)) or (automatic and not _SINGLE.search(window))
    if chosen is None:
        return Renewal(None, successive, automatic, False, cue.start(), cue.end())
    return Renewal(chosen.duration, successive, automatic, False, chosen.start, chosen.end)
