"""The metadata store's tables as the previous release created them (commit 402300e, the
last release before migrations): each adapter ran `create_all` on its own tables. Frozen
here so a test can write a database the way that release did and upgrade it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

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

document_meta = Table(  # beside `documents`, not in it: older databases need only create_all
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
