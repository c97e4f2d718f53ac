"""`prepare`: bring a metadata store's database to this release's schema, or check it is.

Alembic is configured here in code (`alembic_config`): the scripts live in the package
(`services/adapters/migrations`), so an installed service needs no alembic.ini. On
PostgreSQL the whole upgrade runs in one transaction holding an advisory lock, so two
processes starting at once take turns (the second finds the database at head). On SQLite a
start that loses a race retries after re-reading the revision.
"""

from __future__ import annotations

import threading
import time
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from services.adapters.schema import jobs, metadata

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x646F6373  # "docs": the advisory lock of schema upgrades on PostgreSQL
_ADDED_AFTER_0001 = {"documents": {"warnings"}}
_JOB_STEP_COLUMNS = ("steps_done", "steps_total", "step")  # added to old tables on start
_ATTEMPTS = 5
_IN_PROCESS = threading.Lock()  # Alembic's `context` and `op` are process-wide


class SchemaMismatch(RuntimeError):
    """The database's schema is not the one this release needs."""


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration, built in code: the scripts in the package, `url` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@cache
def head() -> str:
    """The revision this release needs."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    """The database's revision (None: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def prepare(engine: Engine, *, upgrade: bool) -> None:
    """upgrade=True: migrate the database to head (an empty one is created, one from
    before migrations recognised); upgrade=False: raise `SchemaMismatch` unless at head."""
    if not upgrade:
        found = current(engine)
        if found != head():
            raise SchemaMismatch(
                f"the metadata store's schema is at {found or 'none (never migrated)'}, "
                f"this release needs {head()}: run `docsight db upgrade`")
        return
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with _IN_PROCESS, engine.begin() as conn:
                _upgrade(conn)
            return
        except DBAPIError:  # another process migrating the same SQLite file at once
            if attempt == _ATTEMPTS or current(engine) == head():
                if current(engine) == head():
                    return
                raise
            time.sleep(0.2 * attempt)


def _upgrade(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision == head():
        return
    if revision is None:
        _complete_legacy_tables(conn)
    config = alembic_config()
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def _complete_legacy_tables(conn: Connection) -> None:
    """A database from before migrations: each table it has must be 0001's (the job step
    columns are added to an older `analysis_jobs`); 0001 then creates the missing ones."""
    inspector = inspect(conn)
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        if table.name == jobs.name:
            for name in _JOB_STEP_COLUMNS:
                if name not in present:
                    kind = jobs.c[name].type.compile(dialect=conn.dialect)
                    conn.exec_driver_sql(f"ALTER TABLE {jobs.name} ADD COLUMN {name} {kind}")
                    present.add(name)
        expected = {c.name for c in table.columns} - _ADDED_AFTER_0001.get(table.name, set())
        if not expected <= present:
            raise SchemaMismatch(
                f"table {table.name} is not the schema of any release (missing "
                f"{sorted(expected - present)}): cannot migrate it")
