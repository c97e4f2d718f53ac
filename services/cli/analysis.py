"""`docsight ask`, `summarize`, `risks`, `analyze` and `job`: questions answered with their
pages, summaries and risk findings of a document (jobs followed until they end), and how
they print."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape

from services.cli.client import DEFAULT_URL, UrlOption, _call, _client, _fail_unless_ok
from services.cli.output import FINAL, _excerpt, _pages, _span, _state, console


def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    url: UrlOption = DEFAULT_URL,
    document: Annotated[list[str] | None, typer.Option(help="restrict to document ids")] = None,
    thinking: Annotated[bool, typer.Option(help="let the model reason first")] = False,
) -> None:
    """Answer a question from the ready documents, with the pages it cites."""
    with _client(url) as client:
        body = _fail_unless_ok(
            _call(
                client,
                "POST",
                "/v1/questions",
                json={"question": question, "document_ids": document or None, "thinking": thinking},
            )
        )
    console.print(escape(body["answer"]))
    if body["found"] and not body["grounded"]:
        console.print(
            "[yellow]unverified: no citation of this answer could be checked "
            "against the documents; do not rely on it[/yellow]"
        )
    for c in body["citations"]:
        console.print(
            f"[dim]{escape(c['marker'])} {c['document_id']} "
            f"{_span(c['page_start'], c['page_end'])} chunks {c['chunk_numbers']}[/dim]"
        )
    _print_extracted(body.get("extracted") or [])
    _print_evidence(body.get("evidence") or [])
    console.print(f"[dim]{body['model']}{' (cached)' if body['cached'] else ''}[/dim]")


def _print_extracted(values: list[dict[str, Any]]) -> None:
    """Values read without the model, each with its quote and where it is."""
    for value in values:
        where = " ".join(
            p
            for p in (value["document_id"][:8], _span(value["page_start"], value["page_end"]))
            if p
        )
        console.print(
            f"[bold]{value['field'].replace('_', ' ')}[/bold]: "
            f"{escape(value['value'])}  [dim]({where})[/dim]"
        )
        console.print(f'   [dim]"{escape(" ".join(value["quote"].split()))}"[/dim]')


def _print_evidence(passages: list[dict[str, Any]]) -> None:
    """The passages behind the answer: document, pages, section, excerpt."""
    if not passages:
        return
    console.print("[bold]evidence[/bold]")
    for rank, e in enumerate(passages, 1):
        name = e.get("filename") or e["document_id"]
        pages = _span(e["page_start"], e["page_end"])
        console.print(
            f"[bold]{rank}.[/bold] {escape(name)} [dim]({e['document_id'][:8]})[/dim]"
            f"{'  ' + pages if pages else ''}  score {e['score']:.3f}"
        )
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
    return f'{escape(str(text))} [dim]{pages} "{escape(_excerpt(evidence[0]["quote"]))}"[/dim]'


def _print_risks(body: dict[str, Any]) -> None:
    report = body["report"]
    console.rule(
        f"risks ({report['kind']}, {len(report['findings'])} findings)"
        f"{' (cached)' if body['cached'] else ''}"
    )
    for f in report["findings"]:
        mark = (
            ""
            if f["grounded"]
            else (
                " [yellow](unverified: the model's pointer was not "
                "found; closest sentence shown)[/yellow]"
            )
        )
        if f.get("method") == "wording":
            mark += " [dim](found by its wording, not by the model)[/dim]"
        console.print(
            f"[bold]{f['severity']}[/bold] {f['category']} {_pages(f.get('page'))}"
            f"{mark}: "
            f'{escape(f["reason"])}\n  [dim]"{escape(f["quote"])}"[/dim]'
        )
    hidden = report.get("unverified_hidden", 0)
    if hidden:
        console.print(f"[dim]{hidden} unverified finding(s) not shown (--include-unverified)[/dim]")
    if report["failed"]:
        console.print(f"[yellow]not analysed: {', '.join(report['failed'])}[/yellow]")


def _analysis(
    client: httpx.Client,
    kind: str,
    document_id: str,
    refresh: bool = False,
    include_unverified: bool = False,
) -> dict[str, Any]:
    """POST the summary or risks request; a 202 is a job, followed until it ends."""
    shown_as = {"include_unverified": include_unverified} if kind == "risks" else {}
    response = _call(
        client,
        "POST",
        f"/v1/documents/{document_id}/{kind}",
        params={"refresh": refresh, "wait": 5, **shown_as},
        timeout=None,
    )
    if response.status_code != 202:
        return _fail_unless_ok(response)
    job = response.json()
    shown = job_progress(job)
    with console.status(f"{kind}: job {job['id'][:8]} {job['status']} {shown}") as spinner:
        while job["status"] not in ("done", "failed"):
            job = _call(
                client, "GET", f"/v1/jobs/{job['id']}", params={"wait": 2, **shown_as}, timeout=None
            ).json()
            reason = f" ({job['reason']})" if job["status"] == "waiting" else ""
            step = job_progress(job)
            if step and step != shown and job["status"] == "running":
                console.print(f"[dim]{kind}: {escape(step)}[/dim]")  # a line per step
            shown = step or shown
            spinner.update(f"{kind}: job {job['id'][:8]} {job['status']}{reason} {escape(shown)}")
    if job["status"] == "failed":
        console.print(f"[red]{kind} failed ({job['error_code']}): {job['reason']}[/red]")
        raise typer.Exit(1)
    result: dict[str, Any] = job["result"]
    return result


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
    console.print(
        f"{body['id']}  {body['kind']} of {body['document_id']}  "
        f"{body['status']}{reason}" + (f"  {escape(step)}" if step else "")
    )


def job_progress(job: dict[str, Any]) -> str:
    """ "step 3/7: summarising part 2/4" from a job's JSON; "" before its first step."""
    total, step = job.get("steps_total"), job.get("step")
    if not total:
        return ""
    done = job.get("steps_done") or 0
    if job.get("status") == "done" or step == "done":
        return f"{done}/{total} steps"
    return f"step {min(done + 1, total)}/{total}: {step}"


def summarize(
    document_id: Annotated[str, typer.Argument(help="document id or a unique prefix of it")],
    url: UrlOption = DEFAULT_URL,
    refresh: Annotated[bool, typer.Option(help="recompute instead of the cached one")] = False,
) -> None:
    """Structured summary of one document, with pages."""
    with _client(url) as client:
        _print_summary(_analysis(client, "summary", document_id, refresh))


def risks(
    document_id: Annotated[str, typer.Argument(help="document id or a unique prefix of it")],
    url: UrlOption = DEFAULT_URL,
    refresh: Annotated[bool, typer.Option(help="recompute instead of the cached one")] = False,
    include_unverified: Annotated[
        bool,
        typer.Option(help="also findings whose pointer to the text could not be verified (marked)"),
    ] = False,
) -> None:
    """Risk findings of one document, each quoting the document's own text, with its page."""
    with _client(url) as client:
        _print_risks(_analysis(client, "risks", document_id, refresh, include_unverified))


def analyze(
    path: Annotated[Path, typer.Argument(help="a PDF")],
    url: UrlOption = DEFAULT_URL,
) -> None:
    """Ingest one PDF, wait until it is ready, then print its summary and risks."""
    with _client(url) as client:
        response = _call(
            client,
            "POST",
            "/v1/documents",
            files={"files": (path.name, path.read_bytes(), "application/pdf")},
        )
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
