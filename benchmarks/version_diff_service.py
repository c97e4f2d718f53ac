"""Clause diff through the service: precision/recall of changed clauses, and the diff
request's latency, on committed version pairs uploaded as PDFs.

Starts `docsight serve` on a fresh data folder. For a subset of `benchmarks/data/
version_pairs/pairs.json` (default: 2 English contracts near the median length with 4
edit types each, and 4 pairs of the Chinese contract), each pair's texts are rebuilt
(`benchmarks.version_pairs.build_pair`) and written as PDFs (`pdf_from_text`); the old
text is uploaded once per contract with POST /v1/documents and each edited text as its
new version (POST /v1/documents/{id}/versions). Once ready, GET /v1/documents/{id}/diff
is timed: the first request (aligned and cached) and `--repeats` more (from the cache).

Scoring is `benchmarks.version_diff.score` (a reported added/removed/changed clause is
correct when it overlaps a gold change of its kind, on both sides for a changed one) after
the service's clause offsets (in the text read back from the PDF) are mapped onto the gold
text by their non-whitespace characters. The same pairs diffed on the gold texts directly
(no PDF, no service) are the reference: the gap is what the PDF round trip costs.

    .venv/bin/python -m benchmarks.version_diff_service [--contracts 8] [--repeats 5] \
        [--large DEVSET/cn_annual_reports/pingan_bank_000001_2024_annual_report.pdf]

`--large`: a long PDF and its copy without pages 11-13 (uploaded as its new version), for
the diff's time on a long document.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import emit_json, log, print_table  # noqa: E402
from benchmarks.finding_highlights import serve  # noqa: E402
from benchmarks.highlights import _quantile  # noqa: E402
from benchmarks.version_diff import Tally, score  # noqa: E402
from benchmarks.version_pairs import build_pair, load_pairs, pdf_from_text  # noqa: E402
from pipelines.clause_diff import ClauseChange, diff_clauses  # noqa: E402
from pipelines.clauses import Clause, split_clauses  # noqa: E402

ENGLISH_TYPES = (
    ("insert", "reword", "renumber", "mixed"),
    ("delete", "rewrite", "replace", "relabel"),
)
CHINESE_TYPES = ("insert", "reword", "renumber", "mixed")


def choose(specs: list[dict[str, Any]], contracts: int) -> list[dict[str, Any]]:
    """English contracts nearest the median length, 4 edit types each (alternating
    sets), then the Chinese contract's pairs of `CHINESE_TYPES`."""
    lengths = {}
    for spec in specs:
        if spec["contract"] not in lengths:
            lengths[spec["contract"]] = len(build_pair(spec)[0])
    english = [c for c in lengths if not c.startswith("zh:")]
    median = statistics.median(lengths[c] for c in english)
    nearest = sorted(english, key=lambda c: (abs(lengths[c] - median), c))
    chosen: list[dict[str, Any]] = []
    for k, contract in enumerate(nearest[:contracts]):
        kinds = ENGLISH_TYPES[k % 2]
        chosen += [s for s in specs if s["contract"] == contract and s["type"] in kinds]
    chosen += [s for s in specs if s["contract"].startswith("zh:") and s["type"] in CHINESE_TYPES]
    return chosen


class GoldMap:
    """Offsets of a text read back from a PDF, mapped onto the text the PDF was written
    from, by the non-whitespace characters each clause holds."""

    def __init__(self, gold: str) -> None:
        self.positions = [k for k, ch in enumerate(gold) if not ch.isspace()]
        self.dense = "".join(gold[k] for k in self.positions)
        self.cursor = 0
        self.missed = 0

    def span(self, text: str) -> tuple[int, int] | None:
        dense = "".join(ch for ch in text if not ch.isspace())
        if not dense:
            return None
        at = self.dense.find(dense, self.cursor)
        if at < 0:
            at = self.dense.find(dense)
        if at < 0:  # the PDF changed a character: place it by its first and last words
            head, tail = dense[:24], dense[-24:]
            at = self.dense.find(head, self.cursor)
            end = self.dense.find(tail, max(at, 0)) + len(tail) if at >= 0 else -1
            if at < 0 or end < len(tail):
                self.missed += 1
                return None
            self.cursor = end
            return self.positions[at], self.positions[end - 1] + 1
        self.cursor = at + len(dense)
        return self.positions[at], self.positions[at + len(dense) - 1] + 1


def mapped(changes: list[dict[str, Any]], old_text: str, new_text: str) -> list[ClauseChange]:
    """The API's changes as `ClauseChange`s with offsets in the gold texts."""
    maps = {"old": GoldMap(old_text), "new": GoldMap(new_text)}
    spans: dict[tuple[int, str], tuple[int, int] | None] = {}
    for side in ("old", "new"):
        present = [(k, c[side]) for k, c in enumerate(changes) if c[side]]
        for k, clause in sorted(present, key=lambda item: item[1]["char_start"]):
            spans[(k, side)] = maps[side].span(clause["text"])
    out: list[ClauseChange] = []
    for k, change in enumerate(changes):
        sides: dict[str, Clause | None] = {}
        for side in ("old", "new"):
            clause, span = change[side], spans.get((k, side))
            if clause and span is None and change["kind"] == "unchanged":
                break  # an unplaced unchanged clause only leaves the renumbering count
            # an unplaced reported clause is kept, at no offset: it counts as wrong
            where = span or (-1, -1)
            sides[side] = (
                Clause(clause["number"], clause["heading"], clause["text"], *where)
                if clause
                else None
            )
        else:
            out.append(
                ClauseChange(
                    change["kind"],
                    sides["old"],
                    sides["new"],
                    change["similarity"],
                    change["renumbered"],
                )
            )
    return out


def upload(client: httpx.Client, path: Path, previous: str | None = None) -> str:
    files = {"file" if previous else "files": (path.name, path.read_bytes(), "application/pdf")}
    if previous:
        r = client.post(f"/v1/documents/{previous}/versions", files=files)
        r.raise_for_status()
        return str(r.json()["id"])
    r = client.post("/v1/documents", files=files)
    r.raise_for_status()
    return str(r.json()["accepted"][0]["document"]["id"])


def upload_large(client: httpx.Client, path: Path, folder: Path) -> tuple[str, str]:
    """The PDF, and as its new version a copy without pages 11-13: (old id, new id)."""
    import pypdfium2 as pdfium

    source = pdfium.PdfDocument(path)
    copy = pdfium.PdfDocument.new()
    keep = [k for k in range(len(source)) if not 10 <= k < 13]
    copy.import_pages(source, keep)
    shorter = folder / f"{path.stem}-less-3-pages.pdf"
    copy.save(shorter)
    old = upload(client, path)
    return old, upload(client, shorter, old)


def wait_ready(client: httpx.Client, ids: list[str], timeout_s: float = 1800) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listed = {d["id"]: d for d in client.get("/v1/documents").json()["documents"]}
        if all(listed.get(i, {}).get("status") in ("ready", "failed") for i in ids):
            failed = [i for i in ids if listed[i]["status"] == "failed"]
            if failed:
                raise SystemExit(f"documents failed: {[listed[i]['reason'] for i in failed]}")
            return listed
        time.sleep(1)
    raise SystemExit("documents not ready in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", type=int, default=2, help="English contracts")
    parser.add_argument("--repeats", type=int, default=5, help="cached diff requests per pair")
    parser.add_argument(
        "--large",
        type=Path,
        default=None,
        help="also time the diff of this PDF against itself with 3 pages taken out",
    )
    args = parser.parse_args()
    specs = choose(load_pairs(), args.contracts)
    log(f"{len(specs)} pairs: " + ", ".join(s["id"] for s in specs))
    built = {s["id"]: build_pair(s) for s in specs}
    service_tally: dict[str, Tally] = defaultdict(Tally)
    direct_tally: dict[str, Tally] = defaultdict(Tally)
    cold: list[float] = []
    warm: list[float] = []
    pages: list[int] = []
    unplaced = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "data").mkdir()
        with serve(folder / "data", None) as client:
            bases: dict[str, str] = {}
            pair_ids: dict[str, str] = {}
            for spec in specs:
                old_text, new_text, _ = built[spec["id"]]
                if spec["contract"] not in bases:
                    pdf = pdf_from_text(old_text, folder / f"base-{len(bases)}.pdf")
                    bases[spec["contract"]] = upload(client, pdf)
                pdf = pdf_from_text(new_text, folder / f"{spec['id'][:40]}.pdf")
                pair_ids[spec["id"]] = upload(client, pdf, bases[spec["contract"]])
            large = upload_large(client, args.large, folder) if args.large else None
            started = time.monotonic()
            listed = wait_ready(client, [*bases.values(), *pair_ids.values(), *(large or ())])
            log(f"{len(listed)} documents ready in {time.monotonic() - started:.0f} s")
            for spec in specs:
                old_text, new_text, gold = built[spec["id"]]
                document_id = pair_ids[spec["id"]]
                pages.append(listed[document_id]["progress"]["pages_total"] or 0)
                timings = []
                for _ in range(1 + args.repeats):
                    t0 = time.perf_counter()
                    r = client.get(f"/v1/documents/{document_id}/diff")
                    timings.append(time.perf_counter() - t0)
                    r.raise_for_status()
                cold.append(timings[0])
                warm.extend(timings[1:])
                changes = r.json()["changes"]
                ours = mapped(changes, old_text, new_text)
                unplaced += len(changes) - len(ours)  # unchanged clauses not placed
                tally = score(ours, gold)
                direct = score(diff_clauses(split_clauses(old_text), split_clauses(new_text)), gold)
                for kind in (spec["type"], "all"):
                    service_tally[kind].add(tally)
                    direct_tally[kind].add(direct)
                log(f"{spec['id']}: service P/R {_prf(tally)}, on the texts {_prf(direct)}")
            if large:
                large_timings = []
                for _ in range(1 + args.repeats):
                    t0 = time.perf_counter()
                    r = client.get(f"/v1/documents/{large[1]}/diff")
                    large_timings.append(time.perf_counter() - t0)
                    r.raise_for_status()
                counts = r.json()["counts"]
                log(f"large: {counts}, first {large_timings[0]:.2f} s")
    rows = [
        [kind, service_tally[kind].gold, *_prf(service_tally[kind]), *_prf(direct_tally[kind])]
        for kind in sorted(service_tally, key=lambda k: (k == "all", k))
    ]
    print_table(["type", "gold", "service P", "R", "F1", "texts P", "R", "F1"], rows)
    lat = {
        "cold_p50_s": round(_quantile(cold, 0.5), 3),
        "cold_p95_s": round(_quantile(cold, 0.95), 3),
        "cached_p50_s": round(_quantile(warm, 0.5), 3),
        "cached_p95_s": round(_quantile(warm, 0.95), 3),
    }
    print(
        f"diff request: first (aligned, cached) p50 {lat['cold_p50_s']} s / p95 "
        f"{lat['cold_p95_s']} s over {len(cold)}; cached p50 {lat['cached_p50_s']} s / p95 "
        f"{lat['cached_p95_s']} s over {len(warm)}; pages per document median "
        f"{statistics.median(pages)} (max {max(pages)}); unplaced unchanged clauses {unplaced}"
    )
    renum = service_tally["all"]
    if large:
        lat["large_pages"] = listed[large[1]]["progress"]["pages_total"]
        lat["large_first_s"] = round(large_timings[0], 3)
        lat["large_cached_p50_s"] = round(_quantile(large_timings[1:], 0.5), 3)
        print(
            f"{args.large.name} ({lat['large_pages']} pages) against itself less 3 pages: first "
            f"diff {lat['large_first_s']} s, cached p50 {lat['large_cached_p50_s']} s; {counts}"
        )
    emit_json(
        {
            "benchmark": "version_diff_service",
            "pairs": len(specs),
            "pair_ids": [s["id"] for s in specs],
            "service_prf": {k: list(_prf(t)) for k, t in service_tally.items()},
            "texts_prf": {k: list(_prf(t)) for k, t in direct_tally.items()},
            "renumbered_right": [renum.renumber_right, renum.aligned],
            "latency": lat,
            "pages_median": statistics.median(pages),
            "unplaced_unchanged": unplaced,
        }
    )


def _prf(tally: Tally) -> tuple[float, float, float]:
    p, r, f = tally.prf()
    return round(p, 3), round(r, 3), round(f, 3)


if __name__ == "__main__":
    main()
