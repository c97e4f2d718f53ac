"""Where the shared development set lives (override with DOCSIGHT_DEVSET)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEVSET = Path(os.environ.get("DOCSIGHT_DEVSET", REPO_ROOT / ".." / "shared" / "data" / "devset"))
