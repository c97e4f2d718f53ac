"""Ingestion throughput through the service: upload-to-ready over HTTP, against LangChain's
tutorial pipeline and the raw embedder, interleaved repeats with median and spread.

Documents: the dev set's 40 CUAD contracts and the 296-page Chinese annual report
(`--quick`: the 4 smallest contracts and the report's first 30 pages, cut with pypdfium2).
Each repeat runs three pipelines, in an order rotated by one every repeat:

- service: `docsight serve` (embedded deployment: SQLite, qdrant-edge, filesystem broker,
  the worker in the API process; a fresh data folder each repeat, the LLM pointed at a dead
  port) started and ready, model loaded and warm, before the clock. Every PDF is POSTed at
  once; the time runs from the first upload sent to the last document `ready`
  (`benchmarks.ingest_service`). Failed or unfinished documents are counted (must be 0).
- langchain: the tutorial pipeline, same embedder kind and batch size, in this process.
- raw: `embed_documents` on the very texts the service embeds, in the service's batch size
  (`benchmarks.ingest_baselines`); the embedder is loaded and warmed before any clock.

pages/s = the documents' pages / seconds (the same pages for all three, checked). The
ratios service/langchain and service/raw are taken per repeat (each from that repeat's own
runs) and reported as median and min-max: the spread says how far two runs of the same
code may be apart on this machine. The load average before and after every run is kept.
Targets (issue 13): service >= 3x langchain, >= 0.85 of the raw embedder.

`--env KEY=VALUE` (repeatable) sets a service setting for the server and this process
(e.g. DOCSIGHT_EMBEDDER__BATCH_SIZE=64); `--embedder KIND` is DOCSIGHT_EMBEDDER__KIND.
`--shape production` measures the production shape instead (`benchmarks.ingest_production`).

Run: `.venv/bin/python -m benchmarks.ingest [--quick] [--repeats N] [--embedder KIND]`
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import common
from benchmarks.ingest_baselines import run_langchain, run_raw, service_texts
from benchmarks.ingest_service import server_env, service_server, upload_and_wait

QUICK_CONTRACTS = 4
QUICK_REPORT_PAGES = 30
TARGET_OVER_LANGCHAIN = 3.0
TARGET_OVER_RAW = 0.85
PIPELINES = ("service", "langchain", "raw")
RESULTS_DIR = common.REPO_ROOT / "var" / "benchmarks"


def select_pdfs(
    data: Path, quick: bool, limit: int | None, folder: Path, report: bool = True
) -> list[Path]:
    """The CUAD contracts then the Chinese report (its first pages only with --quick)."""
    pdfs = [c.pdf for c in common.pick_contracts(data, quick, limit, QUICK_CONTRACTS)]
    if not report:
        return pdfs
    report_pdf = data / common.CHINESE_REPORT
    if quick:
        report_pdf = common.pdf_prefix(report_pdf, QUICK_REPORT_PAGES, folder)
    return [*pdfs, report_pdf]


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--env takes KEY=VALUE, got {pair!r}")
        env[key] = value
    return env


def spread(values: Sequence[float]) -> dict[str, float]:
    """median, min, max (and max/min) of the repeats."""
    low, high = min(values), max(values)
    return {
        "median": round(statistics.median(values), 3),
        "min": round(low, 3),
        "max": round(high, 3),
        "max_over_min": round(high / low, 3) if low > 0 else 0.0,
    }


def timed_run(name: str, run: Callable[[], Any], pages: int) -> dict[str, Any]:
    """One run with the load average before and after; pages/s from its seconds."""
    before = os.getloadavg()[0]
    result = run()
    after = os.getloadavg()[0]
    row: dict[str, Any] = {
        "pipeline": name,
        "seconds": round(result.seconds, 2),
        "pages": result.pages,
        "chunks": result.chunks,
        "pages_per_s": round(pages / result.seconds, 2),
        "cpu_s": round(result.cpu_s, 2),
        "load_before": round(before, 2),
        "load_after": round(after, 2),
    }
    if hasattr(result, "failed"):
        row |= {"documents": result.documents, "ready": result.ready, "failed": result.failed}
        row["cpu_s_api_process"] = round(result.cpu_api_s, 2)
        row["cpu_s_embedder_threads"] = round(result.cpu_embedder_s, 2)
        row["cpu_s_children"] = round(result.cpu_s - result.cpu_api_s, 2)
        row["upload_s"] = round(result.upload_s, 2)
    common.log(f"  {name}: {row['seconds']} s, {row['pages_per_s']} pages/s, load {before:.1f}")
    return row


def write_result(result: dict[str, Any]) -> Path:
    """The JSON under var/benchmarks/ (the last stdout line has it too)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS_DIR / f"ingest-{result['shape']}-{stamp}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    return path


def embedded(
    args: Any, settings: Any, extra_env: dict[str, str], pdfs: list[Path], tmp: Path
) -> tuple[str, list[str], int, list[dict[str, Any]]]:
    """The embedded shape: `args.repeats` interleaved rounds of the three pipelines."""
    embedder = common.load_our_embedder(
        settings.embedder.kind, settings.embedder.model, settings.embedder.batch_size
    )
    batch = settings.embedder.batch_size
    embedder.embed_documents(["warm-up text", "预热文本"] * (batch // 2))
    common.log("chunking offline for the raw baseline ...")
    texts, pages = service_texts(pdfs, settings)
    runs: list[dict[str, Any]] = []
    for repeat in range(args.repeats):
        order = [PIPELINES[(repeat + k) % len(PIPELINES)] for k in range(len(PIPELINES))]
        common.log(f"repeat {repeat + 1}/{args.repeats}: {', '.join(order)}")
        for name in order:
            folder = tmp / f"{name}-{repeat}"
            if name == "service":
                env = server_env(folder, extra_env)
                with service_server(folder, env) as server:
                    row = timed_run(
                        name, partial(upload_and_wait, server, pdfs, args.ingest_timeout), pages
                    )
            elif name == "langchain":
                row = timed_run(name, partial(run_langchain, pdfs, embedder, folder, batch), pages)
            else:
                row = timed_run(name, partial(run_raw, embedder, texts, pages, batch), pages)
            runs.append(row | {"repeat": repeat})
    return str(embedder.name), texts, pages, runs


def summarise(runs: list[dict[str, Any]], repeats: int) -> dict[str, Any]:
    by = {(r["repeat"], r["pipeline"]): r for r in runs}
    rates = {p: [by[(n, p)]["pages_per_s"] for n in range(repeats)] for p in PIPELINES}
    ratios = {
        f"service_over_{p}": [
            by[(n, "service")]["pages_per_s"] / by[(n, p)]["pages_per_s"] for n in range(repeats)
        ]
        for p in ("langchain", "raw")
    }
    cpu = {p: [by[(n, p)]["cpu_s"] for n in range(repeats)] for p in PIPELINES}
    service = [by[(n, "service")] for n in range(repeats)]
    return {
        "pages_per_s": {p: spread(v) for p, v in rates.items()},
        "cpu_s": {p: spread(v) for p, v in cpu.items()},
        "service_cpu_s_split": {
            part: spread([run[f"cpu_s_{part}"] for run in service])
            for part in ("api_process", "embedder_threads", "children")
        },
        "ratios": {name: spread(v) for name, v in ratios.items()},
        "ratios_per_repeat": {name: [round(x, 3) for x in v] for name, v in ratios.items()},
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = common.make_parser(__doc__.splitlines()[0])
    parser.set_defaults(embedder=None, batch_size=None)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the service")
    parser.add_argument("--shape", choices=["embedded", "production"], default="embedded")
    parser.add_argument("--workers", default="1,2,4", help="production: worker counts")
    parser.add_argument("--embed-url", default=None, help="production: /v1/embeddings server")
    parser.add_argument(
        "--worker-concurrency", type=int, default=None, help="production: threads a worker"
    )
    parser.add_argument("--ingest-timeout", type=float, default=1800.0)
    parser.add_argument("--no-report", action="store_true", help="the contracts only")
    args = parser.parse_args(argv)
    common.force_offline()
    extra_env = parse_env(args.env)
    if args.embedder:
        extra_env["DOCSIGHT_EMBEDDER__KIND"] = args.embedder
    if args.model:
        extra_env["DOCSIGHT_EMBEDDER__MODEL"] = args.model
    if args.batch_size:
        extra_env["DOCSIGHT_EMBEDDER__BATCH_SIZE"] = str(args.batch_size)
    os.environ.update(extra_env)  # this process's Settings see what the server sees
    from services.settings import Settings

    settings = Settings()
    started = time.perf_counter()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        pdfs = select_pdfs(args.data, args.quick, args.limit, tmp, not args.no_report)
        if args.shape == "production":
            from benchmarks.ingest_production import production

            result: dict[str, Any] = production(args, extra_env, pdfs, tmp)
        else:
            name, texts, pages, runs = embedded(args, settings, extra_env, pdfs, tmp)
            result = report(args, settings, name, len(texts), pages, runs)
    result |= {
        "benchmark": "ingest",
        "quick": args.quick,
        "documents": len(pdfs),
        "chinese_report": not args.no_report,
        "env": extra_env,
        "repeats": args.repeats,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in load_start],
        "total_wall_s": round(time.perf_counter() - started, 1),
    }
    print(f"result written to {write_result(result)}")
    common.emit_json(result)
    return result


def report(
    args: Any, settings: Any, name: str, chunks: int, pages: int, runs: list[dict[str, Any]]
) -> dict[str, Any]:
    """Print the table and the targets; the embedded shape's result."""
    summary = summarise(runs, args.repeats)
    failures = sum(len(r["failed"]) for r in runs if r["pipeline"] == "service")
    same_pages = all(r["pages"] == pages for r in runs)
    service_chunks = {r["chunks"] for r in runs if r["pipeline"] == "service"}
    rates, ratios = summary["pages_per_s"], summary["ratios"]
    loads = [x for r in runs for x in (r["load_before"], r["load_after"])]
    print(
        f"embedder: {name}, batch {settings.embedder.batch_size}; {len(args.env)} --env; "
        f"{pages} pages; {args.repeats} repeats; {os.cpu_count()} cpus; "
        f"load average during runs {min(loads):.1f}-{max(loads):.1f}"
    )
    common.print_table(
        ["pipeline", "pages/s median", "min", "max", "service / it (median)", "min", "max"],
        [
            ["service (upload -> ready)", *_trio(rates["service"]), "", "", ""],
            *[
                [p, *_trio(rates[p]), *_trio(ratios[f"service_over_{p}"])]
                for p in ("langchain", "raw")
            ],
        ],
    )
    met = {
        "service_over_langchain": ratios["service_over_langchain"]["median"]
        >= TARGET_OVER_LANGCHAIN,
        "service_over_raw": ratios["service_over_raw"]["median"] >= TARGET_OVER_RAW,
    }
    for key, target in (("langchain", TARGET_OVER_LANGCHAIN), ("raw", TARGET_OVER_RAW)):
        r = ratios[f"service_over_{key}"]
        print(
            f"service/{key} pages/s: median {r['median']} (min {r['min']}, max {r['max']}; two "
            f"repeats up to {r['max_over_min']}x apart); target >= {target}: "
            f"{'met' if met[f'service_over_{key}'] else 'NOT met'}"
        )
    cpu = summary["cpu_s"]
    print(
        "CPU seconds (median; less sensitive to other tenants than wall time, not immune): "
        + ", ".join(f"{p} {cpu[p]['median']}" for p in PIPELINES)
    )
    split = summary["service_cpu_s_split"]
    print(
        f"service CPU seconds (median): API process {split['api_process']['median']}, of "
        f"which the embedder's run threads {split['embedder_threads']['median']}; child "
        f"processes {split['children']['median']} (parsing)"
    )
    print(f"service documents failed or unfinished: {failures} (must be 0)")
    return {
        "shape": "embedded",
        "embedder": name,
        "batch_size": settings.embedder.batch_size,
        "pages": pages,
        "raw_chunks": chunks,
        "service_chunks": sorted(service_chunks),
        "chunks_match": service_chunks == {chunks},
        "same_pages": same_pages,
        "service_failures": failures,
        "runs": runs,
        **summary,
        "targets": {"service_over_langchain": TARGET_OVER_LANGCHAIN, "service_over_raw": 0.85},
        "targets_met": met,
    }


def _trio(stats: dict[str, float]) -> list[float]:
    return [stats["median"], stats["min"], stats["max"]]


if __name__ == "__main__":
    main()
