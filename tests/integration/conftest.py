"""A real docsight server on loopback: embedded worker, filesystem broker, SQLite, qdrant-edge."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)

    def wait_final(self, client: httpx.Client, ids: list[str], timeout_s: float = 300) -> dict:
        deadline = time.monotonic() + timeout_s
        docs: dict[str, dict] = {}
        while time.monotonic() < deadline:
            docs = {i: client.get(f"/v1/documents/{i}").json() for i in ids}
            if all(d["status"] in ("ready", "failed") for d in docs.values()):
                return docs
            assert self.process.poll() is None, "the server died"
            time.sleep(0.3)
        pending = {
            i: d["status"] for i, d in docs.items() if d["status"] not in ("ready", "failed")
        }
        raise AssertionError(f"documents not finished in {timeout_s}s: {pending}")


def start_server(data_dir: Path, **env_overrides: str) -> Server:
    port = free_port()
    env = (
        os.environ
        | {
            "DOCSIGHT_DATA_DIR": str(data_dir),
            "DOCSIGHT_API__PORT": str(port),
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
        | env_overrides
    )
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve"], cwd=REPO, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((data_dir / "server.log").read_text()[-3000:])
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return Server(url, data_dir, process, env)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(
        "server not ready in 120 s: " + (data_dir / "server.log").read_text()[-3000:]
    )


def stop_server(server: Server, kill: bool = False) -> None:
    if kill:
        server.process.kill()
    else:
        server.process.terminate()
    server.process.wait(timeout=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("docsight"))
    yield running
    stop_server(running)
