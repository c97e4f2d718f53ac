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
    api_key: str | None = None  # the first key, which the server wrote to <data_dir>/api_key

    def client(self, api_key: str | None = None, *, authenticated: bool = True) -> httpx.Client:
        """A client sending `api_key` (default: the server's first key), or no key."""
        key = api_key or self.api_key
        headers = {"Authorization": f"Bearer {key}"} if authenticated and key else {}
        return httpx.Client(base_url=self.url, timeout=60, headers=headers)

    @property
    def cli_env(self) -> dict[str, str]:
        """The environment of a `docsight` client command against this server."""
        return self.env | ({"DOCSIGHT_API_KEY": self.api_key} if self.api_key else {})

    def wait_final(self, client: httpx.Client, ids: list[str], timeout_s: float = 300) -> dict:
        deadline = time.monotonic() + timeout_s
        docs: dict[str, dict] = {}
        while time.monotonic() < deadline:
            # One list per poll, not one GET per id: polling stays under the rate limit.
            listed = {d["id"]: d for d in client.get("/v1/documents").json()["documents"]}
            docs = {i: listed.get(i) or client.get(f"/v1/documents/{i}").json() for i in ids}
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
        [sys.executable, "-m", "services.cli", "serve"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((data_dir / "server.log").read_text()[-3000:])
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                key_file = data_dir / "api_key"  # written before the server answers
                key = key_file.read_text().strip() if key_file.exists() else None
                return Server(url, data_dir, process, env, key)
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
