"""The pipeline a user would write from LangChain's RAG tutorial: the baseline we compare to.

`PyPDFLoader` (pypdf, one Document a page) -> `RecursiveCharacterTextSplitter(chunk_size=1000,
chunk_overlap=200)` (the tutorial's values) -> `QdrantVectorStore` on qdrant-client's local
mode with an on-disk folder (`path=`; a user needs the index to survive a restart) ->
`similarity_search` with a payload filter on the source file.

The embedding model is the project's own `Embedder` behind a tiny LangChain `Embeddings`
adapter, so both pipelines embed with the identical model and batch size and the comparison
measures everything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_community.document_loaders import PyPDFLoader
from langchain_core.documents import Document as LcDocument
from langchain_core.embeddings import Embeddings
from langchain_qdrant import QdrantVectorStore
from langchain_text_splitters import RecursiveCharacterTextSplitter
from qdrant_client import QdrantClient, models

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
COLLECTION = "benchmark"
STORE_MODE = "qdrant-client local mode, on disk (path=)"


class EmbedderAsLangChain(Embeddings):
    """Our `pipelines.ports.Embedder` seen as a LangChain `Embeddings`."""

    def __init__(self, embedder: Any) -> None:
        self._embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._embedder.embed_query(text)


def load_pages(pdf: Path) -> list[LcDocument]:
    """One LangChain Document per page; `metadata["source"]` is the path as given."""
    return PyPDFLoader(str(pdf)).load()


def split_pages(pages: Sequence[LcDocument]) -> list[LcDocument]:
    """The tutorial's splitter: 1,000 characters with 200 of overlap."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
    )
    return splitter.split_documents(list(pages))


def open_store(folder: Path, embeddings: Embeddings, dimension: int) -> QdrantVectorStore:
    """A fresh collection in a local on-disk qdrant-client store at `folder`."""
    client = QdrantClient(path=str(folder))
    client.create_collection(
        COLLECTION,
        vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
    )
    return QdrantVectorStore(client=client, collection_name=COLLECTION, embedding=embeddings)


def close_store(store: QdrantVectorStore) -> None:
    """Release the folder lock of the local store."""
    store.client.close()


def ingest_pdf(store: QdrantVectorStore, pdf: Path, batch_size: int = 64) -> tuple[int, int]:
    """Load, split and add one PDF; returns (pages, chunks)."""
    pages = load_pages(pdf)
    chunks = split_pages(pages)
    if chunks:
        store.add_documents(chunks, batch_size=batch_size)
    return len(pages), len(chunks)


def search(store: QdrantVectorStore, query: str, source: Path, k: int) -> list[LcDocument]:
    """Top-k chunks of one PDF (payload filter on `metadata.source`)."""
    only_source = models.Filter(
        must=[
            models.FieldCondition(key="metadata.source", match=models.MatchValue(value=str(source)))
        ]
    )
    return store.similarity_search(query, k=k, filter=only_source)
