"""Accuracy of the pure value normalisers on CUAD's gold spans (no PDF, no model).

For each field of `benchmarks.cuad_values.FIELDS` and each dev contract with a gold span
or answer: `normalise(field, spans joined)` against `answer_normalized`; for Expiration
Date the gold Effective (else Agreement) Date is passed as `effective` and the gold
Agreement Date as `agreement`. Prints n, correct and accuracy per field, and how many of
the gold answers that state a value (not "" or a blank "[]") are read right; misses with
--verbose; ends with one JSON line.

    python -m benchmarks.normalised_values [--verbose] [--data DIR]
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.common import DEFAULT_DATA, emit_json, print_table
from benchmarks.cuad_values import (
    FIELDS,
    START_FIELDS,
    gold_date,
    gold_start_date,
    load_gold,
    matches,
)
from pipelines.contract_values import Normalised, normalise


def start_date(contract: str, data: Path, fields: tuple[str, ...] = START_FIELDS) -> date | None:
    """The first gold date of `fields` for `contract` (None when blank)."""
    when = gold_date(gold_start_date(contract, data, fields))
    if when is None:
        return None
    month, day, year = when
    year += 0 if year >= 100 else (2000 if year < 50 else 1900)
    return date(year, month, day)


def evaluate(field: str, data: Path = DEFAULT_DATA) -> dict[str, Any]:
    """n, correct, accuracy and the misses of `normalise` for `field` on the gold spans."""
    items = load_gold(field, data)
    misses: list[dict[str, str]] = []
    for item in items:
        effective = agreement = None
        if field == "Expiration Date":
            effective = start_date(item.contract, data)
            agreement = start_date(item.contract, data, ("Agreement Date",))
        predicted = normalise(field, item.text, effective=effective, agreement=agreement)
        if not matches(field, predicted, item.answer):
            misses.append(
                {
                    "contract": item.contract,
                    "gold": item.answer,
                    "ours": _shown(predicted),
                    "text": " ".join(item.text.split())[:300],
                }
            )
    n = len(items)
    correct = n - len(misses)
    accuracy = round(correct / n, 3) if n else 0.0
    valued = [i for i in items if i.answer.strip() and "[]" not in i.answer]
    missed = {m["contract"] for m in misses}
    return {
        "n": n,
        "correct": correct,
        "accuracy": accuracy,
        "n_value": len(valued),
        "correct_value": sum(i.contract not in missed for i in valued),
        "misses": misses,
    }


def _shown(value: Normalised | None) -> str:
    if value is None:
        return "(none)"
    return f"{value.kind}: {value.value}" + (f" [{value.rule}]" if value.rule else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="dev set folder")
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    args = parser.parse_args()
    results = {field: evaluate(field, args.data) for field in FIELDS}
    rows = [
        (f, r["n"], r["correct"], r["accuracy"], f"{r['correct_value']}/{r['n_value']}")
        for f, r in results.items()
    ]
    total_n = sum(r["n"] for r in results.values())
    total_correct = sum(r["correct"] for r in results.values())
    valued = sum(r["n_value"] for r in results.values())
    valued_right = sum(r["correct_value"] for r in results.values())
    overall = round(total_correct / max(total_n, 1), 3)
    rows.append(("all", total_n, total_correct, overall, f"{valued_right}/{valued}"))
    print_table(("field", "n", "correct", "accuracy", "gold with a value"), rows)
    if args.verbose:
        for field, result in results.items():
            for miss in result["misses"]:
                print(f"- {field} | {miss['contract'][:60]}")
                print(f"    gold {miss['gold']!r}  ours {miss['ours']}")
                print(f"    text {miss['text']}")
    emit_json(
        {
            "benchmark": "normalised_values",
            "fields": {
                f: {k: r[k] for k in ("n", "correct", "accuracy", "n_value", "correct_value")}
                for f, r in results.items()
            },
            "n": total_n,
            "correct": total_correct,
        }
    )


if __name__ == "__main__":
    main()
