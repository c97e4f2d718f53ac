"""Evidence passages, the model-free relevance signal and the extractors (governing law,
agreement and effective dates), pure; the extractors also on the CUAD dev set's gold spans."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

import pytest

from pipelines.answer_models import Answer, not_found
from pipelines.answers import COULD_NOT_ANSWER, with_evidence
from pipelines.chunking import PAGE_SEPARATOR
from pipelines.evidence import (
    RELEVANT_THRESHOLD,
    best_relevance,
    collect_evidence,
    excerpt,
    pages_label,
)
from pipelines.extract import extract_fields, fields_for, readable
from pipelines.extract_dates import find_agreement_date, find_effective_date
from pipelines.extract_law import find_governing_law
from pipelines.models import Chunk, ScoredChunk
from pipelines.query import plan_query
from tests.devset import DEVSET

LAW = (
    "13. Governing Law. This Agreement shall be governed by and construed in accordance "
    "with the laws of the State of New York, without regard to its conflict of laws rules."
)
OTHER = "The Supplier shall deliver the goods in good condition and on time to the warehouse."


def chunk(
    text: str,
    number: int = 0,
    start: int = 0,
    pages: tuple[int, int] = (1, 1),
    section: list[str] | None = None,
) -> Chunk:
    return Chunk(
        document_id="doc1",
        number=number,
        text=text,
        page_start=pages[0],
        page_end=pages[1],
        section_path=section or ["contract"],
        char_start=start,
        char_end=start + len(text),
        token_count=len(text.split()),
    )


def test_excerpt_is_short_and_cut_at_word_boundaries() -> None:
    text = (
        " ".join(f"word{n}" for n in range(200))
        + " governed by the laws of Texas "
        + " ".join(f"tail{n}" for n in range(100))
    )
    cut = excerpt(text, ["governed by"])
    assert len(cut) <= 300 + 4
    assert "governed by the laws of Texas" in cut
    body = cut.removeprefix("… ").removesuffix(" …")
    assert body.split()[0] in text.split()
    assert body.split()[-1] in text.split()
    assert excerpt("short  text\n here") == "short text here"


def test_evidence_carries_document_pages_section_offsets_and_scores() -> None:
    passage = ScoredChunk(
        chunk=chunk(
            LAW, number=4, start=120, pages=(3, 4), section=["contract", "13. Governing Law"]
        ),
        score=5.5,
    )
    [shown] = collect_evidence("What is the governing law?", [passage], {"doc1": "a.pdf"})
    assert (shown.filename, shown.page_start, shown.page_end) == ("a.pdf", 3, 4)
    assert (shown.char_start, shown.char_end) == (120, 120 + len(LAW))
    assert shown.section_path == ["contract", "13. Governing Law"]
    assert shown.excerpt.startswith("13. Governing Law.")
    assert shown.score == 5.5
    assert shown.relevance >= RELEVANT_THRESHOLD


def test_not_found_is_checked_against_the_relevance_of_the_passages() -> None:
    question = "What is the governing law?"
    relevant = [ScoredChunk(chunk=chunk(LAW), score=1.0)]
    unrelated = [ScoredChunk(chunk=chunk(OTHER), score=1.0)]
    assert best_relevance(question, relevant) >= RELEVANT_THRESHOLD
    assert best_relevance(question, unrelated) < RELEVANT_THRESHOLD

    absent = with_evidence(
        not_found(),
        collect_evidence(question, unrelated),
        relevance=best_relevance(question, unrelated),
    )
    assert absent.not_found_checked == "absent"
    assert absent.text == not_found().text
    assert [e.excerpt for e in absent.evidence] == [OTHER]

    checked = with_evidence(
        not_found(),
        collect_evidence(question, relevant, {"doc1": "a.pdf"}),
        relevance=best_relevance(question, relevant),
    )
    assert checked.not_found_checked == "model_could_not_answer"
    assert checked.text.startswith(COULD_NOT_ANSWER)
    assert "a.pdf p.1" in checked.text
    assert not checked.found

    found = with_evidence(Answer(text="New York.", found=True), checked.evidence, relevance=9.0)
    assert found.not_found_checked is None
    assert found.evidence == checked.evidence


def test_pages_label_never_prints_an_empty_page() -> None:
    assert pages_label(3, 3) == "p.3"
    assert pages_label(3, 5) == "pp.3-5"
    assert pages_label(0, 0) == ""


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (LAW, "New York"),
        (
            "THIS AGREEMENT IS TO BE CONSTRUED IN ACCORDANCE WITH AND GOVERNED BY THE LAWS OF THE "
            "STATE OF GEORGIA (WITHOUT REGARD TO CONFLICTS)",
            "Georgia",
        ),
        (
            "This Agreement shall be governed by and construed under the laws of the Commonwealth "
            "of Virginia without regard to the conflicts",
            "Virginia",
        ),
        (
            "This Termination Agreement shall be governed by the laws of the PRC, without regard "
            "to conflicts of law principles.",
            "People's Republic of China",
        ),
        ("本合同的订立、效力及争议的解决均适用中华人民共和国法律。", "People's Republic of China"),
        ("Delaware law governs this Agreement.", "Delaware"),
    ],
)
def test_governing_law_patterns(text: str, value: str) -> None:
    found = find_governing_law(text)
    assert found is not None
    assert found[0] == value


def test_no_governing_law_in_a_party_description() -> None:
    assert (
        find_governing_law(
            "ACME, a corporation organized under the laws of the State of Delaware, and Beta Inc."
        )
        is None
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("This Agreement is made this 7th day of April, 2017 by and between", date(2017, 4, 7)),
        ("entered into as of 15 th day of July, 2010", date(2010, 7, 15)),
        ("dated June 21, 1999 between", date(1999, 6, 21)),
        ("Agreement Date: 1/14/02", date(2002, 1, 14)),
        ("本合同于2024年3月5日签订", date(2024, 3, 5)),
    ],
)
def test_agreement_dates(text: str, value: date) -> None:
    found = find_agreement_date(text)
    assert found is not None
    assert found[0] == value


def test_effective_date_named_as_such() -> None:
    text = "This Agreement is dated March 14, 2012 and shall become effective as of March 1, 2012."
    found = find_effective_date(text)
    assert found is not None
    assert found[0] == date(2012, 3, 1)
    assert find_effective_date("dated March 14, 2012") is None


def test_extracted_value_carries_its_located_quote_and_page() -> None:
    """The quote is the document's own text at the offsets given, on the page given by the
    page offsets kept at ingest."""
    pages = ["AGREEMENT dated as of May 31, 2017 between A and B.", "Terms apply. " + LAW]
    text = PAGE_SEPARATOR.join(pages)
    starts = [0, len(pages[0]) + len(PAGE_SEPARATOR)]
    opening = chunk(text[: starts[1] + 13], number=0, pages=(1, 2))
    law = chunk(text[starts[1] + 13 :], number=1, start=starts[1] + 13, pages=(2, 2))
    fields = fields_for(plan_query("What is the governing law and the effective date?").categories)
    assert set(fields) == {"governing_law", "effective_date"}
    found = {e.field: e for e in extract_fields(fields, [law], [opening, law], starts)}
    gov = found["governing_law"]
    assert gov.value == "New York"
    assert text[gov.char_start : gov.char_end] == gov.quote
    assert gov.quote.startswith("This Agreement shall be governed")
    assert (gov.page_start, gov.page_end) == (2, 2)
    assert "effective_date" not in found  # none is named: the agreement date, as such
    eff = found["agreement_date"]
    assert eff.value == "2017-05-31"
    assert text[eff.char_start : eff.char_end] == eff.quote
    assert (eff.page_start, eff.page_end) == (1, 1)


def _gold(category: str) -> list[tuple[str, str]]:
    rows = []
    path = DEVSET / "cuad_annotations.jsonl"
    if not path.exists():
        pytest.skip("dev set not available")
    for line in path.read_text(encoding="utf-8").splitlines():
        label = json.loads(line)["labels"].get(category)
        if label and label["spans"] and label["answer_normalized"]:
            rows.append((" ".join(s[2] for s in label["spans"]), label["answer_normalized"]))
    return rows


def test_governing_law_on_the_cuad_gold_clauses() -> None:
    """The extractor reads the gold clause's jurisdiction as the lawyers wrote it."""
    rows = _gold("Governing Law")
    right = 0
    for span, gold in rows:
        found = find_governing_law(span)
        right += found is not None and found[0].casefold() == gold.casefold()
    assert right >= 0.85 * len(rows), (right, len(rows))


class Units:
    def __init__(self, units: list[Chunk]) -> None:
        self.units = units

    def get_chunks(self, document_id: str, numbers: Sequence[int]) -> list[Chunk]:
        return [u for u in self.units if u.number in numbers]


def test_a_trimmed_passage_is_read_whole_for_its_quote() -> None:
    """Search trims a passage where a better one overlaps it; the quote is cut from the
    units it was made of (and the next), so it ends where the sentence ends."""
    first = "Liability is limited to fees paid. " + LAW[:60]
    second = LAW[60:]
    units = [chunk(first, number=0), chunk(second, number=1, start=len(first))]
    trimmed = chunk(first[:-5], number=0)
    [whole] = readable([trimmed], Units(units))
    assert whole.text == first + second
    [law] = extract_fields(["governing_law"], [whole], [])
    assert law.quote.endswith("conflict of laws rules.")
    assert (first + second)[law.char_start : law.char_end] == law.quote
