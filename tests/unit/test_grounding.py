"""Quotes are located in the document text after normalisation, with their real page."""

from __future__ import annotations

import re

from pipelines.chunking import chunk_pages
from pipelines.grounding import SourceText, find_quote, normalise
from pipelines.models import Chunk, Page

_TOKEN = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]")


class WordCounter:
    def count(self, text: str) -> int:
        return len(_TOKEN.findall(text))


FILLER = " ".join(f"Clause text number {i} describes ordinary matters." for i in range(12))
PAGES = [
    Page(number=1, text="MASTER SERVICES AGREEMENT\n\n" + FILLER),
    Page(
        number=2,
        text=FILLER + "\nThe Supplier shall pay liquidated damages of\n"
        "USD 10,000 for each day of delay. " + FILLER,
    ),
    Page(
        number=3,
        text="第五条 违约责任\n"
        "甲方应于本合同签订后三十日内，向乙方支付违约金人民币100万元。" + FILLER,
    ),
]


def chunks(max_tokens: int = 60) -> list[Chunk]:
    return chunk_pages("doc-1", PAGES, WordCounter(), max_tokens=max_tokens, overlap_tokens=10)


def test_a_verbatim_quote_is_found_on_its_page_with_its_offsets() -> None:
    parts = chunks()
    assert len(parts) > 5  # the quote's page must come from the chunks, not a lone one
    match = find_quote("liquidated damages of USD 10,000 for each day of delay", parts)
    assert match is not None
    assert match.page == 2
    text = SourceText(parts).text
    assert text[match.char_start : match.char_end] == (
        "liquidated damages of\nUSD 10,000 for each day of delay"
    )


def test_case_whitespace_and_quote_styles_do_not_decide() -> None:
    match = find_quote("“THE SUPPLIER shall pay  liquidated-damages of USD 10,000”", chunks())
    assert match is not None
    assert match.page == 2


def test_chinese_quote_with_full_width_punctuation_and_spaces_grounds() -> None:
    quote = "甲方应于本合同签订后三十日内, 向乙方支付违约金 人民币１００万元"
    match = find_quote(quote, chunks())
    assert match is not None
    assert match.page == 3


def test_a_paraphrase_or_an_invented_quote_does_not_ground() -> None:
    parts = chunks()
    assert find_quote("The Supplier owes USD 10,000 per day of delay", parts) is None
    assert find_quote("Either party may terminate for convenience.", parts) is None
    assert find_quote("违约金人民币200万元", parts) is None


def test_an_ellipsis_joins_verbatim_pieces_in_order_only() -> None:
    parts = chunks()
    match = find_quote("The Supplier shall pay ... for each day of delay", parts)
    assert match is not None
    assert match.page == 2
    assert find_quote("for each day of delay … The Supplier shall pay", parts) is None


def test_a_quote_across_overlapping_chunks_grounds_on_the_later_page() -> None:
    text = "Page one ends here.\n\nPage two: the licence is irrevocable and perpetual, forever."
    two = text.index("Page two")
    parts = [
        Chunk(
            document_id="d",
            number=0,
            text=text[:45],
            page_start=1,
            page_end=2,
            char_start=0,
            char_end=45,
            token_count=9,
        ),
        Chunk(
            document_id="d",
            number=1,
            text=text[40:],
            page_start=2,
            page_end=2,
            char_start=40,
            char_end=len(text),
            token_count=9,
        ),
    ]
    quote = "the licence is irrevocable and perpetual"
    assert not any(quote in c.text for c in parts)
    match = find_quote(quote, parts)
    assert match is not None
    assert (match.page, match.char_start) == (2, text.index("the licence"))
    assert match.char_start > two
    assert SourceText(parts).text == text


def test_markers_in_a_quote_are_ignored_and_short_quotes_never_ground() -> None:
    parts = chunks()
    assert find_quote("[doc:doc-1, p.2] USD 10,000 for each day", parts) is not None
    assert find_quote("the", parts) is None
    assert find_quote("", parts) is None


def test_normalise_maps_back_to_source_offsets() -> None:
    text, where = normalise("Ａ b，Ｃ")
    assert text == "abc"
    assert where == [0, 2, 4]


def test_an_unplaceable_page_break_gives_a_range_and_page_starts_make_it_exact() -> None:
    text = "Intro paragraph.\n\nThe fee is due monthly.\n\nLate fees apply at five percent."
    one = Chunk(
        document_id="d",
        number=0,
        text=text,
        page_start=1,
        page_end=2,
        char_start=0,
        char_end=len(text),
        token_count=20,
    )
    match = find_quote("The fee is due monthly", [one])
    assert match is not None
    assert (match.page, match.latest_page) == (1, 2)
    late = text.index("Late fees")
    exact = find_quote("The fee is due monthly", [one], page_starts=[0, late])
    assert exact is not None
    assert (exact.page, exact.latest_page) == (1, 1)
    after = find_quote("Late fees apply at five percent", [one], page_starts=[0, late])
    assert after is not None
    assert after.page == 2
