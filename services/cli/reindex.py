"""`docsight reindex`: move the caller's documents to the configured embedder's collection
(POST /v1/reindex) and, with --wait, follow the move until it is done."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.markup import escape

from services.cli.client import DEFAULT_URL, UrlOption, _call, _client
from services.cli.output import console

UNDER_WAY = ("moving", "cleaning")


def _embedder(part: dict[str, Any] | None) -> str:
    if not part:
        return "none"
    embedder = part.get("embedder") or {}
    model = f" {embedder['model']}" if embedder.get("model") else ""
    about = f"{embedder.get('kind', '?')}{model}, {embedder.get('dimension', '?')} dims"
    return f"{part['collection']} ({escape(about)})"


def _show(state: dict[str, Any]) -> None:
    docs = state["documents"]
    console.print(f"tenant {escape(state['tenant'])}: {state['state']}")
    console.print(f"  searches  {_embedder(state['active'])}")
    if state.get("target"):
        console.print(f"  moving to {_embedder(state['target'])}")
    console.print(f"  configured {_embedder(state['current'])}")
    if state["state"] in (*UNDER_WAY, "done", "failed"):
        console.print(f"  documents {docs['done']}/{docs['total']}")
    if state.get("reason"):
        console.print(f"  [red]{escape(state['reason'])}[/red]")


def reindex(
    url: UrlOption = DEFAULT_URL,
    wait: Annotated[bool, typer.Option(help="follow the move until it is done")] = False,
    show: Annotated[bool, typer.Option("--status", help="only show where it stands")] = False,
) -> None:
    """Move your documents to the configured embedder's collection (their stored chunks are
    embedded again; search answers from the old collection until the move is done)."""
    with _client(url) as client:
        response = _call(client, "GET" if show else "POST", "/v1/reindex")
        if response.status_code not in (200, 202):
            console.print(f"[red]{response.status_code}: {response.json().get('detail')}[/red]")
            raise typer.Exit(1)
        state: dict[str, Any] = response.json()
        shown = -1
        while wait and state["state"] in UNDER_WAY:
            if state["documents"]["done"] != shown:
                shown = state["documents"]["done"]
                console.print(f"{state['state']}: {shown}/{state['documents']['total']} documents")
            time.sleep(1.0)
            state = _call(client, "GET", "/v1/reindex").json()
    _show(state)
    if state["state"] == "failed":
        raise typer.Exit(1)
