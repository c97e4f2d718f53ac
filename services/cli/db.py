"""`docsight db upgrade|current`: the metadata store's schema (Alembic migrations).

Works on the store of these settings directly (DOCSIGHT_STORE__URL, or the SQLite file
under DOCSIGHT_DATA_DIR); no server needed. Production runs `docsight db upgrade` once
before the services start (the compose `migrate` service); the embedded deployment
upgrades on start by itself.
"""

from __future__ import annotations

import typer

db_app = typer.Typer(help="The metadata store's schema (admin).")


@db_app.command("upgrade")
def upgrade() -> None:
    """Upgrade the metadata store's schema to this release's (idempotent)."""
    from services.runtime import store_schema
    from services.settings import Settings

    settings = Settings()
    typer.echo(f"schema before: {store_schema.current(settings) or 'none'}")
    _, after = store_schema.upgrade(settings)
    typer.echo(f"schema after: {after or 'none'} (this release needs {store_schema.head()})")


@db_app.command("current")
def show_current() -> None:
    """Print the schema's revision and this release's; exit 1 when they differ."""
    from services.runtime import store_schema
    from services.settings import Settings

    found = store_schema.current(Settings())
    typer.echo(f"schema: {found or 'none'}; this release needs {store_schema.head()}")
    if found != store_schema.head():
        raise typer.Exit(1)
