"""EmbedBatcher: the chunks of several documents share embedding calls; progress stays exact
per document; a failed batch fails only the documents that had texts in it."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from pipelines.errors import EmbeddingRejected
from services.adapters.embedder_fake import HashEmbedder
from services.app.embed_batches import EmbedBatcher


class RecordingEmbedder(HashEmbedder):
    """The hashing embedder, recording each call's texts; fails a call holding `poison`."""

    def __init__(self, poison: str | None = None, hold: threading.Event | None = None) -> None:
        super().__init__(8)
        self.calls: list[list[str]] = []
        self.poison = poison
        self.hold = hold  # the first call waits for it (lets other documents queue up)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        if self.hold is not None and len(self.calls) == 1:
            self.hold.wait(5)
        if self.poison is not None and self.poison in texts:
            raise ConnectionError("embedding server went away")
        return super().embed_documents(texts)


def _occupy(batcher: EmbedBatcher, embedder: RecordingEmbedder) -> threading.Thread:
    """A first document whose embedding call holds the batching thread (until `hold` is
    set), so the documents started next queue up behind it."""
    first = threading.Thread(target=batcher.embed, args=(["warm"],))
    first.start()
    while not embedder.calls:  # the call is under way, holding the batching thread
        threading.Event().wait(0.005)
    return first


def _run_all(batcher: EmbedBatcher, documents: dict[str, list[str]]) -> dict[str, object]:
    """Embed every document from its own thread; each one's vectors or exception."""
    out: dict[str, object] = {}

    def one(name: str) -> None:
        try:
            out[name] = batcher.embed(documents[name])
        except Exception as exc:
            out[name] = exc

    threads = [threading.Thread(target=one, args=(name,)) for name in documents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return out


def test_documents_waiting_together_share_one_call_and_get_their_own_vectors() -> None:
    hold = threading.Event()
    embedder = RecordingEmbedder(hold=hold)
    batcher = EmbedBatcher(embedder, batch_size=32, wait_s=0.0)
    first = _occupy(batcher, embedder)
    documents = {f"doc{n}": [f"doc{n} chunk {i}" for i in range(3)] for n in range(3)}
    runner = threading.Thread(target=lambda: results.update(_run_all(batcher, documents)))
    results: dict[str, object] = {}
    runner.start()
    while batcher._queued() < 9:  # all three documents are waiting
        threading.Event().wait(0.01)
    hold.set()
    runner.join(10)
    first.join(10)
    assert len(embedder.calls) == 2, "the three documents' nine texts went in one call"
    assert sorted(embedder.calls[1]) == sorted(t for texts in documents.values() for t in texts)
    reference = HashEmbedder(8)
    for name, texts in documents.items():
        assert results[name] == reference.embed_documents(texts)
    batcher.close()


def test_a_large_document_does_not_hold_up_a_small_one() -> None:
    hold = threading.Event()
    embedder = RecordingEmbedder(hold=hold)
    batcher = EmbedBatcher(embedder, batch_size=4, wait_s=0.0)
    first = _occupy(batcher, embedder)
    documents = {"report": [f"report {i}" for i in range(40)], "contract": ["c 0", "c 1"]}
    results: dict[str, object] = {}
    runner = threading.Thread(target=lambda: results.update(_run_all(batcher, documents)))
    runner.start()
    while batcher._queued() < 42:
        threading.Event().wait(0.01)
    hold.set()
    runner.join(10)
    first.join(10)
    # texts are taken in turn from each waiting document: the contract is done in the
    # first batch after the warm-up, not after the report's ten batches
    assert {"c 0", "c 1"} <= set(embedder.calls[1])
    assert all(len(call) <= 4 for call in embedder.calls)
    assert len(results["report"]) == 40  # type: ignore[arg-type]
    batcher.close()


def test_progress_is_exact_per_document() -> None:
    batcher = EmbedBatcher(RecordingEmbedder(), batch_size=3, wait_s=0.0)
    seen: list[int] = []
    vectors = batcher.embed([f"t{i}" for i in range(7)], on_done=seen.append)
    assert len(vectors) == 7
    assert seen == [3, 6, 7]
    batcher.close()


def test_a_failed_batch_fails_only_its_documents() -> None:
    hold = threading.Event()
    embedder = RecordingEmbedder(poison="bad 0", hold=hold)
    batcher = EmbedBatcher(embedder, batch_size=2, wait_s=0.0)
    first = _occupy(batcher, embedder)
    # "bad" and "good" share the first batch (one text each, in turn); "later" queues after
    documents = {"bad": ["bad 0", "bad 1", "bad 2"], "good": ["good 0"]}
    results: dict[str, object] = {}
    runner = threading.Thread(target=lambda: results.update(_run_all(batcher, documents)))
    runner.start()
    while batcher._queued() < 4:
        threading.Event().wait(0.01)
    hold.set()
    runner.join(10)
    first.join(10)
    assert isinstance(results["bad"], ConnectionError)
    assert isinstance(results["good"], ConnectionError)  # it was in the failed batch
    # the failed document's other texts were dropped, not embedded
    assert not any("bad 1" in call or "bad 2" in call for call in embedder.calls)
    # a document that was not in the failed batch is embedded afterwards
    assert batcher.embed(["later 0", "later 1"]) == HashEmbedder(8).embed_documents(
        ["later 0", "later 1"]
    )
    batcher.close()


def test_a_lone_document_waits_at_most_wait_s_for_company() -> None:
    embedder = RecordingEmbedder()
    batcher = EmbedBatcher(embedder, batch_size=64, wait_s=0.01)
    assert len(batcher.embed(["only one"])) == 1
    assert embedder.calls == [["only one"]]
    batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.embed(["after close"])


def test_empty_input_needs_no_call() -> None:
    embedder = RecordingEmbedder()
    batcher = EmbedBatcher(embedder)
    assert batcher.embed([]) == []
    assert embedder.calls == []


class RefusingEmbedder(RecordingEmbedder):
    """Refuses (as the server does a text it cannot take) any call holding `refused`."""

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if self.poison is not None and self.poison in texts:
            self.calls.append(list(texts))
            raise EmbeddingRejected("the embedding server refused a text")
        return super().embed_documents(texts)


def test_a_refused_text_fails_only_the_document_that_holds_it() -> None:
    hold = threading.Event()
    embedder = RefusingEmbedder(poison="bad 1", hold=hold)
    batcher = EmbedBatcher(embedder, batch_size=8, wait_s=0.0)
    first = _occupy(batcher, embedder)
    documents = {"bad": ["bad 0", "bad 1"], "good": ["good 0", "good 1"]}
    results: dict[str, object] = {}
    runner = threading.Thread(target=lambda: results.update(_run_all(batcher, documents)))
    runner.start()
    while batcher._queued() < 4:
        threading.Event().wait(0.01)
    hold.set()
    runner.join(10)
    first.join(10)
    assert isinstance(results["bad"], EmbeddingRejected)
    assert results["good"] == HashEmbedder(8).embed_documents(documents["good"])
    batcher.close()


class ServerLikeEmbedder(HashEmbedder):
    """Stands for an embedding server's adapter: takes `concurrent_calls` calls at once;
    each call waits until `peers` calls are in flight together (or a second passes)."""

    concurrent_calls = 2

    def __init__(self, peers: int) -> None:
        super().__init__(8)
        self.peers = peers
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()
        self.together = threading.Condition(self.lock)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.together.notify_all()
            self.together.wait_for(lambda: self.in_flight >= self.peers, timeout=1.0)
        try:
            return super().embed_documents(texts)
        finally:
            with self.lock:
                self.in_flight -= 1


def test_a_server_takes_several_calls_at_once_and_progress_never_goes_back() -> None:
    embedder = ServerLikeEmbedder(peers=2)
    batcher = EmbedBatcher(embedder, batch_size=2, wait_s=0.0)  # concurrency from the embedder
    assert batcher.concurrency == 2
    seen: list[int] = []
    texts = [f"t{i}" for i in range(12)]
    assert batcher.embed(texts, on_done=seen.append) == HashEmbedder(8).embed_documents(texts)
    assert embedder.most_in_flight == 2
    assert seen == sorted(seen)
    assert seen[-1] == 12
    assert EmbedBatcher(HashEmbedder(8)).concurrency == 1  # an in-process model: one call
    batcher.close()
