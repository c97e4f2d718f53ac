"""A report as Markdown: counts and categories as tables, a section per new document, and
while the report is building, what is ready and what is still pending."""

from __future__ import annotations

from collections.abc import Sequence

from pipelines.report_models import DUE_DAYS, DocumentEntry, DueItem, Report


def _pages(pages: Sequence[int], verified: bool = True) -> str:
    if not verified:
        return " (unverified: no quote found in the document)"
    return f" (p. {', '.join(str(p) for p in pages)})" if pages else ""


_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MARKUP = frozenset("\\`*_[]|~")
"""Emphasis, code, links and images, table cells, strikethrough (the text sits mid-line, so
line-start markers such as `#` or `-` need nothing)."""
_INSIDE_WORD = frozenset(".:@/")
"""Escaped when a word goes on after them (`evil.com`, `http://`, `a@b`), so that no
renderer that finds links in bare text (GFM, linkify) makes one; ends of sentences stay."""


def escape_markdown(text: str) -> str:
    """File names and document text as inert Markdown inside a table cell or list item:
    HTML as entities (no tag, no `<http://...>` autolink), Markdown punctuation escaped (no
    link, image, emphasis or code), link-making punctuation escaped inside words."""
    flat = " ".join(text.split())
    out = []
    for n, char in enumerate(flat):
        if char in _HTML:
            out.append(_HTML[char])
        elif char in _MARKUP or (
            char in _INSIDE_WORD and n + 1 < len(flat) and not flat[n + 1].isspace()
        ):
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def status_line(report: Report) -> str:
    """One sentence on how complete the report is (both renderings)."""
    if report.status == "building":
        complete = len(report.documents) - report.pending
        return (
            f"Status: building. Analyses of {report.pending} document(s) are pending "
            f"({complete} of {len(report.documents)} complete); this report is refreshed "
            "as they finish."
        )
    if report.status == "failed":
        return "Status: failed; this is the last report built."
    return "Status: done."


def render_markdown(report: Report) -> str:
    """The report as Markdown (tables for counts and categories, a section per document)."""
    out = [
        f"# Daily report {report.date.isoformat()} ({escape_markdown(report.tenant)})",
        "",
        f"Documents created {report.window_start.isoformat()} to "
        f"{report.window_end.isoformat()} ({report.timezone}); generated "
        f"{report.generated_at.isoformat(timespec='seconds')}.",
        "",
        status_line(report),
        "",
    ]
    if not report.total_documents:
        out += ["No documents arrived in this window.", ""]
        return "\n".join([*out, *due_markdown(report)])
    out += ["| | count |", "|---|---|", f"| documents | {report.total_documents} |"]
    out += [f"| kind: {k} | {v} |" for k, v in report.by_kind.items()]
    out += [f"| status: {k} | {v} |" for k, v in report.by_status.items()]
    if report.incomplete:
        out += ["", f"{report.incomplete} ready document(s) lack an analysis (see below)."]
    if report.limited:
        out += [
            "",
            f"{report.limited} ready document(s) not fully analysed: the report's "
            "limits (see below).",
        ]
    pending = [e for e in report.documents if e.pending]
    if pending:
        out += ["", "## Pending", ""]
        out += [f"- {escape_markdown(e.filename)}: {', '.join(e.pending)} pending" for e in pending]
    if report.failures:
        out += ["", "## Failures", ""]
        out += [
            f"- **{escape_markdown(f.filename)}** ({f.error_code or 'error'}): "
            f"{escape_markdown(f.reason or '')}"
            for f in report.failures
        ]
    if report.categories:
        out += [
            "",
            "## Risks by category",
            "",
            "| category | high | medium | low | documents |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| {escape_markdown(c.category)} | {c.high} | {c.medium} | {c.low} | {c.documents} |"
            for c in report.categories
        ]
    if report.due is not None:
        out += ["", *due_markdown(report)[:-1]]
    if report.documents:
        out += ["", "## New documents"]
    for entry in report.documents:
        out += ["", f"### {escape_markdown(entry.filename)} ({entry.kind})", ""]
        if entry.analysis != "done":
            out.append(f"_Analysis {entry.analysis}: {escape_markdown(entry.analysis_note or '')}_")
        out += [
            f"- {escape_markdown(line.label)}: {escape_markdown(line.text)}"
            f"{_pages(line.pages, line.verified)}"
            for line in entry.summary
        ]
        for f in entry.findings:
            page = f"p. {f.page}" if f.page else "page unknown"
            out.append(
                f"- **{f.severity}** {escape_markdown(f.category)}: "
                f'{escape_markdown(f.reason)} ({page}): "{escape_markdown(f.quote)}"'
            )
        notes = entry_notes(entry)
        if notes:
            out.append(f"_{escape_markdown('; '.join(notes))}._")
    return "\n".join(out) + "\n"


DUE_TITLE = f"Due in the next {' / '.join(str(d) for d in DUE_DAYS)} days"


def due_groups(report: Report) -> list[tuple[str, list[DueItem]]]:
    """The obligations due, by window: "within 30 days", "in 31 to 90 days"."""
    groups: list[tuple[str, list[DueItem]]] = []
    low = 0
    for high in DUE_DAYS:
        title = f"Within {high} days" if not low else f"In {low + 1} to {high} days"
        groups.append((title, [d for d in report.due or () if low < d.days <= high]))
        low = high
    return groups


def due_text(item: DueItem) -> str:
    """One obligation due, without its file name and quote (both renderings)."""
    party = f" ({item.party})" if item.party else ""
    days = f"{item.days} day" + ("s" if item.days != 1 else "")
    return f"{item.due_date.isoformat()} (in {days}): {item.kind}{party}"


def due_markdown(report: Report) -> list[str]:
    """The "due in the next 30 / 90 days" section (nothing when not looked up)."""
    if report.due is None:
        return []
    out = [f"## {DUE_TITLE}", ""]
    if not report.due:
        return [*out, f"Nothing falls due in the next {DUE_DAYS[-1]} days.", ""]
    for title, items in due_groups(report):
        out += [f"### {title}", ""]
        out += [
            f"- {escape_markdown(due_text(item))}, **{escape_markdown(item.filename)}**"
            f"{_pages([item.page] if item.page else [], item.verified)}: "
            f'"{escape_markdown(item.quote)}"'
            for item in items
        ] or ["- none"]
        out.append("")
    return out


def entry_notes(entry: DocumentEntry) -> list[str]:
    """What a document's entry leaves out, for both renderings."""
    notes = [f"{kind} pending" for kind in entry.pending]
    notes += entry.limited
    if entry.low_findings:
        notes.append(f"{entry.low_findings} low finding(s) not listed")
    if entry.ungrounded:
        notes.append(f"{entry.ungrounded} finding(s) not shown: quote not found in the text")
    if entry.not_analysed:
        notes.append(f"not analysed: {', '.join(entry.not_analysed)}")
    return notes
