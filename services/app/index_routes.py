"""IndexRoutes: which embedder and collection serve a tenant.

Each embedder has a collection of its own (vectors of two embedders never share one). The
tenant's row (`IndexCatalog.tenant`) names the collection it searches; a tenant without a
row is on the deployment's first collection (`index.collection`, recorded with the
embedder it was built with). While a tenant moves to another collection (`docsight
reindex`, `services.app.reindex`), writes go to both, so a document uploaded meanwhile is
in the new collection when search switches to it.

Embedders and indexes are opened once, on first use, and kept: an embedder by its
identity (kind, model, dimension), an index by its collection's name. Each embedder has one
`EmbedBatcher`, shared by every document being indexed into its collections.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pipelines.ingest import index_points
from pipelines.models import Chunk
from services.app.embed_batches import EmbedBatcher
from services.app.ports import Embedder, EmbedderSpec, IndexCatalog, TenantIndex, VectorIndex

UPSERT_POINTS = 256
"""Points a document's vectors are written to the index in, per call."""


def slug(spec: EmbedderSpec) -> str:
    """A collection name's part for the embedder: `use-onnx-512`, `hash-96`,
    `openai-qwen-qwen3-embedding-0-6b-1024`."""
    parts = [spec.kind]
    if spec.model and spec.model != str(spec.dimension):
        parts.append(spec.model.rsplit("/", 2)[-1] if spec.model.startswith("/") else spec.model)
    parts.append(str(spec.dimension))
    text = re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")
    return text[-100:]


def _names(row: TenantIndex | None, first: str) -> list[str]:
    """The collections a tenant's writes go to: its own, and the one it moves to."""
    if row is None:
        return [first]
    if row.state == "moving" and row.target and row.target != row.collection:
        return [row.collection, row.target]
    return [row.collection]


@dataclass(frozen=True)
class Route:
    """One collection and the embedder of its vectors."""

    collection: str
    embedder: Embedder
    index: VectorIndex
    batches: EmbedBatcher

    def write(
        self,
        tenant: str,
        chunks: Sequence[Chunk],
        texts: Sequence[str],
        on_done: Callable[[int], None] | None = None,
    ) -> None:
        """Embed `texts` (from `pipelines.ingest.index_texts`) and upsert their points."""
        dense = self.batches.embed(texts, on_done=on_done)
        points = index_points(tenant, chunks, texts, dense)
        for start in range(0, len(points), UPSERT_POINTS):
            self.index.upsert(points[start : start + UPSERT_POINTS])


class IndexRoutes:
    """The routes of each tenant (`for_search`, `for_writes`, `for_deletes`).

    `catalog` None: one route for everything (`fixed`). Otherwise `current` (the configured
    embedder, already loaded as `embedder`) is what `docsight reindex` moves tenants to;
    `open_embedder` loads another from its recorded spec and `open_index` opens a
    collection by name with its dimension (both given by the composition root)."""

    def __init__(
        self,
        *,
        catalog: IndexCatalog | None,
        first: str,
        current: EmbedderSpec,
        embedder: Embedder,
        open_embedder: Callable[[EmbedderSpec], Embedder],
        open_index: Callable[[str, int], VectorIndex],
        batch_size: int = 32,
        wait_s: float = 0.05,
    ) -> None:
        self.catalog = catalog
        self.first = first
        self.spec = current
        self._open_embedder = open_embedder
        self._open_index = open_index
        self._batch = (batch_size, wait_s)
        self._lock = threading.RLock()
        self._embedders: dict[tuple[str, str | None, int], tuple[Embedder, EmbedBatcher]] = {}
        self._indexes: dict[str, VectorIndex] = {}
        self._specs: dict[str, EmbedderSpec] = {}
        self._embedders[current.identity] = (embedder, self._batcher(embedder))
        if catalog is not None:  # the first collection keeps the embedder it was built with
            self._specs[first] = catalog.register(first, current)
        else:
            self._specs[first] = current
        self.current_collection = self._collection_of(current)

    @classmethod
    def fixed(
        cls,
        embedder: Embedder,
        index: VectorIndex,
        *,
        name: str = "default",
        batch_size: int = 32,
        wait_s: float = 0.05,
    ) -> IndexRoutes:
        """One collection, one embedder, for every tenant (tests, tools)."""
        spec = EmbedderSpec(kind="fixed", model=embedder.name, dimension=embedder.dimension)

        def unknown(*_: object) -> object:
            raise KeyError("a fixed route opens nothing")

        routes = cls(
            catalog=None,
            first=name,
            current=spec,
            embedder=embedder,
            open_embedder=unknown,  # type: ignore[arg-type]
            open_index=unknown,  # type: ignore[arg-type]
            batch_size=batch_size,
            wait_s=wait_s,
        )
        routes._indexes[name] = index
        return routes

    def _batcher(self, embedder: Embedder) -> EmbedBatcher:
        return EmbedBatcher(embedder, batch_size=self._batch[0], wait_s=self._batch[1])

    def _collection_of(self, spec: EmbedderSpec) -> str:
        """The collection of `spec`'s vectors: one recorded with the same embedder (the
        first collection first), else `<first>__<slug>`, recorded now."""
        if self._specs[self.first].identity == spec.identity:
            return self.first
        if self.catalog is None:
            raise KeyError(f"no collection of embedder {spec.kind}")
        for name, recorded in self.catalog.collections().items():
            if recorded.identity == spec.identity:
                self._specs[name] = recorded
                return name
        name = f"{self.first}__{slug(spec)}"
        self._specs[name] = self.catalog.register(name, spec)
        return name

    # --- routes ------------------------------------------------------------------------

    def route(self, collection: str) -> Route:
        """The collection's route, opening its embedder and index on first use."""
        with self._lock:
            spec = self._specs.get(collection)
            if spec is None:
                assert self.catalog is not None
                spec = self.catalog.spec_of(collection)
                if spec is None:
                    raise KeyError(f"collection {collection!r} is not recorded")
                self._specs[collection] = spec
            pair = self._embedders.get(spec.identity)
            if pair is None:
                embedder = self._open_embedder(spec)
                pair = self._embedders[spec.identity] = (embedder, self._batcher(embedder))
            index = self._indexes.get(collection)
            if index is None:
                index = self._indexes[collection] = self._open_index(collection, spec.dimension)
            return Route(collection, pair[0], index, pair[1])

    def current(self) -> Route:
        """The configured embedder's route (where `docsight reindex` moves tenants)."""
        return self.route(self.current_collection)

    def _row(self, tenant: str) -> TenantIndex | None:
        return self.catalog.tenant(tenant) if self.catalog is not None else None

    def for_search(self, tenant: str) -> Route:
        """The tenant's collection: the one it searches until a move is finished."""
        row = self._row(tenant)
        return self.route(self.first if row is None else row.collection)

    def for_writes(self, tenant: str) -> list[Route]:
        """The tenant's collection, and while it moves the one it moves to."""
        return [self.route(name) for name in _names(self._row(tenant), self.first)]

    def for_deletes(self, tenant: str) -> list[Route]:
        """`for_writes`, and the collection moved from while its points are deleted."""
        row = self._row(tenant)
        names = _names(row, self.first)
        if row is not None and row.state == "cleaning" and row.previous not in (None, *names):
            names.append(str(row.previous))
        return [self.route(name) for name in names]

    def place_new(self, tenant: str, has_documents: Callable[[], bool]) -> None:
        """A tenant without a row and without documents starts on the configured
        embedder's collection (one with documents stays on the first until moved)."""
        if self.catalog is None or self.current_collection == self.first:
            return
        if self.catalog.tenant(tenant) is None and not has_documents():
            self.current()  # the collection exists before writes go to it
            self.catalog.place(tenant, self.current_collection)

    def spec_of(self, collection: str) -> EmbedderSpec | None:
        with self._lock:
            found = self._specs.get(collection)
        if found is None and self.catalog is not None:
            found = self.catalog.spec_of(collection)
        return found

    # --- closing -------------------------------------------------------------------------

    def close_batches(self) -> None:
        """Stop the embedding batches' threads (after the texts waiting for them)."""
        with self._lock:
            pairs = list(self._embedders.values())
        for _, batches in pairs:
            batches.close()

    def close(self) -> None:
        """Stop the batches, close the embedders and indexes opened."""
        self.close_batches()
        with self._lock:
            embedders = [embedder for embedder, _ in self._embedders.values()]
            indexes = list(self._indexes.values())
        for embedder in embedders:
            close = getattr(embedder, "close", None)
            if close is not None:
                close()
        for index in indexes:
            index.close()
