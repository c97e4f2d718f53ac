"""Sentence splitting and the per-sentence rules of `pipelines.obligations`."""

from __future__ import annotations

import re
from datetime import date, timedelta

from pipelines.durations import Duration, add_duration, find_durations
from pipelines.extract_dates import find_dates

_BOUNDARY = re.compile(r"(?<=[。！？；])|(?<=[.!?;])\s+(?=[\"“(]?[A-Z0-9])|\n\s*\n")
_NOT_THE_TERM = re.compile(
    r"(?:during|throughout|within|in|for|of|after|following|before|upon|prior\s+to|beyond|be"
    r"|is|by|from)\s+(?:the\s+)?$",
    re.IGNORECASE,
)
TERM = re.compile(
    r"\b(?:initial\s+)?term\s+of\s+this\s+(?:agreement|contract)\b|\binitial\s+term\b"
    r"|\bthis\s+(?:agreement|contract)\b[^.;]{0,80}\b(?:shall|will)\s+(?:\w+\s+)?"
    r"(?:continue|remain|expire|end|terminate\s+on|be\s+effective\s+until|be\s+for)"
    r"|\bthe\s+term\s+(?:hereof\s+)?(?:shall|will|is)\b|^\W*term\s*[:.]"
    r"|\b(?:shall|will)\s+(?:remain|continue|be)\s+(?:in\s+(?:full\s+)?(?:force\s+and\s+)?)?"
    r"(?:effective|effect|force)\s+(?:for|until|through)\b|\b(?:shall|will)\s+expire\s+on\b"
    r"|(?:本|该)(?:合同|协议)[^。；]{0,10}(?:期限|有效期)|(?:合同|协议)期限",
    re.IGNORECASE,
)
END_OF_TERM = re.compile(
    r"(?:prior\s+to|before|in\s+advance\s+of)\s+(?:the\s+)?(?:(?:end|expiration|expiry)"
    r"\s+of\s+(?:the\s+|this\s+|such\s+|any\s+)?(?:then[- ]current\s+|initial\s+|renewal\s+"
    r"|current\s+)?(?:term|agreement|contract|renewal)|(?:the\s+)?(?:then[- ]current|initial"
    r"|renewal|current)\s+period|(?:scheduled\s+)?(?:expiration"
    r"|termination|renewal)\s+date|scheduled\s+termination)"
    r"|(?:期满|届满|到期)(?:之|以)?前|续期前|续约前",
    re.IGNORECASE,
)
PAYMENT = re.compile(
    r"\b(?:pay|pays|payable|payment|paid|invoice[sd]?|remit)\b|支付|付款|结算|付清"
    r"|\b(?:fees?|amounts?|price|royalt(?:y|ies)|rent)\b[^.;]{0,80}\bdue\b",
    re.IGNORECASE,
)
REPORTING = re.compile(
    r"\breport|\bstatements?\b|\bfurnish|\bsubmit|\bdeliver\b|报告|报表|提交|提供", re.IGNORECASE
)
AUDIT = re.compile(
    r"\b(?:audit|inspect|examine)\w*\b[^.;]{0,80}\b(?:books|records|accounts)\b"
    r"|\b(?:books|records|accounts)\b[^.;]{0,80}\b(?:audit|inspect|examin)\w*"
    r"|\bright\s+to\s+audit\b|审计|查账|核查账",
    re.IGNORECASE,
)
_PAY_WITHIN = re.compile(
    r"\b(?:within|no\s+later\s+than|not\s+later\s+than)\s+(?P<rest>[^.;]{0,120})", re.IGNORECASE
)
_PAY_WITHIN_ZH = re.compile(
    r"(?:应|须|应当|必须)?(?:在|于)?(?P<zh>[^，,。；在于]{0,30}?(?:后|起)?[^，,。；]{0,10}?内)"
    r"(?:支付|付款|付清|结算)"
)
"""The Chinese form is only searched in a sentence holding 内: tried at every position, it
cost 6% of the index step's CPU on English contracts."""
_NET = re.compile(r"\bnet\s+(\d{1,3})\b", re.IGNORECASE)
_DUE_DATE_CUE = re.compile(
    r"(?:on\s+or\s+before|\bby|\bno\s+later\s+than|\bdue\s+on|于|在)\s*(?:the\s+)?$",
    re.IGNORECASE,
)
_EACH_PERIOD = re.compile(
    r"(?:end\s+of\s+(?:each|every|the)\s+(?:calendar\s+|fiscal\s+|financial\s+)?"
    r"(?P<en>quarter|month|year|half[- ]year)"
    r"|每(?:个)?(?:自然|会计|财务)?(?P<zh>季度|月|年度|年|半年)(?:度)?(?:结束|终了|届满)后)",
    re.IGNORECASE,
)
_PERIOD_MONTHS = {"quarter": 3, "month": 1, "year": 12, "half-year": 6, "half year": 6}
_PERIOD_MONTHS |= {"季度": 3, "月": 1, "年度": 12, "年": 12, "半年": 6}


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, whitespace trimmed, in order."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        spans.extend(_trimmed(text, start, match.start()))
        start = match.end()
    spans.extend(_trimmed(text, start, len(text)))
    return spans


def _trimmed(text: str, start: int, end: int) -> list[tuple[int, int]]:
    piece = text[start:end]
    left = len(piece) - len(piece.lstrip())
    right = len(piece.rstrip())
    return [(start + left, start + right)] if right > left else []


def states_the_term(sentence: str) -> bool:
    """Whether `sentence` states the contract's term ("The term of this Agreement shall
    ...", not "during the term of this Agreement")."""
    return any(
        not _NOT_THE_TERM.search(sentence[max(0, match.start() - 20) : match.start()])
        for match in TERM.finditer(sentence)
    )


def _pay_within(sentence: str) -> tuple[str, bool] | None:
    """The first "within N days ..." (English) or "...内支付" (Chinese) phrase of the
    sentence, and whether it is the Chinese one (the English one first at the same place)."""
    english = _PAY_WITHIN.search(sentence)
    chinese = _PAY_WITHIN_ZH.search(sentence) if "内" in sentence else None
    if chinese is not None and (english is None or chinese.start() < english.start()):
        return chinese.group("zh"), True
    if english is not None:
        return english.group("rest"), False
    return None


def payment_rule(sentence: str) -> tuple[str | None, date | None]:
    """(the payment's due rule, its date when a fixed date is named), or (None, None)."""
    for value, start, _ in find_dates(sentence):
        if _DUE_DATE_CUE.search(sentence[max(0, start - 20) : start]):
            return f"payment due on {value.isoformat()}", value
    within = _pay_within(sentence)
    if within is not None:
        phrase, chinese = within
        phrase = " ".join(phrase.split()).rstrip(" ,")
        if find_durations(phrase) or chinese:
            words = phrase.split(",")[0]
            return (f"{words}付款" if chinese else f"payment within {words}"), None
    net = _NET.search(sentence)
    if net is not None:
        return f"payment within {net.group(1)} days of invoice (net {net.group(1)})", None
    return None, None


def period_after(end: date, length: Duration, today: date) -> date:
    """The first end of a term renewed by `length` from `end` that falls after `today`."""
    due, steps = end, 0
    while due <= today and steps < 1000:
        steps += 1
        due = add_duration(end, Duration(length.amount * steps, length.unit))
    return due


def next_period_due(sentence: str, today: date | None) -> tuple[str, date | None] | None:
    """("within 45 days after the end of each quarter", the next due date after `today`)
    for a periodic report, or None when the sentence states no period and deadline."""
    period = _EACH_PERIOD.search(sentence)
    if period is None:
        return None
    lengths = [d for d in find_durations(sentence) if d.duration.unit != "year"]
    if not lengths:
        return None
    within = min(lengths, key=lambda d: abs(d.start - period.start())).duration
    name = (period.group("en") or period.group("zh") or "").casefold()
    months = _PERIOD_MONTHS.get(name.replace("-", " ") if name != "half-year" else name, 12)
    unit = {1: "month", 3: "quarter", 6: "half-year", 12: "year"}[months]
    rule = f"within {within} after the end of each calendar {unit}"
    if today is None:
        return rule, None
    end = _period_end(today, months, back=1)
    for _ in range(3):
        due = add_duration(end, within)
        if due >= today:
            return rule, due
        end = _next_period_end(end, months)
    return rule, None


def _period_end(today: date, months: int, back: int) -> date:
    """The last day of the calendar period (of `months`) before the one holding `today`."""
    first_month = ((today.month - 1) // months) * months + 1
    start = date(today.year, first_month, 1)
    return start - timedelta(days=1) if back else start


def _next_period_end(end: date, months: int) -> date:
    first = end + timedelta(days=1)
    following = add_duration(first, Duration(months, "month"))
    return following - timedelta(days=1)


def audit_rule(sentence: str) -> str:
    """What the audit clause lets a party do, in a few words."""
    parts = ["audit of books and records"]
    if re.search(
        r"once\s+(?:per|in\s+any|each|a|every)\s+(?:calendar\s+)?year|每年.{0,4}一次",
        sentence,
        re.I,
    ):
        parts.append("at most once a year")
    notice = [d for d in find_durations(sentence) if d.duration.unit == "day"]
    if notice:
        parts.append(f"on {notice[0].duration} notice")
    return ", ".join(parts)
