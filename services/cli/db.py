"""`docsight db upgrade`: bring the metadata store's schema to this release (Alembic)."""

from __future__ import annotations

import typer

db_app = typer.Typer(help="The metadata store's schema (admin).")


@db_app.command("upgrade")
def upgrade() -> None:
    """Upgrade the metadata store's schema to this release's (idempotent)."""
    raise NotImplementedError("being built (issue 12, deliverable 4)")
