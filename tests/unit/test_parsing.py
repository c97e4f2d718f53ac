"""Pure layout logic: normalisation, reading order, columns, tables, captions, OCR decision."""

from __future__ import annotations

from pipelines.page_lines import Char, upright
from pipelines.page_text import clean_ocr_text, is_cjk, needs_ocr, normalize_text
from pipelines.parsing import layout_page
from pipelines.table_layout import find_caption

PAGE_WIDTH = 600.0


def word_chars(text: str, x: float, top: float, size: float = 10.0) -> list[Char]:
    """Characters of `text` laid out left to right from (x, top); CJK glyphs are square."""
    chars = []
    for ch in text:
        width = size if is_cjk(ch) else size * 0.5
        chars.append(Char(ch, x, top, x + width, top + size))
        x += width
    return chars


def page(*lines: tuple[str, float, float]) -> list[Char]:
    chars: list[Char] = []
    for text, x, top in lines:
        chars += word_chars(text, x, top)
        chars.append(Char("\n", 0, 0, 0, 0))
    return chars


def test_normalize_folds_fullwidth_but_keeps_chinese_punctuation() -> None:
    assert normalize_text("营业收入１２３，增长（１０％）") == "营业收入123，增长（10%）"
    assert normalize_text("ａｂｃ\u3000ﬁne") == "abc fine"
    assert normalize_text("bad\x00\x07 char\ufffds\u200b") == "bad chars"
    assert normalize_text("line one\r\nline  two ") == "line one\nline two"


def test_lines_in_reading_order_with_paragraph_gap() -> None:
    chars = page(
        ("Second line of the first paragraph.", 50, 114),
        ("First line of the first paragraph.", 50, 100),
        ("A new paragraph after a gap.", 50, 160),
    )
    text, tables = layout_page(chars, PAGE_WIDTH)
    assert text == (
        "First line of the first paragraph.\nSecond line of the first paragraph.\n\n"
        "A new paragraph after a gap."
    )
    assert tables == []


def test_two_columns_read_column_by_column() -> None:
    lines = [("Title spanning the whole page width of this sample", 150, 40)]
    for i in range(8):
        top = 80 + 14 * i
        lines.append((f"left column line number {i} with prose text here", 40, top))
        lines.append((f"right column line number {i} with prose text here", 320, top))
    text, _ = layout_page(page(*lines), PAGE_WIDTH)
    out = text.split("\n")
    assert out[0].startswith("Title")
    left = [k for k, line in enumerate(out) if line.startswith("left")]
    right = [k for k, line in enumerate(out) if line.startswith("right")]
    assert len(left) == len(right) == 8
    assert max(left) < min(right)  # all of the left column before any of the right one


def test_table_rows_and_caption_from_aligned_cells() -> None:
    rows = [
        ("项目", "2024年", "2023年"),
        ("营业收入", "146,695", "164,699"),
        ("净利润", "44,508", "46,455"),
        ("总资产", "5,769,270", "5,587,116"),
    ]
    lines = [("表1 主要会计数据", 40, 60), ("（单位：人民币百万元）", 40, 80)]
    for i, (a, b, c) in enumerate(rows):
        top = 100 + 16 * i
        lines += [(a, 40, top), (b, 250, top), (c, 400, top)]
    lines.append(("表后的正文段落。", 40, 200))
    text, tables = layout_page(page(*lines), PAGE_WIDTH)
    assert len(tables) == 1
    assert tables[0].caption == "表1 主要会计数据"
    assert tables[0].rows[1] == ["营业收入", "146,695", "164,699"]
    assert len(tables[0].rows) == 4
    assert (
        "表1 主要会计数据\n（单位：人民币百万元）\n项目 | 2024年 | 2023年\n营业收入 | 146,695"
        in text
    )
    assert text.endswith("表后的正文段落。")


def test_missing_cell_stays_in_its_column() -> None:
    lines = []
    for i, cells in enumerate([("a", "1", "2"), ("b", None, "4"), ("c", "5", "6")]):
        for cell, x in zip(cells, (40, 250, 400), strict=True):
            if cell:
                lines.append((cell, x, 100 + 16 * i))
    _, tables = layout_page(page(*lines), PAGE_WIDTH)
    assert tables[0].rows == [["a", "1", "2"], ["b", "", "4"], ["c", "5", "6"]]


def test_prose_with_wide_spaces_is_not_a_table() -> None:
    lines = [
        ("Sentence one ends.", 40, 100),
        ("Then another starts here.", 160, 100),
        ("A second line of prose", 40, 114),
        ("with its own gap.", 300, 114),
        ("Third line", 40, 128),
        ("somewhere else.", 100, 128),
    ]
    _, tables = layout_page(page(*lines), PAGE_WIDTH)
    assert tables == []


def test_find_caption_patterns() -> None:
    assert find_caption(["正文。", "Table 3 Revenue by segment"]) == 1
    assert find_caption(["2.1 关键指标", "（货币单位：人民币百万元）"]) == 0
    assert find_caption(["这是一个很长的句子，它以句号结尾。"]) is None
    assert find_caption([]) is None


def test_sideways_text_is_turned_upright() -> None:
    # "abc" written top to bottom (page content rotated clockwise), then a second line left of it
    chars = [Char(c, 100, 6 * i, 110, 6 * i + 6) for i, c in enumerate("abc")]
    chars += [Char(c, 80, 6 * i, 90, 6 * i + 6) for i, c in enumerate("def")]
    turned, rotated = upright(chars)
    assert rotated
    text, _ = layout_page(chars, PAGE_WIDTH)
    assert text.split("\n") == ["abc", "def"]
    assert upright(word_chars("plain", 0, 0)) == (word_chars("plain", 0, 0), False)


def test_needs_ocr() -> None:
    assert needs_ocr("", 0.9)
    assert needs_ocr("  12 ", 0.2)
    assert not needs_ocr("", 0.0)  # a blank page
    assert needs_ocr("Scanned page header only", 0.95)
    assert not needs_ocr("A real text layer. " * 10, 0.95)


def test_clean_ocr_text_joins_cjk() -> None:
    assert clean_ocr_text("平 安 银 行 2024 年 报\n\n\n\nEnglish words stay") == (
        "平安银行 2024 年报\n\nEnglish words stay"
    )
