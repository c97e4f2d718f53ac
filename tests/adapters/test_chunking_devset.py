"""Chunking real dev-set documents with the real Qwen3 counter."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipelines.chunking import chunk_pages, document_text
from pipelines.models import Chunk, Page
from services.adapters.tokens import QwenTokenCounter, load_token_counter
from tests.devset import DEVSET

CN_REPORT = DEVSET / "cn_annual_reports" / "pingan_bank_000001_2024_annual_report.pdf"
CONTRACT_GLOB = "**/HarpoonTherapeuticsInc_*Development Agreement*.pdf"

pytestmark = pytest.mark.slow


def parse(path: Path) -> list[Page]:
    if not path.is_file():
        pytest.skip(f"dev set file missing: {path}")
    from services.adapters.pdf import Pypdfium2Parser

    return Pypdfium2Parser(ocr=False).parse(path.read_bytes()).pages


@pytest.fixture(scope="module")
def counter() -> QwenTokenCounter:
    return load_token_counter()


@pytest.fixture(scope="module")
def contract_pages() -> list[Page]:
    found = sorted((DEVSET / "cuad" / "full_contract_pdf").glob(CONTRACT_GLOB))
    if not found:
        pytest.skip("CUAD contract missing")
    return parse(found[0])


@pytest.fixture(scope="module")
def report_pages() -> list[Page]:
    return parse(CN_REPORT)


def check(pages: list[Page], chunks: list[Chunk], counter: QwenTokenCounter) -> None:
    text = document_text(pages)
    reference = load_token_counter("tokenizers")
    assert chunks
    for chunk in chunks:
        assert text[chunk.char_start : chunk.char_end] == chunk.text
        assert chunk.token_count == counter.count(chunk.text) <= 512
        assert chunk.page_start <= chunk.page_end
    for chunk in chunks[::25]:  # the slower reference engine agrees
        assert reference.count(chunk.text) == chunk.token_count
    assert [c.page_start for c in chunks] == sorted(c.page_start for c in chunks)
    assert chunks[-1].page_end == pages[-1].number or not pages[-1].text.strip()


def test_contract_chunks_follow_articles_and_sections(
    contract_pages: list[Page], counter: QwenTokenCounter
) -> None:
    chunks = chunk_pages("harpoon", contract_pages, counter)
    check(contract_pages, chunks, counter)
    paths = [c.section_path for c in chunks]
    assert any(p and p[0].startswith("ARTICLE 11") and "INDEMN" in p[0] for p in paths)
    assert any(len(p) >= 2 and p[1].startswith("11.") for p in paths)
    assert sum(1 for p in paths if p and p[0].startswith("ARTICLE")) > 0.8 * len(chunks)
    # top-level articles are not mixed within one chunk
    assert not any("ARTICLE 2\n" in c.text and "ARTICLE 3\n" in c.text for c in chunks[10:])


def test_chinese_annual_report_chunks_fast_with_chapter_paths(
    report_pages: list[Page], counter: QwenTokenCounter
) -> None:
    started = time.perf_counter()
    chunks = chunk_pages("pingan", report_pages, counter)
    elapsed = time.perf_counter() - started
    check(report_pages, chunks, counter)
    assert elapsed < 3.0, f"chunking took {elapsed:.2f}s"
    paths = [c.section_path for c in chunks]
    assert any(
        len(p) >= 3 and p[0] == "第三章 管理层讨论与分析" and p[1].startswith("3.") for p in paths
    )
    assert any(p and p[0] == "第十章 财务报告" for p in paths)
    assert sum(1 for p in paths if p and p[0].startswith("第")) > 0.8 * len(chunks)
    assert 1.0 < len(chunks) / len(report_pages) < 3.0
