"""The review page's word diff (services/api/review/worddiff.js), run in node: the old text
is its "same" and "del" parts, the new text its "same" and "add" parts, and only the words
that changed are marked (Chinese by character)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from services.api.review import REVIEW_DIR

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node not installed")


def _diff(old: str, new: str) -> list[dict[str, str]]:
    script = (
        f"import {{ wordDiff }} from {json.dumps((REVIEW_DIR / 'worddiff.js').as_uri())};"
        f"console.log(JSON.stringify(wordDiff({json.dumps(old)}, {json.dumps(new)})));"
    )
    assert NODE
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", script], capture_output=True, text=True, check=True
    )
    parts: list[dict[str, str]] = json.loads(done.stdout)
    return parts


@pytest.mark.parametrize(
    ("old", "new", "deleted", "added"),
    [
        (
            "The term is one (1) year from the Effective Date.",
            "The term is two (2) years from the Effective Date.",
            ["one", "1", "year"],
            ["two", "2", "years"],
        ),
        (
            "本合同受中华人民共和国法律管辖。",
            "本合同受香港法律管辖。",
            ["中华人民共和国"],
            ["香港"],
        ),
        ("Notice: 30 days.", "Notice: 30 days.", [], []),
        ("exceed USD 500,000.", "exceed USD 1,000,000.", ["500,000"], ["1,000,000"]),
        ("", "A new clause.", [], ["A new clause."]),
    ],
)
def test_word_diff(old: str, new: str, deleted: list[str], added: list[str]) -> None:
    parts = _diff(old, new)
    assert "".join(p["text"] for p in parts if p["op"] != "add") == old
    assert "".join(p["text"] for p in parts if p["op"] != "del") == new
    assert [p["text"] for p in parts if p["op"] == "del"] == deleted
    assert [p["text"] for p in parts if p["op"] == "add"] == added


def test_long_texts_fall_back_to_one_change() -> None:
    old = " ".join(f"w{i}" for i in range(2500))
    new = " ".join(f"v{i}" for i in range(2500))
    parts = _diff("Same start. " + old, "Same start. " + new)
    assert parts[0] == {"op": "same", "text": "Same start. "}
    assert [p["op"] for p in parts[1:]] == ["del", "add"]
