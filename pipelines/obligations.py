"""Key dates and obligations of a contract, read by pattern (model-free, English and Chinese).

`extract_obligations(text, today=...)` splits the text into sentences and reads:
- the effective date (a date named as effective/commencement, else the agreement date);
- the expiration date (an explicit end date, the term added to the effective date, or
  perpetual);
- the renewal (when automatic, the next renewal date after `today`);
- notice deadlines ("at least 90 days prior to the end of the term": the end date minus 90
  days);
- payment due ("within 30 days after receipt of invoice": the rule; a date: the date);
- reporting ("within 45 days after the end of each calendar quarter": the next due date
  after `today`) and audit obligations (the rule).
Each carries the span of its sentence. Without `today`, no date is rolled forward.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from pipelines.contract_parties import defined_parties, party_of
from pipelines.contract_values import effective_date, normalise
from pipelines.durations import Duration, add_duration
from pipelines.extract_dates import find_agreement_date
from pipelines.obligation_rules import (
    AUDIT,
    END_OF_TERM,
    PAYMENT,
    REPORTING,
    audit_rule,
    next_period_due,
    payment_rule,
    period_after,
    sentences,
    states_the_term,
)
from pipelines.term_values import notice_period, renewal

ObligationKind = Literal[
    "effective_date",
    "expiration_date",
    "renewal",
    "notice_deadline",
    "payment_due",
    "reporting",
    "audit",
]

OPENING_CHARS = 4000
"""The effective and agreement dates are looked for in the document's opening first."""
AUDIT_GAP = 600
"""Audit sentences closer than this (characters) are one clause: the first is kept."""


@dataclass(frozen=True)
class ObligationFound:
    """A key date or obligation; `text[char_start:char_end]` is its sentence."""

    kind: ObligationKind
    party: str | None
    due_date: date | None
    rule: str
    char_start: int
    char_end: int


def extract_obligations(text: str, *, today: date | None = None) -> list[ObligationFound]:
    """Key dates and obligations of the contract `text`, in reading order per kind."""
    spans = sentences(text)
    found: list[ObligationFound] = []
    effective = _effective(text, spans)
    if effective is not None:
        found.append(effective)
    start_date = effective.due_date if effective is not None else None
    end = _expiration(text, spans, start_date)
    end_date = end.due_date if end is not None else None
    if end is not None:
        found.append(end)
    parties = defined_parties(text)
    renewal_found, renews_by = _renewal(text, spans, end_date, today, parties)
    if renewal_found is not None:
        found.append(renewal_found)
    term = _Term(end_date, renews_by, today)
    for start, stop in spans:
        sentence = text[start:stop]
        items = [
            *_notice(sentence, start, stop, term, None),
            *_others(sentence, start, stop, today, None),
        ]
        if items:  # the party is looked for only where something falls due (it costs)
            party = party_of(sentence, parties)
            found.extend(replace(item, party=party) for item in items)
    return _deduplicated(found)


def _deduplicated(found: list[ObligationFound]) -> list[ObligationFound]:
    """One audit obligation per clause (sentences within `AUDIT_GAP` characters), and one
    of each (kind, rule, party) otherwise."""
    kept: list[ObligationFound] = []
    seen: set[tuple[str, str, str | None]] = set()
    last_audit = -AUDIT_GAP - 1
    for item in found:
        if item.kind == "audit":
            near = item.char_start - last_audit <= AUDIT_GAP
            last_audit = item.char_end
            if near:
                continue
        key = (item.kind, item.rule, item.party)
        if key in seen and item.kind not in ("effective_date", "expiration_date"):
            continue
        seen.add(key)
        kept.append(item)
    return kept


def _effective(text: str, spans: list[tuple[int, int]]) -> ObligationFound | None:
    rule = "Effective Date stated"
    hit = effective_date(text[:OPENING_CHARS])
    if hit is None:
        hit = find_agreement_date(text[:OPENING_CHARS])
        rule = "no Effective Date stated: the agreement date"
    if hit is None:
        hit = effective_date(text)
        rule = "Effective Date stated"
    if hit is None:
        return None
    value, at, _ = hit
    start, stop = _sentence_at(spans, at)
    party = None
    return ObligationFound("effective_date", party, value, rule, start, stop)


def _expiration(
    text: str, spans: list[tuple[int, int]], effective: date | None
) -> ObligationFound | None:
    for start, stop in spans:
        sentence = text[start:stop]
        if not states_the_term(sentence):
            continue
        value = normalise("Expiration Date", sentence, effective=effective)
        if value is None:
            continue
        if value.kind == "perpetual":
            rule = "no fixed end: continues until terminated"
            return ObligationFound("expiration_date", None, None, rule, start, stop)
        if value.kind == "date":
            rule = f"the term ends {value.value} ({value.rule or 'date stated'})"
            return ObligationFound("expiration_date", None, value.date, rule, start, stop)
        rule = f"the term runs {value.value} from its start (start date not known)"
        return ObligationFound("expiration_date", None, None, rule, start, stop)
    return None


def _renewal(
    text: str,
    spans: list[tuple[int, int]],
    end_date: date | None,
    today: date | None,
    parties: tuple[str, ...],
) -> tuple[ObligationFound | None, Duration | None]:
    """The first renewal clause, and its length when the term renews by itself again and
    again (what rolls the end of the term forward)."""
    for start, stop in spans:
        sentence = text[start:stop]
        found = renewal(sentence)
        if found is None or found.perpetual or found.duration is None:
            continue
        length = f"{'successive ' if found.successive else ''}{found.duration}"
        how = "renews automatically" if found.automatic else "may be renewed"
        if end_date is None:
            rule = f"{how} for {length} at the end of the term (end date not known)"
            return ObligationFound("renewal", None, None, rule, start, stop), None
        due = end_date
        rolls = found.automatic and found.successive
        if rolls and today is not None:
            due = period_after(end_date, found.duration, today)
        rule = f"{how} for {length} at the end of the term ({end_date.isoformat()})"
        if due != end_date:
            rule += f"; next renewal after {today.isoformat() if today else ''}: {due.isoformat()}"
        party = party_of(sentence, parties)
        found_renewal = ObligationFound("renewal", party, due, rule, start, stop)
        return found_renewal, found.duration if rolls else None
    return None, None


@dataclass(frozen=True)
class _Term:
    """The end of the term, the length it renews by automatically, and today."""

    end: date | None
    renews_by: Duration | None
    today: date | None

    def end_for_notice(self, notice: Duration) -> date | None:
        """The first end of the term whose notice deadline is not past (the stated end
        when the term does not renew by itself or `today` is not given)."""
        if self.end is None or self.renews_by is None or self.today is None:
            return self.end
        end, steps = self.end, 0
        while add_duration(end, notice, sign=-1) < self.today and steps < 1000:
            steps += 1
            length = Duration(self.renews_by.amount * steps, self.renews_by.unit)
            end = add_duration(self.end, length)
        return end


def _notice(
    sentence: str, start: int, stop: int, term: _Term, party: str | None
) -> list[ObligationFound]:
    if not END_OF_TERM.search(sentence):
        return []
    period = notice_period(sentence)
    if period is None:
        return []
    end_date = term.end_for_notice(period.duration)
    if end_date is None:
        rule = f"notice {period.duration} before the end of the term (end date not known)"
        return [ObligationFound("notice_deadline", party, None, rule, start, stop)]
    due = add_duration(end_date, period.duration, sign=-1)
    rule = f"notice {period.duration} before the end of the term ({end_date.isoformat()})"
    return [ObligationFound("notice_deadline", party, due, rule, start, stop)]


def _others(
    sentence: str, start: int, stop: int, today: date | None, party: str | None
) -> list[ObligationFound]:
    found: list[ObligationFound] = []
    if PAYMENT.search(sentence):
        rule, due = payment_rule(sentence)
        if rule is not None:
            found.append(ObligationFound("payment_due", party, due, rule, start, stop))
    if REPORTING.search(sentence):
        reporting = next_period_due(sentence, today)
        if reporting is not None:
            rule, due = reporting
            found.append(ObligationFound("reporting", party, due, rule, start, stop))
    if AUDIT.search(sentence):
        found.append(ObligationFound("audit", party, None, audit_rule(sentence), start, stop))
    return found


def _sentence_at(spans: list[tuple[int, int]], at: int) -> tuple[int, int]:
    for start, stop in spans:
        if start <= at < stop:
            return start, stop
    return at, at
