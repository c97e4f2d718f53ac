"""`docsight ingest`, `search` and `status`: upload PDFs and follow them, search the ready
documents, and how the service and its documents stand."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

from services.cli.client import DEFAULT_URL, UrlOption, _call, _client, _resolve_id
from services.cli.output import FINAL, _excerpt, _pages, _state, console


def _pdf_paths(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() == ".pdf"))
        elif path.exists():
            found.append(path)
        else:
            console.print(f"[red]{path}: no such file[/red]")
            raise typer.Exit(2)
    return found


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="PDF files or folders")],
    url: UrlOption = DEFAULT_URL,
    password: Annotated[str | None, typer.Option(help="password of encrypted PDFs")] = None,
    wait: Annotated[bool, typer.Option(help="follow progress until every file is done")] = True,
    meta: Annotated[
        list[str] | None,
        typer.Option(
            help="key=value metadata of every file, searchable with search --meta (repeatable)"
        ),
    ] = None,
    previous: Annotated[
        str | None,
        typer.Option(help="the document (id or prefix) the files are new versions of"),
    ] = None,
) -> None:
    """Upload PDFs and follow their progress until they are ready or failed."""
    files = _pdf_paths(paths)
    metadata = _pairs(meta or [])
    failed = 0
    with (
        _client(url) as client,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[state]}"),
            console=console,
        ) as progress,
    ):
        tracked: dict[str, TaskID] = {}
        for path in files:
            data = {"password": password} if password else {}
            if metadata is not None:
                data["metadata"] = json.dumps(metadata, ensure_ascii=False)
            if previous:  # `docsight diff ID` then compares the two
                data["previous_id"] = _resolve_id(client, "document", previous)
            response = _call(
                client,
                "POST",
                "/v1/documents",
                files={"files": (path.name, path.read_bytes(), "application/pdf")},
                data=data,
            )
            body = response.json()
            if response.status_code == 422 and "detail" in body:  # the metadata
                progress.console.print(f"[red]{path.name}: {escape(str(body['detail']))}[/red]")
                raise typer.Exit(2)
            for item in body.get("rejected", []):
                failed += 1
                progress.console.print(f"[red]{path.name}: {item['reason']}[/red]")
            for item in body.get("accepted", []):
                doc = item["document"]
                again = "  (uploaded before)" if item.get("duplicate") else ""
                progress.console.print(f"{doc['id']}  {escape(path.name)}  {doc['status']}{again}")
                task = progress.add_task(path.name[:48], total=None, state=doc["status"])
                tracked[doc["id"]] = task
        while wait and tracked:
            for document_id, task in list(tracked.items()):
                doc = _call(client, "GET", f"/v1/documents/{document_id}").json()
                done, total = _progress_of(doc)
                progress.update(task, completed=done, total=total, state=_state(doc))
                if doc["status"] in FINAL:
                    failed += doc["status"] == "failed"
                    del tracked[document_id]
                    reason = f": {escape(_note(doc))}" if _note(doc) else ""
                    progress.console.print(
                        f"{document_id}  {escape(doc['filename'])}  {doc['status']}{reason}"
                    )
            time.sleep(0.5)
    if failed:
        raise typer.Exit(1)


def _progress_of(doc: dict[str, Any]) -> tuple[int, int | None]:
    p = doc["progress"]
    pages, chunks = p["pages_total"] or 0, p["chunks_total"] or 0
    if not pages:
        return 0, None
    return p["pages_parsed"] + p["chunks_embedded"], pages + (chunks or pages)


GROUPS = ("chunk", "document")
KINDS = ("contract", "annual_report")


def search(
    query: Annotated[str, typer.Argument(help="what to look for (any language)")],
    url: UrlOption = DEFAULT_URL,
    limit: Annotated[int, typer.Option(min=1, max=100, help="passages, or documents")] = 5,
    document: Annotated[
        list[str] | None,
        typer.Option(help="restrict to these documents: ids or unique id prefixes (repeatable)"),
    ] = None,
    group_by: Annotated[
        str,
        typer.Option(
            help="chunk: the best passages; document: the best documents, one passage each"
        ),
    ] = "chunk",
    kind: Annotated[str | None, typer.Option(help="contract or annual_report")] = None,
    after: Annotated[
        str | None,
        typer.Option(
            help="uploaded at or after: YYYY-MM-DD or an ISO time (local time zone if none)"
        ),
    ] = None,
    before: Annotated[str | None, typer.Option(help="uploaded before (same forms)")] = None,
    meta: Annotated[
        list[str] | None,
        typer.Option(help="key=value the document's metadata must have (repeatable)"),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print the API's JSON")] = False,
) -> None:
    """Search the ready documents: passages with document, pages and section; with
    --group-by document, which documents match best (e.g. "change of control")."""
    if group_by not in GROUPS or (kind is not None and kind not in KINDS):
        console.print(f"[red]--group-by is one of {GROUPS}; --kind one of {KINDS}[/red]")
        raise typer.Exit(2)
    body: dict[str, Any] = {
        "query": query,
        "limit": limit,
        "group_by": group_by,
        "document_ids": document or None,
        "kind": kind,
        "uploaded_after": _when(after, "--after"),
        "uploaded_before": _when(before, "--before"),
        "metadata": _pairs(meta or []),
    }
    with _client(url) as client:
        response = _call(
            client, "POST", "/v1/search", json={k: v for k, v in body.items() if v is not None}
        )
    if response.status_code != 200:
        detail = response.json().get("detail")
        if isinstance(detail, list):  # 422: which field, and why
            detail = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in detail)
        console.print(f"[red]{response.status_code}: {escape(str(detail))}[/red]")
        raise typer.Exit(1)
    result = response.json()
    if json_output:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    if not result["hits"]:
        console.print("no matching passage")
    for rank, hit in enumerate(result["hits"], 1):
        name = hit.get("filename") or hit["document_id"]
        kind_of = f"  [dim]{hit['kind']}[/dim]" if hit.get("kind") else ""
        console.print(
            f"[bold]{rank}.[/bold] {escape(name)} [dim]({hit['document_id'][:8]})"
            f"[/dim]  {_pages(hit['page_start'], hit['page_end'])}"
            f"  score {hit['score']:.3f}{kind_of}"
        )
        if hit["section_path"]:
            console.print(f"   [dim]{escape(' > '.join(hit['section_path']))}[/dim]")
        console.print(f"   {escape(_excerpt(hit['text'], query))}")


def _when(value: str | None, option: str) -> str | None:
    """An ISO date or time as an aware ISO time (a date is its local midnight)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        console.print(f"[red]{option}: not a date (YYYY-MM-DD) or ISO time: {value!r}[/red]")
        raise typer.Exit(2) from None
    return (moment if moment.tzinfo else moment.astimezone()).isoformat()


def _pairs(items: list[str]) -> dict[str, str] | None:
    """`key=value` options as a dict (None when there are none)."""
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            console.print(f"[red]--meta wants key=value, not {item!r}[/red]")
            raise typer.Exit(2)
        pairs[key.strip()] = value.strip()
    return pairs or None


def status(url: UrlOption = DEFAULT_URL) -> None:
    """Readiness of each component, queue depth, jobs and documents by status."""
    with _client(url) as client:
        ready = _call(client, "GET", "/ready").json()
        documents = _call(client, "GET", "/v1/documents").json()["documents"]
        summary = _call(client, "GET", "/v1/status")
    for name, component in ready["components"].items():
        mark = "[green]ok[/green]" if component["ok"] else "[red]down[/red]"
        console.print(f"{name:9} {mark}  {component['detail']}")
    totals = summary.json() if summary.status_code == 200 else {}
    if "documents" not in totals:  # an older server: this tenant's documents only
        totals["documents"] = dict(Counter(d["status"] for d in documents))
    for part, label in (
        ("queues", "queued messages"),
        ("jobs", "analysis jobs"),
        ("documents", "documents"),
    ):
        if part in totals:
            console.print(f"{label}: {_counts(totals[part])}")
    table = Table("id", "file", "status", "pages", "chunks", "reason")
    for d in documents[-20:]:
        p = d["progress"]
        table.add_row(
            d["id"][:8],
            d["filename"][:40],
            d["status"],
            f"{p['pages_parsed']}/{p['pages_total'] or '?'}",
            f"{p['chunks_embedded']}/{p['chunks_total'] or '?'}",
            _note(d)[:60],
        )
    console.print(table)
    if not ready["ready"]:
        raise typer.Exit(1)


def _counts(counts: dict[str, int] | None) -> str:
    if counts is None:
        return "[yellow]unknown (source unreachable)[/yellow]"
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def _note(doc: dict[str, Any]) -> str:
    """Why a document failed, or what the parser warned of for a ready one ("" if nothing)."""
    if doc["status"] == "failed":
        return str(doc.get("reason") or "")
    warnings = doc.get("warnings") or []
    return "warning: " + "; ".join(warnings) if warnings else ""
