"""`docsight diff`: the clauses added, removed and changed between a document and its
previous version (or any other document), with both texts, their pages, the risk
categories each touches and how their cached findings changed."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape

from services.cli.client import DEFAULT_URL, UrlOption, _call, _client, _resolve_id
from services.cli.output import _pages, console

MARKS = {"added": "green", "removed": "red", "changed": "yellow", "unchanged": "dim"}
TEXT_CHARS = 600


def diff(
    document_id: Annotated[str, typer.Argument(help="document id or a unique prefix of it")],
    against: Annotated[
        str | None,
        typer.Option(help="the document to compare with (default: its previous version)"),
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="also the unchanged clauses")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="print the API's JSON")] = False,
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Clauses added, removed and changed since the previous version (renumbered clauses
    whose text is the same count as unchanged)."""
    with _client(url) as client:
        params = {"against": _resolve_id(client, "document", against)} if against else {}
        response = _call(client, "GET", f"/v1/documents/{document_id}/diff", params=params)
    if response.status_code != 200:
        console.print(f"[red]{response.status_code}: {escape(str(response.json().get('detail')))}")
        raise typer.Exit(1)
    result: dict[str, Any] = response.json()
    if json_output:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    counts = result["counts"]
    console.print(
        f"{result['document_id']} against {result['against']}: "
        f"{counts['changed']} changed, {counts['added']} added, {counts['removed']} removed, "
        f"{counts['unchanged']} unchanged ({counts['renumbered']} renumbered)"
    )
    shown = [c for c in result["changes"] if show_all or c["kind"] != "unchanged"]
    if not shown:
        console.print("no clause changed")
    for change in shown:
        _print_change(change)


def _print_change(change: dict[str, Any]) -> None:
    kind, old, new = change["kind"], change["old"], change["new"]
    colour = MARKS[kind]
    title = _title(new or old)
    if change["renumbered"] and old and new:
        title += f" (was {old['number'] or 'unnumbered'})"
    where = " -> ".join(_pages(c["page"], c["page_end"]) for c in (old, new) if c)
    line = f"[{colour}]{kind:9}[/{colour}] {escape(title)}  {where}"
    if kind == "changed":
        line += f"  similarity {change['similarity']:.2f}"
    console.print(line)
    if change["categories"]:
        console.print(f"          categories: {escape(', '.join(change['categories']))}")
    findings = change["findings"]
    if (
        findings["change"] not in ("same", "not_analysed")
        or findings["before"]
        or findings["after"]
    ):
        console.print(
            f"          findings {findings['change']}: "
            f"{len(findings['before'])} before, {len(findings['after'])} after"
        )
    if kind == "unchanged":
        return
    if old and kind != "added":
        console.print(f"  [red]- {escape(_flat(old['text']))}[/red]")
    if new and kind != "removed":
        console.print(f"  [green]+ {escape(_flat(new['text']))}[/green]")


def _title(clause: dict[str, Any]) -> str:
    number = clause["number"] or ""
    heading = clause["heading"] or _flat(clause["text"], 60)
    return f"{number} {heading}".strip()


def _flat(text: str, limit: int = TEXT_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
