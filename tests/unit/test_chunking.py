"""Chunking logic with a simple deterministic counter (one token a CJK character, word or mark)."""

from __future__ import annotations

import re

import pytest

from pipelines.chunking import chunk_pages, document_text, page_at, page_starts
from pipelines.headings import find_headings, sections_of
from pipelines.models import Chunk, Page

_TOKEN = re.compile(r"[\u3400-\u9fff]|[A-Za-z0-9]+|[^\sA-Za-z0-9\u3400-\u9fff]|\n")


class WordCounter:
    """A fake TokenCounter: CJK characters, words, marks and newlines count one each."""

    def count(self, text: str) -> int:
        return len(_TOKEN.findall(text))


COUNTER = WordCounter()


def pages_of(*texts: str) -> list[Page]:
    return [Page(number=i + 1, text=t) for i, t in enumerate(texts)]


def check_invariants(pages: list[Page], chunks: list[Chunk], max_tokens: int) -> None:
    text = document_text(pages)
    starts = page_starts(pages)
    assert [c.number for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert text[chunk.char_start : chunk.char_end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert chunk.text
        assert chunk.token_count == COUNTER.count(chunk.text) <= max_tokens
        assert chunk.page_start == page_at(pages, starts, chunk.char_start)
        assert chunk.page_end == page_at(pages, starts, chunk.char_end - 1)
    assert [c.char_start for c in chunks] == sorted(c.char_start for c in chunks)
    assert [c.page_start for c in chunks] == sorted(c.page_start for c in chunks)
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.char_start, chunk.char_end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_document_text_joins_pages_and_maps_offsets_to_pages() -> None:
    pages = [Page(number=3, text="abc"), Page(number=4, text="de")]
    assert document_text(pages) == "abc\n\nde"
    starts = page_starts(pages)
    assert starts == [0, 5]
    assert [page_at(pages, starts, i) for i in (0, 2, 3, 5, 6)] == [3, 3, 3, 4, 4]


def test_empty_document_has_no_chunks() -> None:
    assert chunk_pages("d", [], COUNTER) == []
    assert chunk_pages("d", pages_of("", "  \n"), COUNTER) == []


CN_REPORT = """平安银行股份有限公司
第三节 管理层讨论与分析
一、概述
本行坚持稳中求进。全年营业收入下降；净利润增长！资产质量保持平稳？
（一）吸收公众存款
吸收存款本金余额增长 3.7%。
二、经营情况
1. 本行经有关监管机构批准后，经营下列各项商业银行业务，并按规定办理相关手续和登记事项。
2. 本行持续强化风险管理。
第四节 公司治理
公司治理结构完善。"""


def test_chinese_headings_build_a_hierarchical_section_path() -> None:
    chunks = chunk_pages("d", pages_of(CN_REPORT), COUNTER, max_tokens=20, overlap_tokens=0)
    paths = {tuple(c.section_path) for c in chunks}
    assert ("第三节 管理层讨论与分析", "一、 概述") in paths
    assert ("第三节 管理层讨论与分析", "一、 概述", "（一） 吸收公众存款") in paths
    assert ("第四节 公司治理",) in paths
    # numbered list lines that are sentences are not headings
    assert not any(p[-1].startswith(("1.", "2.")) for p in paths if p)
    check_invariants(pages_of(CN_REPORT), chunks, 20)


CONTRACT = """ARTICLE V
INDEMNIFICATION
Section 5.1 Indemnification by Supplier. Supplier shall indemnify Buyer against all losses.
Section 5.2 Limitation of Liability. In no event shall either party be liable for indirect
damages arising under this Agreement, except as provided in
Article 9.
1. the Buyer shall give prompt notice;
ARTICLE VI TERM
6.1 Term. This Agreement continues for five years."""


def test_contract_articles_and_sections_without_cross_references() -> None:
    headings = find_headings(CONTRACT)
    titles = [h.title for h in headings]
    assert titles == [
        "ARTICLE V INDEMNIFICATION",
        "Section 5.1 Indemnification by Supplier",
        "Section 5.2 Limitation of Liability",
        "ARTICLE VI TERM",
        "6.1 Term",
    ]
    paths = [s.path for s in sections_of(CONTRACT, headings)]
    assert ("ARTICLE V INDEMNIFICATION", "Section 5.2 Limitation of Liability") in paths
    assert ("ARTICLE VI TERM", "6.1 Term") in paths


def test_running_header_repeating_a_chapter_does_not_reset_the_path() -> None:
    body = "本行持续推进数字化转型，提升服务质效。" * 3
    pages = pages_of(
        f"第一章 公司简介\n1.1 公司基本情况\n{body}",
        f"第一章 公司简介\n{body}",
    )
    chunks = chunk_pages("d", pages, COUNTER, max_tokens=40, overlap_tokens=0)
    assert chunks[-1].page_end == 2
    assert chunks[-1].section_path == ["第一章 公司简介", "1.1 公司基本情况"]


def test_table_of_contents_lines_are_not_headings() -> None:
    toc = "目 录\n第一章 公司简介........8\n3.1 总体经营情况 ....... 23"
    assert find_headings(toc) == []


def test_long_chinese_paragraph_splits_at_sentence_ends() -> None:
    marks = ["，", "；"]
    sentences = [f"第{i}项业务持续增长并保持稳定{marks[i % 2]}风险可控。" for i in range(40)]
    pages = pages_of("".join(sentences))
    chunks = chunk_pages("d", pages, COUNTER, max_tokens=60, overlap_tokens=0)
    assert len(chunks) > 5
    assert all(c.text.endswith("。") for c in chunks)
    check_invariants(pages, chunks, 60)


def test_fullwidth_and_halfwidth_sentence_marks_both_end_sentences() -> None:
    text = "甲方应当付款！乙方应当交货? 双方应当保密；本合同生效。" * 6
    chunks = chunk_pages("d", pages_of(text), COUNTER, max_tokens=25, overlap_tokens=0)
    assert len(chunks) > 2
    assert all(c.text[-1] in "！?；。" for c in chunks)


def test_budget_is_respected_even_for_one_endless_sentence() -> None:
    pages = pages_of("word " * 3000, "字" * 2000)
    chunks = chunk_pages("d", pages, COUNTER, max_tokens=100, overlap_tokens=10)
    assert len(chunks) >= 50
    check_invariants(pages, chunks, 100)


def test_overlap_repeats_whole_sentences_of_the_previous_chunk() -> None:
    text = " ".join(f"Sentence number {i} states a fact." for i in range(60))
    pages = pages_of(text)
    chunks = chunk_pages("d", pages, COUNTER, max_tokens=50, overlap_tokens=15)
    check_invariants(pages, chunks, 50)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.char_start < before.char_end  # overlapping
        shared = document_text(pages)[after.char_start : before.char_end]
        assert shared.startswith("Sentence")
        assert shared.endswith(".")
        assert 0 < COUNTER.count(shared) <= 15


def test_no_overlap_across_sections() -> None:
    body = "The party shall perform its duties with care. " * 12
    pages = pages_of(f"1. Services\n{body}\n2. Payment\n{body}")
    chunks = chunk_pages("d", pages, COUNTER, max_tokens=60, overlap_tokens=20)
    firsts = [c for c in chunks if c.text.startswith("2. Payment")]
    assert len(firsts) == 1
    previous = chunks[chunks.index(firsts[0]) - 1]
    assert previous.char_end <= firsts[0].char_start
    assert previous.section_path == ["1. Services"]


def test_table_rows_are_never_split() -> None:
    rows = [f"项目{i} | {i * 1000:,} | {i}.5% | 同比增长。增加 | 备注" for i in range(60)]
    text = "（货币单位：人民币百万元）\n" + "\n".join(rows)
    pages = pages_of(text)
    chunks = chunk_pages("d", pages, COUNTER, max_tokens=80, overlap_tokens=20)
    check_invariants(pages, chunks, 80)
    doc = document_text(pages)
    row_spans = []
    position = 0
    for line in doc.split("\n"):
        row_spans.append((position, position + len(line)))
        position += len(line) + 1
    for chunk in chunks:
        for start, end in row_spans:
            assert not start < chunk.char_start < end
            assert not start < chunk.char_end < end


def test_top_level_sections_are_not_merged_unless_tiny() -> None:
    body = "The supplier shall deliver the goods on time and in good order. " * 8
    text = f"ARTICLE I SUPPLY\n{body}\nARTICLE II PRICE\n{body}\nARTICLE III NOTICES\nNone."
    pages = pages_of(text)
    chunks = chunk_pages("d", pages, COUNTER, max_tokens=300, overlap_tokens=0)
    assert [c.section_path[0] for c in chunks] == ["ARTICLE I SUPPLY", "ARTICLE II PRICE"]
    assert chunks[-1].text.endswith("ARTICLE III NOTICES\nNone.")  # tiny tail merged back


def test_chunks_crossing_pages_record_both_pages() -> None:
    pages = pages_of("第一句话很短。" * 5, "第二页的句子也很短。" * 5, "第三页。")
    chunks = chunk_pages("d", pages, COUNTER, max_tokens=1000, overlap_tokens=0)
    assert len(chunks) == 1
    assert (chunks[0].page_start, chunks[0].page_end) == (1, 3)
    check_invariants(pages, chunks, 1000)


def test_tiny_budget_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_pages("d", pages_of("text"), COUNTER, max_tokens=2)
