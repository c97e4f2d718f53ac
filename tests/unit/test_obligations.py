"""Key dates and obligations read from contract text (English and Chinese), with the
calendar dates they fall on and the sentences they come from."""

from __future__ import annotations

import json
from datetime import date

import pytest

from pipelines.contract_parties import defined_parties, party_of
from pipelines.obligations import ObligationFound, extract_obligations
from tests.devset import DEVSET

ENGLISH = (
    "MASTER SERVICES AGREEMENT. This Agreement is entered into as of March 1, 2022 (the "
    '"Effective Date") by and between Acme Inc. ("Acme") and Beta LLC ("Beta").\n'
    "The initial term of this Agreement shall be two (2) years from the Effective Date. "
    "Thereafter this Agreement shall automatically renew for successive one (1) year terms "
    "unless either party gives written notice at least ninety (90) days prior to the end of "
    "the then-current term.\n"
    "Beta shall pay all invoices within thirty (30) days after receipt of invoice. "
    "The license fee of $10,000 is due on or before June 30, 2022. "
    "Acme shall deliver a sales report within 45 days after the end of each calendar quarter. "
    "Beta may audit the books and records of Acme once per calendar year upon ten (10) days "
    "notice. Such audit shall be at Beta's expense."
)

CHINESE = (
    "技术服务合同\n甲方：上海某某科技有限公司\n乙方：北京某某信息技术有限公司\n"
    "本合同自2024年3月1日起生效。本合同期限为三年，期满后自动续期一年，依此类推。"
    "任何一方如不续约，应在合同期满前三十日书面通知对方。"
    "甲方应在收到乙方发票后三十日内支付服务费。"
    "乙方应在每季度结束后十五日内向甲方提交服务报告。"
    "甲方有权对乙方与本合同有关的账簿和记录进行审计，每年不超过一次。"
)


def _by_kind(found: list[ObligationFound]) -> dict[str, list[ObligationFound]]:
    kinds: dict[str, list[ObligationFound]] = {}
    for item in found:
        kinds.setdefault(item.kind, []).append(item)
    return kinds


def _quote(text: str, item: ObligationFound) -> str:
    return text[item.char_start : item.char_end]


def test_english_dates_and_obligations() -> None:
    found = extract_obligations(ENGLISH, today=date(2026, 11, 30))
    kinds = _by_kind(found)
    (effective,) = kinds["effective_date"]
    assert effective.due_date == date(2022, 3, 1)
    assert "March 1, 2022" in _quote(ENGLISH, effective)
    (expiration,) = kinds["expiration_date"]
    assert expiration.due_date == date(2024, 3, 1)
    assert "Effective Date 2022-03-01 + 2 years" in expiration.rule
    assert _quote(ENGLISH, expiration) == (
        "The initial term of this Agreement shall be two (2) years from the Effective Date."
    )
    (renewal,) = kinds["renewal"]
    assert renewal.due_date == date(2027, 3, 1)  # rolled past today by whole years
    assert "successive 1 year" in renewal.rule
    (notice,) = kinds["notice_deadline"]
    assert notice.due_date == date(2026, 12, 1)  # 2027-03-01 minus 90 days
    assert "90 days before the end of the term (2027-03-01)" in notice.rule
    assert _quote(ENGLISH, notice).startswith("Thereafter this Agreement shall")
    payments = kinds["payment_due"]
    by_invoice = next(p for p in payments if p.due_date is None)
    assert by_invoice.party == "Beta"
    assert by_invoice.rule == "payment within thirty (30) days after receipt of invoice"
    fixed = next(p for p in payments if p.due_date is not None)
    assert fixed.due_date == date(2022, 6, 30)
    (report,) = kinds["reporting"]
    assert (report.party, report.due_date) == ("Acme", date(2027, 2, 14))
    assert report.rule == "within 45 days after the end of each calendar quarter"
    (audit,) = kinds["audit"]  # the next sentence on the same audit is the same clause
    assert audit.party == "Beta"
    assert audit.rule == "audit of books and records, at most once a year, on 10 days notice"
    for item in found:
        quote = _quote(ENGLISH, item)
        assert quote
        assert quote == quote.strip()


def test_a_notice_deadline_already_past_moves_to_the_next_renewal() -> None:
    kinds = _by_kind(extract_obligations(ENGLISH, today=date(2026, 12, 15)))
    assert kinds["notice_deadline"][0].due_date == date(2027, 12, 2)  # 2028-03-01 - 90 days


def test_without_today_nothing_is_rolled_forward() -> None:
    kinds = _by_kind(extract_obligations(ENGLISH))
    assert kinds["renewal"][0].due_date == date(2024, 3, 1)
    assert kinds["notice_deadline"][0].due_date == date(2023, 12, 2)
    assert kinds["reporting"][0].due_date is None
    assert kinds["reporting"][0].rule == "within 45 days after the end of each calendar quarter"


def test_chinese_dates_and_obligations() -> None:
    found = extract_obligations(CHINESE, today=date(2026, 11, 30))
    kinds = _by_kind(found)
    assert kinds["effective_date"][0].due_date == date(2024, 3, 1)
    assert kinds["expiration_date"][0].due_date == date(2027, 3, 1)
    assert (
        _quote(CHINESE, kinds["expiration_date"][0])
        == "本合同期限为三年，期满后自动续期一年，依此类推。"
    )
    assert kinds["renewal"][0].due_date == date(2027, 3, 1)
    notice = kinds["notice_deadline"][0]
    assert notice.due_date == date(2027, 1, 30)
    assert _quote(CHINESE, notice) == "任何一方如不续约，应在合同期满前三十日书面通知对方。"
    payment = kinds["payment_due"][0]
    assert (payment.party, payment.due_date) == ("甲方", None)
    assert "三十日内" in payment.rule
    report = kinds["reporting"][0]
    assert (report.party, report.due_date) == ("乙方", date(2027, 1, 15))
    assert kinds["audit"][0].party == "甲方"


def test_a_perpetual_term_has_no_end_date() -> None:
    text = (
        "This Agreement is made as of May 5, 2010. This Agreement shall commence as of the "
        "Effective Date and shall continue unless and until terminated as provided herein."
    )
    kinds = _by_kind(extract_obligations(text, today=date(2026, 1, 1)))
    (expiration,) = kinds["expiration_date"]
    assert expiration.due_date is None
    assert "until terminated" in expiration.rule


def test_during_the_term_is_not_the_term() -> None:
    text = (
        "This Agreement is made as of April 7, 2017. During the term of this Agreement, "
        "Company shall notify Reseller within thirty (30) days of any change."
    )
    assert "expiration_date" not in _by_kind(extract_obligations(text))


def test_parties_are_the_defined_names_and_roles() -> None:
    parties = defined_parties(ENGLISH)
    assert parties[:2] == ("Acme", "Beta")
    assert party_of("Within two weeks, i-Escrow shall provide a report.", ("i-Escrow",)) == (
        "i-Escrow"
    )
    assert party_of("The Licensee shall pay royalties.") == "Licensee"
    assert party_of("Payment of the Royalty shall be made quarterly.") is None
    assert party_of("乙方应按时交付。") == "乙方"


def test_every_dev_contract_gives_well_formed_obligations() -> None:
    """On the 40 dev contracts: spans inside the text, and the expiration dates the CUAD
    gold states where our expiration sentence is the gold one (checked on three)."""
    path = DEVSET / "cuad_annotations.jsonl"
    if not path.exists():
        pytest.skip("dev set not available")
    expected = {
        "ICORECONNECTINC": date(2015, 7, 15),
        "CybergyHoldingsInc": date(2014, 12, 31),
        "NEXSTARFINANCEHOLDINGSINC": date(2008, 11, 28),
    }
    seen: dict[str, date | None] = {}
    kinds: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        text = (DEVSET / "cuad" / row["txt_path"]).read_text(encoding="utf-8", errors="replace")
        for item in extract_obligations(text, today=date(2026, 11, 30)):
            assert 0 <= item.char_start < item.char_end <= len(text)
            assert item.rule
            kinds.add(item.kind)
            prefix = next((p for p in expected if row["contract"].startswith(p)), None)
            if prefix and item.kind == "expiration_date":
                seen[prefix] = item.due_date
    assert seen == expected
    assert kinds == {
        "effective_date",
        "expiration_date",
        "renewal",
        "notice_deadline",
        "payment_due",
        "reporting",
        "audit",
    }
