"""`docsight obligations` (key dates and obligations of your contracts, `rebuild`) and
`docsight calendar-feed create|list|revoke` (tokens of the iCalendar feed)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from services.cli.client import DEFAULT_URL, UrlOption, _call, _client, _resolve_id
from services.cli.output import _pages, console

obligations_app = typer.Typer(
    help="Key dates and obligations read from your contracts (GET /v1/obligations).",
    invoke_without_command=True,
)
calendar_feed_app = typer.Typer(
    help="Tokens of your iCalendar feed of obligations, for calendar clients."
)


def _day(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        console.print(f"[red]{option} must be a date YYYY-MM-DD, not {escape(value)!r}[/red]")
        raise typer.Exit(2) from None


def _fail(response: Any) -> None:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text[:300]
        console.print(f"[red]{response.status_code}: {escape(str(detail))}[/red]")
        raise typer.Exit(1)


@obligations_app.callback()
def obligations(
    ctx: typer.Context,
    due_before: Annotated[
        str | None, typer.Option(help="due on or before this date, YYYY-MM-DD")
    ] = None,
    due_after: Annotated[str | None, typer.Option(help="due on or after this date")] = None,
    document: Annotated[
        str | None, typer.Option(help="only this document's (its id or the id's first characters)")
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="effective_date, notice_deadline, payment_due, ...")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the API's JSON")] = False,
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Your contracts' key dates and obligations by due date, each with its quote and page
    (undated ones last, with the rule they follow, when no date bound is given)."""
    if ctx.invoked_subcommand is not None:
        return
    params = {
        "due_before": _day(due_before, "--due-before"),
        "due_after": _day(due_after, "--due-after"),
        "kind": kind,
    }
    with _client(url) as client:
        if document:
            params["document_id"] = _resolve_id(client, "document", document)
        response = _call(
            client, "GET", "/v1/obligations", params={k: v for k, v in params.items() if v}
        )
    _fail(response)
    if json_out:
        print(response.text)
        return
    rows: list[dict[str, Any]] = response.json()["obligations"]
    if not rows:
        console.print("no obligations found")
        return
    table = Table("due", "kind", "party", "document", "page", "quote / rule")
    for row in rows:
        quote = " ".join(row["quote"].split())
        quote = quote if len(quote) <= 160 else quote[:159] + "…"
        note = "" if row["verified"] else " [yellow](unverified)[/yellow]"
        rule = f"\n[dim]{escape(row['rule'])}[/dim]" if row.get("rule") else ""
        table.add_row(
            row["due_date"] or "undated",
            row["kind"],
            escape(row["party"] or ""),
            escape(row["filename"]),
            _pages(row["page"], row["page_end"]),
            f'"{escape(quote)}"{note}{rule}',
        )
    console.print(table)


@obligations_app.command("rebuild")
def rebuild(url: UrlOption = DEFAULT_URL) -> None:
    """Read the obligations of all your ready contracts again (contracts ingested before
    obligations existed get theirs)."""
    with _client(url) as client:
        response = _call(client, "POST", "/v1/obligations/rebuild", timeout=None)
    _fail(response)
    done = response.json()
    console.print(
        f"{done['obligations']} obligations from {done['documents']} contracts"
        + (f"; failed: {', '.join(done['failed'])}" if done["failed"] else "")
    )
    if done["failed"]:
        raise typer.Exit(1)


@calendar_feed_app.command("create")
def feed_create(
    name: Annotated[str, typer.Argument(help="what the feed is for (shown in the list)")],
    url: UrlOption = DEFAULT_URL,
) -> None:
    """A feed token; prints the feed's address to subscribe to (shown once)."""
    with _client(url) as client:
        response = _call(client, "POST", "/v1/calendar-feeds", json={"name": name})
    _fail(response)
    feed = response.json()
    typer.echo(
        f"calendar feed {feed['id']} ({feed['name']}); its address is not shown again:", err=True
    )
    typer.echo(url.rstrip("/") + feed["url"])


@calendar_feed_app.command("list")
def feed_list(url: UrlOption = DEFAULT_URL) -> None:
    """Your feeds (never their tokens)."""
    with _client(url) as client:
        response = _call(client, "GET", "/v1/calendar-feeds")
    _fail(response)
    table = Table("id", "name", "created", "revoked")
    for feed in response.json()["feeds"]:
        table.add_row(
            feed["id"], escape(feed["name"]), feed["created_at"], feed["revoked_at"] or ""
        )
    console.print(table)


@calendar_feed_app.command("revoke")
def feed_revoke(
    feed_id: Annotated[str, typer.Argument(help="the feed's id")],
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Revoke a feed: its address stops working."""
    with _client(url) as client:
        response = _call(client, "DELETE", f"/v1/calendar-feeds/{feed_id}")
    _fail(response)
    console.print(f"calendar feed {feed_id} revoked")
