"""split_clauses: clause numbers, headings, spans and the preamble."""

from __future__ import annotations

import pytest

from pipelines.clauses import Clause, clause_number, split_clauses

ENGLISH = """DISTRIBUTION AGREEMENT

This Agreement is made on 1 March 2020 between Alpha Inc. and Beta Ltd.

ARTICLE I
DEFINITIONS

1.1 "Products" means the goods listed in Exhibit A.

1.2 "Territory" means the United States.

ARTICLE II
TERM

2.1 Term. The initial term of this Agreement shall be three (3) years and shall
renew for successive one (1) year periods unless either party gives notice under
Section 2.2 below.

2.2 Notice. Either party may terminate on ninety (90) days' written notice.
(a) Notice shall be in writing.
(b) Notice shall be sent by courier.

Section 3. Payment. Distributor shall pay within thirty (30) days of invoice.
"""

CHINESE = """技术服务合同

甲方：上海明远信息科技有限公司

第一章 总则

第一条 服务内容
乙方为甲方提供数据处理服务。

第二条 服务期限
本合同期限为二年。

一、付款
甲方应于每季度结束后十五日内付款。

（一）乙方应开具发票。
"""


def _check_spans(text: str, clauses: list[Clause]) -> None:
    previous_end = 0
    for clause in clauses:
        assert clause.text == text[clause.char_start : clause.char_end]
        assert clause.char_start >= previous_end
        assert text[previous_end : clause.char_start].strip() == ""  # only whitespace between
        previous_end = clause.char_end
    assert text[previous_end:].strip() == ""


def test_english_numbers_headings_and_preamble() -> None:
    clauses = split_clauses(ENGLISH)
    assert [c.number for c in clauses] == [None, "I", "1.1", "1.2", "II", "2.1", "2.2", "3"]
    assert clauses[0].text.startswith("DISTRIBUTION AGREEMENT")
    assert clauses[1].heading == "DEFINITIONS"
    assert clauses[4].heading == "TERM"
    assert clauses[5].heading == "Term"
    assert clauses[7].heading == "Payment"
    _check_spans(ENGLISH, clauses)


def test_wrapped_line_starting_with_a_number_is_not_a_clause() -> None:
    clauses = split_clauses(ENGLISH)
    term = next(c for c in clauses if c.number == "2.1")
    assert "Section 2.2 below." in term.text  # "Section 2.2" wraps to a new line: same clause


def test_lettered_items_stay_in_their_clause() -> None:
    notice = next(c for c in split_clauses(ENGLISH) if c.number == "2.2")
    assert "(a) Notice shall be in writing." in notice.text
    assert notice.text.endswith("(b) Notice shall be sent by courier.")


def test_chinese_numbering() -> None:
    clauses = split_clauses(CHINESE)
    assert [c.number for c in clauses] == [None, "第一章", "第一条", "第二条", "一", "(一)"]
    assert clauses[2].heading == "服务内容"
    assert clauses[3].text == "第二条 服务期限\n本合同期限为二年。"
    _check_spans(CHINESE, clauses)


def test_text_without_numbers_splits_into_paragraphs() -> None:
    text = "First paragraph\nwraps here.\n\n\nSecond paragraph.\n"
    clauses = split_clauses(text)
    assert [c.text for c in clauses] == ["First paragraph\nwraps here.", "Second paragraph."]
    assert all(c.number is None for c in clauses)


@pytest.mark.parametrize(
    ("line", "number"),
    [
        ("1. Appointment", "1"),
        ("12.3 Audit Rights. Each party", "12.3"),
        ("2.3(a) the Licensee shall", "2.3(a)"),
        ("Section 5. Payment", "5"),
        ("ARTICLE IV", "IV"),
        ("Article 3 Term", "3"),
        ("IV. Miscellaneous", "IV"),
        ("第十二条 其他", "第十二条"),
        ("（三）违约责任", "(三)"),
        ("30 days after the invoice", None),
        ("2020 revenue was higher", None),
        ("50 Catoctin Circle, Suite 201", None),
        ("C. Array and Ono wish to collaborate", None),
    ],
)
def test_clause_number(line: str, number: str | None) -> None:
    found = clause_number(line)
    assert (found[0] if found else None) == number


def test_empty_text() -> None:
    assert split_clauses("") == []
    assert split_clauses("  \n\n ") == []
