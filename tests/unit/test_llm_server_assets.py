"""Preparing the embedded LLM fails clearly: missing build tools, a model that does not match."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipelines.errors import LlmUnavailable, ModelUnavailable
from services.runtime.local_models import llm_assets


def test_missing_build_tools_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(llm_assets.shutil, "which", lambda tool: None if tool == "cmake" else tool)
    with pytest.raises(LlmUnavailable, match="cmake not found"):
        llm_assets.build_llama_server(tmp_path)


def test_cached_binary_is_reused_without_building(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = f"llama-cpp-python-{llm_assets.LLAMA_CPP_PYTHON_VERSION}-{llm_assets.platform.machine()}"
    cached = tmp_path / "llama-server" / key / "llama-server"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"binary")
    monkeypatch.setattr(llm_assets.shutil, "which", lambda tool: None)  # a build would fail
    assert llm_assets.build_llama_server(tmp_path) == cached


def test_checksum_mismatch_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    parts = []
    for i in (1, 2):
        part = tmp_path / f"part0{i}.bin"
        part.write_bytes(b"x" * 10)
        parts.append(part)
    monkeypatch.setattr(llm_assets, "_model_chunks", lambda: parts)
    with pytest.raises(ModelUnavailable, match="sha256"):
        llm_assets.assemble_model(tmp_path / "cache")
    assert not list((tmp_path / "cache" / "models").glob("*.gguf"))
    assert not list((tmp_path / "cache" / "models").glob("*.tmp"))


def test_missing_model_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm_assets, "MODEL_PACKAGES", ("no-such-model-part",))
    with pytest.raises(ModelUnavailable, match="no-such-model-part is not installed"):
        llm_assets._model_chunks()


def test_build_steps_report_each_new_percentage(tmp_path: Path) -> None:
    script = (
        "print('-- Configuring'); print('[  5%] Building CXX object a.o'); "
        "print('[  5%] Building CXX object b.o'); print('[ 50%] Linking CXX library'); "
        "print('[100%] Built target llama-server')"
    )
    lines: list[str] = []
    log = tmp_path / "build.log"
    llm_assets._run([sys.executable, "-c", script], tmp_path, log, "compiling", lines.append)
    assert lines == [
        "llama-server build: compiling",
        "llama-server build: compiling 5% (Building CXX object a.o)",
        "llama-server build: compiling 50% (Linking CXX library)",
        "llama-server build: compiling 100% (Built target llama-server)",
    ]
    assert "-- Configuring" in log.read_text()  # the whole output stays in the log


def test_a_failed_step_names_itself_and_the_log_tail(tmp_path: Path) -> None:
    lines: list[str] = []
    with pytest.raises(LlmUnavailable, match=r"(?s)cmake failed \(exit 3\).*no compiler"):
        llm_assets._run(
            [sys.executable, "-c", "print('no compiler'); raise SystemExit(3)"],
            tmp_path,
            tmp_path / "build.log",
            "cmake",
            lines.append,
        )
    assert lines == ["llama-server build: cmake"]
