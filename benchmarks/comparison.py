"""Comparison tables through a real server: normalised-value accuracy per field against
CUAD's `answer_normalized`, and the time to build a 40-contract comparison cold and again.

Starts `docsight serve` on a fresh data folder, uploads `--contracts` CUAD dev contracts
(file order) and waits until they are ready. Then, through `POST /v1/comparisons` with the
default columns:

1. deterministic (`use_model: false`) over every contract, cold (no row cached), then the
   same comparison again (rows read back from the analysis cache): seconds from the POST
   to `done`, side by side and as a ratio;
2. with `--use-model`: the model for the cells the text left empty, on the first
   `--model-contracts` contracts (the bundled model in llama-server, unless `--llm-url`),
   next to the deterministic table of the same contracts.

Accuracy per field: `benchmarks.cuad_values.matches` (helper A's comparator: ISO dates
against "6/21/99", durations by length, renewals "successive", jurisdictions by name; a
gold "" or "[]" is right when we give no typed value) for the six typed fields; for the
yes/no columns, a value found is "Yes" and none is "No". A cell counts only if verified
(its quote located in the document) or, in `with_unverified`, also when not.

    .venv/bin/python -m benchmarks.comparison [--contracts 40] [--use-model] \
        [--model-contracts 8] [--llm-url URL]
Writes var/benchmarks/comparison.json; ends with one JSON object on the last line.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from benchmarks import common
from benchmarks.cuad_values import FIELDS, gold_values
from benchmarks.cuad_values import matches as matches_gold
from benchmarks.finding_highlights import serve, upload
from pipelines.comparison_models import DEFAULT_COLUMNS
from pipelines.contract_values import Normalised
from pipelines.durations import parse_duration

YES_NO = [c for c in DEFAULT_COLUMNS if c not in FIELDS]
NOWHERE = "http://127.0.0.1:9/v1"  # no LLM: the deterministic runs never ask one


def normalised(cell: dict[str, Any]) -> Normalised | None:
    """A cell as the comparator reads it (kind, value, the date or duration in it)."""
    if cell.get("value") is None:
        return None
    value, kind = str(cell["value"]), str(cell.get("kind") or "text")
    when = None
    if kind == "date":
        try:
            when = date.fromisoformat(value)
        except ValueError:
            kind = "text"
    duration = parse_duration(value) if kind in ("duration", "renewal") else None
    return Normalised(kind, value, 0, len(value), date=when, duration=duration)  # type: ignore[arg-type]


def accuracy(
    rows: Sequence[dict[str, Any]], names: dict[str, str], data: Path, unverified: bool = False
) -> dict[str, dict[str, Any]]:
    """Per field: right / total over the rows' contracts that have a gold answer."""
    result: dict[str, dict[str, Any]] = {}
    for field in DEFAULT_COLUMNS:
        gold = gold_values(field, data)
        right = total = 0
        for row in rows:
            contract = names[row["document_id"]]
            if contract not in gold:
                continue
            cell = row["cells"].get(field) or {}
            if not unverified and cell.get("value") is not None and not cell.get("verified"):
                cell = {}
            total += 1
            if field in FIELDS:
                right += matches_gold(field, normalised(cell), gold[contract])
            else:
                said = "No" if _absent(cell.get("value")) else "Yes"
                right += said.casefold() == gold[contract].strip().casefold()
        result[field] = {"right": right, "total": total, "share": _share(right, total)}
    return result


def _absent(value: object) -> bool:
    """A yes/no cell that says "no": not found, or the model's "No" (否, 无)."""
    if value is None:
        return True
    return str(value).strip().casefold() in ("no", "false", "none", "否", "无", "没有")


def _share(right: int, total: int) -> float | None:
    return round(right / total, 3) if total else None


def compare(
    client: httpx.Client, ids: list[str], use_model: bool, timeout_s: float
) -> tuple[dict[str, Any], float]:
    """The finished comparison and the seconds from its POST to `done`."""
    started = time.perf_counter()
    r = client.post("/v1/comparisons", json={"document_ids": ids, "use_model": use_model})
    r.raise_for_status()
    body = r.json()
    deadline = time.monotonic() + timeout_s
    while body["status"] not in ("done", "failed"):
        if time.monotonic() > deadline:
            raise SystemExit(f"comparison not done in {timeout_s:.0f} s: {body['step']}")
        body = client.get(f"/v1/comparisons/{body['id']}", params={"wait": 1}).json()
    seconds = time.perf_counter() - started
    if body["status"] != "done":
        raise SystemExit(f"comparison failed: {body['error_code']}: {body['reason']}")
    return body, seconds


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = common.make_parser(__doc__ or "")
    parser.add_argument("--contracts", type=int, default=40)
    parser.add_argument("--use-model", action="store_true", help="also the model's cells")
    parser.add_argument("--model-contracts", type=int, default=8)
    parser.add_argument("--llm-url", default=None, help="an OpenAI-compatible server")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args(argv)
    contracts = common.load_contracts(args.data, args.contracts)
    llm_url = args.llm_url or (None if args.use_model else NOWHERE)
    result: dict[str, Any] = {"contracts": len(contracts), "llm_url": args.llm_url}
    tables: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder, serve(Path(folder), llm_url) as client:
        client.timeout = httpx.Timeout(120)
        started = time.perf_counter()
        docs = upload(client, [c.pdf for c in contracts], args.timeout)
        result["upload_to_ready_s"] = round(time.perf_counter() - started, 1)
        ready = [
            (d["id"], c.name)
            for d, c in zip(docs, contracts, strict=True)
            if d["status"] == "ready"
        ]
        result["ready"] = len(ready)
        ids, names = [i for i, _ in ready], dict(ready)
        common.log(f"{len(ids)} documents ready in {result['upload_to_ready_s']} s")
        cold, cold_s = compare(client, ids, False, args.timeout)
        warm, warm_s = compare(client, ids, False, args.timeout)
        assert warm["table"] == cold["table"], "a cached row differs from the one computed"
        rows = cold["table"]["rows"]
        tables["deterministic"] = {"names": names, "rows": rows}
        result["deterministic"] = {
            "cold_s": round(cold_s, 2),
            "cached_s": round(warm_s, 2),
            "cold_over_cached": round(cold_s / warm_s, 1) if warm_s else None,
            "accuracy": accuracy(rows, names, args.data),
            "cells_found": sum(c["value"] is not None for r in rows for c in r["cells"].values()),
            "cells": len(rows) * len(DEFAULT_COLUMNS),
        }
        common.log(f"deterministic: cold {cold_s:.2f} s, cached {warm_s:.2f} s")
        if args.use_model:
            subset = ids[: args.model_contracts]
            model, model_s = compare(client, subset, True, args.timeout)
            model_rows = model["table"]["rows"]
            tables["model"] = {"names": names, "rows": model_rows}
            cells = [c for r in model_rows for c in r["cells"].values()]
            by_model = [c for c in cells if c["method"] == "model"]
            result["model"] = {
                "contracts": len(subset),
                "seconds": round(model_s, 1),
                "deterministic_accuracy": accuracy(rows[: len(subset)], names, args.data),
                "accuracy": accuracy(model_rows, names, args.data),
                "with_unverified": accuracy(model_rows, names, args.data, unverified=True),
                "model_cells": len(by_model),
                "model_cells_verified": sum(c["verified"] for c in by_model),
            }
    report(result)
    out = common.REPO_ROOT / "var" / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison_tables.json").write_text(json.dumps(tables, indent=1, ensure_ascii=False))
    (out / "comparison.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    common.emit_json(result)
    return result


def report(result: dict[str, Any]) -> None:
    det = result["deterministic"]
    print(
        f"{result['ready']} contracts; comparison of {len(DEFAULT_COLUMNS)} columns: cold "
        f"{det['cold_s']} s, rows cached {det['cached_s']} s ({det['cold_over_cached']}x); "
        f"{det['cells_found']}/{det['cells']} cells with a value"
    )
    headers = ["field", f"deterministic ({result['ready']})"]
    model = result.get("model")
    if model:
        n = model["contracts"]
        headers += [f"deterministic ({n})", f"with model ({n})", "model, unverified too"]
    table = []
    for field in DEFAULT_COLUMNS:
        line: list[object] = [field, _cell(det["accuracy"][field])]
        if model:
            line += [
                _cell(model["deterministic_accuracy"][field]),
                _cell(model["accuracy"][field]),
                _cell(model["with_unverified"][field]),
            ]
        table.append(line)
    common.print_table(headers, table)
    if model:
        print(
            f"model: {model['model_cells']} cells, {model['model_cells_verified']} verified; "
            f"{model['seconds']} s for {model['contracts']} contracts"
        )


def _cell(item: dict[str, Any]) -> str:
    return f"{item['right']}/{item['total']}"


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
