"""`docsight compare`: a comparison table of documents x columns (each value with its
quote and page), followed until done, printed as a table or saved as CSV, XLSX or JSON."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from services.cli.client import DEFAULT_URL, UrlOption, _call, _client
from services.cli.output import console


def compare(
    document_ids: Annotated[list[str], typer.Argument(help="document ids or unique prefixes")],
    columns: Annotated[
        str | None,
        typer.Option(help='comma-separated, e.g. "Governing Law,Expiration Date" (default: ten)'),
    ] = None,
    model: Annotated[
        bool, typer.Option("--model/--no-model", help="ask the model for cells the text leaves")
    ] = True,
    output_format: Annotated[
        str, typer.Option("--format", help="table, csv, xlsx or json")
    ] = "table",
    output: Annotated[Path | None, typer.Option(help="write the file here")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="follow it until done")] = True,
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Compare documents column by column: unverified values are marked (no quote of the
    document backs them)."""
    if output_format not in ("table", "csv", "xlsx", "json"):
        console.print(f"[red]--format must be table, csv, xlsx or json, not {output_format!r}")
        raise typer.Exit(2)
    body: dict[str, Any] = {"document_ids": document_ids, "use_model": model}
    if columns:
        body["columns"] = [c.strip() for c in columns.split(",") if c.strip()]
    with _client(url) as client:
        response = _call(client, "POST", "/v1/comparisons", json=body)
        if response.status_code != 202:
            _refused(response.status_code, response.json())
        record: dict[str, Any] = response.json()
        if not wait:
            console.print(f"comparison {record['id']} {record['status']}")
            return
        record = _follow(client, record)
        if output_format == "table":
            _print_table(record["table"])
            return
        exported = _call(
            client,
            "GET",
            f"/v1/comparisons/{record['id']}/export",
            params={"format": output_format},
        )
    if exported.status_code != 200:
        _refused(exported.status_code, exported.json())
    if output is not None:
        output.write_bytes(exported.content)
        console.print(f"wrote {output} ({len(exported.content)} bytes)")
    elif output_format == "xlsx":
        console.print("[red]an XLSX file needs --output FILE[/red]")
        raise typer.Exit(2)
    else:
        sys.stdout.write(exported.text)


def _refused(status: int, body: dict[str, Any]) -> None:
    console.print(f"[red]{status}: {escape(str(body.get('detail')))}[/red]")
    raise typer.Exit(1)


def _follow(client: Any, record: dict[str, Any]) -> dict[str, Any]:
    """Poll until done (or failed: exit 1), a spinner showing documents done."""
    with console.status(f"comparison {record['id'][:8]} {record['status']}") as spinner:
        while record["status"] not in ("done", "failed"):
            record = _call(
                client, "GET", f"/v1/comparisons/{record['id']}", params={"wait": 2}, timeout=None
            ).json()
            reason = f" ({record['reason']})" if record["status"] == "waiting" else ""
            spinner.update(
                f"comparison {record['id'][:8]} {record['status']}{escape(reason)} "
                f"{record.get('steps_done') or 0}/{record.get('steps_total') or '?'} documents"
            )
    if record["status"] == "failed":
        console.print(f"[red]comparison failed ({record['error_code']}): {record['reason']}[/red]")
        raise typer.Exit(1)
    return record


def _print_table(table: dict[str, Any]) -> None:
    """Documents as rows; a value, its page, and a mark when unverified."""
    shown = Table(show_lines=True)
    shown.add_column("document")
    for column in table["columns"]:
        shown.add_column(column)
    unverified = 0
    for row in table["rows"]:
        values = []
        for column in table["columns"]:
            cell = row["cells"].get(column) or {}
            values.append(_cell(cell))
            unverified += cell.get("value") is not None and not cell.get("verified")
        shown.add_row(escape(row["filename"] or row["document_id"][:8]), *values)
    console.print(shown)
    if unverified:
        console.print(
            f"[yellow]{unverified} value(s) marked unverified: the model's quote was not "
            "found in the document[/yellow]"
        )


def _cell(cell: dict[str, Any]) -> str:
    if cell.get("value") is None:
        return "[dim]-[/dim]"
    text = escape(str(cell["value"]))
    if not cell.get("verified"):
        return f"{text} [yellow](unverified)[/yellow]"
    return f"{text} [dim]p.{cell.get('page')}[/dim]"
