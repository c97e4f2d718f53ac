"""The metadata store's schema for the admin CLI (`docsight db upgrade|current`): the
store of these settings, opened without migrating, then upgraded or read
(`services.adapters.schema`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine

from services.adapters import schema
from services.adapters.store import SqlStore
from services.settings import Settings


@contextmanager
def _engine(settings: Settings) -> Iterator[Engine]:
    if settings.store.url is None:  # the embedded SQLite file under data_dir
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqlStore(settings.store_url, upgrade=None)
    try:
        yield store.engine
    finally:
        store.close()


def head() -> str:
    """The schema revision this release needs."""
    return schema.head()


def current(settings: Settings) -> str | None:
    """The store's schema revision (None: never migrated)."""
    with _engine(settings) as engine:
        return schema.current(engine)


def upgrade(settings: Settings) -> tuple[str | None, str | None]:
    """Migrate the store to this release's schema; its revisions before and after."""
    with _engine(settings) as engine:
        before = schema.current(engine)
        schema.prepare(engine, upgrade=True)
        return before, schema.current(engine)
