"""The schema as the release before migrations created it (commit 402300e).

A table that already exists is left alone: a database written before migrations existed
(each adapter created its own tables, so it may hold only some) gets the missing ones
here; `services.adapters.schema` has checked and completed the existing ones.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_TZ = sa.DateTime(timezone=True)


def _create(
    name: str, *columns: sa.Column[object] | sa.Constraint, index: tuple[str, ...] = ()
) -> None:
    """CREATE TABLE name with `ix_<name>_<column>` indexes, unless it exists."""
    if sa.inspect(op.get_bind()).has_table(name):
        return
    op.create_table(name, *columns)
    for column in index:
        op.create_index(f"ix_{name}_{column}", name, [column])


def upgrade() -> None:
    _create(
        "documents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(512), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(32)),
        sa.Column("reason", sa.Text),
        sa.Column("pages_total", sa.Integer),
        sa.Column("pages_parsed", sa.Integer, nullable=False),
        sa.Column("ocr_pages", sa.Integer, nullable=False),
        sa.Column("chunks_total", sa.Integer),
        sa.Column("chunks_embedded", sa.Integer, nullable=False),
        sa.Column("password", sa.Text),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
        sa.UniqueConstraint("tenant", "sha256", name="uq_documents_tenant_sha256"),
        index=("tenant", "status"),
    )
    _create(
        "chunks",
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("page_start", sa.Integer, nullable=False),
        sa.Column("page_end", sa.Integer, nullable=False),
        sa.Column("section_path", sa.JSON, nullable=False),
        sa.Column("char_start", sa.Integer, nullable=False),
        sa.Column("char_end", sa.Integer, nullable=False),
        sa.Column("token_count", sa.Integer, nullable=False),
    )
    _create(
        "page_layouts",
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("page_starts", sa.JSON, nullable=False),
    )
    _create(
        "document_meta",
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16)),
        sa.Column("metadata", sa.JSON, nullable=False),
    )
    _create(
        "erasures",
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("started_at", _TZ, nullable=False),
    )
    _create(
        "analysis_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("refresh", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error_code", sa.String(32)),
        sa.Column("reason", sa.Text),
        sa.Column("result", sa.Text),
        sa.Column("steps_done", sa.Integer),
        sa.Column("steps_total", sa.Integer),
        sa.Column("step", sa.String(200)),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
        index=("tenant", "document_id", "status"),
    )
    _create(
        "analysis_cache",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("document_id", sa.String(64), nullable=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        index=("tenant", "document_id"),
    )
    _create(
        "analysis_cache_documents",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("document_id", sa.String(64), primary_key=True),
        index=("document_id",),
    )
    _create(
        "api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("revoked_at", _TZ),
        sa.Column("last_used_at", _TZ),
        index=("tenant",),
    )
    _create(
        "page_usage",
        sa.Column("document_id", sa.String(36), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("pages", sa.Integer, nullable=False),
        sa.Column("parsed_at", _TZ, nullable=False),
        index=("tenant", "parsed_at"),
    )
    _create(
        "reports",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("report", sa.Text),
        sa.Column("error_code", sa.String(32)),
        sa.Column("reason", sa.Text),
        sa.Column("started_at", _TZ, nullable=False),
        sa.Column("updated_at", _TZ, nullable=False),
        index=("status",),
    )


def downgrade() -> None:
    for name in (
        "reports",
        "page_usage",
        "api_keys",
        "analysis_cache_documents",
        "analysis_cache",
        "analysis_jobs",
        "erasures",
        "document_meta",
        "page_layouts",
        "chunks",
        "documents",
    ):
        op.drop_table(name)
