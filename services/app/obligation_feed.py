"""A tenant's obligations as an iCalendar feed (RFC 5545, the `icalendar` package).

One all-day VEVENT per dated obligation: SUMMARY "kind: file name", DESCRIPTION with the
quote, its page and the rule the date follows, a UID fixed by the obligation's id (a
calendar client updates the event, never duplicates it), and a URL to the review page's
document view at the quote. Obligations without a date are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from icalendar import Calendar, Event

from services.app.ports import Obligation

PRODID = "-//docsight//obligations//EN"


def review_url(base_url: str, obligation: Obligation) -> str:
    """The review page's document view at the obligation's quote."""
    query: dict[str, str | int] = {"document": obligation.document_id}
    if obligation.page is not None:
        query["page"] = obligation.page
    if obligation.char_start is not None and obligation.char_end is not None:
        query |= {"start": obligation.char_start, "end": obligation.char_end}
    return f"{base_url.rstrip('/')}/review?{urlencode(query)}"


def description(obligation: Obligation) -> str:
    page = f"p. {obligation.page}" if obligation.page is not None else "page unknown"
    verified = "" if obligation.verified else " (unverified: quote not found in the text)"
    lines = [f"“{' '.join(obligation.quote.split())}” ({page}){verified}"]
    if obligation.party:
        lines.append(f"Party: {obligation.party}")
    if obligation.rule:
        lines.append(f"Rule: {obligation.rule}")
    lines.append(f"Document: {obligation.filename} ({obligation.document_id})")
    return "\n".join(lines)


def calendar(
    obligations: Sequence[Obligation],
    *,
    base_url: str,
    name: str = "docsight obligations",
    now: datetime | None = None,
) -> bytes:
    """The feed's iCalendar text (UTF-8, CRLF lines)."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    for obligation in obligations:
        if obligation.due_date is None:
            continue
        event = Event()
        event.add("uid", f"{obligation.id}@docsight")
        event.add("dtstamp", stamp)
        event.add("dtstart", obligation.due_date)
        event.add("dtend", obligation.due_date + timedelta(days=1))
        event.add("summary", f"{obligation.kind}: {obligation.filename}")
        event.add("description", description(obligation))
        event.add("url", review_url(base_url, obligation))
        event.add("categories", [obligation.kind])
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return bytes(cal.to_ical())
