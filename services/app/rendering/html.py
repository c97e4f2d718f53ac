"""A report as one self-contained HTML page: inline CSS, an inline SVG bar chart of the
risk counts by category and severity, every text escaped, no external asset."""

from __future__ import annotations

from html import escape

from pipelines.report_models import DUE_DAYS, CategoryCount, DocumentEntry, Report
from services.app.rendering.markdown import (
    DUE_TITLE,
    due_groups,
    due_text,
    entry_notes,
    status_line,
)

COLOURS = {"high": "#c62828", "medium": "#ef8f00", "low": "#7d8c99"}
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC",sans-serif;
margin:2rem auto;max-width:1050px;color:#1d2530;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #dde3ea}
.meta{color:#5b6773;font-size:.9rem}
.cards{display:flex;flex-wrap:wrap;gap:.6rem;margin:1rem 0}
.card{border:1px solid #dde3ea;border-radius:6px;padding:.5rem .9rem;min-width:7rem}
.card b{display:block;font-size:1.4rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #dde3ea;
padding:.3rem .6rem;text-align:left}th{background:#f3f6f9}
.doc{border:1px solid #dde3ea;border-radius:6px;padding:.4rem 1rem;margin:1rem 0}
.unverified{color:#a15c00}
.sev{display:inline-block;color:#fff;border-radius:3px;padding:0 .4rem;font-size:.8rem}
.high{background:#c62828}.medium{background:#ef8f00}.low{background:#7d8c99}
blockquote{margin:.3rem 0 .6rem 1rem;padding-left:.6rem;border-left:3px solid #c9d3dd;
color:#39444f}.note{color:#6b5a00;font-size:.9rem}.status.building{color:#6b5a00}.empty{font-size:1.1rem;color:#5b6773}
"""


def render_html(report: Report) -> str:
    """The whole page."""
    title = f"Daily report {report.date.isoformat()} ({report.tenant})"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">Documents created {escape(report.window_start.isoformat())} to '
        f"{escape(report.window_end.isoformat())} ({escape(report.timezone)}); generated "
        f"{escape(report.generated_at.isoformat(timespec='seconds'))}.</p>",
        f'<p class="status {report.status}">{escape(status_line(report))}</p>',
    ]
    if not report.total_documents:
        body.append('<p class="empty">No documents arrived in this window.</p>')
    else:
        body += _counts(report)
    pending = [e for e in report.documents if e.pending]
    if pending:
        items = "".join(
            f"<li>{escape(e.filename)}: {escape(', '.join(e.pending))} pending</li>"
            for e in pending
        )
        body.append(f'<h2>Pending</h2><ul class="pending">{items}</ul>')
    if report.failures:
        rows = "".join(
            f"<tr><td>{escape(f.filename)}</td><td>{escape(f.error_code or 'error')}</td>"
            f"<td>{escape(f.reason or '')}</td></tr>"
            for f in report.failures
        )
        body.append(
            "<h2>Failures</h2><table><tr><th>document</th><th>code</th>"
            f"<th>reason</th></tr>{rows}</table>"
        )
    if report.categories:
        body += [
            "<h2>Risks by category</h2>",
            chart_svg(report.categories),
            _category_table(report.categories),
        ]
    if report.due is not None:
        body.append(_due(report))
    if report.documents:
        body.append("<h2>New documents</h2>")
        body += [_document(entry) for entry in report.documents]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def _due(report: Report) -> str:
    """The "due in the next 30 / 90 days" section."""
    out = [f'<h2 id="due">{escape(DUE_TITLE)}</h2>']
    if not report.due:
        out.append(f'<p class="empty">Nothing falls due in the next {DUE_DAYS[-1]} days.</p>')
        return "".join(out)
    for title, items in due_groups(report):
        out.append(f"<h3>{escape(title)}</h3>")
        if not items:
            out.append("<p>none</p>")
        for item in items:
            page = f"p. {item.page}" if item.page else "page unknown"
            unverified = (
                ""
                if item.verified
                else ' <small class="unverified">(unverified: quote not found in the document)'
                "</small>"
            )
            out.append(
                f'<p class="due" data-kind="{escape(item.kind)}">{escape(due_text(item))}, '
                f"<b>{escape(item.filename)}</b> <small>({page})</small>{unverified}</p>"
                f"<blockquote>{escape(item.quote)}</blockquote>"
            )
    return "".join(out)


def _counts(report: Report) -> list[str]:
    cards = [("documents", report.total_documents)]
    cards += [(k.replace("_", " "), v) for k, v in report.by_kind.items()]
    cards += list(report.by_status.items())
    html = "".join(f'<div class="card"><b>{v}</b>{escape(k)}</div>' for k, v in cards)
    out = [f'<div class="cards">{html}</div>']
    if report.incomplete:
        out.append(
            f'<p class="note">{report.incomplete} ready document(s) lack an '
            "analysis (see below).</p>"
        )
    if report.limited:
        out.append(
            f'<p class="note">{report.limited} ready document(s) not fully '
            "analysed: the report's limits (see below).</p>"
        )
    return out


def _category_table(categories: list[CategoryCount]) -> str:
    rows = "".join(
        f"<tr><td>{escape(c.category)}</td><td>{c.high}</td><td>{c.medium}</td>"
        f"<td>{c.low}</td><td>{c.documents}</td></tr>"
        for c in categories
    )
    return (
        "<table><tr><th>category</th><th>high</th><th>medium</th><th>low</th>"
        f"<th>documents</th></tr>{rows}</table>"
    )


def chart_svg(categories: list[CategoryCount], width: int = 900) -> str:
    """Horizontal stacked bars, one a category: high, medium and low counts."""
    label_w, row_h, top = 260, 26, 30
    bar_w = width - label_w - 60
    peak = max((c.total for c in categories), default=0) or 1
    height = top + row_h * len(categories) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" class="chart">',
        "<title>Risk findings by category and severity</title>",
    ]
    x = label_w
    for severity, colour in COLOURS.items():
        parts.append(
            f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16}" y="17" font-size="12">{severity}</text>'
        )
        x += 80
    for row, count in enumerate(categories):
        y = top + row * row_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" font-size="13" '
            f'text-anchor="end">{escape(_short(count.category))}</text>'
        )
        x = label_w
        for severity, colour in COLOURS.items():
            n = getattr(count, severity)
            if not n:
                continue
            w = max(2, round(bar_w * n / peak))
            parts.append(
                f'<rect class="bar {severity}" data-category="'
                f'{escape(count.category)}" data-severity="{severity}" x="{x}" '
                f'y="{y + 3}" width="{w}" height="{row_h - 8}" '
                f'fill="{colour}"><title>{escape(count.category)}: {n} '
                f"{severity}</title></rect>"
            )
            x += w
        parts.append(f'<text x="{x + 6}" y="{y + 16}" font-size="12">{count.total}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _short(text: str, limit: int = 36) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _document(entry: DocumentEntry) -> str:
    out = [
        f'<div class="doc"><h3>{escape(entry.filename)} '
        f"<small>({escape(entry.kind.replace('_', ' '))})</small></h3>"
    ]
    if entry.analysis != "done":
        out.append(
            f'<p class="note">Analysis {escape(entry.analysis)}: '
            f"{escape(entry.analysis_note or '')}</p>"
        )
    if entry.summary:
        items = "".join(
            f"<li><b>{escape(line.label)}</b>: {escape(line.text)}"
            + (
                f" <small>(p. {', '.join(str(p) for p in line.pages)})</small>"
                if line.pages and line.verified
                else ""
            )
            + (
                ""
                if line.verified
                else ' <small class="unverified">(unverified: no quote found in the document)'
                "</small>"
            )
            + "</li>"
            for line in entry.summary
        )
        out.append(f"<ul>{items}</ul>")
    for f in entry.findings:
        page = f"p. {f.page}" if f.page else "page unknown"
        out.append(
            f'<p><span class="sev {f.severity}">{f.severity}</span> '
            f"<b>{escape(f.category)}</b>: {escape(f.reason)} <small>({page})</small>"
            f"</p><blockquote>{escape(f.quote)}</blockquote>"
        )
    notes = entry_notes(entry)
    if notes:
        out.append(f'<p class="note">{escape("; ".join(notes))}.</p>')
    out.append("</div>")
    return "".join(out)
