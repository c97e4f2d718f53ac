"""`docsight` command line: serve, ingest, search, status. Client commands talk to the API."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from services.cli.console import make_console
from services.cli.db import db_app
from services.cli.keys import keys_app

app = typer.Typer(help="docsight: contracts and annual reports, searchable with page citations.")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
console = make_console()  # whole lines when piped

UrlOption = Annotated[
    str,
    typer.Option(envvar="DOCSIGHT_URL", help="base URL of a running docsight API"),
]
DEFAULT_URL = "http://127.0.0.1:8000"
FINAL = {"ready", "failed"}
SHUTDOWN_GRACE_S = 5  # then waiting requests are cut; threads stop in 3 s each at most


_options: dict[str, str | None] = {"api_key": None}


@app.callback()
def _global_options(
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar="DOCSIGHT_API_KEY", show_default=False,
        help="API key for client commands (default: the first key, <data_dir>/api_key)",
    )] = None,
) -> None:
    _options["api_key"] = api_key


def _api_key() -> str | None:
    """--api-key / DOCSIGHT_API_KEY, else the key the server wrote on its first start."""
    if _options["api_key"]:
        return _options["api_key"]
    from services.settings import Settings

    try:
        path = Settings().api_key_file
        return path.read_text(encoding="ascii").strip() or None
    except (OSError, ValueError):
        return None


def _client(url: str) -> httpx.Client:
    key = _api_key()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=url, timeout=httpx.Timeout(120.0, connect=5.0),
                        headers=headers)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The response; a document or job id in the path or in `document_ids` may be a unique
    prefix of one (see _resolve_id); over the key's rate limit (429 with Retry-After), waits
    and retries for up to a minute."""
    match = _ID_PATH.fullmatch(path)
    if match:
        kind, given, rest = match.groups()
        path = f"/v1/{kind}s/{_resolve_id(client, kind, given)}{rest}"
    body = kwargs.get("json")
    if isinstance(body, dict) and body.get("document_ids"):
        kwargs["json"] = body | {
            "document_ids": [_resolve_id(client, "document", i) for i in body["document_ids"]]}
    return _send(client, method, path, **kwargs)


FULL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ID_PATH = re.compile(r"/v1/(document|job)s/([^/?]+)(.*)")
_resolved: dict[tuple[str, str], str] = {}


def _resolve_id(client: httpx.Client, kind: str, given: str) -> str:
    """The full id of the caller's document (or job, of the latest 100) that `given` is an id
    of or a unique prefix of, as `docsight status` shows them; exits with the candidates when
    the prefix is ambiguous, or when no id starts with it."""
    if FULL_ID.fullmatch(given) or (kind, given) in _resolved:
        return _resolved.get((kind, given), given)
    response = _send(client, "GET", f"/v1/{kind}s")
    if response.status_code != 200:
        console.print(f"[red]{response.status_code}: cannot list {kind}s to find "
                      f"{escape(given)!r}: {escape(response.text[:200])}[/red]")
        raise typer.Exit(2)
    items: list[dict[str, Any]] = response.json()[f"{kind}s"]
    prefix = given.strip().lower()
    found = ([i for i in items if i["id"] == given]
             or [i for i in items if prefix and i["id"].lower().startswith(prefix)])
    if len(found) == 1:
        _resolved[(kind, given)] = found[0]["id"]
        return _resolved[(kind, given)]
    if not found:
        where = "`docsight status` lists them" if kind == "document" else "GET /v1/jobs"
        console.print(f"[red]no {kind} id starts with {escape(given)!r}[/red] ({where})")
        raise typer.Exit(2)
    console.print(f"[red]{escape(given)!r} is the start of {len(found)} {kind} ids; "
                  "give more of the id:[/red]")
    for item in found:
        about = (f"{item.get('filename', '')}  {item.get('status', '')}" if kind == "document"
                 else f"{item.get('kind', '')} of {item.get('document_id', '')[:8]}  "
                      f"{item.get('status', '')}")
        console.print(f"  {item['id']}  {escape(about)}")
    raise typer.Exit(2)


def _send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            response = client.request(method, path, **kwargs)
        except httpx.ConnectError:
            console.print(
                f"[red]No docsight API at {client.base_url}.[/red] Start it with `make run` "
                "or `docsight serve`, or pass --url."
            )
            raise typer.Exit(2) from None
        retry_after = response.headers.get("retry-after", "")
        if (response.status_code != 429 or not retry_after.isdigit()
                or response.json().get("error_code") != "rate_limited"
                or time.monotonic() + int(retry_after) > deadline):
            break
        time.sleep(int(retry_after))
    if response.status_code == 401:
        console.print(f"[red]401: {response.json().get('detail')}.[/red] Pass --api-key "
                      "(before the command) or set DOCSIGHT_API_KEY; the first key is in "
                      "<data_dir>/api_key.")
        raise typer.Exit(2)
    return response


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: settings api.host")] = None,
    port: Annotated[int | None, typer.Option(help="default: settings api.port")] = None,
) -> None:
    """Run the API (and, on embedded defaults, its worker) in this process."""
    import uvicorn

    from services.api.app import create_app
    from services.runtime.logs import configure_logging
    from services.settings import LOOPBACK_HOSTS, Settings

    settings = Settings()
    host = host or settings.api.host
    port = port or settings.api.port
    if settings.api.auth == "none" and host not in LOOPBACK_HOSTS:
        console.print("[red]api.auth=none serves every caller as the default tenant: "
                      "only on a loopback host[/red]")
        raise typer.Exit(2)
    base = f"http://{host}:{port}"
    console.print(
        f"docsight starting on {base} (data in {settings.data_dir.resolve()})\n"
        f"  API docs:   {base}/docs (Swagger UI, Authorize takes the key), {base}/redoc\n"
        f"  readiness:  {base}/ready\n"
        f"  upload:     curl -H \"Authorization: Bearer $(cat {settings.api_key_file})\" "
        f"-F files=@contract.pdf {base}/v1/documents\n"
        f"  or:         .venv/bin/docsight ingest path/to/*.pdf\n"
        f'  search:     .venv/bin/docsight search "liquidated damages"'
    )
    configure_logging(settings.log.format, settings.log.level)  # uvicorn's loggers too
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None,
                log_level=settings.log.level.lower(),
                # requests still waiting (on the LLM) after this are cut: SIGTERM stops
                # the server within ~10 s; unfinished work is re-sent from its rows
                timeout_graceful_shutdown=SHUTDOWN_GRACE_S)


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


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="PDF files or folders")],
    url: UrlOption = DEFAULT_URL,
    password: Annotated[str | None, typer.Option(help="password of encrypted PDFs")] = None,
    wait: Annotated[bool, typer.Option(help="follow progress until every file is done")] = True,
    meta: Annotated[list[str] | None, typer.Option(
        help="key=value metadata of every file, searchable with search --meta (repeatable)")
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
        tracked: dict[str, int] = {}
        for path in files:
            data = {"password": password} if password else {}
            if metadata is not None:
                data["metadata"] = json.dumps(metadata, ensure_ascii=False)
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
                    reason = f": {escape(doc['reason'] or '')}" if doc["status"] == "failed" else ""
                    progress.console.print(
                        f"{document_id}  {escape(doc['filename'])}  {doc['status']}{reason}")
            time.sleep(0.5)
    if failed:
        raise typer.Exit(1)


def _progress_of(doc: dict[str, Any]) -> tuple[int, int | None]:
    p = doc["progress"]
    pages, chunks = p["pages_total"] or 0, p["chunks_total"] or 0
    if not pages:
        return 0, None
    return p["pages_parsed"] + p["chunks_embedded"], pages + (chunks or pages)


def _state(doc: dict[str, Any]) -> str:
    p = doc["progress"]
    if doc["status"] == "failed":
        return f"[red]failed: {doc['reason']}[/red]"
    return (
        f"{doc['status']}: pages {p['pages_parsed']}/{p['pages_total'] or '?'}, "
        f"chunks {p['chunks_embedded']}/{p['chunks_total'] or '?'}"
    )


GROUPS = ("chunk", "document")
KINDS = ("contract", "annual_report")
EXCERPT_CHARS = 300


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="what to look for (any language)")],
    url: UrlOption = DEFAULT_URL,
    limit: Annotated[int, typer.Option(min=1, max=100, help="passages, or documents")] = 5,
    document: Annotated[list[str] | None, typer.Option(
        help="restrict to these documents: ids or unique id prefixes (repeatable)")] = None,
    group_by: Annotated[str, typer.Option(
        help="chunk: the best passages; document: the best documents, one passage each")
    ] = "chunk",
    kind: Annotated[str | None, typer.Option(help="contract or annual_report")] = None,
    after: Annotated[str | None, typer.Option(
        help="uploaded at or after: YYYY-MM-DD or an ISO time (local time zone if none)")
    ] = None,
    before: Annotated[str | None, typer.Option(help="uploaded before (same forms)")] = None,
    meta: Annotated[list[str] | None, typer.Option(
        help="key=value the document's metadata must have (repeatable)")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print the API's JSON")] = False,
) -> None:
    """Search the ready documents: passages with document, pages and section; with
    --group-by document, which documents match best (e.g. "change of control")."""
    if group_by not in GROUPS or (kind is not None and kind not in KINDS):
        console.print(f"[red]--group-by is one of {GROUPS}; --kind one of {KINDS}[/red]")
        raise typer.Exit(2)
    body: dict[str, Any] = {
        "query": query, "limit": limit, "group_by": group_by, "document_ids": document or None,
        "kind": kind, "uploaded_after": _when(after, "--after"),
        "uploaded_before": _when(before, "--before"), "metadata": _pairs(meta or []),
    }
    with _client(url) as client:
        response = _call(client, "POST", "/v1/search",
                         json={k: v for k, v in body.items() if v is not None})
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
        console.print(f"[bold]{rank}.[/bold] {escape(name)} [dim]({hit['document_id'][:8]})"
                      f"[/dim]  {_pages(hit['page_start'], hit['page_end'])}"
                      f"  score {hit['score']:.3f}{kind_of}")
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


def _excerpt(text: str, query: str = "", limit: int = EXCERPT_CHARS) -> str:
    """About `limit` characters of `text`, from a little before the query's first match
    (the whole query, else its longest word found) when that lies further in."""
    flat = " ".join(text.split())
    folded = flat.casefold()
    words = sorted((w for w in query.casefold().split() if len(w) > 2), key=len, reverse=True)
    found = [i for i in (folded.find(t) for t in [query.casefold().strip(), *words]) if i >= 0]
    start = 0
    if found and found[0] > limit // 2:
        start = flat.find(" ", found[0] - limit // 4) + 1 or found[0]
    cut = flat[start:start + limit]
    if start + limit < len(flat):
        space = cut.rfind(" ")
        cut = (cut[:space] if space > limit * 2 // 3 else cut) + " …"
    return ("… " if start else "") + cut


@app.command()
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
    for part, label in (("queues", "queued messages"), ("jobs", "analysis jobs"),
                        ("documents", "documents")):
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
            (d["reason"] or "")[:60],
        )
    console.print(table)
    if not ready["ready"]:
        raise typer.Exit(1)


def _counts(counts: dict[str, int] | None) -> str:
    if counts is None:
        return "[yellow]unknown (source unreachable)[/yellow]"
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def _fail_unless_ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        console.print(f"[red]{response.status_code}: {response.json().get('detail')}[/red]")
        raise typer.Exit(1)
    body: dict[str, Any] = response.json()
    return body


def _pages(first: int | list[int] | None, last: int | None = None) -> str:
    """How the CLI prints pages (citations, passages, findings, summary fields): a span
    (first, last) as "p.3" or "p.3-5", a list as "p.3-5, 9"; "page unknown" when no page is
    known (never a bare "p.")."""
    if isinstance(first, list):
        numbers = sorted({n for n in first if isinstance(n, int) and n > 0})
        runs: list[list[int]] = []
        for n in numbers:
            if runs and n == runs[-1][-1] + 1:
                runs[-1].append(n)
            else:
                runs.append([n])
        spans = [f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs]
        return "p." + ", ".join(spans) if spans else "page unknown"
    if not isinstance(first, int) or first < 1:
        return "page unknown"
    return f"p.{first}" + (f"-{last}" if isinstance(last, int) and last > first else "")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    url: UrlOption = DEFAULT_URL,
    document: Annotated[list[str] | None, typer.Option(help="restrict to document ids")] = None,
    thinking: Annotated[bool, typer.Option(help="let the model reason first")] = False,
) -> None:
    """Answer a question from the ready documents, with the pages it cites."""
    with _client(url) as client:
        body = _fail_unless_ok(_call(client, "POST", "/v1/questions", json={
            "question": question, "document_ids": document or None, "thinking": thinking}))
    console.print(escape(body["answer"]))
    if body["found"] and not body["grounded"]:
        console.print("[yellow]unverified: no citation of this answer could be checked "
                      "against the documents; do not rely on it[/yellow]")
    for c in body["citations"]:
        console.print(f"[dim]{escape(c['marker'])} {c['document_id']} "
                      f"{_span(c['page_start'], c['page_end'])} chunks {c['chunk_numbers']}[/dim]")
    _print_extracted(body.get("extracted") or [])
    _print_evidence(body.get("evidence") or [])
    console.print(f"[dim]{body['model']}{' (cached)' if body['cached'] else ''}[/dim]")


def _print_extracted(values: list[dict[str, Any]]) -> None:
    """Values read without the model, each with its quote and where it is."""
    for value in values:
        where = " ".join(p for p in (value["document_id"][:8],
                                     _span(value["page_start"], value["page_end"])) if p)
        console.print(f"[bold]{value['field'].replace('_', ' ')}[/bold]: "
                      f"{escape(value['value'])}  [dim]({where})[/dim]")
        console.print(f"   [dim]\"{escape(' '.join(value['quote'].split()))}\"[/dim]")


def _span(first: int | None, last: int | None) -> str:
    """Pages as "p.3" / "p.3-4", or nothing when unknown (never a bare "p.")."""
    return _pages(first, last or first) if first else ""


def _print_evidence(passages: list[dict[str, Any]]) -> None:
    """The passages behind the answer: document, pages, section, excerpt."""
    if not passages:
        return
    console.print("[bold]evidence[/bold]")
    for rank, e in enumerate(passages, 1):
        name = e.get("filename") or e["document_id"]
        pages = _span(e["page_start"], e["page_end"])
        console.print(f"[bold]{rank}.[/bold] {escape(name)} [dim]({e['document_id'][:8]})[/dim]"
                      f"{'  ' + pages if pages else ''}  score {e['score']:.3f}")
        if e["section_path"]:
            console.print(f"   [dim]{escape(' > '.join(e['section_path']))}[/dim]")
        console.print(f"   {escape(e['excerpt'])}")


def _print_summary(body: dict[str, Any]) -> None:
    console.rule(f"summary ({body['kind']}){' (cached)' if body['cached'] else ''}")
    for name, value in body["summary"].items():
        if isinstance(value, dict):
            console.print(f"[bold]{name}[/bold]: {_statement(value)}")
        elif isinstance(value, list):
            console.print(f"[bold]{name}[/bold]:" + ("" if value else " [dim]none[/dim]"))
            for item in value:
                console.print(f"  - {_statement(item)}")


def _statement(item: dict[str, Any]) -> str:
    """A summary statement or key figure: its text, then its pages and first located quote,
    or a mark that no quote of it was found in the document."""
    text = item.get("text")
    if text is None:  # a key figure
        text = f"{item.get('name')}: {item.get('value')} ({item.get('period')})"
    if not str(text).strip():
        return "[dim](the document does not say)[/dim]"
    evidence = item.get("evidence") or []
    if not item.get("verified") or not evidence:
        return f"{escape(str(text))} [yellow](unverified: no quote found in the document)[/yellow]"
    pages = _pages(item["pages"]) if "pages" in item else _pages(item.get("page"))
    return f"{escape(str(text))} [dim]{pages} \"{escape(_excerpt(evidence[0]['quote']))}\"[/dim]"


def _print_risks(body: dict[str, Any]) -> None:
    report = body["report"]
    console.rule(f"risks ({report['kind']}, {len(report['findings'])} findings)"
                 f"{' (cached)' if body['cached'] else ''}")
    for f in report["findings"]:
        mark = "" if f["grounded"] else (" [yellow](unverified: the model's pointer was not "
                                         "found; closest sentence shown)[/yellow]")
        if f.get("method") == "wording":
            mark += " [dim](found by its wording, not by the model)[/dim]"
        console.print(f"[bold]{f['severity']}[/bold] {f['category']} {_pages(f.get('page'))}"
                      f"{mark}: "
                      f"{escape(f['reason'])}\n  [dim]\"{escape(f['quote'])}\"[/dim]")
    hidden = report.get("unverified_hidden", 0)
    if hidden:
        console.print(f"[dim]{hidden} unverified finding(s) not shown "
                      "(--include-unverified)[/dim]")
    if report["failed"]:
        console.print(f"[yellow]not analysed: {', '.join(report['failed'])}[/yellow]")


def _analysis(client: httpx.Client, kind: str, document_id: str,
              refresh: bool = False, include_unverified: bool = False) -> dict[str, Any]:
    """POST the summary or risks request; a 202 is a job, followed until it ends."""
    shown_as = {"include_unverified": include_unverified} if kind == "risks" else {}
    response = _call(client, "POST", f"/v1/documents/{document_id}/{kind}",
                     params={"refresh": refresh, "wait": 5, **shown_as}, timeout=None)
    if response.status_code != 202:
        return _fail_unless_ok(response)
    job = response.json()
    shown = job_progress(job)
    with console.status(f"{kind}: job {job['id'][:8]} {job['status']} {shown}") as spinner:
        while job["status"] not in ("done", "failed"):
            job = _call(client, "GET", f"/v1/jobs/{job['id']}",
                        params={"wait": 2, **shown_as}, timeout=None).json()
            reason = f" ({job['reason']})" if job["status"] == "waiting" else ""
            step = job_progress(job)
            if step and step != shown and job["status"] == "running":
                console.print(f"[dim]{kind}: {escape(step)}[/dim]")  # a line per step
            shown = step or shown
            spinner.update(f"{kind}: job {job['id'][:8]} {job['status']}{reason} "
                           f"{escape(shown)}")
    if job["status"] == "failed":
        console.print(f"[red]{kind} failed ({job['error_code']}): {job['reason']}[/red]")
        raise typer.Exit(1)
    result: dict[str, Any] = job["result"]
    return result


@app.command()
def job(
    job_id: Annotated[str, typer.Argument(help="job id or a unique prefix of it")],
    url: UrlOption = DEFAULT_URL,
    json_output: Annotated[bool, typer.Option("--json", help="print the API's JSON")] = False,
) -> None:
    """Where a summary or risk job stands (its id as `summarize` / `risks` show it)."""
    with _client(url) as client:
        body = _fail_unless_ok(_call(client, "GET", f"/v1/jobs/{job_id}"))
    if json_output:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return
    reason = f": {escape(body['reason'])}" if body.get("reason") else ""
    step = job_progress(body)
    console.print(f"{body['id']}  {body['kind']} of {body['document_id']}  "
                  f"{body['status']}{reason}" + (f"  {escape(step)}" if step else ""))


def job_progress(job: dict[str, Any]) -> str:
    """"step 3/7: summarising part 2/4" from a job's JSON; "" before its first step."""
    total, step = job.get("steps_total"), job.get("step")
    if not total:
        return ""
    done = job.get("steps_done") or 0
    if job.get("status") == "done" or step == "done":
        return f"{done}/{total} steps"
    return f"step {min(done + 1, total)}/{total}: {step}"


@app.command()
def summarize(
    document_id: Annotated[str, typer.Argument(help="document id or a unique prefix of it")],
    url: UrlOption = DEFAULT_URL,
    refresh: Annotated[bool, typer.Option(help="recompute instead of the cached one")] = False,
) -> None:
    """Structured summary of one document, with pages."""
    with _client(url) as client:
        _print_summary(_analysis(client, "summary", document_id, refresh))


@app.command()
def risks(
    document_id: Annotated[str, typer.Argument(help="document id or a unique prefix of it")],
    url: UrlOption = DEFAULT_URL,
    refresh: Annotated[bool, typer.Option(help="recompute instead of the cached one")] = False,
    include_unverified: Annotated[bool, typer.Option(
        help="also findings whose pointer to the text could not be verified (marked)")] = False,
) -> None:
    """Risk findings of one document, each quoting the document's own text, with its page."""
    with _client(url) as client:
        _print_risks(_analysis(client, "risks", document_id, refresh, include_unverified))


@app.command()
def analyze(
    path: Annotated[Path, typer.Argument(help="a PDF")],
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Ingest one PDF, wait until it is ready, then print its summary and risks."""
    with _client(url) as client:
        response = _call(client, "POST", "/v1/documents",
                         files={"files": (path.name, path.read_bytes(), "application/pdf")})
        body = response.json()
        if not body.get("accepted"):
            reasons = [r.get("reason") for r in body.get("rejected", [])] or [body]
            console.print(f"[red]{path.name}: {reasons[0]}[/red]")
            raise typer.Exit(1)
        document_id = body["accepted"][0]["document"]["id"]
        with console.status(f"ingesting {path.name}") as spinner:
            while True:
                doc = _call(client, "GET", f"/v1/documents/{document_id}").json()
                spinner.update(_state(doc))
                if doc["status"] in FINAL:
                    break
                time.sleep(0.5)
        if doc["status"] == "failed":
            console.print(f"[red]{path.name}: {doc['reason']}[/red]")
            raise typer.Exit(1)
        console.print(f"{path.name}: ready ({document_id})")
        _print_summary(_analysis(client, "summary", document_id))
        _print_risks(_analysis(client, "risks", document_id))


@app.command()
def report(
    date: Annotated[str, typer.Option(help="the day, YYYY-MM-DD (configured time zone)")],
    url: UrlOption = DEFAULT_URL,
    format: Annotated[str, typer.Option(help="markdown, html or json")] = "markdown",
    rebuild: Annotated[bool, typer.Option(help="build it again")] = False,
    wait: Annotated[float, typer.Option(help="seconds to wait for a build to finish "
                                             "before printing the report as it stands")] = 30,
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
                record = _call(client, "POST", path, params={"wait": wait},
                                timeout=None).json()
                deadline = time.monotonic() + 30  # nothing stored yet after `wait`: rare
                while record.get("report") is None and record.get("status") == "building" \
                        and time.monotonic() < deadline:
                    time.sleep(1)
                    record = _call(client, "GET", path).json()
            if record.get("status") == "failed" or record.get("report") is None:
                console.print(f"[red]report {date}: {record.get('status')} "
                              f"({record.get('error_code')}): "
                              f"{record.get('reason') or record.get('detail')}[/red]")
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
        typer.echo(f"report {date} is still building ({reason}); run this command again "
                   "later for the rest", err=True)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    app()


if __name__ == "__main__":
    sys.exit(main())
