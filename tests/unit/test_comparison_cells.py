"""Comparison cells built from a CUAD dev contract's own text, without a model; the model's
cells located (or marked unverified); the exports."""

from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook

from pipelines.comparison_model import CellsReply, ColumnReply, located_cell, model_cells
from pipelines.comparison_models import DEFAULT_COLUMNS, Cell, Row, Table
from pipelines.comparisons import DocumentText, deterministic_row, resolve_column
from pipelines.context import Budget
from pipelines.models import Chunk
from pipelines.risk_models import Finding
from services.adapters.llm_fake import FakeChatModel
from services.app.rendering.comparison import UNVERIFIED, to_csv, to_json, to_xlsx
from tests.devset import DEVSET

NAME = "2ThemartComInc_19990826_10-12G_EX-10.10_6700288_EX-10.10_Co-Branding Agreement_ Agency"


def _contract() -> tuple[str, dict[str, str]]:
    path = DEVSET / "cuad_annotations.jsonl"
    if not path.exists():
        pytest.skip("dev set not available")
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["contract"].startswith(NAME):
            text = (DEVSET / "cuad" / row["txt_path"]).read_text(encoding="utf-8")
            gold = {k: v["answer_normalized"] for k, v in row["labels"].items()}
            return text, gold
    pytest.skip("contract not in the dev set")


def _chunks(text: str, size: int = 1500, overlap: int = 200) -> list[Chunk]:
    """Overlapping chunks of `text` (as the chunker makes them: text == text[start:end])."""
    chunks, start, number = [], 0, 0
    while start < len(text):
        end = min(len(text), start + size)
        chunks.append(
            Chunk(
                document_id="d1", number=number, text=text[start:end], page_start=1,
                page_end=1, char_start=start, char_end=end, token_count=size // 5,
            )
        )  # fmt: skip
        number += 1
        start = end - overlap if end < len(text) else end
    return chunks


@pytest.fixture(scope="module")
def contract() -> tuple[DocumentText, dict[str, str]]:
    text, gold = _contract()
    page_starts = list(range(0, len(text), 3000))  # a page every 3,000 characters
    return DocumentText(_chunks(text), page_starts), gold


def test_cells_from_the_text_alone_match_cuad_and_quote_the_document(
    contract: tuple[DocumentText, dict[str, str]],
) -> None:
    doc, gold = contract
    row = deterministic_row("d1", "a.pdf", DEFAULT_COLUMNS, doc)
    cells = row.cells
    assert list(cells) == list(DEFAULT_COLUMNS)
    assert cells["Governing Law"].value == gold["Governing Law"] == "California"
    assert cells["Agreement Date"].value == "1999-06-21"  # gold "6/21/99"
    assert cells["Renewal Term"].value == "successive 1 year"
    for cell in cells.values():
        if cell.value is None:
            continue
        assert cell.verified
        assert cell.method == "pattern"
        assert cell.char_start is not None
        assert cell.char_end is not None
        assert cell.quote == doc.text[cell.char_start : cell.char_end]
        assert cell.page == 1 + cell.char_start // 3000
    assert "the laws of the state of california" in (cells["Governing Law"].quote or "").casefold()


def test_a_grounded_finding_is_read_first_and_an_ungrounded_one_never(
    contract: tuple[DocumentText, dict[str, str]],
) -> None:
    doc, _ = contract
    at = doc.text.index("This Agreement will be governed")
    sentence = doc.sentence(at, at + 10)
    finding = Finding(
        category="Governing Law", severity="low", reason="r", quote=doc.text[slice(*sentence)],
        page=1, document_id="d1", grounded=True, char_start=sentence[0], char_end=sentence[1],
    )  # fmt: skip
    row = deterministic_row("d1", "a.pdf", ["Governing Law"], doc, findings=[finding])
    assert row.cells["Governing Law"].method == "finding"
    assert row.cells["Governing Law"].char_start == sentence[0]
    unverified = finding.model_copy(update={"grounded": False})
    row = deterministic_row("d1", "a.pdf", ["Governing Law"], doc, findings=[unverified])
    assert row.cells["Governing Law"].method == "pattern"


def test_model_cells_are_verified_only_when_their_quote_is_found(
    contract: tuple[DocumentText, dict[str, str]],
) -> None:
    doc, _ = contract
    at = doc.text.index("This Agreement will be governed")
    quoted = doc.text[at : at + 140]  # ... the laws of the State of California
    found = located_cell("Governing Law", ColumnReply(column="x", value="CA", quote=quoted), doc)
    assert found.verified
    assert found.method == "model"
    assert found.char_start == at
    assert found.quote == doc.text[at : found.char_end]
    made_up = ColumnReply(column="x", value="Delaware", quote="governed by Delaware law always")
    invented = located_cell("Governing Law", made_up, doc)
    assert not invented.verified
    assert invented.page is None
    assert invented.value == "Delaware"
    preamble = doc.text[:120]  # in the document, but no non-compete clause
    elsewhere = located_cell(
        "Non-Compete", ColumnReply(column="x", value="Yes", quote=preamble), doc
    )
    assert elsewhere.char_start is not None  # located: its place is kept
    assert not elsewhere.verified  # but it does not back the value
    assert (
        located_cell(
            "Governing Law", ColumnReply(column="x", value="CA", quote=preamble), doc
        ).verified
        is False
    )


def test_one_request_asks_for_the_missing_columns(
    contract: tuple[DocumentText, dict[str, str]],
) -> None:
    doc, _ = contract
    reply = CellsReply(
        cells=[
            ColumnReply(column="non-compete", value="yes", quote="not a quote of this text"),
            ColumnReply(column="Insurance", value="", quote=""),
        ]
    ).model_dump_json()
    llm = FakeChatModel(responder=lambda _messages: reply, name="m")
    budget = Budget(max_model_len=8000, max_output_tokens=1000, max_prompt_tokens=7000)
    cells = model_cells(
        ["Non-Compete", "Insurance"], doc, llm=llm, counter=_Words(), budget=budget, title="a"
    )
    assert len(llm.calls) == 1
    assert set(cells) == {"Non-Compete"}  # an empty value is "not found"
    assert not cells["Non-Compete"].verified


class _Words:
    def count(self, text: str) -> int:
        return len(text.split())


def test_columns_resolve_case_insensitively() -> None:
    assert resolve_column("cap on liability") == "Cap On Liability"
    assert resolve_column("Audit Rights") == "Audit Rights"
    assert resolve_column("governing_law") == "governing_law"
    assert resolve_column("Favourite Colour") is None


def test_exports_hold_values_quotes_pages_and_mark_unverified_values() -> None:
    table = Table(
        columns=["Governing Law", "Non-Compete"],
        rows=[
            Row(
                document_id="d1",
                filename="a.pdf",
                cells={
                    "Governing Law": Cell(
                        value="California", kind="jurisdiction", quote="governed by California",
                        page=3, page_end=3, char_start=10, char_end=32, verified=True,
                        method="pattern",
                    ),
                    "Non-Compete": Cell(value="=1+1", quote="x", verified=False, method="model"),
                },
            )
        ],
    )  # fmt: skip
    lines = list(csv.reader(io.StringIO(to_csv(table))))
    assert lines[0][2:5] == ["Governing Law", "Governing Law quote", "Governing Law page"]
    assert lines[1][2:5] == ["California", "governed by California", "3"]
    assert lines[1][5] == "'=1+1" + UNVERIFIED  # never a formula; marked
    book = load_workbook(io.BytesIO(to_xlsx(table)))
    assert book.sheetnames == ["table", "evidence"]
    assert [c.value for c in book["table"][2]] == [
        "a.pdf",
        "d1",
        "California",
        "'=1+1" + UNVERIFIED,
    ]
    evidence = [[c.value for c in r] for r in book["evidence"].iter_rows(min_row=2)]
    assert evidence[0][2:5] == ["Governing Law", "California", True]
    assert evidence[0][6] == 3
    assert evidence[0][10] == "governed by California"
    assert evidence[1][4] is False
    assert Table.model_validate_json(to_json(table)) == table


ZH_CONTRACT = (
    "技术服务合同\n\n本合同由甲方与乙方于2023年3月1日签订。\n\n第一条 合同期限\n"
    "本合同自2023年3月1日起生效，有效期为三年。期满后自动续期一年，除非任何一方在期满前三十日"
    "书面通知对方不再续期。\n\n第二条 责任限制\n乙方的赔偿责任总额不超过人民币500万元。\n\n"
    "第三条 争议解决\n本合同适用中华人民共和国法律。\n\n第四条 竞业限制\n"
    "乙方在合同期内不得从事与甲方相竞争的业务。\n"
)


def test_a_chinese_contract_gives_typed_values_and_clauses_naming_their_subject() -> None:
    doc = DocumentText(_chunks(ZH_CONTRACT, size=120, overlap=20), [0, 60])
    cells = deterministic_row("d1", "合同.pdf", DEFAULT_COLUMNS, doc).cells
    expected = {
        "Governing Law": "People's Republic of China",
        "Effective Date": "2023-03-01",
        "Expiration Date": "2026-03-01",
        "Renewal Term": "successive 1 year",
        "Notice Period To Terminate Renewal": "30 days",
        "Cap On Liability": "CNY 5,000,000",
        "Non-Compete": "Yes",
    }
    assert {c: cells[c].value for c in expected} == expected
    # "三十日书面通知" is termination wording, but this sentence is about renewal
    assert cells["Termination For Convenience"].value is None
    for cell in cells.values():
        if cell.value is not None:
            assert cell.char_start is not None
            assert cell.quote == doc.text[cell.char_start : cell.char_end]
            assert cell.page == (1 if cell.char_start < 60 else 2)
    assert cells["Non-Compete"].quote is not None
    assert "竞业限制" in cells["Non-Compete"].quote
