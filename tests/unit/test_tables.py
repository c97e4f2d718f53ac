"""A unit cut from inside a table is indexed with the table's caption, header and label."""

from __future__ import annotations

from pipelines.ingest import contextualise, indexed_text, running_lines
from pipelines.models import Chunk
from pipelines.tables import table_header

STATEMENT = [
    "Summary of Business Segment Data",
    "(Dollars in millions)",
    "Years ended December 31, | 2022 | 2021 | 2020",
    "Revenues: |  |  | ",
    "Commercial Airplanes | $25,867 | $19,493 | $16,162",
]


def test_the_header_row_caption_and_group_label_of_the_table_a_unit_starts_in() -> None:
    header = table_header(STATEMENT, "Global Services | 17,611 | 16,328 | 15,543")
    assert header.splitlines() == [
        "(Dollars in millions)",
        "Years ended December 31, | 2022 | 2021 | 2020",
        "Revenues:",
    ]


def test_no_header_for_prose_or_for_a_unit_that_starts_its_table() -> None:
    assert table_header(STATEMENT, "Net revenues rose by 7%.") == ""
    assert table_header(["Some prose."], "Year | 2022 | 2021") == ""


def test_contextualise_gives_each_unit_its_path_and_table_header() -> None:
    first_text = "\n".join(STATEMENT)
    second_text = "Global Services | 17,611 | 16,328 | 15,543"
    chunks = [
        Chunk(
            document_id="d",
            number=0,
            text=first_text,
            page_start=1,
            page_end=1,
            section_path=["Notes"],
            char_start=0,
            char_end=len(first_text),
            token_count=40,
        ),
        Chunk(
            document_id="d",
            number=1,
            text=second_text,
            page_start=1,
            page_end=1,
            section_path=["Notes"],
            char_start=len(first_text) + 1,
            char_end=len(first_text) + 1 + len(second_text),
            token_count=12,
        ),
    ]
    first, second = contextualise(chunks, "BOEING_2022_10K")
    assert first.context == "BOEING_2022_10K > Notes"
    assert "Years ended December 31, | 2022" in second.context
    assert indexed_text(second).endswith(second_text)
    assert second.text == second_text  # what is shown stays the document's own text


def test_running_headers_and_page_numbers_are_not_indexed() -> None:
    chunks = [
        Chunk(
            document_id="d",
            number=n,
            page_start=n + 1,
            page_end=n + 1,
            char_start=n * 100,
            char_end=n * 100 + 90,
            token_count=20,
            text=f"ACME plc 2024 Annual Report\n{n + 1}\nThe {word} clause applies.",
        )
        for n, word in enumerate(["alpha", "bravo", "charlie", "delta", "echo"])
    ]
    running = running_lines(chunks)
    assert running == {"ACME plc # Annual Report", "#"}
    assert indexed_text(chunks[2], running) == "The charlie clause applies."
    assert chunks[2].text.startswith("ACME plc 2024 Annual Report")  # shown text unchanged
