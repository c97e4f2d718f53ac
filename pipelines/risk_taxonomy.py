"""Risk categories the extractor asks for: contracts (CUAD names) and annual reports.

Contract category ids are the exact CUAD category names (`cuad_category_descriptions.csv`)
so that a benchmark can score findings per category. Each category has a description for
the prompt, default severity guidance and a retrieval query with English and Chinese
terms (used to find candidate passages of documents too long for one prompt). Categories
are asked in groups (`group`): one request per group for a long document.
The categories themselves are data: `pipelines/data/risk_taxonomy.json` (per kind, in
order). `docs/risk_taxonomy.md` is generated from this module (`render_markdown`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal, get_args

DocumentKind = Literal["contract", "annual_report"]
Severity = Literal["high", "medium", "low"]

ContractCategoryId = Literal[
    "Uncapped Liability",
    "Cap on Liability",
    "Liquidated Damages",
    "Warranty Duration",
    "Insurance",
    "Covenant Not to Sue",
    "Termination for Convenience",
    "Renewal Term",
    "Notice Period to Terminate Renewal",
    "Post-Termination Services",
    "Change of Control",
    "Anti-Assignment",
    "Non-Transferable License",
    "Non-Compete",
    "Exclusivity",
    "No-Solicit of Customers",
    "No-Solicit of Employees",
    "Non-Disparagement",
    "Competitive Restriction Exception",
    "Rofr/Rofo/Rofn",
    "Most Favored Nation",
    "Minimum Commitment",
    "Revenue/Profit Sharing",
    "Price Restrictions",
    "Volume Restriction",
    "Audit Rights",
    "IP Ownership Assignment",
    "Joint IP Ownership",
    "Irrevocable or Perpetual License",
    "Unlimited/All-You-Can-Eat-License",
    "Source Code Escrow",
    "Governing Law",
    "Third Party Beneficiary",
]
AnnualReportCategoryId = Literal[
    "Liquidity",
    "Going Concern",
    "FX Exposure",
    "Interest Rate Exposure",
    "Customer Concentration",
    "Supplier Concentration",
    "Related-Party Transactions",
    "Litigation",
    "Impairment",
    "Regulatory",
]


@dataclass(frozen=True)
class RiskCategory:
    """One kind of risk: `id` is also its label (the CUAD name for contracts)."""

    id: str
    kind: DocumentKind
    group: str
    description: str
    severity: str
    """Default severity guidance, given to the model."""
    query: str
    """Retrieval query (English and Chinese terms) for candidate passages."""


@cache
def _data() -> dict[str, list[dict[str, str]]]:
    """`data/risk_taxonomy.json` (shipped as package data), read once."""
    text = resources.files("pipelines").joinpath("data/risk_taxonomy.json").read_text("utf-8")
    data: dict[str, list[dict[str, str]]] = json.loads(text)
    return data


def _load(kind: DocumentKind) -> tuple[RiskCategory, ...]:
    """The categories of `kind` in `data/risk_taxonomy.json`, in file order."""
    return tuple(
        RiskCategory(e["id"], kind, e["group"], e["description"], e["severity"], e["query"])
        for e in _data()[kind]
    )


CONTRACT_CATEGORIES: tuple[RiskCategory, ...] = _load("contract")
ANNUAL_REPORT_CATEGORIES: tuple[RiskCategory, ...] = _load("annual_report")

_ALL = {"contract": CONTRACT_CATEGORIES, "annual_report": ANNUAL_REPORT_CATEGORIES}
_IDS: dict[DocumentKind, tuple[str, ...]] = {
    "contract": get_args(ContractCategoryId),
    "annual_report": get_args(AnnualReportCategoryId),
}


def categories(kind: DocumentKind) -> tuple[RiskCategory, ...]:
    """The categories asked of a document of `kind`, in taxonomy order."""
    return _ALL[kind]


def category_ids(kind: DocumentKind) -> tuple[str, ...]:
    """The ids the model may answer with (the Literal of its reply schema)."""
    return _IDS[kind]


def groups(kind: DocumentKind) -> list[tuple[str, list[RiskCategory]]]:
    """Categories of `kind` by group, groups in order of first appearance."""
    out: dict[str, list[RiskCategory]] = {}
    for category in _ALL[kind]:
        out.setdefault(category.group, []).append(category)
    return list(out.items())


def render_markdown() -> str:
    """The text of `docs/risk_taxonomy.md`."""
    lines = [
        "# Risk taxonomy",
        "",
        "Generated from `pipelines/data/risk_taxonomy.json` by",
        "`python -m pipelines.risk_taxonomy`; `tests/unit/test_risks.py` fails when the two",
        "differ. Contract ids are CUAD category names. One request per group when a document",
        "is too long for one prompt.",
    ]
    titles = {"contract": "Contracts", "annual_report": "Annual reports"}
    for kind, title in titles.items():
        lines += [
            "",
            f"## {title}",
            "",
            "| Category | Group | Description | Severity | Retrieval query |",
            "|---|---|---|---|---|",
        ]
        for c in _ALL[kind]:
            lines.append(f"| {c.id} | {c.group} | {c.description} | {c.severity} | {c.query} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
