"""diff_clauses: unchanged, renumbered, added, removed, changed, moved; English and Chinese."""

from __future__ import annotations

from pipelines.clause_diff import ClauseChange, diff_clauses
from pipelines.clauses import split_clauses

OLD = """SUPPLY AGREEMENT

This Agreement is made between Alpha Inc. and Beta Ltd.

1. Definitions. Terms used in this Agreement have the meanings given below.

2. Term. The term of this Agreement is three (3) years from the Effective Date.

3. Payment. Buyer shall pay each invoice within thirty (30) days of receipt.

4. Confidentiality. Each party shall keep the other party's information secret.

5. Governing Law. This Agreement is governed by the laws of the State of New York.
"""


def _kinds(changes: list[ClauseChange]) -> list[tuple[str, str | None, str | None, bool]]:
    return [
        (c.kind, c.old.number if c.old else None, c.new.number if c.new else None, c.renumbered)
        for c in changes
    ]


def _diff(old: str, new: str) -> list[ClauseChange]:
    return diff_clauses(split_clauses(old), split_clauses(new))


def test_identical_versions_are_unchanged() -> None:
    changes = _diff(OLD, OLD)
    assert {c.kind for c in changes} == {"unchanged"}
    assert all(c.similarity == 1.0 and not c.renumbered for c in changes)
    assert len(changes) == 6


def test_clause_inserted_at_the_top_renumbers_the_rest() -> None:
    new = OLD
    for old_n, new_n in (("5", "6"), ("4", "5"), ("3", "4"), ("2", "3")):
        new = new.replace(f"\n{old_n}. ", f"\n{new_n}. ")
    new = new.replace(
        "1. Definitions.",
        "1. Anti-Bribery. Each party shall comply with anti-corruption laws.\n\n2. Definitions.",
    )
    changes = _diff(OLD, new)
    assert _kinds(changes) == [
        ("unchanged", None, None, False),
        ("added", None, "1", False),
        ("unchanged", "1", "2", True),
        ("unchanged", "2", "3", True),
        ("unchanged", "3", "4", True),
        ("unchanged", "4", "5", True),
        ("unchanged", "5", "6", True),
    ]


def test_deleted_clause_is_removed_after_its_predecessor() -> None:
    new = OLD.replace(
        "3. Payment. Buyer shall pay each invoice within thirty (30) days of receipt.\n\n", ""
    )
    changes = _diff(OLD, new)
    assert [c.kind for c in changes] == ["unchanged"] * 3 + ["removed"] + ["unchanged"] * 2
    removed = changes[3]
    assert removed.old is not None
    assert removed.old.number == "3"
    assert removed.new is None
    assert removed.similarity == 0.0


def test_numbers_in_the_text_make_a_change() -> None:
    new = OLD.replace("thirty (30) days", "sixty (60) days")
    changes = _diff(OLD, new)
    changed = [c for c in changes if c.kind != "unchanged"]
    assert len(changed) == 1
    assert changed[0].kind == "changed"
    assert changed[0].old is not None
    assert "thirty (30)" in changed[0].old.text
    assert changed[0].new is not None
    assert "sixty (60)" in changed[0].new.text
    assert 0.7 < changed[0].similarity < 1.0
    assert not changed[0].renumbered


def test_reword_shall_to_may_and_a_sentence_added() -> None:
    new = OLD.replace("Buyer shall pay", "Buyer may pay").replace(
        "State of New York.", "State of New York. The courts of New York have jurisdiction."
    )
    kinds = _kinds(_diff(OLD, new))
    assert [k for k in kinds if k[0] != "unchanged"] == [
        ("changed", "3", "3", False),
        ("changed", "5", "5", False),
    ]


def test_unrelated_replacement_is_removed_and_added() -> None:
    new = OLD.replace(
        "4. Confidentiality. Each party shall keep the other party's information secret.",
        "4. Force Majeure. Neither side is liable for delays caused by floods or war.",
    )
    kinds = [k for k in _kinds(_diff(OLD, new)) if k[0] != "unchanged"]
    assert sorted(kinds) == [("added", None, "4", False), ("removed", "4", None, False)]


def test_moved_clause_is_unchanged_and_renumbered() -> None:
    payment = "3. Payment. Buyer shall pay each invoice within thirty (30) days of receipt.\n\n"
    new = OLD.replace(payment, "").replace("\n4. ", "\n3. ").replace("\n5. ", "\n4. ")
    new += "\n" + payment.replace("3. ", "5. ")
    changes = _diff(OLD, new)
    assert {c.kind for c in changes} == {"unchanged"}
    moved = next(c for c in changes if c.new is not None and c.new.number == "5")
    assert moved.old is not None
    assert moved.old.number == "3"
    assert moved.renumbered
    assert changes[-1] is moved  # the new document's order


def test_line_wrapping_and_spacing_do_not_count() -> None:
    new = OLD.replace("of this Agreement is three", "of this Agreement\nis  three")
    assert {c.kind for c in _diff(OLD, new)} == {"unchanged"}


CN_OLD = """技术服务合同

第一条 服务内容
乙方为甲方提供数据处理服务。

第二条 服务期限
本合同期限为二年。

第三条 服务费用
甲方应于每季度结束后十五日内支付服务费用。

第四条 争议解决
争议提交甲方所在地人民法院诉讼解决。
"""


def test_chinese_insert_renumber_and_reword() -> None:
    new = (
        CN_OLD.replace("第四条 争议解决", "第五条 争议解决")
        .replace("第三条 服务费用", "第四条 服务费用")
        .replace("第二条 服务期限", "第三条 服务期限")
        .replace("十五日内", "三十日内")
        .replace("第一条 服务内容", "第一条 保密义务\n双方应当对商业秘密保密。\n\n第二条 服务内容")
    )
    assert _kinds(_diff(CN_OLD, new)) == [
        ("unchanged", None, None, False),
        ("added", None, "第一条", False),
        ("unchanged", "第一条", "第二条", True),
        ("unchanged", "第二条", "第三条", True),
        ("changed", "第三条", "第四条", True),
        ("unchanged", "第四条", "第五条", True),
    ]


def test_chinese_delete() -> None:
    new = CN_OLD.replace("第二条 服务期限\n本合同期限为二年。\n\n", "")
    kinds = [k for k in _kinds(_diff(CN_OLD, new)) if k[0] != "unchanged"]
    assert kinds == [("removed", "第二条", None, False)]


def test_every_clause_appears_once() -> None:
    new = OLD.replace("Buyer shall pay", "Buyer may pay").replace("2. Term.", "2. Duration.")
    old_clauses, new_clauses = split_clauses(OLD), split_clauses(new)
    changes = diff_clauses(old_clauses, new_clauses)
    assert [c.old for c in changes if c.old] == old_clauses
    assert [c.new for c in changes if c.new] == new_clauses


def test_empty_sides() -> None:
    clauses = split_clauses(OLD)
    assert {c.kind for c in diff_clauses([], clauses)} == {"added"}
    assert {c.kind for c in diff_clauses(clauses, [])} == {"removed"}
    assert diff_clauses([], []) == []


def test_clause_rewritten_under_its_heading_is_changed() -> None:
    new = OLD.replace(
        "5. Governing Law. This Agreement is governed by the laws of the State of New York.",
        "5. GOVERNING LAW. Delaware law governs any dispute arising out of this contract, "
        "without regard to conflict of laws principles.",
    )
    changes = [c for c in _diff(OLD, new) if c.kind != "unchanged"]
    assert [(c.kind, c.old.number if c.old else None) for c in changes] == [("changed", "5")]
    assert changes[0].similarity < 0.5  # paired by its heading, not by its words
    no_bonus = diff_clauses(split_clauses(OLD), split_clauses(new), heading_bonus=0.0)
    assert sorted(c.kind for c in no_bonus if c.kind != "unchanged") == ["added", "removed"]
