"""The broker or the database restarts under a real server (Redis broker, PostgreSQL store,
both real on loopback, embedded worker): work resumes and every document reaches `ready`;
while PostgreSQL is down the API answers 503 `backend_unavailable`, never 500.

Redis runs as in the production compose file (append-only file on), so queued messages
survive its restart; PostgreSQL is stopped with `pg_ctl -m fast` and started on the same
data and port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_api import _contracts
from tests.servers import free_port, postgres_bin, redis_bin, wait_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class RestartableRedis:
    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(redis_bin()),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.root),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None


class RestartablePostgres:
    def __init__(self, root: Path) -> None:
        self.bin = postgres_bin()
        assert self.bin is not None
        self.root, self.port = root, free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(root, "postgres")
        subprocess.run(
            [
                *self.as_postgres,
                str(self.bin / "initdb"),
                "-D",
                str(root / "data"),
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
            check=True,
            capture_output=True,
        )

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), *args],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")


@pytest.fixture(scope="module")
def backends() -> Iterator[tuple[RestartableRedis, RestartablePostgres]]:
    if postgres_bin() is None or redis_bin() is None:
        pytest.skip("PostgreSQL and redis-server are needed (make system-deps)")
    redis = RestartableRedis(Path(tempfile.mkdtemp(prefix="docsight-redis-")))
    postgres = RestartablePostgres(Path(tempfile.mkdtemp(prefix="docsight-pg-")))
    redis.start()
    postgres.start()
    try:
        yield redis, postgres
    finally:
        redis.stop()
        subprocess.run(
            [
                *postgres.as_postgres,
                str(postgres.bin / "pg_ctl"),
                "-D",
                str(postgres.root / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(redis.root, ignore_errors=True)
        shutil.rmtree(postgres.root, ignore_errors=True)


@pytest.fixture(scope="module")
def server(
    backends: tuple[RestartableRedis, RestartablePostgres], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    redis, postgres = backends
    running = start_server(
        tmp_path_factory.mktemp("docsight"),
        DOCSIGHT_BROKER__MODE="redis",
        DOCSIGHT_BROKER__URL=redis.url,
        DOCSIGHT_STORE__URL=postgres.url,
        DOCSIGHT_LLM__BASE_URL="http://127.0.0.1:9/v1",
        DOCSIGHT_API__KEY_CACHE_S="0",  # every request reaches the database
    )
    yield running
    stop_server(running)


def _upload(client: httpx.Client, paths: list[Path]) -> list[str]:
    files = [("files", (p.name, p.read_bytes(), "application/pdf")) for p in paths]
    response = client.post("/v1/documents", files=files)
    assert response.status_code == 202, response.text
    return [item["document"]["id"] for item in response.json()["accepted"]]


def _some_unfinished(client: httpx.Client, ids: list[str]) -> list[str]:
    statuses = {i: client.get(f"/v1/documents/{i}").json()["status"] for i in ids}
    return [i for i, s in statuses.items() if s not in ("ready", "failed")]


def test_broker_restart_mid_ingest(
    server: Server, backends: tuple[RestartableRedis, RestartablePostgres]
) -> None:
    redis, _ = backends
    with server.client() as client:
        ids = _upload(client, _contracts(8))
        assert _some_unfinished(client, ids)
        redis.stop()
        try:
            time.sleep(3)  # the worker's consumer loses its connection
            listed = client.get("/v1/documents")  # the store still answers
            assert listed.status_code == 200
            late = ("files", ("late.pdf", _contracts(9)[8].read_bytes(), "application/pdf"))
            during = client.post("/v1/documents", files=[late])
            assert during.status_code == 503, during.text  # no message, so no document
            assert during.json()["error_code"] == "backend_unavailable"
            assert "broker" in during.json()["detail"]
            listed_after = client.get("/v1/documents").json()["documents"]
            assert sorted(d["id"] for d in listed_after) == sorted(ids)
        finally:
            redis.start()
        retried = client.post("/v1/documents", files=[late])
        assert retried.status_code == 202, retried.text
        ids += [retried.json()["accepted"][0]["document"]["id"]]
        final = server.wait_final(client, ids, timeout_s=120)
        assert {d["status"] for d in final.values()} == {"ready"}, final
        assert client.get("/ready").status_code == 200


def test_database_restart_mid_ingest(
    server: Server, backends: tuple[RestartableRedis, RestartablePostgres]
) -> None:
    _, postgres = backends
    with server.client() as client:
        ids = _upload(client, _contracts(16)[8:16])
        assert _some_unfinished(client, ids)
        postgres.stop()
        try:
            for path in ("/v1/documents", f"/v1/documents/{ids[0]}"):
                down = client.get(path)
                assert down.status_code == 503, (path, down.status_code, down.text)
                assert down.json()["error_code"] == "backend_unavailable"
                assert "unavailable" in down.json()["detail"]
            assert client.get("/ready").status_code == 503
            time.sleep(3)  # tasks running now fail and are retried
        finally:
            postgres.start()
        final = server.wait_final(client, ids, timeout_s=120)
        assert {d["status"] for d in final.values()} == {"ready"}, final
        assert client.get("/v1/documents").status_code == 200
