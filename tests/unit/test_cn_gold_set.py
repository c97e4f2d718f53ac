"""The Chinese annual-report gold set is well formed (no PDF read here: see
tests/adapters/test_cn_gold_set_pdf.py for the check against the page texts)."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
GOLD = REPO / "benchmarks" / "data" / "cn_annual_report_questions.jsonl"
PAGES = 296
FIELDS = {"id", "question", "page", "must_find", "type", "lang"}


def normalise(text: str) -> str:
    return re.sub(r"[\s|]+", "", unicodedata.normalize("NFKC", text))


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    with GOLD.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_enough_rows_and_unique_ids(rows: list[dict[str, Any]]) -> None:
    assert len(rows) >= 45
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids))


def test_fields_and_values(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        assert row.keys() >= FIELDS, row
        assert isinstance(row["page"], int), row
        assert 1 <= row["page"] <= PAGES, row
        assert row["type"] in {"figure", "text"}, row
        assert row["lang"] in {"zh", "en"}, row
        assert row["question"].strip(), row
        assert 6 <= len(normalise(row["must_find"])) <= 30, row
        assert normalise(row["must_find"]) not in normalise(row["question"]), row


def test_mix_of_types_and_languages(rows: list[dict[str, Any]]) -> None:
    zh = [row for row in rows if row["lang"] == "zh"]
    figures = sum(row["type"] == "figure" for row in zh)
    assert len(zh) >= 45
    assert 0.35 <= figures / len(zh) <= 0.65
    assert sum(row["lang"] == "en" for row in rows) >= 8
