"""Run a benchmark module with --quick as a subprocess and return its last-line JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_quick(module: str, *flags: str, timeout_s: float = 300) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", module, "--quick", *flags],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result
