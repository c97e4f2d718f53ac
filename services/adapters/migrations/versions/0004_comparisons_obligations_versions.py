"""comparisons, obligations, calendar_feeds, document_versions: comparison tables run as
jobs, key dates and obligations of contracts with their iCalendar feed tokens, and the link
from a document to its previous version.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    present = sa.inspect(op.get_bind())
    if not present.has_table("comparisons"):  # an upgrade cut short on SQLite
        op.create_table(
            "comparisons",
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("tenant", sa.String(64), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("document_ids", sa.JSON, nullable=False),
            sa.Column("columns", sa.JSON, nullable=False),
            sa.Column("use_model", sa.Boolean, nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("error_code", sa.String(32)),
            sa.Column("reason", sa.Text),
            sa.Column("result", sa.Text),
            sa.Column("steps_done", sa.Integer),
            sa.Column("steps_total", sa.Integer),
            sa.Column("step", sa.String(200)),
            sa.Column("created_at", _TZ, nullable=False),
            sa.Column("updated_at", _TZ, nullable=False),
        )
        op.create_index("ix_comparisons_tenant", "comparisons", ["tenant"])
        op.create_index("ix_comparisons_status", "comparisons", ["status"])
    if not present.has_table("obligations"):
        op.create_table(
            "obligations",
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("tenant", sa.String(64), nullable=False),
            sa.Column("document_id", sa.String(36), nullable=False),
            sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("party", sa.Text),
            sa.Column("due_date", sa.Date),
            sa.Column("rule", sa.Text),
            sa.Column("quote", sa.Text, nullable=False),
            sa.Column("page", sa.Integer),
            sa.Column("page_end", sa.Integer),
            sa.Column("char_start", sa.Integer),
            sa.Column("char_end", sa.Integer),
            sa.Column("verified", sa.Boolean, nullable=False),
            sa.Column("method", sa.String(16), nullable=False),
            sa.Column("created_at", _TZ, nullable=False),
        )
        op.create_index("ix_obligations_tenant", "obligations", ["tenant"])
        op.create_index("ix_obligations_document_id", "obligations", ["document_id"])
        op.create_index("ix_obligations_due_date", "obligations", ["due_date"])
    if not present.has_table("calendar_feeds"):
        op.create_table(
            "calendar_feeds",
            sa.Column("id", sa.String(36), primary_key=True),
            sa.Column("tenant", sa.String(64), nullable=False),
            sa.Column("name", sa.String(128), nullable=False),
            sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
            sa.Column("created_at", _TZ, nullable=False),
            sa.Column("revoked_at", _TZ),
        )
        op.create_index("ix_calendar_feeds_tenant", "calendar_feeds", ["tenant"])
    if not present.has_table("document_versions"):
        op.create_table(
            "document_versions",
            sa.Column("document_id", sa.String(36), primary_key=True),
            sa.Column("tenant", sa.String(64), nullable=False),
            sa.Column("previous_id", sa.String(36), nullable=False),
            sa.Column("created_at", _TZ, nullable=False),
        )
        op.create_index("ix_document_versions_tenant", "document_versions", ["tenant"])
        op.create_index("ix_document_versions_previous_id", "document_versions", ["previous_id"])


def downgrade() -> None:
    op.drop_table("document_versions")
    op.drop_table("calendar_feeds")
    op.drop_table("obligations")
    op.drop_table("comparisons")
