"""Optimise a copy of an EdgeIndex shard in a child process.

The engine holds the GIL while it builds the HNSW and sparse indexes (seconds to minutes
per 100k points): run in the API's process, every request would wait. `OptimizeChild`
starts `python -m services.adapters.qdrant_edge_optimize <folder>`, which loads the copy,
optimises, flushes and closes it, and prints `{"changed": bool, "seconds": float}`. The
child runs at a lower priority and is killed if its parent dies (Linux).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from pipelines.errors import BackendUnavailable

CHILD_NICE = 10
"""Niceness added to the child: on a small machine the API's searches get the cores first."""
_REPO_ROOT = Path(__file__).resolve().parents[2]
_PR_SET_PDEATHSIG = 1


class OptimizeChild:
    """A running child optimise of one shard folder."""

    def __init__(self, folder: Path, extra_args: list[str] | None = None) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO_ROOT), env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", __name__, str(folder), *(extra_args or [])]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )

    def wait(self, stop: threading.Event) -> bool:
        """Wait (without the GIL) until the child ends; True if it changed any segment.
        Kills it once `stop` is set. BackendUnavailable if it failed or was killed."""
        out = err = ""
        while True:
            try:
                out, err = self.process.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stop.is_set():
                    self.kill()
        if self.process.returncode != 0:
            tail = err.strip().splitlines()[-3:]
            raise BackendUnavailable(
                f"qdrant-edge optimise child exited with {self.process.returncode}: "
                + " | ".join(tail)
            )
        return bool(json.loads(out.strip().splitlines()[-1])["changed"])

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: an orphan finishes its copy and exits
        pass
    if os.getppid() == 1:
        sys.exit(3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path, help="a flushed copy of a shard folder")
    parser.add_argument(
        "--hold",
        type=Path,
        help="tests: touch HOLD.optimised, then wait for HOLD to exist before exiting",
    )
    args = parser.parse_args(argv)
    _die_with_parent()
    os.nice(CHILD_NICE)
    import qdrant_edge as qe

    started = time.perf_counter()
    shard = qe.EdgeShard.load(str(args.folder))
    changed = shard.optimize()
    shard.flush()
    shard.close()
    seconds = time.perf_counter() - started
    if args.hold is not None:
        args.hold.with_name(args.hold.name + ".optimised").touch()
        while not args.hold.exists():
            time.sleep(0.02)
    print(json.dumps({"changed": changed, "seconds": round(seconds, 3)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
