"""How the CLI prints: the shared console, pages ("p.3-5"), excerpts of passages and a
document's progress line."""

from __future__ import annotations

from typing import Any

from services.cli.console import make_console

console = make_console()  # whole lines when piped
FINAL = {"ready", "failed"}
"""Document statuses after which nothing more happens to a document."""
EXCERPT_CHARS = 300


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


def _span(first: int | None, last: int | None) -> str:
    """Pages as "p.3" / "p.3-4", or nothing when unknown (never a bare "p.")."""
    return _pages(first, last or first) if first else ""


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
    cut = flat[start : start + limit]
    if start + limit < len(flat):
        space = cut.rfind(" ")
        cut = (cut[:space] if space > limit * 2 // 3 else cut) + " …"
    return ("… " if start else "") + cut


def _state(doc: dict[str, Any]) -> str:
    p = doc["progress"]
    if doc["status"] == "failed":
        return f"[red]failed: {doc['reason']}[/red]"
    return (
        f"{doc['status']}: pages {p['pages_parsed']}/{p['pages_total'] or '?'}, "
        f"chunks {p['chunks_embedded']}/{p['chunks_total'] or '?'}"
    )
