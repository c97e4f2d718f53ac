"""documents.warnings: the parser's warnings (a JSON list of strings), nullable.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("documents")}
    if "warnings" in present:  # an upgrade cut short on SQLite (DDL outside transactions)
        return
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("warnings", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("warnings")
