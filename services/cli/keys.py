"""`docsight keys create|list|revoke`: API keys, straight on the metadata store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.table import Table

from services.app.auth import KeyService
from services.cli.console import make_console

console = make_console()

keys_app = typer.Typer(
    help="API keys (admin): works on the metadata store of these "
    "settings directly (DOCSIGHT_STORE__URL, DOCSIGHT_DATA_DIR); no server "
    "needed."
)


@contextmanager
def _key_service() -> Iterator[KeyService]:
    """The key service of these settings' store, from the composition root."""
    from services.runtime.composition import key_service
    from services.settings import Settings

    with key_service(Settings()) as keys:
        yield keys


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="the tenant the key acts for")],
    name: Annotated[str, typer.Option(help="what the key is for (shown in the list)")] = "",
) -> None:
    """Create a key; it is printed once, only its hash is stored."""
    with _key_service() as keys:
        try:
            row, plaintext = keys.create(tenant, name)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    console.print(
        f"created key {row.id} of tenant {row.tenant!r} ({row.name}); it is not shown again:",
        highlight=False,
    )
    typer.echo(plaintext)


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="only this tenant's keys")] = None,
) -> None:
    """Keys with their tenant, name, creation, last use and revocation (never the key)."""
    with _key_service() as keys:
        rows = keys.list(tenant)
    table = Table("id", "tenant", "name", "created", "last used", "revoked")
    table.columns[0].no_wrap = True

    def when(value: Any) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""

    for row in rows:
        table.add_row(
            row.id,
            row.tenant,
            row.name,
            when(row.created_at),
            when(row.last_used_at),
            when(row.revoked_at),
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="the key's id (keys list)")]) -> None:
    """Revoke a key: refused within api.key_cache_s seconds by running servers."""
    from pipelines.errors import NotFound

    with _key_service() as keys:
        try:
            row = keys.revoke(key_id)
        except NotFound as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    console.print(f"revoked key {row.id} of tenant {row.tenant!r} ({row.name})")
