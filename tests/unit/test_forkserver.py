"""The forkserver preloads the parent's main module so parse children do not re-import it."""

from __future__ import annotations

import multiprocessing
import sys
import types

import pytest

from services.adapters import forkserver


def _main_with_spec(monkeypatch: pytest.MonkeyPatch, name: str | None) -> None:
    main = types.ModuleType("__main__")
    main.__spec__ = types.SimpleNamespace(name=name) if name is not None else None  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "__main__", main)


def test_a_main_run_as_a_module_is_preloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    _main_with_spec(monkeypatch, "services.cli.main")
    assert forkserver.main_module() == ["services.cli.main"]


@pytest.mark.parametrize("name", [None, "", "celery.__main__", "pytest.__main__"])
def test_mains_that_children_do_not_re_run_are_not(
    monkeypatch: pytest.MonkeyPatch, name: str | None
) -> None:
    _main_with_spec(monkeypatch, name)
    assert forkserver.main_module() == []


def test_the_context_preloads_the_child_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forkserver, "_CONTEXT", None)
    _main_with_spec(monkeypatch, "services.cli.main")
    seen: list[list[str]] = []

    class Context:
        def set_forkserver_preload(self, modules: list[str]) -> None:
            seen.append(modules)

    monkeypatch.setattr(multiprocessing, "get_context", lambda method: Context())
    ctx = forkserver.context()
    assert forkserver.context() is ctx
    assert seen == [["services.cli.main", *forkserver.CHILD_MODULES]]
