"""The clause diff benchmark's pairs: specs rebuild deterministically into texts whose
differences are exactly the gold changes."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from benchmarks.version_diff import score
from benchmarks.version_pairs import build_pair, load_pairs
from benchmarks.version_text import CHINESE, CUAD_TXT, render, shift_label
from pipelines.clause_diff import diff_clauses
from pipelines.clauses import split_clauses

PAIRS = load_pairs()
CHINESE_PAIRS = [p for p in PAIRS if p["contract"] == CHINESE]


def _dense(text: str) -> str:
    return re.sub(r"\s+|Page \d+", "", text)


def test_committed_set_covers_every_edit_type() -> None:
    types = Counter(p["type"] for p in PAIRS)
    assert set(types) == {
        "insert", "delete", "reword", "rewrite", "renumber", "replace", "relabel", "mixed",
        "substitute",
    }  # fmt: skip
    assert len(CHINESE_PAIRS) >= 2
    assert len({p["id"] for p in PAIRS}) == len(PAIRS)


@pytest.mark.parametrize("spec", CHINESE_PAIRS, ids=[p["id"] for p in CHINESE_PAIRS])
def test_chinese_pairs_rebuild_and_gold_spans_hold_the_edits(spec: dict[str, object]) -> None:
    old, new, gold = build_pair(spec)
    assert build_pair(spec) == (old, new, gold)  # deterministic
    assert old != new
    assert gold.changes
    for change in gold.changes:
        if change.kind == "added" and change.new:
            assert _dense(new[change.new[0] : change.new[1]]) not in _dense(old)
        if change.kind == "removed" and change.old:
            assert _dense(old[change.old[0] : change.old[1]]) not in _dense(new)
        if change.kind == "changed" and change.old and change.new:
            assert old[change.old[0] : change.old[1]] != new[change.new[0] : change.new[1]]
    tally = score(diff_clauses(split_clauses(old), split_clauses(new)), gold)
    assert tally.found == tally.gold


def test_chinese_renumber_pair_shifts_every_article() -> None:
    spec = next(p for p in CHINESE_PAIRS if p["type"] == "renumber")
    old, new, gold = build_pair(spec)
    assert [c.kind for c in gold.changes] == ["added"]
    assert "第十三条" in new
    assert "第十三条" not in old
    changes = diff_clauses(split_clauses(old), split_clauses(new))
    assert [c.kind for c in changes].count("added") == 1
    shifted = [c for c in changes if c.renumbered]
    assert len(shifted) == 12
    assert all(c.kind == "unchanged" for c in shifted)


def test_render_adds_page_footers_outside_paragraph_spans() -> None:
    text, spans = render(["word " * 30] * 4, page_lines=3)
    assert re.findall(r"Page \d", text) == ["Page 1", "Page 2"]
    for start, end in spans:
        assert text[start:end].startswith("word")
        assert text[start:end].endswith("word")
    assert "Page 1" in text[spans[1][0] : spans[1][1]]  # a footer inside a paragraph


def test_shift_label() -> None:
    assert shift_label("5. Term. The term", 5, 1) == "6. Term. The term"
    assert shift_label("5.2 Notice", 5, 1) == "6.2 Notice"
    assert shift_label("4. Payment", 5, 1) == "4. Payment"
    assert shift_label("ARTICLE IX Term", 1, 1) == "ARTICLE X Term"
    assert shift_label("第九条 违约责任", 1, 2) == "第十一条 违约责任"
    assert shift_label("50 Catoctin Circle", 1, 1) == "50 Catoctin Circle"


@pytest.mark.skipif(not CUAD_TXT.is_dir(), reason="dev set not present")
def test_every_english_spec_rebuilds() -> None:
    for spec in PAIRS[::7]:
        old, new, gold = build_pair(spec)
        if spec["type"] == "relabel":
            assert not gold.changes
            assert old != new
        else:
            assert gold.changes, spec["id"]
