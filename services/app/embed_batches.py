"""EmbedBatcher: one embedding call for the chunks of several documents.

Index steps run on several worker threads at once; each hands its document's texts to the
batcher and waits. One thread forms batches of up to `batch_size` texts, taken in turn
from every waiting document (a 300-page report does not hold up the contracts behind it),
waiting at most `wait_s` for a batch to fill, and calls the embedder once per batch.

Progress is exact per document (`on_done(texts_done)` after each batch that held some of
its texts). A batch that fails fails only the documents that had texts in it: each gets
the embedder's exception and its remaining texts are dropped; other documents go on. When
the embedder refuses a text itself (`InvalidDocument`: the server rejects it), the batch's
documents are tried one by one, so only the document that holds the text fails.
Queries never come here: a search must not wait behind ingestion.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pipelines.errors import InvalidDocument
from pipelines.ports import Embedder

log = logging.getLogger(__name__)

Vector = list[float]


@dataclass(eq=False)
class _Request:
    texts: Sequence[str]
    on_done: Callable[[int], None] | None
    vectors: list[Vector | None] = field(default_factory=list)
    next: int = 0  # index of the first text not yet taken into a batch
    done: int = 0  # texts embedded
    reported: int = 0  # the last count handed to on_done (never goes back)
    error: BaseException | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.vectors = [None] * len(self.texts)


class EmbedBatcher:
    """Batches `embed(texts)` calls of concurrent threads into `embed_documents` calls."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        batch_size: int = 32,
        wait_s: float = 0.05,
        concurrency: int | None = None,
    ) -> None:
        """`concurrency`: embedding calls in flight at once (threads forming batches); None:
        the embedder's `concurrent_calls` (an embedding server's adapter has one: the server
        batches concurrent requests itself), else 1 (an in-process model uses every core)."""
        if concurrency is None:
            concurrency = int(getattr(embedder, "concurrent_calls", 1))
        if batch_size < 1 or concurrency < 1:
            raise ValueError("batch_size and concurrency must be at least 1")
        self.embedder = embedder
        self.batch_size = batch_size
        self.wait_s = max(0.0, wait_s)
        self._pending: deque[_Request] = deque()
        self._cond = threading.Condition()
        self.concurrency = concurrency
        self._threads: list[threading.Thread] = []
        self._done_lock = threading.Lock()  # request.done, from concurrent batches
        self._closed = False
        self.batches = 0  # embedding calls made (for tests and metrics)

    def embed(
        self, texts: Sequence[str], on_done: Callable[[int], None] | None = None
    ) -> list[Vector]:
        """The vectors of `texts`, in order; blocks until all are embedded. Raises what the
        embedder raised for a batch holding some of them."""
        if not texts:
            return []
        request = _Request(texts, on_done)
        with self._cond:
            if self._closed:
                raise RuntimeError("the embedding batcher is closed")
            self._start()
            self._pending.append(request)
            self._cond.notify_all()
        request.finished.wait()
        if request.error is not None:
            raise request.error
        return [vector for vector in request.vectors if vector is not None]

    def close(self) -> None:
        """Stop the batching threads once the pending texts are embedded."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout=30)

    def _start(self) -> None:
        while len(self._threads) < self.concurrency:
            thread = threading.Thread(
                target=self._run, name=f"embed-batches-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _queued(self) -> int:
        return sum(len(r.texts) - r.next for r in self._pending)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return  # closed and drained
                deadline = time.monotonic() + self.wait_s
                while self._queued() < self.batch_size and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch = self._take()
            if batch:  # another thread may have taken every text while this one waited
                self._embed(batch)

    def _take(self) -> list[tuple[_Request, int]]:
        """Up to `batch_size` (request, text index) pairs, one text of each request in turn."""
        batch: list[tuple[_Request, int]] = []
        while len(batch) < self.batch_size and self._pending:
            request = self._pending.popleft()
            batch.append((request, request.next))
            request.next += 1
            if request.next < len(request.texts):
                self._pending.append(request)
        return batch

    def _embed(self, batch: list[tuple[_Request, int]]) -> None:
        self.batches += 1
        requests = list(dict.fromkeys(request for request, _ in batch))
        try:
            vectors = self.embedder.embed_documents([r.texts[i] for r, i in batch])
            if len(vectors) != len(batch):
                raise RuntimeError(
                    f"the embedder returned {len(vectors)} vectors for {len(batch)} texts"
                )
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting documents
            if isinstance(exc, InvalidDocument) and len(requests) > 1:
                # the server refused a text: find whose, document by document
                for request in requests:
                    self._embed([(r, i) for r, i in batch if r is request])
                return
            log.warning("an embedding batch of %d texts failed: %s", len(batch), exc)
            self._fail(requests, exc)
            return
        with self._done_lock:
            for (request, i), vector in zip(batch, vectors, strict=True):
                request.vectors[i] = vector
                request.done += 1
            done = {request: request.done for request in requests}
        for request in requests:
            self._progress(request, done[request])

    def _progress(self, request: _Request, done: int) -> None:
        with self._done_lock:  # concurrent batches: counts reach on_done in order
            if request.on_done is not None and done > request.reported:
                request.reported = done
                try:
                    request.on_done(done)
                except Exception:  # advisory: a failed write must not lose the batch
                    log.exception("embedding progress callback failed")
        if done == len(request.texts):
            request.finished.set()

    def _fail(self, requests: list[_Request], exc: BaseException) -> None:
        with self._cond:
            for request in requests:
                if request in self._pending:
                    self._pending.remove(request)
        for request in requests:
            request.error = exc
            request.finished.set()
