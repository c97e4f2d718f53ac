"""`docsight report`: the daily report of a date, built first when there is none yet."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from services.cli.client import DEFAULT_URL, UrlOption, _call, _client
from services.cli.output import console


def report(
    date: Annotated[str, typer.Option(help="the day, YYYY-MM-DD (configured time zone)")],
    url: UrlOption = DEFAULT_URL,
    format: Annotated[str, typer.Option(help="markdown, html or json")] = "markdown",
    rebuild: Annotated[bool, typer.Option(help="build it again")] = False,
    wait: Annotated[
        float,
        typer.Option(
            help="seconds to wait for a build to finish before printing the report as it stands"
        ),
    ] = 30,
    output: Annotated[Path | None, typer.Option(help="write to this file")] = None,
) -> None:
    """The daily report of a date; built first if there is none yet (or with --rebuild).
    A report whose analyses are still running is printed as it stands (what is ready, what
    is pending); run the command again later for the rest."""
    if format not in ("markdown", "html", "json"):
        console.print(f"[red]--format must be markdown, html or json, not {format}[/red]")
        raise typer.Exit(2)
    with _client(url) as client:
        path = f"/v1/reports/{date}"
        exists = _call(client, "GET", path).status_code != 404
        if rebuild or not exists:
            with console.status(f"building the report of {date}"):
                record = _call(client, "POST", path, params={"wait": wait}, timeout=None).json()
                deadline = time.monotonic() + 30  # nothing stored yet after `wait`: rare
                while (
                    record.get("report") is None
                    and record.get("status") == "building"
                    and time.monotonic() < deadline
                ):
                    time.sleep(1)
                    record = _call(client, "GET", path).json()
            if record.get("status") == "failed" or record.get("report") is None:
                console.print(
                    f"[red]report {date}: {record.get('status')} "
                    f"({record.get('error_code')}): "
                    f"{record.get('reason') or record.get('detail')}[/red]"
                )
                raise typer.Exit(1)
        response = _call(client, "GET", path, params={"format": format})
        if response.status_code != 200:
            console.print(f"[red]{response.status_code}: {response.text[:300]}[/red]")
            raise typer.Exit(1)
        status = (response if format == "json" else _call(client, "GET", path)).json()
    if output is not None:
        output.write_text(response.text, encoding="utf-8")
        console.print(f"report {date} written to {output}")
    else:
        print(response.text)
    if status.get("status") == "building":
        reason = status.get("reason") or "analyses are pending"
        typer.echo(
            f"report {date} is still building ({reason}); run this command again "
            "later for the rest",
            err=True,
        )
