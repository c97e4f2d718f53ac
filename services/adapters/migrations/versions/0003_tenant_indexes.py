"""index_collections and tenant_indexes: each collection's embedder, and the collection each
tenant searches (with its move to another: `docsight reindex`).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    present = sa.inspect(op.get_bind())
    if not present.has_table("index_collections"):  # an upgrade cut short on SQLite
        op.create_table(
            "index_collections",
            sa.Column("name", sa.String(200), primary_key=True),
            sa.Column("embedder", sa.JSON, nullable=False),
            sa.Column("created_at", _TZ, nullable=False),
        )
    if not present.has_table("tenant_indexes"):
        op.create_table(
            "tenant_indexes",
            sa.Column("tenant", sa.String(64), primary_key=True),
            sa.Column("collection", sa.String(200), nullable=False),
            sa.Column("target", sa.String(200)),
            sa.Column("previous", sa.String(200)),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("documents_done", sa.Integer, nullable=False),
            sa.Column("documents_total", sa.Integer, nullable=False),
            sa.Column("error_code", sa.String(32)),
            sa.Column("reason", sa.Text),
            sa.Column("started_at", _TZ),
            sa.Column("finished_at", _TZ),
            sa.Column("updated_at", _TZ, nullable=False),
        )
        op.create_index("ix_tenant_indexes_state", "tenant_indexes", ["state"])


def downgrade() -> None:
    op.drop_table("tenant_indexes")
    op.drop_table("index_collections")
