"""The service benchmark's mapping of clause offsets (text read back from a PDF) onto the
gold text: by non-whitespace characters, in order, an unplaced reported clause counted
wrong and an unplaced unchanged one dropped."""

from __future__ import annotations

from benchmarks.version_diff_service import GoldMap, mapped

GOLD = "1. Term\n\nThe term is one year.\n\n2. Law\n\nNew York law.\n\n3. Notices\n\nIn writing."


def test_spans_map_by_non_whitespace_characters() -> None:
    gold = GoldMap(GOLD)
    assert gold.span("2. Law\nNew York\nlaw.") == (GOLD.index("2. Law"), GOLD.index(" law.") + 5)
    assert gold.span("nothing like it at all in the text, anywhere near") is None
    assert gold.missed == 1


def test_mapped_changes_carry_gold_offsets() -> None:
    def clause(text: str, at: int) -> dict[str, object]:
        return {"number": text[0], "heading": "", "text": text, "char_start": at}

    changes = [
        {"kind": "unchanged", "similarity": 1.0, "renumbered": False,
         "old": clause("1. Term\nThe term is one year.", 0),
         "new": clause("1. Term\nThe term is one year.", 0)},
        {"kind": "changed", "similarity": 0.7, "renumbered": False,
         "old": clause("2. Law\nNew York law.", 30), "new": clause("2. Law\nOhio law.", 30)},
        {"kind": "unchanged", "similarity": 1.0, "renumbered": False,
         "old": clause("9. Missing\nnot in the gold text at all, anywhere", 50),
         "new": clause("9. Missing\nnot in the gold text at all, anywhere", 50)},
        {"kind": "added", "similarity": 0.0, "renumbered": False,
         "old": None, "new": clause("4. Extra\nnot in the gold text either, anywhere", 60)},
    ]  # fmt: skip
    new_gold = GOLD.replace("New York", "Ohio")
    out = mapped(changes, GOLD, new_gold)
    assert [c.kind for c in out] == ["unchanged", "changed", "added"]
    law = out[1]
    assert law.old is not None
    assert law.new is not None
    assert GOLD[law.old.char_start : law.old.char_end] == "2. Law\n\nNew York law."
    assert new_gold[law.new.char_start : law.new.char_end] == "2. Law\n\nOhio law."
    assert out[2].new is not None
    assert (out[2].new.char_start, out[2].new.char_end) == (-1, -1)  # unplaced: counted wrong
