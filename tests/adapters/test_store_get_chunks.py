"""SqlStore.get_chunks: the ChunkSource used for neighbouring-chunk expansion."""

from __future__ import annotations

from pathlib import Path

from pipelines.models import Chunk, Document
from services.adapters.store import SqlStore


def _chunk(document_id: str, number: int) -> Chunk:
    return Chunk(
        document_id=document_id,
        number=number,
        text=f"chunk {number} 违约金",
        page_start=number + 1,
        page_end=number + 1,
        section_path=["第一条"],
        char_start=number * 10,
        char_end=number * 10 + 8,
        token_count=4,
    )


def test_get_chunks_returns_the_numbers_asked_for_in_order(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        for document_id, sha in (("d1", "a"), ("d2", "b")):
            store.add_document(
                Document(
                    id=document_id, tenant="t", filename="f.pdf", sha256=sha * 64, size_bytes=1
                )
            )
            store.save_chunks(document_id, [_chunk(document_id, n) for n in range(5)])
        found = store.get_chunks("d1", [4, 1, 9, 1, -1])
        assert [(c.document_id, c.number) for c in found] == [("d1", 1), ("d1", 4)]
        assert found[0] == _chunk("d1", 1)
        assert store.get_chunks("d1", []) == []
        assert store.get_chunks("nope", [0]) == []
    finally:
        store.close()
