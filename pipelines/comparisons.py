"""A comparison table: one row per document, one cell per column, each value with its quote.

Columns are CUAD categories ("Governing Law", "Expiration Date", ...) or summary field
names ("governing_law", "term_and_renewal", ...). A cell's value is read, in order, from:

1. the document's cached risk findings of that category (grounded ones: their quote is the
   document's own text, located): method "finding";
2. the document's own sentences, without a model: the governing law and dates found by
   `pipelines.extract`'s patterns, then every sentence holding one of the category's
   clause phrases (`pipelines.clause_terms`), in document order: method "pattern";
3. the model (`pipelines.comparison_model`), for the cells still empty: method "model",
   verified only when its quote was located in the document.

Each value is `pipelines.contract_values.normalise(column, quote)` (ISO dates, durations,
jurisdictions, amounts); the quote is a sentence cut from the document text with its exact
offsets, its pages from those offsets (the page offsets kept at ingest when given).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from pipelines.clause_terms import CONTRACT_TERMS, ClauseTerms, lookup
from pipelines.comparison_models import (
    DEFAULT_COLUMNS,
    SUMMARY_FIELDS,
    Cell,
    Method,
    Row,
)
from pipelines.contract_values import (
    NORMALISED_CATEGORIES,
    Normalised,
    canonical_category,
    normalise,
)
from pipelines.extract import OPENING_UNITS, extract_fields
from pipelines.grounding import SourceText
from pipelines.models import Chunk
from pipelines.risk_models import Finding
from pipelines.summary_models import ContractSummary

FIELD_CATEGORY = {
    "governing_law": "Governing Law",
    "term_and_renewal": "Expiration Date",
    "termination": "Termination for Convenience",
    "liability_and_indemnity": "Cap on Liability",
    "parties": "Parties",
}
"""The category whose clauses are read for a summary field when no summary is cached."""
MAX_QUOTE = 900
_SENTENCE_END = re.compile(r"(?<![A-Z])[.;。；](?=\s|$)|\n\s*\n")
_BEFORE, _AFTER = 400, 600


def valid_columns() -> list[str]:
    """Every column name accepted (CUAD categories, then summary fields)."""
    return [t.id for t in CONTRACT_TERMS] + list(SUMMARY_FIELDS)


def resolve_column(name: str) -> str | None:
    """The column as stored: a default column's spelling, a CUAD category's, or a summary
    field; None if unknown. Case and spacing do not matter."""
    folded = " ".join(name.split()).casefold()
    for column in DEFAULT_COLUMNS:
        if column.casefold() == folded:
            return column
    if folded.replace(" ", "_") in SUMMARY_FIELDS:
        return folded.replace(" ", "_")
    terms = lookup(folded)
    return terms.id if terms is not None else None


class DocumentText:
    """One document's text rebuilt from its chunks (exactly as their offsets index it), and
    the pages of its offsets."""

    def __init__(self, chunks: Sequence[Chunk], page_starts: Sequence[int] | None = None) -> None:
        ordered = sorted(chunks, key=lambda c: c.char_start)
        size = max((c.char_end for c in ordered), default=0)
        buffer = [" "] * size
        for chunk in ordered:
            buffer[chunk.char_start : chunk.char_end] = chunk.text
        self.text = "".join(buffer)
        self.chunks = ordered
        self.source = SourceText(ordered, page_starts)
        self.page_starts = page_starts

    def cell(
        self, start: int, end: int, found: Normalised | None, method: Method, value: str | None
    ) -> Cell:
        """A verified cell quoting `text[start:end]`, with its pages."""
        page = self.source.page_of(start)
        return Cell(
            value=found.value if found else value,
            kind=found.kind if found else ("text" if value else None),
            quote=self.text[start:end],
            page=page,
            page_end=max(page, self.source.page_of(max(start, end - 1))),
            char_start=start,
            char_end=end,
            verified=True,
            method=method,
            rule=found.rule if found else None,
        )

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        """The sentence (or clause) around `text[start:end]`, trimmed, at most `MAX_QUOTE`."""
        text = self.text
        window = max(0, start - _BEFORE)
        ends = [m.end() for m in _SENTENCE_END.finditer(text, window, start)]
        q_start = ends[-1] if ends else window
        after = _SENTENCE_END.search(text, end, min(len(text), end + _AFTER))
        q_end = after.end() if after else min(len(text), end + _AFTER)
        while q_start < start and text[q_start].isspace():
            q_start += 1
        while q_end > end and text[q_end - 1].isspace():
            q_end -= 1
        if q_end - q_start > MAX_QUOTE:
            q_start = max(q_start, start - MAX_QUOTE // 3)
            q_end = min(q_end, max(end, q_start + MAX_QUOTE))
        return q_start, q_end


def category_of(column: str) -> str:
    """The clause category read for `column` (a summary field's mapped category)."""
    return FIELD_CATEGORY.get(column, column)


def finding_cell(
    column: str, findings: Sequence[Finding], doc: DocumentText, effective: date | None
) -> Cell | None:
    """The first grounded finding of the column's category whose quote gives a value."""
    wanted = category_of(column).casefold()
    for finding in findings:
        if not finding.grounded or finding.category.casefold() != wanted:
            continue
        if finding.char_start is None or finding.char_end is None:
            continue
        start, end = finding.char_start, finding.char_end
        found = normalise(column, doc.text[start:end], effective=effective)
        if found is not None:
            return doc.cell(start, end, found, "finding", None)
    return None


def summary_cell(column: str, summary: ContractSummary | None, doc: DocumentText) -> Cell | None:
    """A summary field's statement, quoted by its first located evidence (model-written
    text: kind "text" unless the quote normalises)."""
    if summary is None or column not in SUMMARY_FIELDS:
        return None
    statement = getattr(summary, column)
    if not statement.text.strip() or not statement.verified or not statement.evidence:
        return None
    evidence = statement.evidence[0]
    start, end = evidence.char_start, evidence.char_end
    found = normalise(column, doc.text[start:end])
    cell = doc.cell(start, end, found, "model", statement.text)
    return cell if found else cell.model_copy(update={"value": statement.text, "kind": "text"})


_EXTRACTED = {
    "governing law": "governing_law",
    "agreement date": "agreement_date",
    "effective date": "effective_date",
}


def pattern_cell(column: str, doc: DocumentText, effective: date | None) -> Cell | None:
    """The column's value read from the document's own sentences, without a model."""
    category = category_of(column)
    field = _EXTRACTED.get(category.casefold())
    if field is not None:
        openings = doc.chunks[:OPENING_UNITS]
        for hit in extract_fields([field], doc.chunks, openings, doc.page_starts):
            if hit.field != field:
                continue
            found = normalise(column, hit.quote, effective=effective)
            return doc.cell(hit.char_start, hit.char_end, found, "pattern", hit.value)
    terms = lookup(category)
    if terms is None:
        return None
    spans = phrase_sentences(terms, doc)
    if terms.id.casefold() in _CUES:  # cues are loose: the likeliest term clause first
        spans.sort(key=lambda span: -_term_score(terms, doc.text[span[0] : span[1]]))
    for start, end in spans:
        if not supports(column, doc.text[start:end]):
            continue  # a loose phrase ("for any reason") away from the clause's subject
        found = normalise(column, doc.text[start:end], effective=effective)
        if found is not None:
            return doc.cell(start, end, found, "pattern", None)
    return None


_CUES = {
    "expiration date": re.compile(
        r"\bexpir|\buntil\b|\bterm of\b|\bperiod of\b|\bshall (?:continue|remain|terminate)"
        r"|\bin (?:full )?(?:force|effect)\b|\bcommenc|届满|有效期|期限",
        re.IGNORECASE,
    ),
    "renewal term": re.compile(r"\brenew|\bextend|\bsuccessive|续期|续签|顺延", re.IGNORECASE),
    "notice period to terminate renewal": re.compile(
        r"\brenew|\bexpiration of (?:the|its|this)|\bend of the (?:initial )?term|续期|续签|届满",
        re.IGNORECASE,
    ),
}
"""Wording of term clauses the lexicon's phrases miss ("shall be effective until", "continue
for a period of one (1) year", "renewable for"), for the categories read as typed values."""


_TERM_WORDS = re.compile(r"\b(?:this|the) agreement\b|\bterm\b|本合同|本协议", re.IGNORECASE)
_DEFINITION = re.compile(
    r"^\W*(?:\d+(?:\.\d+)*\s*)?[\"“][^\"”]{1,60}[\"”]\s+(?:means|shall mean)", re.IGNORECASE
)


def typed(column: str) -> bool:
    """Whether the column's value is typed (a date, a term, a place, an amount), not yes/no."""
    return canonical_category(column) in NORMALISED_CATEGORIES


def supports(column: str, text: str) -> bool:
    """Whether `text` can back the column's value: a typed column's value is read from it
    (`normalise`); a yes/no clause's sentence names its subject (`_stems`); a summary field
    or a category without a lexicon entry takes any text."""
    if typed(column):
        return normalise(column, text) is not None
    terms = lookup(category_of(column))
    if terms is None or column in SUMMARY_FIELDS:
        return True
    folded = text.casefold()
    return any(stem in folded for stem in (*_stems(terms.id), *_zh_stems(terms)))


def _stems(category: str) -> tuple[str, ...]:
    """The first letters of the category's own words ("termi", "conve" of "Termination for
    Convenience"): a yes/no clause sentence names its subject."""
    words = re.findall(r"[a-z]{4,}", category.casefold())
    return tuple(w[:5] for w in words if w not in ("license", "rights"))


def _zh_stems(terms: ClauseTerms) -> tuple[str, ...]:
    """Two-character words of the category's Chinese names ("竞业", "解除", "控制"): a
    Chinese yes/no clause sentence names its subject with one of them."""
    names = [n for n in terms.names if not n.isascii()]
    return tuple({n[i : i + 2] for n in names for i in range(len(n) - 1)})


def _term_score(terms: ClauseTerms, sentence: str) -> int:
    """How much a sentence reads as the contract's own term clause: the category's phrases,
    "this Agreement" / "term", never a definition ('"Calendar Year" means ...')."""
    folded = sentence.casefold()
    phrase = any(p in folded for p in (*terms.phrases_en, *terms.phrases_zh))
    return (
        2 * phrase + 2 * bool(_TERM_WORDS.search(sentence)) - 4 * bool(_DEFINITION.match(sentence))
    )


def phrase_sentences(
    terms: ClauseTerms, doc: DocumentText, limit: int = 40
) -> list[tuple[int, int]]:
    """Sentences holding one of the category's clause phrases or cues (`_CUES`), in
    document order, each once."""
    lowered = doc.text.casefold()
    hits: set[int] = set()
    for phrase in (*terms.phrases_en, *terms.phrases_zh):
        at = lowered.find(phrase)
        while at >= 0 and len(hits) < limit * 4:
            hits.add(at)
            at = lowered.find(phrase, at + len(phrase))
    cue = _CUES.get(terms.id.casefold())
    if cue is not None:
        hits.update(m.start() for m in cue.finditer(doc.text))
    spans: list[tuple[int, int]] = []
    for at in sorted(hits):
        span = doc.sentence(at, at + 1)
        if not spans or span[0] >= spans[-1][1]:
            spans.append(span)
        if len(spans) >= limit:
            break
    return spans


_DATE_COLUMNS = ("Effective Date", "Agreement Date")


def effective_date(doc: DocumentText, cells: dict[str, Cell]) -> date | None:
    """The contract's effective (else agreement) date, to compute an expiration from a term."""
    for column in _DATE_COLUMNS:
        cell = cells.get(column) or pattern_cell(column, doc, None)
        if cell is not None and cell.kind == "date" and cell.value:
            try:
                return date.fromisoformat(cell.value)
            except ValueError:
                continue
    return None


def deterministic_row(
    document_id: str,
    filename: str,
    columns: Sequence[str],
    doc: DocumentText,
    *,
    findings: Sequence[Finding] = (),
    summary: ContractSummary | None = None,
) -> Row:
    """A row from findings, a cached summary and patterns; a column none of them gives is
    an empty cell (value None)."""
    cells: dict[str, Cell] = {}
    effective: date | None = None
    for column in sorted(columns, key=lambda c: c not in _DATE_COLUMNS):
        if column not in _DATE_COLUMNS and effective is None:
            effective = effective_date(doc, cells)
        cells[column] = (
            finding_cell(column, findings, doc, effective)
            or summary_cell(column, summary, doc)
            or pattern_cell(column, doc, effective)
            or Cell()
        )
    return Row(document_id=document_id, filename=filename, cells={c: cells[c] for c in columns})
