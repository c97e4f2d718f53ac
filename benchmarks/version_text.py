"""Texts of the version pairs: base paragraphs, rendering, edit operations, and PDFs.

`benchmarks.version_pairs` documents the operations; this module applies them.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pipelines.clauses import clause_number

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "version_pairs"
CUAD_TXT = REPO_ROOT.parent / "shared" / "data" / "devset" / "cuad" / "full_contract_txt"
CHINESE = "zh:chinese_contract.txt"
WIDTH = 90
PAGE_LINES = 50
_CJK = re.compile(r"[\u3400-\u9fff]")
_PREFIX = r"((?:ARTICLE|Article|SECTION|Section|CLAUSE|Clause)\s+)?"
_DIGIT = re.compile(rf"^{_PREFIX}(\d{{1,2}})(?=[.)\s(]|$)")
_ROMAN = re.compile(rf"^{_PREFIX}([IVX]{{1,6}})(?=[.\s]|$)")
_CHINESE = re.compile(r"^(第)([一二三四五六七八九十]{1,3})(?=条)")
_ROMANS: tuple[tuple[str, int], ...] = (
    ("M", 1000), ("CM", 900), ("D", 500), ("CD", 400), ("C", 100), ("XC", 90), ("L", 50),
    ("XL", 40), ("X", 10), ("IX", 9), ("V", 5), ("IV", 4), ("I", 1),
)  # fmt: skip
_DIGITS_CN = "零一二三四五六七八九"


@dataclass
class Para:
    """A paragraph of a version being edited, with where it came from."""

    text: str
    origin: int | None = None  # index in the base, None for an inserted paragraph
    tag: int | None = None  # the insert operation that added it
    op: str = "insert"
    reworded: bool = False
    renumbered: bool = False


def base_paragraphs(contract: str) -> list[str]:
    """The base version's paragraphs: a CUAD TXT file name, or "zh:<file in DATA>"."""
    if contract.startswith("zh:"):
        raw = (DATA / contract[3:]).read_text(encoding="utf-8")
        return [p.strip() for p in re.split(r"\n\s*\n", raw) if p.strip()]
    raw = (CUAD_TXT / contract).read_text(encoding="utf-8")
    return [p.strip() for p in re.split(r"\n|\s{3,}", raw) if p.strip()]


def render(
    paragraphs: Sequence[str], page_lines: int | None = PAGE_LINES
) -> tuple[str, list[tuple[int, int]]]:
    """Paragraphs wrapped and joined by blank lines, with a "Page N" footer line and a
    blank line after every `page_lines` lines (as a PDF's text has); each paragraph's
    (start, end)."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    position = count = 0
    for paragraph in paragraphs:
        if spans:
            out.append("\n\n")
            position += 2
        start = end = position
        lines: list[str] = []
        for line in paragraph.split("\n"):
            width = WIDTH // 2 if _CJK.search(line) else WIDTH
            lines.extend(textwrap.wrap(line, width, break_on_hyphens=False) or [""])
        for k, line in enumerate(lines):
            piece = ("\n" if k else "") + line
            out.append(piece)
            position += len(piece)
            end = position
            count += 1
            if page_lines and count % page_lines == 0:
                footer = f"\nPage {count // page_lines}\n"
                out.append(footer)
                position += len(footer)
        spans.append((start, end))
    return "".join(out), spans


def strip_label(text: str) -> str:
    found = clause_number(text)
    return text[found[1] :].strip(" .") if found else text


def top_number(text: str) -> tuple[int, bool] | None:
    """The top-level clause number a paragraph starts with, and whether it is a
    top-level clause itself ("5." yes, "5.1" no)."""
    if clause_number(text) is None:
        return None
    for pattern, read in ((_DIGIT, int), (_ROMAN, _from_roman), (_CHINESE, _from_chinese)):
        m = pattern.match(text)
        if m:
            top = pattern is not _DIGIT or not re.match(r"\.\d|\s?\(", text[m.end() :])
            return read(m.group(2)), top
    return None


def shift_label(text: str, minimum: int, delta: int) -> str:
    """The paragraph with its top-level number moved by delta when it is >= minimum."""
    if clause_number(text) is None:
        return text
    for pattern, read, write in (
        (_DIGIT, int, str),
        (_ROMAN, _from_roman, _to_roman),
        (_CHINESE, _from_chinese, _to_chinese),
    ):
        m = pattern.match(text)
        if m:
            number = read(m.group(2))
            if number < minimum:
                return text
            return (m.group(1) or "") + write(number + delta) + text[m.end() :]
    return text


def label_like(template: str, number: int) -> str:
    """A label for clause `number` in the style of `template`'s ("Section 6.", "第六条")."""
    found = clause_number(template)
    if found is None:
        return f"{number}."
    label = template[: found[1]].strip()
    return shift_label(label, 0, number - (top_number(label) or (number, True))[0])


def apply_op(paras: list[Para], op: dict[str, Any], tag: int) -> list[int]:
    """Apply one operation in place; the base indices it deleted."""
    name = op["op"]
    if name == "insert":
        text = _insert_text(op)
        paras.insert(op["before"], Para(text, tag=tag, op=op.get("kind", "insert")))
    elif name == "delete":
        gone = paras[op["start"] : op["end"]]
        del paras[op["start"] : op["end"]]
        return [p.origin for p in gone if p.origin is not None]
    elif name == "reword":
        para = paras[op["para"]]
        found = clause_number(para.text)
        at = para.text.find(op["find"], found[1] if found else 0)
        if at < 0:
            raise ValueError(f"reword: {op['find']!r} not in paragraph {op['para']}")
        para.text = para.text[:at] + op["replace"] + para.text[at + len(op["find"]) :]
        para.reworded = para.origin is not None
        para.op = para.op if para.op == "substitute" else "reword"
    elif name == "substitute":  # the paragraph's text after its label, from elsewhere
        para = paras[op["para"]]
        found = clause_number(para.text)
        label = para.text[: found[1]].strip() if found else ""
        source = base_paragraphs(op["source"]["contract"])[op["source"]["para"]]
        para.text = f"{label} {strip_label(source)}".strip()
        para.reworded, para.op = para.origin is not None, "substitute"
    elif name == "renumber":
        for para in paras[op["from"] :]:
            shifted = shift_label(para.text, op["min"], op["delta"])
            if shifted != para.text:
                para.text, para.renumbered = shifted, True
    elif name == "relabel":
        for para in paras:
            para.text = re.sub(op["pattern"], op["repl"], para.text, count=1)
    else:
        raise ValueError(f"unknown operation {name!r}")
    return []


def _insert_text(op: dict[str, Any]) -> str:
    source = op["source"]
    if "pool" in source:
        item = pool()[source["pool"]][source["index"]]
        sep = "\n" if source["pool"] == "zh" else ". "
        return f"{op['label']} {item['title']}{sep}{item['body']}"
    return f"{op['label']} {strip_label(base_paragraphs(source['contract'])[source['para']])}"


@cache
def pool() -> dict[str, list[dict[str, str]]]:
    data: dict[str, list[dict[str, str]]] = json.loads(
        (DATA / "pool.json").read_text(encoding="utf-8")
    )
    return data


def _to_roman(number: int) -> str:
    out = ""
    for letters, value in _ROMANS:
        while number >= value:
            out, number = out + letters, number - value
    return out


def _from_roman(letters: str) -> int:
    values = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}
    total = 0
    for k, ch in enumerate(letters):
        value = values[ch]
        nxt = values[letters[k + 1]] if k + 1 < len(letters) else 0
        total += -value if value < nxt else value
    return total


def _to_chinese(number: int) -> str:
    tens, ones = divmod(number, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _DIGITS_CN[tens] + "十")
    return head + (_DIGITS_CN[ones] if ones or not head else "")


def _from_chinese(text: str) -> int:
    if "十" not in text:
        return _DIGITS_CN.index(text[-1])
    tens, _, ones = text.partition("十")
    return (_DIGITS_CN.index(tens) if tens else 1) * 10 + (_DIGITS_CN.index(ones) if ones else 0)


def _font(cjk: bool) -> tuple[str, int]:
    """A font file (and its index in a collection) that fc-match finds."""
    family = "Noto Sans CJK SC" if cjk else "DejaVu Sans"
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{file}|%{index}", family],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
        file, _, index = found.partition("|")
        if file and Path(file).exists():
            return file, int(index or 0)
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    fallback = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
    return (fallback, 2) if cjk else ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0)


def pdf_from_text(text: str, path: Path | str) -> Path:
    """Write `text` as a plain A4 PDF (one text line a line, blank lines kept)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    file, index = _font(bool(_CJK.search(text)))
    pdf.add_font("Body", fname=file, collection_font_number=index)
    pdf.set_font("Body", size=10)
    for line in text.split("\n"):
        if line.strip():
            pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.ln(5)
    out = Path(path)
    pdf.output(str(out))
    return out
