"""The metadata store's schema: every table on one `MetaData`, and `prepare` to bring a
database to it (Alembic migrations in `services.adapters.migrations`).

Adapters never create tables. The embedded deployment upgrades on start
(`prepare(engine, upgrade=True)`); production checks on start and is upgraded by
`docsight db upgrade` (a one-shot compose service). A database written before migrations
existed (tables, no `alembic_version`) is recognised and stamped at 0001 first.

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
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

metadata = MetaData()

# --- the metadata store (services.adapters.store) -------------------------------------

documents = Table(
    "documents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("filename", String(512), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("error_code", String(32)),
    Column("reason", Text),
    Column("pages_total", Integer),
    Column("pages_parsed", Integer, nullable=False, default=0),
    Column("ocr_pages", Integer, nullable=False, default=0),
    Column("chunks_total", Integer),
    Column("chunks_embedded", Integer, nullable=False, default=0),
    Column("password", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("warnings", JSON),  # the parser's warnings (list of str); migration 0002
    UniqueConstraint("tenant", "sha256", name="uq_documents_tenant_sha256"),
)

chunks = Table(
    "chunks",
    metadata,
    Column("document_id", String(36), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("text", Text, nullable=False),
    Column("page_start", Integer, nullable=False),
    Column("page_end", Integer, nullable=False),
    Column("section_path", JSON, nullable=False),
    Column("char_start", Integer, nullable=False),
    Column("char_end", Integer, nullable=False),
    Column("token_count", Integer, nullable=False),
)

page_layouts = Table(
    "page_layouts",
    metadata,
    Column("document_id", String(36), primary_key=True),
    Column("page_starts", JSON, nullable=False),  # offset in the document text of each page
)

document_meta = Table(  # beside `documents`, not in it (added before migrations existed)
    "document_meta",
    metadata,
    Column("document_id", String(36), primary_key=True),
    Column("kind", String(16)),  # None until indexed
    Column("metadata", JSON, nullable=False),  # the user's flat {str: str}
)

erasures = Table(  # a delete under way: the id only (no text), gone once everything is erased
    "erasures",
    metadata,
    Column("document_id", String(36), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
)

# --- analysis jobs (services.adapters.jobs) ----------------------------------------------

jobs = Table(
    "analysis_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("document_id", String(36), nullable=False, index=True),
    Column("refresh", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error_code", String(32)),
    Column("reason", Text),
    Column("result", Text),
    Column("steps_done", Integer),
    Column("steps_total", Integer),
    Column("step", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# --- the analysis cache (services.adapters.analysis_cache) -------------------------------

analysis_cache = Table(
    "analysis_cache",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("tenant", String(128), nullable=False, index=True),
    Column("document_id", String(64), nullable=True, index=True),
    Column("value", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

cited = Table(  # the documents an entry cites beyond its own document_id (answers)
    "analysis_cache_documents",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("document_id", String(64), primary_key=True, index=True),
)

# --- API keys (services.adapters.api_keys) -----------------------------------------------

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("name", String(128), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
)

# --- the page ledger (services.adapters.page_usage) --------------------------------------

page_usage = Table(
    "page_usage",
    metadata,
    Column("document_id", String(36), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("pages", Integer, nullable=False),
    Column("parsed_at", DateTime(timezone=True), nullable=False, index=True),
)

# --- daily reports (services.adapters.reports) -------------------------------------------

reports = Table(
    "reports",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD in the report's time zone
    Column("status", String(16), nullable=False, index=True),
    Column("report", Text),  # the last finished Report's JSON
    Column("error_code", String(32)),
    Column("reason", Text),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


# --- collections and the tenants on them (services.adapters.index_catalog) ----------------

index_collections = Table(  # each index collection and the embedder its vectors come from
    "index_collections",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("embedder", JSON, nullable=False),  # EmbedderSpec: kind, model, dimension, url...
    Column("created_at", DateTime(timezone=True), nullable=False),
)

tenant_indexes = Table(  # the collection a tenant searches, and its move to another; migration 0003
    "tenant_indexes",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("collection", String(200), nullable=False),  # searched; written
    Column("target", String(200)),  # while moving: written too
    Column("previous", String(200)),  # the collection moved from (its points deleted)
    Column("state", String(16), nullable=False, index=True),  # moving, cleaning, done, failed
    Column("documents_done", Integer, nullable=False, default=0),
    Column("documents_total", Integer, nullable=False, default=0),
    Column("error_code", String(32)),
    Column("reason", Text),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


# --- contract comparisons, key dates, versions (migration 0004) --------------------------

comparisons = Table(  # a comparison table over many documents, run as a job
    "comparisons",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False, index=True),  # JobStatus values
    Column("document_ids", JSON, nullable=False),  # list of str, in the table's row order
    Column("columns", JSON, nullable=False),  # list of str: CUAD categories, summary fields
    Column("use_model", Boolean, nullable=False, default=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error_code", String(32)),
    Column("reason", Text),
    Column("result", Text),  # the table's JSON once done
    Column("steps_done", Integer),
    Column("steps_total", Integer),
    Column("step", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

obligations = Table(  # key dates and obligations found in a contract
    "obligations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("document_id", String(36), nullable=False, index=True),
    Column("kind", String(32), nullable=False),  # effective_date, notice_deadline, ...
    Column("party", Text),
    Column("due_date", Date, index=True),  # None: the text gives a rule, not a date
    Column("rule", Text),  # how the date follows from the text, or why it cannot
    Column("quote", Text, nullable=False),
    Column("page", Integer),
    Column("page_end", Integer),
    Column("char_start", Integer),
    Column("char_end", Integer),
    Column("verified", Boolean, nullable=False, default=False),
    Column("method", String(16), nullable=False),  # pattern, model
    Column("created_at", DateTime(timezone=True), nullable=False),
)

calendar_feeds = Table(  # read-only tokens of a tenant's iCalendar feed (hash kept only)
    "calendar_feeds",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("name", String(128), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

document_versions = Table(  # a document uploaded as the new version of another
    "document_versions",
    metadata,
    Column("document_id", String(36), primary_key=True),
    Column("tenant", String(64), nullable=False, index=True),
    Column("previous_id", String(36), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


# --- migrations --------------------------------------------------------------------

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
                f"this release needs {head()}: run `docsight db upgrade`"
            )
        return
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with _IN_PROCESS, engine.begin() as conn:
                _upgrade(conn)
            return
        except DBAPIError:  # another process migrating the same SQLite file at once
            if current(engine) == head():
                return
            if attempt == _ATTEMPTS:
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
                f"{sorted(expected - present)}): cannot migrate it"
            )
