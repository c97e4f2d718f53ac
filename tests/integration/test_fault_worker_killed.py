"""The server (and its embedded worker) is SIGKILLed while ingesting 20 documents.

After a restart on the same data all 20 reach `ready`; none is lost; every document has
exactly `chunks_total` chunk rows (numbered 0..n-1) and exactly `chunks_total` points in
the index, so a re-run step duplicated nothing. Run on the embedded default (filesystem
broker, SQLite) and on a Redis broker with a PostgreSQL store, where the killed worker's
unacknowledged messages are still in Redis beside the ones re-sent on start.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from services.adapters.qdrant_edge import EdgeIndex
from services.adapters.store import SqlStore
from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_api import _contracts
from tests.servers import postgres_bin, postgres_server, redis_bin, redis_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COUNT = 20


def _statuses(client: httpx.Client) -> dict[str, str]:
    return {d["id"]: d["status"] for d in client.get("/v1/documents").json()["documents"]}


def _kill_mid_ingest(server: Server, client: httpx.Client, timeout_s: float = 90) -> dict:
    """SIGKILL the server once some documents are ready, one is being parsed or indexed
    (an indexing one preferred: its points are half written) and most are not ready."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        statuses = _statuses(client)
        values = list(statuses.values())
        ready = values.count("ready")
        busy = "indexing" in values or (ready >= 6 and "parsing" in values)
        if busy and 3 <= ready <= COUNT - 5:
            stop_server(server, kill=True)
            return statuses
        time.sleep(0.05)
    raise AssertionError(f"never caught the worker mid-ingest: {_statuses(client)}")


@pytest.fixture(params=["embedded", "redis-postgres"])
def backends(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if request.param == "embedded":
        yield {}
        return
    if postgres_bin() is None or redis_bin() is None:
        pytest.skip("PostgreSQL and redis-server are needed (make system-deps)")
    with ExitStack() as stack:
        yield {
            "DOCSIGHT_BROKER__MODE": "redis",
            "DOCSIGHT_BROKER__URL": stack.enter_context(redis_server()),
            "DOCSIGHT_STORE__URL": stack.enter_context(postgres_server()),
        }


def test_killed_worker_loses_and_duplicates_nothing(
    tmp_path: Path, backends: dict[str, str]
) -> None:
    env = {"DOCSIGHT_LLM__BASE_URL": "http://127.0.0.1:9/v1", **backends}
    contracts = _contracts(COUNT)
    assert len({p.read_bytes() for p in contracts}) == COUNT
    server: Server | None = start_server(tmp_path, **env)
    assert server is not None
    try:
        with server.client() as client:
            files = [("files", (p.name, p.read_bytes(), "application/pdf")) for p in contracts]
            upload = client.post("/v1/documents", files=files)
            assert upload.status_code == 202, upload.text
            ids = [item["document"]["id"] for item in upload.json()["accepted"]]
            assert len(set(ids)) == COUNT
            at_kill = _kill_mid_ingest(server, client)
        server = None
        print("statuses at SIGKILL:", json.dumps(sorted(at_kill.values())))

        server = start_server(tmp_path, **env)
        with server.client() as client:
            final = server.wait_final(client, ids, timeout_s=150)
            assert {i: d["status"] for i, d in final.items()} == dict.fromkeys(ids, "ready")
            assert sorted(_statuses(client)) == sorted(ids)  # nothing lost, nothing extra
        stop_server(server)
        server = None
    finally:
        if server is not None:
            stop_server(server)

    store = SqlStore(
        env.get("DOCSIGHT_STORE__URL") or f"sqlite:///{(tmp_path / 'docsight.db').resolve()}"
    )
    index_path = tmp_path / "index" / "docsight_chunks"
    dimension = _dimension(index_path)
    index = EdgeIndex(index_path, dimension, optimize_idle_s=None)
    try:
        for document_id in ids:
            document = store.get_by_id(document_id)
            chunks = store.load_chunks(document_id)
            assert (document.chunks_total or 0) > 0
            assert [c.number for c in chunks] == list(range(document.chunks_total)), document_id
            assert index.count(document_id=document_id) == document.chunks_total, document_id
        total = sum(store.get_by_id(i).chunks_total or 0 for i in ids)
        assert index.count() == total
        print(f"{COUNT} documents ready, {total} chunks, {index.count()} points")
    finally:
        index.close()
        store.close()


def _dimension(index_path: Path) -> int:
    config = json.loads((index_path / "edge_config.json").read_text())
    return int(config["vectors"]["dense"]["size"])
