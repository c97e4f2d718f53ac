"""Key dates and obligations of the CUAD dev contracts, through a real server.

Starts `docsight serve` on a fresh data folder (no model: obligations need none), uploads
`--contracts` dev contract PDFs, waits until they are ready (their obligations are read by
the index step) and checks what `GET /v1/obligations` gives:
- every quote is the document's text at its offsets (the store's chunks at their offsets),
  and is printed on its pages: the review page's highlight of its offsets
  (`GET /v1/documents/{id}/highlights`) is located, on pages `page`..`page_end` only;
- end to end against CUAD's `answer_normalized` of Effective Date and Expiration Date (the
  contracts whose gold is a date): right when a row of that kind has the gold's date, wrong
  when rows of that kind exist and none has it, missing when there is none;
- timings: the listing, the iCalendar feed (its events parsed, one per dated row), and
  `POST /v1/obligations/rebuild` over every contract (the same rows written again).

    .venv/bin/python -m benchmarks.obligations_service [--contracts 40]
Writes var/benchmarks/obligations_service.json; ends with one JSON object on the last line.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from icalendar import Calendar

from benchmarks import common
from benchmarks.cuad_values import gold_date, gold_values
from benchmarks.finding_highlights import serve, upload
from benchmarks.load import free_port
from services.adapters.store import SqlStore
from services.app.obligations import document_text
from services.settings import Settings

FIELDS = {"Effective Date": "effective_date", "Expiration Date": "expiration_date"}


def check_quotes(
    client: httpx.Client, rows: list[dict[str, Any]], folder: Path, misses: list[str]
) -> dict[str, int]:
    """How many quotes equal the stored text at their offsets, and are highlighted on their
    pages of the PDF (`GET /v1/documents/{id}/highlights`: located, every box on a page of
    `page`..`page_end`); the first that are not go to `misses`."""
    store = SqlStore(Settings(data_dir=folder).store_url, upgrade=None)
    texts: dict[str, str] = {}
    counts = Counter[str]()
    try:
        for row in rows:
            doc = row["document_id"]
            if doc not in texts:
                texts[doc] = document_text(store.load_chunks(doc), store.load_page_starts(doc))
            counts["rows"] += 1
            counts["verified"] += row["verified"]
            counts["at_offsets"] += row["quote"] == texts[doc][row["char_start"] : row["char_end"]]
            if row["page"] is None:
                continue
            found = client.get(
                f"/v1/documents/{doc}/highlights",
                params={"start": row["char_start"], "end": row["char_end"]},
            ).json()
            pages = {box["page"] for box in found.get("boxes", [])}
            if (
                found.get("located")
                and pages
                and pages <= set(range(row["page"], row["page_end"] + 1))
            ):
                counts["on_page"] += 1
            elif len(misses) < 10:
                misses.append(f"{row['filename']} p.{row['page']} {pages}: {row['quote'][:80]!r}")
    finally:
        store.close()
    return dict(counts)


def against_gold(
    rows: list[dict[str, Any]], names: dict[str, str], misses: list[str]
) -> dict[str, dict[str, int]]:
    """Per field: contracts whose gold is a date, and right / wrong / missing (those go
    to `misses`, with the gold and our dates)."""
    out: dict[str, dict[str, int]] = {}
    for field, kind in FIELDS.items():
        gold = gold_values(field)
        counts = Counter[str]()
        for doc, name in names.items():
            when = gold_date(gold.get(name, ""))
            if when is None:
                continue
            counts["gold_dates"] += 1
            ours = [r["due_date"] for r in rows if r["document_id"] == doc and r["kind"] == kind]
            month, day, year = when
            right = any(
                d
                and int(d[5:7]) == month
                and int(d[8:10]) == day
                and (int(d[:4]) == year if year >= 100 else int(d[:4]) % 100 == year)
                for d in ours
            )
            outcome = "right" if right else "wrong" if any(ours) else "missing"
            counts[outcome] += 1
            if outcome != "right":
                misses.append(f"{field} {outcome}: {name} (gold {gold[name]}, ours {ours})")
        out[field] = dict(counts)
    return out


def main() -> None:
    parser = common.make_parser(__doc__ or "")
    parser.add_argument("--contracts", type=int, default=40)
    args = parser.parse_args()
    contracts = common.load_contracts(Path(args.data), args.contracts)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        dead_llm = f"http://127.0.0.1:{free_port()}/v1"  # no model is needed
        with serve(folder, dead_llm) as client:
            started = time.perf_counter()
            docs = upload(client, [c.pdf for c in contracts], timeout_s=1800)
            ingest_s = time.perf_counter() - started
            names = {d["id"]: c.name for d, c in zip(docs, contracts, strict=True)}
            ready = sum(d["status"] == "ready" for d in docs)
            started = time.perf_counter()
            rows = client.get("/v1/obligations").json()["obligations"]
            list_s = time.perf_counter() - started
            started = time.perf_counter()
            feed = client.get("/v1/obligations.ics")
            feed_s = time.perf_counter() - started
            events = Calendar.from_ical(feed.content).walk("VEVENT")
            started = time.perf_counter()
            rebuilt = client.post("/v1/obligations/rebuild", timeout=1800).json()
            rebuild_s = time.perf_counter() - started
            again = client.get("/v1/obligations").json()["obligations"]
            misses: list[str] = []
            quotes = check_quotes(client, rows, folder, misses)
    dated = [r for r in rows if r["due_date"]]
    gold_misses: list[str] = []
    result: dict[str, Any] = {
        "contracts": len(contracts),
        "ready": ready,
        "ingest_s": round(ingest_s, 1),
        "obligations": len(rows),
        "dated": len(dated),
        "by_kind": dict(Counter(r["kind"] for r in rows)),
        "contracts_with_obligations": len({r["document_id"] for r in rows}),
        "quotes": quotes,
        "not_on_page": misses,
        "gold": against_gold(rows, names, gold_misses),
        "gold_misses": gold_misses,
        "list_s": round(list_s, 3),
        "feed_s": round(feed_s, 3),
        "feed_events": len(events),
        "feed_events_match_dated": len(events) == len(dated),
        "rebuild_s": round(rebuild_s, 2),
        "rebuild": rebuilt,
        "rebuild_same_rows": sorted(r["id"] for r in again) == sorted(r["id"] for r in rows),
    }
    out = common.REPO_ROOT / "var" / "benchmarks" / "obligations_service.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    common.print_table(
        ["contracts", "obligations", "dated", "at offsets", "on page", "rebuild s", "feed s"],
        [
            [
                f"{ready}/{len(contracts)}",
                len(rows),
                len(dated),
                f"{quotes.get('at_offsets', 0)}/{quotes.get('rows', 0)}",
                f"{quotes.get('on_page', 0)}/{quotes.get('rows', 0)}",
                result["rebuild_s"],
                result["feed_s"],
            ]
        ],
    )
    for field, counts in result["gold"].items():
        common.log(f"{field}: {counts}")
    common.emit_json(result)


if __name__ == "__main__":
    main()
