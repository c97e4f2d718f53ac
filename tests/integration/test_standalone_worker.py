"""A standalone `celery -A workers.main worker`, as production runs it (compose's
worker-ingest), starts on a Redis broker and answers a ping. It used to die on start: its
logging set-up looked Celery's `current_app` proxy up in a weak-keyed table."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers import redis_bin, redis_server

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_standalone_ingest_worker_starts_and_answers_ping(tmp_path: Path) -> None:
    if redis_bin() is None:
        pytest.skip("redis-server is needed (make system-deps)")
    with redis_server() as broker_url:
        env = {
            **os.environ,
            "DOCSIGHT_DATA_DIR": str(tmp_path),
            "DOCSIGHT_WORKER__EMBEDDED": "false",
            "DOCSIGHT_BROKER__MODE": "redis",
            "DOCSIGHT_BROKER__URL": broker_url,
            "DOCSIGHT_INDEX__MODE": "qdrant",
            "DOCSIGHT_INDEX__URL": "http://127.0.0.1:9",  # not reached before a task
            "DOCSIGHT_EMBEDDER__KIND": "hash",
        }
        celery = [sys.executable, "-m", "celery", "-A", "workers.main"]
        worker = subprocess.Popen(
            [*celery, "worker", "-Q", "ingest,index", "-n", "ingest@test", "--pool", "threads"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 90
            answered = False
            while time.monotonic() < deadline and worker.poll() is None and not answered:
                ping = subprocess.run(
                    [*celery, "inspect", "ping", "-d", "ingest@test", "--timeout", "2"],
                    cwd=REPO,
                    env=env,
                    capture_output=True,
                    text=True,
                )
                answered = ping.returncode == 0 and "pong" in ping.stdout
            alive = worker.poll() is None
        finally:
            worker.terminate()
            output = worker.communicate(timeout=30)[0]
        assert alive, f"the worker died on start:\n{output[-3000:]}"
        assert answered, f"the worker never answered a ping:\n{output[-3000:]}"
