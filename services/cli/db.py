"""`docsight db upgrade|current`: the metadata store's schema (Alembic migrations).

Works on the store of these settings directly (DOCSIGHT_STORE__URL, or the SQLite file
under DOCSIGHT_DATA_DIR); no server needed. Production runs `docsight db upgrade` once
before the services start (the compose `migrate` service); the embedded deployment
upgrades on start by itself.
"""

from __future__ import annotations

import typer

db_app = typer.Typer(help="The metadata store's schema (admin).")


def _store_url() -> str:
    from services.settings import Settings

    settings = Settings()
    if settings.store.url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.store_url


@db_app.command("upgrade")
def upgrade() -> None:
    """Upgrade the metadata store's schema to this release's (idempotent)."""
    from services.adapters.schema_upgrade import current, head, prepare
    from services.adapters.store import SqlStore

    store = SqlStore(_store_url(), upgrade=None)
    try:
        before = current(store.engine)
        typer.echo(f"schema before: {before or 'none'}")
        prepare(store.engine, upgrade=True)
        after = current(store.engine)
        typer.echo(f"schema after: {after or 'none'} (this release needs {head()})")
    finally:
        store.close()


@db_app.command("current")
def show_current() -> None:
    """Print the schema's revision and this release's; exit 1 when they differ."""
    from services.adapters.schema_upgrade import current, head
    from services.adapters.store import SqlStore

    store = SqlStore(_store_url(), upgrade=None)
    try:
        found = current(store.engine)
    finally:
        store.close()
    typer.echo(f"schema: {found or 'none'}; this release needs {head()}")
    if found != head():
        raise typer.Exit(1)
