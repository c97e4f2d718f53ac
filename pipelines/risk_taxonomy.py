"""Risk categories the extractor asks for: contracts (CUAD names) and annual reports.

Contract category ids are the exact CUAD category names (`cuad_category_descriptions.csv`)
so that a benchmark can score findings per category. Each category has a description for
the prompt, default severity guidance and a retrieval query with English and Chinese
terms (used to find candidate passages of documents too long for one prompt). Categories
are asked in groups (`group`): one request per group for a long document.
`docs/risk_taxonomy.md` is generated from this module (`render_markdown`).
"""

from __future__ import annotations

from dataclasses import dataclass
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


def _c(id_: str, group: str, description: str, severity: str, query: str) -> RiskCategory:
    return RiskCategory(id_, "contract", group, description, severity, query)


def _a(id_: str, group: str, description: str, severity: str, query: str) -> RiskCategory:
    return RiskCategory(id_, "annual_report", group, description, severity, query)


CONTRACT_CATEGORIES: tuple[RiskCategory, ...] = (
    _c(
        "Uncapped Liability",
        "liability",
        "A party's liability is uncapped for breach, or for a type of breach (IP "
        "infringement, confidentiality, indemnity carve-outs from the cap).",
        "high when it falls on the reader's side; medium when mutual",
        "unlimited liability uncapped indemnify gross negligence exclusion from limitation "
        "无限责任 不受限制 赔偿责任",
    ),
    _c(
        "Cap on Liability",
        "liability",
        "Liability is capped at an amount, or claims must be brought within a time limit.",
        "medium when the cap is low against the contract value; low otherwise",
        "limitation of liability shall not exceed aggregate liability cap consequential "
        "damages 责任上限 赔偿总额不超过 间接损失",
    ),
    _c(
        "Liquidated Damages",
        "liability",
        "Liquidated damages for breach, or a fee on termination (termination fee).",
        "high when large or one-sided; medium otherwise",
        "liquidated damages termination fee penalty 违约金 赔偿金 解约费",
    ),
    _c(
        "Warranty Duration",
        "liability",
        "How long a warranty against defects or errors in products or services lasts.",
        "medium when short or disclaimed; low otherwise",
        "warranty period warrants defects months from delivery 质保期 保修期 质量保证",
    ),
    _c(
        "Insurance",
        "liability",
        "A party must maintain insurance for the counterparty's benefit.",
        "low; medium when coverage amounts are high or uncommon",
        "insurance maintain coverage insured policy additional insured 保险 投保 保险金额",
    ),
    _c(
        "Covenant Not to Sue",
        "liability",
        "A party may not contest the counterparty's IP ownership or bring unrelated claims.",
        "medium",
        "covenant not to sue shall not contest challenge validity 不得起诉 不得质疑",
    ),
    _c(
        "Termination for Convenience",
        "term",
        "A party can terminate without cause, by notice and a waiting period.",
        "high when the counterparty may terminate at will; medium when mutual",
        "terminate for convenience without cause upon notice at any time 无故解除 "
        "提前通知解除 随时解除",
    ),
    _c(
        "Renewal Term",
        "term",
        "The renewal term after the initial term, including automatic renewal.",
        "medium for automatic renewal; low otherwise",
        "automatically renew renewal term successive periods extend 自动续期 续约 续展",
    ),
    _c(
        "Notice Period to Terminate Renewal",
        "term",
        "The notice needed to stop the contract from renewing.",
        "medium when long (90 days or more); low otherwise",
        "notice of non-renewal days prior to expiration terminate renewal "
        "不续约通知 期满前 提前通知",
    ),
    _c(
        "Post-Termination Services",
        "term",
        "Obligations after termination or expiry: transition, payment, wind-down, last buy.",
        "medium",
        "upon termination survive transition wind-down after expiration obligations "
        "终止后 过渡期 存续条款",
    ),
    _c(
        "Change of Control",
        "assignment",
        "Termination right, consent or notice when a party undergoes a change of control "
        "(merger, sale of stock or substantially all assets).",
        "high",
        "change of control merger acquisition substantially all assets 控制权变更 合并 收购",
    ),
    _c(
        "Anti-Assignment",
        "assignment",
        "Consent or notice is needed to assign the contract to a third party.",
        "medium; low when mutual and usual",
        "assign transfer without prior written consent assignment void 转让 未经同意 不得转让",
    ),
    _c(
        "Non-Transferable License",
        "assignment",
        "The licensee may not transfer the licence to a third party.",
        "low",
        "non-transferable license may not sublicense transfer 不可转让许可 不得转授权",
    ),
    _c(
        "Non-Compete",
        "competition",
        "A party may not compete with the counterparty, or operate in a geography, business "
        "or technology sector.",
        "high",
        "non-compete shall not compete competing business territory 竞业限制 不得竞争 同业竞争",
    ),
    _c(
        "Exclusivity",
        "competition",
        "Exclusive dealing: all requirements from one party, or no selling or licensing to, "
        "or working with, others.",
        "high when it binds the reader; medium otherwise",
        "exclusive exclusively sole supplier requirements shall not sell to third parties "
        "独家 排他 专属",
    ),
    _c(
        "No-Solicit of Customers",
        "competition",
        "A party may not solicit or contract with the counterparty's customers or partners.",
        "medium",
        "not solicit customers clients partners 不得招揽客户",
    ),
    _c(
        "No-Solicit of Employees",
        "competition",
        "A party may not solicit or hire the counterparty's employees or contractors.",
        "low; medium when long",
        "not solicit hire employees personnel 不得招聘员工 挖角",
    ),
    _c(
        "Non-Disparagement",
        "competition",
        "A party may not disparage the counterparty.",
        "low",
        "disparage disparaging remarks reputation 不得诋毁 贬损",
    ),
    _c(
        "Competitive Restriction Exception",
        "competition",
        "Exceptions or carve-outs to non-compete, exclusivity and no-solicit clauses.",
        "low",
        "notwithstanding exception shall not restrict carve-out 例外 除外",
    ),
    _c(
        "Rofr/Rofo/Rofn",
        "competition",
        "A right of first refusal, first offer or first negotiation.",
        "medium",
        "right of first refusal first offer first negotiation 优先购买权 优先谈判权",
    ),
    _c(
        "Most Favored Nation",
        "commercial",
        "If a third party gets better terms, the buyer is entitled to them too.",
        "medium",
        "most favored nation more favorable terms pricing no less favorable 最惠 最优惠待遇",
    ),
    _c(
        "Minimum Commitment",
        "commercial",
        "A minimum order size, amount or units per period that a party must buy.",
        "high when a shortfall must be paid; medium otherwise",
        "minimum purchase minimum order commitment shortfall take or pay 最低采购量 最低订购 保底",
    ),
    _c(
        "Revenue/Profit Sharing",
        "commercial",
        "A party must share revenue or profit with the counterparty.",
        "medium",
        "revenue share profit sharing royalty percentage of net sales 收益分成 利润分成 "
        "特许权使用费",
    ),
    _c(
        "Price Restrictions",
        "commercial",
        "A party may not raise or reduce prices.",
        "medium",
        "price increase shall not raise prices fixed price adjustment 价格调整 不得涨价",
    ),
    _c(
        "Volume Restriction",
        "commercial",
        "A fee increase or consent is needed when use exceeds a threshold.",
        "medium",
        "exceeds threshold additional fees usage limit volume cap 超出用量 额外费用",
    ),
    _c(
        "Audit Rights",
        "commercial",
        "A party may audit the counterparty's books, records or premises.",
        "low; medium when costs fall on the audited party",
        "audit inspect books and records examination 审计 查账 检查账簿",
    ),
    _c(
        "IP Ownership Assignment",
        "ip",
        "IP created by one party becomes the counterparty's property.",
        "high when the reader gives up IP; medium otherwise",
        "intellectual property shall vest assign all right title and interest work "
        "product 知识产权归属 转让 归甲方所有",
    ),
    _c(
        "Joint IP Ownership",
        "ip",
        "Joint or shared ownership of intellectual property.",
        "medium",
        "jointly owned joint ownership intellectual property 共同所有 共有知识产权",
    ),
    _c(
        "Irrevocable or Perpetual License",
        "ip",
        "A licence grant that is irrevocable or perpetual.",
        "medium",
        "irrevocable perpetual license royalty-free 不可撤销 永久许可",
    ),
    _c(
        "Unlimited/All-You-Can-Eat-License",
        "ip",
        "An enterprise, all-you-can-eat or unlimited usage licence.",
        "low",
        "unlimited enterprise license unlimited number of users 无限制使用 企业许可",
    ),
    _c(
        "Source Code Escrow",
        "ip",
        "Source code deposited in escrow, released on bankruptcy or similar events.",
        "low",
        "source code escrow deposit release bankruptcy 源代码托管",
    ),
    _c(
        "Governing Law",
        "general",
        "Which state's or country's law governs the contract.",
        "low; medium when a foreign law or forum applies to the reader",
        "governed by the laws of jurisdiction venue courts 适用法律 管辖 争议解决",
    ),
    _c(
        "Third Party Beneficiary",
        "general",
        "A non-party may enforce some or all clauses.",
        "low",
        "third party beneficiary no third party rights enforce 第三方受益人",
    ),
)

ANNUAL_REPORT_CATEGORIES: tuple[RiskCategory, ...] = (
    _a(
        "Liquidity",
        "financial",
        "Shortage of cash or funding, debt maturities, covenant breaches.",
        "high when funding is uncertain; medium otherwise",
        "liquidity risk cash flow borrowings debt maturity covenant 流动性风险 现金流 "
        "短期借款 偿债",
    ),
    _a(
        "Going Concern",
        "financial",
        "Substantial doubt about the ability to continue as a going concern.",
        "high",
        "going concern substantial doubt continue operations 持续经营 重大不确定性",
    ),
    _a(
        "FX Exposure",
        "financial",
        "Exposure to foreign-exchange rate movements.",
        "medium; high when large and unhedged",
        "foreign exchange currency risk exchange rate hedging 汇率风险 外汇 汇兑损失",
    ),
    _a(
        "Interest Rate Exposure",
        "financial",
        "Exposure to interest-rate movements on debt or assets.",
        "medium",
        "interest rate risk floating rate borrowings 利率风险 浮动利率",
    ),
    _a(
        "Impairment",
        "financial",
        "Impairment of goodwill, assets, receivables or inventory.",
        "medium; high when material to earnings",
        "impairment goodwill write-down allowance for doubtful accounts 减值 商誉减值 "
        "资产减值 坏账准备",
    ),
    _a(
        "Customer Concentration",
        "operational",
        "Dependence on a few customers for revenue.",
        "medium; high when one customer is a large share",
        "major customers concentration percentage of revenue largest customer "
        "客户集中 前五名客户 主要客户",
    ),
    _a(
        "Supplier Concentration",
        "operational",
        "Dependence on a few suppliers.",
        "medium",
        "sole supplier concentration major suppliers single source 供应商集中 前五名供应商",
    ),
    _a(
        "Related-Party Transactions",
        "legal",
        "Transactions with related parties, guarantees to them, funds they hold.",
        "medium; high when large or off-market",
        "related party transactions controlling shareholder guarantee 关联交易 关联方 "
        "控股股东 担保",
    ),
    _a(
        "Litigation",
        "legal",
        "Pending or threatened lawsuits, arbitration, investigations.",
        "medium; high when material",
        "litigation legal proceedings lawsuit arbitration contingencies 诉讼 仲裁 未决诉讼",
    ),
    _a(
        "Regulatory",
        "legal",
        "Regulatory change, penalties, licences, compliance.",
        "medium",
        "regulatory compliance penalty government regulation policy 监管 行政处罚 政策风险 合规",
    ),
)

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
        "Generated from `pipelines/risk_taxonomy.py` by `python -m pipelines.risk_taxonomy`;",
        "`tests/unit/test_risks.py` fails when the two differ. Contract ids are CUAD",
        "category names. One request per group when a document is too long for one prompt.",
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
