"""The one forkserver context of this process, shared by the PDF parser and PDF geometry.

A forkserver child starts by running the parent's main module again when the parent was
started as `python -m NAME` (`multiprocessing.spawn` re-runs it under `__mp_main__`). For
`python -m services.cli.main serve` that re-run imported the whole API (FastAPI, httpx,
SQLAlchemy, every regex compiled) in every child, about 0.14 CPU seconds a PDF: a third of
the service's CPU for ingestion besides the embedder. The forkserver therefore imports the
main module once, with the children's own modules, and every child forked from it finds
those imports done.
"""

from __future__ import annotations

import multiprocessing
import sys
from typing import Any

CHILD_MODULES = ("services.adapters.pdf_child", "services.adapters.pdf_geometry_child")
_CONTEXT: Any = None


def context() -> Any:
    """The forkserver context, its preload set before its server starts."""
    global _CONTEXT
    if _CONTEXT is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([*main_module(), *CHILD_MODULES])
        _CONTEXT = ctx
    return _CONTEXT


def main_module() -> list[str]:
    """The main module's name when children will re-run it (`python -m NAME`), else none.

    `NAME.__main__` and scripts run by path are left out: multiprocessing does not re-run the
    first, and the forkserver would need the path (not a name) for the second."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    name = getattr(spec, "name", None)
    if not isinstance(name, str) or not name or name.rpartition(".")[2] == "__main__":
        return []
    return [name]
