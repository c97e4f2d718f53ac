"""Risk findings whose highlight covers the quote, through a real server, and page renders.

Starts `docsight serve` on a fresh data folder (the bundled model in llama-server, unless
`--llm-url`), uploads `--contracts` CUAD dev contracts of at most `--max-pages` pages
(`extraction_quality.pick`) and the first `--report-pages` pages of the Chinese annual
report, waits until they are ready and runs a risk job on each (`include_unverified`). For
every verified finding (grounded, with `char_start`/`char_end`) it asks
`GET /v1/documents/{id}/highlights` for that range and checks the answer: located, and
covering: the range is cut at page boundaries (our own parse of the same PDF), each piece
is found among pdfium's characters of its page (`highlight_match.locate`, as
tests/adapters/test_pdf_geometry.py does) and the centre of every matched character's own
pdfium box lies in a returned rectangle of that page; tight: besides, the rectangles hold
few other characters and their area is at most 1.6 times the matched characters' line
boxes. Every page of each document (the pages a highlight is on first) is fetched as PNG
at width 1000 twice: the first render and the cached answer, p50/p95 seconds.

    .venv/bin/python -m benchmarks.finding_highlights [--contracts 4] [--max-pages 3] \
        [--report-pages 8] [--llm-url URL]
Writes var/benchmarks/finding_highlights.json; ends with one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pypdfium2 as pdfium

from benchmarks import common
from benchmarks.extraction_quality import pick
from benchmarks.highlights import _quantile
from benchmarks.load import free_port
from pipelines.chunking import document_text, page_starts
from pipelines.highlight_match import fold, locate
from services.adapters.pdf import Pypdfium2Parser
from services.adapters.pdf_geometry import PdfiumGeometry
from services.app.highlights import _pieces

WIDTH = 1000
COUNTS = ("findings", "verified", "located", "covering", "tight")


@contextmanager
def serve(folder: Path, llm_url: str | None) -> Iterator[httpx.Client]:
    """`docsight serve` on a free loopback port with its own data folder, and a client
    carrying the key it writes."""
    port = free_port()
    env = os.environ | {
        "DOCSIGHT_DATA_DIR": str(folder),
        "DOCSIGHT_API__PORT": str(port),
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    if llm_url:
        env["DOCSIGHT_LLM__BASE_URL"] = llm_url
    with (folder / "server.log").open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "serve"],
            cwd=common.REPO_ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("server did not start: " + (folder / "server.log").read_text())
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        key_file = folder / "api_key"
        headers = {"Authorization": f"Bearer {key_file.read_text().strip()}"}
        with httpx.Client(base_url=url, timeout=120, headers=headers) as client:
            yield client
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def upload(client: httpx.Client, pdfs: Sequence[Path], timeout_s: float) -> list[dict[str, Any]]:
    """Each PDF uploaded; the documents once every one is ready or failed."""
    ids = []
    for path in pdfs:
        r = client.post(
            "/v1/documents", files=[("files", (path.name, path.read_bytes(), "application/pdf"))]
        )
        r.raise_for_status()
        ids.append(r.json()["accepted"][0]["document"]["id"])
    deadline = time.monotonic() + timeout_s
    while True:
        docs = {d["id"]: d for d in client.get("/v1/documents").json()["documents"]}
        if all(docs[i]["status"] in ("ready", "failed") for i in ids):
            return [docs[i] for i in ids]
        if time.monotonic() > deadline:
            raise SystemExit(f"documents not ready in {timeout_s:.0f} s")
        time.sleep(2)


def risks(client: httpx.Client, doc_id: str, timeout_s: float) -> dict[str, Any]:
    """The risks result of a document (`report`, `model`), unverified findings included."""
    params: dict[str, str | int] = {"wait": 600, "include_unverified": "true"}
    r = client.post(f"/v1/documents/{doc_id}/risks", params=params, timeout=660)
    deadline = time.monotonic() + timeout_s
    while r.status_code == 202 and time.monotonic() < deadline:
        job = r.json()["id"]
        r = client.get(f"/v1/jobs/{job}", params={"wait": 60, "include_unverified": "true"})
        body = r.json()
        if body["status"] == "done":
            return dict(body["result"])
        if body["status"] == "failed":
            raise RuntimeError(f"{body['error_code']}: {body['reason']}")
        r = httpx.Response(202, json=body)
    if r.status_code != 200:
        raise RuntimeError(f"risks: {r.status_code} {r.text[:300]}")
    return dict(r.json())


def covers(
    data: bytes,
    pieces: dict[int, tuple[str, float]],
    boxes: Sequence[dict[str, Any]],
    log: Any = common.log,
) -> tuple[bool, bool]:
    """(covering, tight) of the returned boxes for the text pieces of each page; why a
    covering highlight is not tight goes to `log`."""
    by_page = {b["page"]: b["rects"] for b in boxes}
    if set(by_page) != set(pieces):
        return False, False
    glyphs = PdfiumGeometry().glyphs(data, None, sorted(pieces))
    document = pdfium.PdfDocument(data)
    covering = tight = True
    for page, (piece, position) in pieces.items():
        page_glyphs, rects = glyphs[page], by_page[page]
        indices = locate(page_glyphs, piece, position)
        if page_glyphs.ocr or indices is None:
            return False, False
        textpage = document[page - 1].get_textpage()
        chosen, chosen_area, others, others_inside = set(indices), 0.0, 0, 0
        for i in range(textpage.count_chars()):
            if not textpage.get_text_range(i, 1).strip():
                continue
            left, bottom, right, top = textpage.get_charbox(i)
            x, y = (left + right) / 2, page_glyphs.height - (top + bottom) / 2
            inside = any(x0 <= x <= x1 and y0 <= y <= y1 for x0, y0, x1, y1 in rects)
            if i in chosen:
                covering &= inside
                lx0, ly0, lx1, ly1 = page_glyphs.boxes[i]
                chosen_area += (lx1 - lx0) * (ly1 - ly0)
            else:
                others += 1
                others_inside += inside
        area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in rects)
        if others_inside > max(3, 0.02 * others) or area > 1.6 * chosen_area:
            tight = False
            log(f"page {page}: {others_inside} other characters inside, area {area:.0f} "
                f"for line boxes of {chosen_area:.0f}")  # fmt: skip
    document.close()
    return covering, covering and tight


def check_document(
    client: httpx.Client, doc: dict[str, Any], pdf: Path, report: dict[str, Any]
) -> tuple[dict[str, int], list[str], list[int]]:
    """Counts of one document's findings, the misses, and the pages to render."""
    data = pdf.read_bytes()
    pages = Pypdfium2Parser(processes=1).parse(data).pages
    text, starts = document_text(pages), page_starts(pages)
    row = dict.fromkeys(COUNTS, 0)
    misses: list[str] = []
    shown: list[int] = []
    for finding in report["report"]["findings"]:
        row["findings"] += 1
        start, end = finding.get("char_start"), finding.get("char_end")
        if not finding["grounded"] or start is None or end is None:
            continue
        row["verified"] += 1
        body = client.get(
            f"/v1/documents/{doc['id']}/highlights", params={"start": start, "end": end}
        ).json()
        if not body["located"]:
            misses.append(f"not located: {finding['quote'][:100]!r}")
            continue
        row["located"] += 1
        if fold(text[start:end])[0] != fold(finding["quote"])[0]:
            misses.append(f"our parse differs from the stored text: {finding['quote'][:80]!r}")
            continue
        pieces = {
            page: (text[lo:hi], position)
            for page, lo, hi, position in _pieces(starts, len(text), start, body["end"])
            if text[lo:hi].strip()
        }
        covering, tight = covers(data, pieces, body["boxes"])
        row["covering"] += covering
        row["tight"] += tight
        if not covering:
            misses.append(f"not covered, pages {sorted(pieces)}: {finding['quote'][:100]!r}")
        elif not tight:
            misses.append(f"covered, not tight: {finding['quote'][:100]!r}")
        shown.extend(b["page"] for b in body["boxes"])
    report_row = report["report"]
    row["requests"] = report_row["requests"]
    row["failed_batches"] = len(report_row["failed"])
    return row, misses, sorted(set(shown))


def render_times(client: httpx.Client, doc_id: str, pages: Sequence[int]) -> list[list[float]]:
    """[first, cached] seconds of each page's PNG at WIDTH."""
    out = []
    for page in pages:
        times = []
        for _ in range(2):
            started = time.perf_counter()
            r = client.get(f"/v1/documents/{doc_id}/pages/{page}.png", params={"width": WIDTH})
            r.raise_for_status()
            times.append(time.perf_counter() - started)
        out.append(times)
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=common.DEFAULT_DATA)
    parser.add_argument("--contracts", type=int, default=4)
    parser.add_argument("--max-pages", type=int, default=3)
    parser.add_argument("--report-pages", type=int, default=8, help="0: no annual report")
    parser.add_argument("--llm-url", default=None, help="absent: the bundled local model")
    parser.add_argument("--timeout-s", type=float, default=1800, help="per risk job")
    args = parser.parse_args(argv)
    common.force_offline()
    data = args.data.resolve()
    rows: list[list[object]] = []
    totals = dict.fromkeys(COUNTS, 0)
    per_document: dict[str, Any] = {}
    renders: list[list[float]] = []  # [first, cached] seconds of every page
    shown_renders: list[list[float]] = []  # of the pages a highlight is on
    misses: list[str] = []
    failed = 0
    model = None
    with tempfile.TemporaryDirectory(prefix="bench-finding-hl-") as folder:
        pdfs = [c.pdf for c in pick(data, False, args.contracts, [], args.max_pages)]
        if args.report_pages:
            pdfs.append(
                common.pdf_prefix(data / common.CHINESE_REPORT, args.report_pages, Path(folder))
            )
        server_dir = Path(folder) / "server"
        server_dir.mkdir()
        with serve(server_dir, args.llm_url) as client:
            with common.stopwatch() as took:
                docs = upload(client, pdfs, args.timeout_s)
            common.log(f"{len(docs)} documents ingested in {took[0]:.0f} s")
            for doc, pdf in zip(docs, pdfs, strict=True):
                name = pdf.name[:50]
                try:
                    if doc["status"] != "ready":
                        raise RuntimeError(f"document {doc['status']}")
                    with common.stopwatch() as took:
                        report = risks(client, doc["id"], args.timeout_s)
                except (RuntimeError, httpx.HTTPError) as exc:
                    common.log(f"{name}: {exc}")
                    failed += 1
                    continue
                row, missed, pages = check_document(client, doc, pdf, report)
                total = doc["progress"]["pages_total"] or 0
                rest = [p for p in range(1, total + 1) if p not in pages]
                times = render_times(client, doc["id"], pages)
                shown_renders += times
                renders += times + render_times(client, doc["id"], rest)
                misses += [f"{name}: {m}" for m in missed]
                model = report["model"]
                per_document[name] = {
                    **row,
                    "pages_shown": len(pages),
                    "risk_job_s": round(took[0], 1),
                }
                for key in COUNTS:
                    totals[key] += row[key]
                rows.append([name, *(row[k] for k in COUNTS), len(pages), round(took[0], 1)])
                common.log(f"{name}: {row}, risk job {took[0]:.0f} s")
    common.print_table(["document", *COUNTS, "pages shown", "risk job s"], rows)
    for miss in misses:
        print(miss)
    result = report_result(totals, per_document, renders, failed, args, model)
    shown = [t[0] for t in shown_renders]
    result["shown_pages_render_s_p95"] = round(_quantile(shown, 0.95), 4) if shown else None
    return finish(result)


def report_result(
    totals: dict[str, int],
    per_document: dict[str, Any],
    renders: list[list[float]],
    failed: int,
    args: Any,
    model: str | None,
) -> dict[str, Any]:
    def share(a: int, b: int) -> float | None:
        return round(a / b, 3) if b else None

    first = [t[0] for t in renders]
    cached = [t[1] for t in renders]
    result: dict[str, Any] = {
        "benchmark": "finding_highlights",
        "model": model,
        "local": args.llm_url is None,
        "documents": len(per_document),
        "failed": failed,
        **totals,
        "located_share": share(totals["located"], totals["verified"]),
        "covering_share": share(totals["covering"], totals["verified"]),
        "tight_share": share(totals["tight"], totals["verified"]),
        "per_document": per_document,
        "renders": len(renders),
        "render_width": WIDTH,
        "render_s_p50": round(statistics.median(first), 4) if first else None,
        "render_s_p95": round(_quantile(first, 0.95), 4) if first else None,
        "cached_s_p95": round(_quantile(cached, 0.95), 4) if cached else None,
        "args": {k: v for k, v in vars(args).items() if k != "data"},
    }
    return result


def finish(result: dict[str, Any]) -> dict[str, Any]:
    """Print the totals, write the JSON file and the last line."""
    print(
        f"{result['findings']} findings, {result['verified']} verified, {result['located']} "
        f"located, {result['covering']} covering; render p95 {result['render_s_p95']} s"
    )
    out = common.REPO_ROOT / "var" / "benchmarks" / "finding_highlights.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    common.emit_json(result)
    return result


if __name__ == "__main__":
    main()
