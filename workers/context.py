"""What the Celery tasks work with: a typed context of use cases, given to the Celery app
at its construction (`create_celery(settings, context=...)`), never hung on it.

`ContextSource` makes the context on first use, once (a standalone worker builds its
deployment then; the embedded deployment hands over the API's). `binding_of(app)` finds
an app's settings and context source for Celery's signal handlers, which are connected
once per process and only see a task's app.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from services.app.comparisons import ComparisonService
from services.app.documents import DocumentService
from services.app.jobs import JobService
from services.app.ports import TaskMetrics
from services.app.reindex import ReindexService
from services.app.reports import ReportService
from services.app.sweep import Sweep
from services.settings import Settings


@dataclass(frozen=True)
class TaskContext:
    """The use cases the tasks call, and where they record their run times."""

    documents: DocumentService
    jobs: JobService
    reports: ReportService
    sweep: Sweep
    metrics: TaskMetrics | None = None
    reindex: ReindexService | None = None  # tenants moved to another embedder's collection
    comparisons: ComparisonService | None = None  # comparison tables over many documents


class ContextSource:
    """Called, the tasks' context: made by `build` on first use (thread-safe, once)."""

    def __init__(self, build: Callable[[], TaskContext]) -> None:
        self._build = build
        self._context: TaskContext | None = None
        self._lock = threading.Lock()

    def __call__(self) -> TaskContext:
        with self._lock:
            if self._context is None:
                self._context = self._build()
            return self._context

    def built(self) -> TaskContext | None:
        """The context if made already (metrics are read without building it)."""
        return self._context


def _missing() -> TaskContext:
    raise RuntimeError("this Celery app was made without a task context")


NO_CONTEXT = ContextSource(_missing)
"""The context of an app that only sends tasks (its tasks fail if run)."""


@dataclass(frozen=True)
class Binding:
    settings: Settings
    context: ContextSource


_bindings: WeakKeyDictionary[Any, Binding] = WeakKeyDictionary()
_lock = threading.Lock()


def bind(app: Any, settings: Settings, context: ContextSource) -> None:
    """Record the settings and context source of `app` (done by `create_celery`)."""
    with _lock:
        _bindings[app] = Binding(settings, context)


def binding_of(app: Any) -> Binding | None:
    with _lock:
        return _bindings.get(app)
