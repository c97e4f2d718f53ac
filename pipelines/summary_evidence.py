"""Evidence for summary statements: the model's quotes located in the document text.

The model writes each statement with a few quotes copied from the document. Each quote is
looked up in the document text (`pipelines.grounding.SourceText`: case, spaces and
punctuation never decide); a quote found becomes `Evidence`, the document's own text at
that place with its pages and character offsets. The statement itself is tried after the
quotes (a small model often copies a sentence instead of quoting it). A statement without
located evidence is kept but unverified, with no pages: pages come from located text only,
never from the model. A key figure needs more: its value's digits must appear in its
located quote, so a figure the model made up is never verified by a quote it did not use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pipelines.grounding import SourceText
from pipelines.summary_models import (
    MAX_EVIDENCE,
    MAX_FIGURES,
    MAX_RISKS,
    ContractReply,
    ContractSummary,
    Evidence,
    FigureReply,
    KeyFigure,
    Reply,
    ReportSummary,
    SourcedText,
    StatementReply,
    Summary,
)

_NUMBER = re.compile(r"\d(?:[\d,.]*\d)?")


def locate(source: SourceText, quotes: Iterable[str], limit: int = MAX_EVIDENCE) -> list[Evidence]:
    """The first `limit` distinct places where one of `quotes` occurs (in their order)."""
    found: list[Evidence] = []
    seen: set[tuple[int, int]] = set()
    for quote in quotes:
        if len(found) >= limit:
            break
        match = source.find(quote) if quote.strip() else None
        if match is None or (match.char_start, match.char_end) in seen:
            continue
        seen.add((match.char_start, match.char_end))
        found.append(
            Evidence(
                quote=source.text_at(match.char_start, match.char_end),
                page=match.page,
                page_end=match.page_end,
                char_start=match.char_start,
                char_end=match.char_end,
            )
        )
    return found


def pages_of(evidence: Sequence[Evidence]) -> list[int]:
    """Every page the evidence spans, sorted."""
    return sorted({p for e in evidence for p in range(e.page, e.page_end + 1)})


def _numbers(text: str) -> set[str]:
    return {re.sub(r"\D", "", n) for n in _NUMBER.findall(text)}


def figure_shown(value: str, evidence: Evidence) -> bool:
    """Whether the located quote shows `value`: each number of the value is a number of the
    quote (digits compared, separators ignored: "1,234.5" is "1234.5"), or, for a value
    without digits, its text is in the quote."""
    wanted_numbers = _numbers(value)
    if wanted_numbers:
        return wanted_numbers <= _numbers(evidence.quote)
    wanted = re.sub(r"\W+", "", value.casefold())
    return bool(wanted) and wanted in re.sub(r"\W+", "", evidence.quote.casefold())


def ground(reply: Reply, source: SourceText, partials: Sequence[Reply] = ()) -> Summary:
    """The summary kept for `reply`: each statement with its located evidence. A statement
    of a fixed point (a contract field, a report's business or outlook) whose own quotes
    are not found also tries the quotes the `partials` (summaries of parts that were merged
    into `reply`) gave on that point. Lists are capped (10 figures, 6 risks), empty
    statements in them dropped."""

    def point(name: str) -> SourcedText:
        earlier = [q for p in partials for q in getattr(p, name).quotes]
        return statement(getattr(reply, name), source, earlier)

    if isinstance(reply, ContractReply):
        return ContractSummary.model_validate(
            {name: point(name) for name in ContractReply.model_fields}
        )
    risks = [statement(r, source) for r in reply.major_risks if r.text.strip()]
    return ReportSummary(
        business=point("business"),
        key_figures=[figure(f, source) for f in reply.key_figures[:MAX_FIGURES]],
        outlook=point("outlook"),
        major_risks=risks[:MAX_RISKS],
    )


def statement(
    reply: StatementReply, source: SourceText, earlier: Sequence[str] = ()
) -> SourcedText:
    """A statement with the evidence of its quotes, then of its text, then `earlier` quotes."""
    text = reply.text.strip()
    if not text:
        return SourcedText(text="")
    evidence = locate(source, [*reply.quotes, text])
    if not evidence:
        evidence = locate(source, earlier)
    return SourcedText(
        text=text, verified=bool(evidence), evidence=evidence, pages=pages_of(evidence)
    )


def figure(reply: FigureReply, source: SourceText) -> KeyFigure:
    """A figure verified by its located quote when the quote shows the value."""
    evidence = [e for e in locate(source, [reply.quote], limit=1) if figure_shown(reply.value, e)]
    return KeyFigure(
        name=reply.name.strip(),
        value=reply.value.strip(),
        period=reply.period.strip(),
        page=evidence[0].page if evidence else None,
        verified=bool(evidence),
        evidence=evidence,
    )
