"""The bilingual clause/topic lexicon: coverage of CUAD and the risk taxonomy, shape of each
entry, and which categories a free-text query refers to."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from pipelines.clause_terms import (
    BY_ID,
    CLAUSE_TERMS,
    ClauseTerms,
    lookup,
    match_categories,
)
from pipelines.risk_taxonomy import categories

CUAD_CSV = (
    Path(__file__).resolve().parents[2].parent / "shared/data/devset/cuad_category_descriptions.csv"
)
_CJK = re.compile(r"[\u3400-\u9fff]")
TOPICS = [
    "Revenue",
    "Net Profit",
    "Capital Expenditure",
    "Cash Flow",
    "Total Assets",
    "Dividends",
    "Earnings Per Share",
    "Non-performing Loans",
    "Capital Adequacy",
    "Provision Coverage",
]


def _cuad_categories() -> list[str]:
    with CUAD_CSV.open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    return [row[0].removeprefix("Category:").strip() for row in rows[1:] if row]


def test_every_cuad_category_has_an_entry_under_its_exact_name() -> None:
    if not CUAD_CSV.exists():
        pytest.skip("dev set not present")
    cuad = _cuad_categories()
    assert len(cuad) == 41
    assert set(cuad) <= set(BY_ID)
    contract_ids = {terms.id for terms in CLAUSE_TERMS if terms.kind == "contract"}
    assert contract_ids == set(cuad)


def test_every_risk_taxonomy_category_has_an_entry() -> None:
    # Matched case-insensitively: the annotations write "Cap On Liability" where the csv
    # and risk_taxonomy write "Cap on Liability"; `lookup` folds case for that reason.
    for kind in ("contract", "annual_report"):
        for category in categories(kind):
            terms = lookup(category.id)
            assert terms is not None, category.id
            assert terms.kind == kind


def test_annual_report_topics_are_present() -> None:
    for topic in TOPICS:
        assert BY_ID[topic].kind == "annual_report"


def test_lookup_folds_case() -> None:
    assert lookup("Cap On Liability") is BY_ID["Cap on Liability"]
    assert lookup(" ip ownership assignment ") is BY_ID["IP Ownership Assignment"]
    assert lookup("no such clause") is None


@pytest.mark.parametrize("terms", CLAUSE_TERMS, ids=lambda terms: terms.id)
def test_entry_shape(terms: ClauseTerms) -> None:
    assert len(terms.names) >= 2
    assert any(_CJK.search(name) for name in terms.names), "needs a Chinese name"
    assert any(not _CJK.search(name) for name in terms.names), "needs an English name"
    assert len(terms.phrases_en) + len(terms.phrases_zh) >= 3
    assert terms.phrases_en
    assert terms.phrases_zh
    assert terms.headings
    assert all(phrase == phrase.lower() for phrase in terms.phrases_en + terms.headings)
    assert all(name == name.lower() for name in terms.names)
    assert all(_CJK.search(phrase) for phrase in terms.phrases_zh)
    assert not any(_CJK.search(phrase) for phrase in terms.phrases_en)
    for field in (terms.names, terms.phrases_en, terms.phrases_zh, terms.headings):
        assert len(set(field)) == len(field), f"duplicate in {field}"


def test_ids_are_unique_and_names_are_not_shared() -> None:
    assert len(BY_ID) == len(CLAUSE_TERMS)
    counts = Counter(re.sub(r"[\s-]+", " ", name) for terms in CLAUSE_TERMS for name in terms.names)
    # "affiliate license" names both affiliate-license categories on purpose: ambiguous.
    assert {name for name, count in counts.items() if count > 1} == {"affiliate license"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Which contracts have a non-compete?", ["Non-Compete"]),
        ("Is there a noncompetition covenant?", ["Non-Compete"]),
        ("合同的适用法律是什么", ["Governing Law"]),
        ("What is the governing law of this agreement?", ["Governing Law"]),
        ("termination for convenience", ["Termination for Convenience"]),
        ("Can the customer terminate without cause?", ["Termination for Convenience"]),
        ("乙方能否无故解除合同？", ["Termination for Convenience"]),
        ("What was the capital expenditure in FY2022?", ["Capital Expenditure"]),
        ("Is there a cap on liability?", ["Cap on Liability"]),
        ("no cap on liability", ["Uncapped Liability"]),
        ("Does the licensee get a non-transferable licence?", ["Non-Transferable License"]),
        ("notice period to terminate renewal", ["Notice Period to Terminate Renewal"]),
        ("Does it renew automatically? automatic renewal", ["Renewal Term"]),
        ("revenue sharing with the distributor", ["Revenue/Profit Sharing"]),
        ("Is there a most favoured nation clause?", ["Most Favored Nation"]),
        ("right of first refusal", ["Rofr/Rofo/Rofn"]),
        ("竞业限制条款有哪些", ["Non-Compete"]),
        ("知识产权归属", ["IP Ownership Assignment"]),
        ("被许可方的关联公司能否使用", ["Affiliate License-Licensee"]),
        ("Affiliate License-Licensor", ["Affiliate License-Licensor"]),
        ("Cap On Liability", ["Cap on Liability"]),
        ("Parties", ["Parties"]),
        ("Insurance requirements for the supplier", ["Insurance"]),
        ("公司的营业收入是多少", ["Revenue"]),
        ("2022年归属于上市公司股东的净利润", ["Net Profit"]),
        ("不良贷款率和拨备覆盖率", ["Non-performing Loans", "Provision Coverage"]),
        ("What is the net income and diluted EPS?", ["Earnings Per Share", "Net Profit"]),
        ("汇率风险", ["FX Exposure"]),
        ("substantial doubt about going concern", ["Going Concern"]),
        ("What are the related party transactions?", ["Related-Party Transactions"]),
        ("net cash provided by operating activities, i.e. operating cash flow", ["Cash Flow"]),
        ("资本充足率是多少", ["Capital Adequacy"]),
        # Analysts' ratios name the statements their inputs are on, not "利率" in 毛利率.
        ("What is the gross margin?", ["Gross Margin"]),
        ("毛利率是多少", ["Gross Margin"]),
        ("Has the quick ratio improved since FY2022?", ["Liquidity Ratios"]),
        ("Did Pfizer grow its PPNE between FY20 and FY21?", ["Property, Plant and Equipment"]),
    ],
)
def test_match_categories(query: str, expected: list[str]) -> None:
    assert [terms.id for terms in match_categories(query)] == expected


@pytest.mark.parametrize(
    "query",
    [
        "payment terms",
        "合并报表范围",
        "Who signed on behalf of the company?",
        "summarise this document",
        "风险",
    ],
)
def test_queries_that_name_no_category(query: str) -> None:
    assert match_categories(query) == []


def test_most_specific_first_without_duplicates() -> None:
    query = "after termination for convenience, is there termination for convenience?"
    assert [terms.id for terms in match_categories(query)] == [
        "Termination for Convenience",
        "Post-Termination Services",
    ]
    assert "Governing Law" not in [terms.id for terms in match_categories("payment terms")]
    assert match_categories("non-compete 竞业禁止") == [BY_ID["Non-Compete"]]
