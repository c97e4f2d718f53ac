"""Plans the edit operations of the version pairs (seeded): what `pairs.json` holds.

Per contract with at least 5 top-level numbered clauses, one pair per type: insert (a
clause from the pool or another contract, later clauses renumbered), delete (a clause,
half the time renumbering the rest), reword (1-2 paragraphs: a number, "shall" -> "may",
a sentence added or dropped, a word changed), rewrite (3-5 such edits in one paragraph
of 20-120 words), renumber (a clause inserted before the
first one: every number shifts), replace (a clause deleted and an unrelated one put in
its place and number), substitute (a one-paragraph clause's text replaced by
another contract's clause with the same heading: a rewritten clause, gold "changed";
English only), relabel ("5." -> "Section 5.", nothing else), mixed (an insert, a
delete and a reword). The Chinese base gets the same types except relabel.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import Any

from benchmarks.version_text import (
    CHINESE,
    CUAD_TXT,
    base_paragraphs,
    label_like,
    pool,
    top_number,
)
from pipelines.clauses import clause_heading, clause_number

TYPES = (
    "insert", "delete", "reword", "rewrite", "renumber", "replace", "relabel", "mixed",
    "substitute",
)  # fmt: skip
_WORD_NUMBERS = {
    "two": 2, "three": 3, "five": 5, "ten": 10, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty-five": 45, "sixty": 60, "ninety": 90, "twelve": 12,
}  # fmt: skip
_SENTENCES = (
    "The Parties shall review this provision in good faith once every year.",
    "Any amount not paid when due shall bear interest at one percent (1%) per month.",
    "This obligation shall survive any termination or expiration of this Agreement.",
    "Notwithstanding the foregoing, the Company may waive this requirement in writing.",
)
_SWAPS = (
    ("reasonable", "commercially reasonable"),
    ("written", "prior written"),
    ("material", "significant"),
    ("promptly", "within five (5) business days"),
)
_CN_SENTENCES = (
    "双方另有约定的除外。",
    "该期限可经双方书面同意延长。",
    "逾期未履行的，守约方有权要求赔偿损失。",
    "本条款在本合同终止后继续有效。",
    "具体标准由双方另行协商确定。",
)
_CN_SWAPS = (
    ("三十日", "六十日"),
    ("十五日", "三十日"),
    ("二年", "三年"),
    ("应当", "可以"),
    ("百分之十", "百分之二十"),
    ("书面", "书面或电子邮件"),
)


@dataclass(frozen=True)
class Unit:
    start: int  # paragraph range of the clause
    end: int
    number: int | None  # top-level number, None for a sub-clause
    top: bool


def units_of(paras: list[str]) -> list[Unit]:
    """Numbered clauses as paragraph ranges (a clause runs to the next numbered one)."""
    starts = [k for k, text in enumerate(paras) if clause_number(text)]
    units: list[Unit] = []
    for n, k in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(paras)
        found = top_number(paras[k])
        units.append(Unit(k, end, found[0] if found else None, bool(found and found[1])))
    return units


def plan_pairs(seed: int) -> list[dict[str, Any]]:
    contracts = [*sorted(p.name for p in CUAD_TXT.glob("*.txt")), CHINESE]
    pairs: list[dict[str, Any]] = []
    for contract in contracts:
        paras = base_paragraphs(contract)
        units = units_of(paras)
        tops = [u for u in units if u.top]
        if len(tops) < 5:
            continue
        short = re.sub(r"[^a-z0-9]+", "", contract.lower())[:24]
        for kind in TYPES:
            rng = random.Random(f"{seed}:{contract}:{kind}")
            ops = _plan(kind, rng, contract, paras, units, contracts)
            if ops:
                pairs.append(
                    {"id": f"{short}-{kind}", "contract": contract, "type": kind, "ops": ops}
                )
    return pairs


def _plan(
    kind: str,
    rng: random.Random,
    contract: str,
    paras: list[str],
    units: list[Unit],
    contracts: list[str],
) -> list[dict[str, Any]]:
    tops = [u for u in units if u.top and u.number is not None]
    inner = [u for u in units[:-1] if u.start > 0]
    zh = contract == CHINESE
    if kind == "insert":
        return _insert(rng, paras, rng.choice(tops[1:-1]), zh, contracts)
    if kind == "rewrite":
        return _rewrite(rng, paras, units, zh)
    if kind == "substitute" and not zh:
        return _substitute(rng, contract, paras, units)
    if kind == "renumber":
        return _insert(rng, paras, tops[0], zh, [])
    if kind == "delete":
        return _delete(rng, rng.choice(inner))
    if kind == "reword":
        return _rewords(rng, paras, units, rng.choice((1, 2)), zh)
    if kind == "replace":
        target = rng.choice(tops[1:-1])
        source = {
            "pool": "zh" if zh else "en",
            "index": rng.randrange(len(pool()["zh" if zh else "en"])),
        }
        label = label_like(paras[target.start], target.number or 0)
        return [
            {"op": "delete", "start": target.start, "end": target.end, "kind": "replace"},
            {
                "op": "insert",
                "before": target.start,
                "label": label,
                "source": source,
                "kind": "replace",
            },
        ]
    if kind == "relabel" and not zh:
        return _relabel(paras, tops)
    if kind == "mixed":
        picks = sorted(rng.sample(range(1, len(tops) - 1), 3), reverse=True)
        ops: list[dict[str, Any]] = []
        for step, index in enumerate(picks):  # from the end: earlier indices stay valid
            unit = tops[index]
            if step == 0:
                ops += _insert(rng, paras, unit, zh, contracts)
            elif step == 1:
                ops += _delete(rng, unit, renumber=False)
            else:
                ops += _rewords(rng, paras, [unit], 1, zh)
        return ops
    return []


def _insert(
    rng: random.Random, paras: list[str], before: Unit, zh: bool, contracts: list[str]
) -> list[dict[str, Any]]:
    number = before.number or 1
    label = label_like(paras[before.start], number)
    others = [c for c in contracts if c != CHINESE]
    source: dict[str, Any]
    if zh or not others or rng.random() < 0.5:
        language = "zh" if zh else "en"
        source = {"pool": language, "index": rng.randrange(len(pool()[language]))}
    else:
        source = _foreign_clause(rng, others)
    return [
        {"op": "insert", "before": before.start, "label": label, "source": source},
        {"op": "renumber", "from": before.start + 1, "min": number, "delta": 1},
    ]


def _foreign_clause(rng: random.Random, contracts: list[str]) -> dict[str, Any]:
    while True:
        contract = rng.choice(contracts)
        paras = base_paragraphs(contract)
        options = [
            k
            for k, text in enumerate(paras)
            if clause_number(text) and 20 <= len(text.split()) <= 150
        ]
        if options:
            return {"contract": contract, "para": rng.choice(options)}


def _delete(
    rng: random.Random, unit: Unit, *, renumber: bool | None = None
) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = [{"op": "delete", "start": unit.start, "end": unit.end}]
    if renumber is None:
        renumber = unit.top and unit.number is not None and rng.random() < 0.5
    if renumber and unit.number is not None:
        ops.append({"op": "renumber", "from": unit.start, "min": unit.number + 1, "delta": -1})
    return ops


def _rewords(
    rng: random.Random, paras: list[str], units: list[Unit], count: int, zh: bool
) -> list[dict[str, Any]]:
    repeated = _repeated(paras)
    candidates = [
        k
        for u in units
        for k in range(u.start, u.end)
        if (len(paras[k].split()) >= 20 or (zh and len(paras[k]) >= 30)) and k not in repeated
    ]
    ops: list[dict[str, Any]] = []
    for k in rng.sample(candidates, min(count, len(candidates))):
        found = _reword(rng, paras[k], zh)
        if found:
            ops.append({"op": "reword", "para": k, "find": found[0], "replace": found[1]})
    return ops


def _headed(paras: list[str], units: list[Unit]) -> dict[str, int]:
    """One-paragraph clauses of 15-150 words by their heading (lower case)."""
    found: dict[str, int] = {}
    for unit in units:
        text = paras[unit.start]
        heading = re.sub(r"[^a-z ]+", "", clause_heading(text).lower()).strip()
        if unit.end - unit.start == 1 and heading and 15 <= len(text.split()) <= 150:
            found.setdefault(heading, unit.start)
    return found


@cache
def _heading_index() -> dict[str, list[tuple[str, int]]]:
    index: dict[str, list[tuple[str, int]]] = {}
    for path in sorted(CUAD_TXT.glob("*.txt")):
        paras = base_paragraphs(path.name)
        for heading, para in _headed(paras, units_of(paras)).items():
            index.setdefault(heading, []).append((path.name, para))
    return index


def _substitute(
    rng: random.Random, contract: str, paras: list[str], units: list[Unit]
) -> list[dict[str, Any]]:
    index = _heading_index()
    own = _headed(paras, units)
    options = sorted(
        (heading, para)
        for heading, para in own.items()
        if any(other != contract for other, _ in index.get(heading, []))
    )
    if not options:
        return []
    heading, para = rng.choice(options)
    sources = [(c, k) for c, k in index[heading] if c != contract]
    source_contract, source_para = rng.choice(sources)
    return [
        {
            "op": "substitute",
            "para": para,
            "source": {"contract": source_contract, "para": source_para},
        }
    ]


def _repeated(paras: list[str]) -> set[int]:
    """Paragraphs that recur (running headers, footers): never edited."""
    keys = [re.sub(r"\d+", "#", p.lower()) for p in paras]
    counts = Counter(keys)
    return {k for k, key in enumerate(keys) if counts[key] >= 2}


def _rewrite(
    rng: random.Random, paras: list[str], units: list[Unit], zh: bool
) -> list[dict[str, Any]]:
    """Several edits in one paragraph, each found in the text the previous one left."""
    repeated = _repeated(paras)
    candidates = [
        k
        for u in units
        for k in range(u.start, u.end)
        if ((20 <= len(paras[k].split()) <= 120) or (zh and len(paras[k]) >= 30))
        and k not in repeated
    ]
    k = rng.choice(candidates)
    text = paras[k]
    ops: list[dict[str, Any]] = []
    for _ in range(rng.randint(3, 5)):
        found = _reword(rng, text, zh)
        if not found:
            break
        label = clause_number(text)
        at = text.find(found[0], label[1] if label else 0)
        text = text[:at] + found[1] + text[at + len(found[0]) :]
        ops.append({"op": "reword", "para": k, "find": found[0], "replace": found[1]})
    return ops


def _reword(rng: random.Random, text: str, zh: bool) -> tuple[str, str] | None:
    label = clause_number(text)
    body = text[label[1] :] if label else text
    options: list[tuple[str, str]] = []
    if zh:
        options += [(a, b) for a, b in _CN_SWAPS if a in body]
        fresh = [x for x in _CN_SENTENCES if x not in body]
        if fresh:
            options.append((body[-12:], body[-12:] + fresh[0]))
    else:
        m = re.search(r"\b(" + "|".join(_WORD_NUMBERS) + r") \((\d+)\)", body, re.I)
        if m:
            word = rng.choice([w for w in _WORD_NUMBERS if w != m.group(1).lower()])
            options.append((m.group(0), f"{word} ({_WORD_NUMBERS[word]})"))
        m = re.search(
            r"(?<![\w.,$(])(\d{1,3})(?= (?:days?|months?|years?|business|calendar)\b)", body
        )
        if m:
            options.append((m.group(0), str(int(m.group(1)) * 2 + 5)))
        for word, other in (("shall", "may"), ("will", "may")):
            if re.search(rf"\b{word}\b", body):
                options.append((f" {word} ", f" {other} "))
        options += [(f" {a} ", f" {b} ") for a, b in _SWAPS if f" {a} " in body]
        options.append((body[-40:], body[-40:] + " " + rng.choice(_SENTENCES)))
        sentences = re.split(r"(?<=\.)\s+(?=[A-Z])", body.strip())
        if len(sentences) >= 3 and sentences[-1] not in _SENTENCES:  # not one just added
            options.append((" " + sentences[-1], ""))
    options = [(a, b) for a, b in options if a and body.find(a) >= 0]
    return rng.choice(options) if options else None


def _relabel(paras: list[str], tops: list[Unit]) -> list[dict[str, Any]]:
    heads = [paras[u.start] for u in tops]
    if sum(bool(re.match(r"\d{1,2}\.\s", h)) for h in heads) >= 0.8 * len(heads):
        return [{"op": "relabel", "pattern": r"^(\d{1,2})\.(?=\s)", "repl": r"Section \1."}]
    if sum(bool(re.match(r"(?:Section|SECTION) \d{1,2}\b", h)) for h in heads) >= 0.8 * len(heads):
        return [
            {"op": "relabel", "pattern": r"^(?:Section|SECTION) (\d{1,2})\.?(?=\s)", "repl": r"\1."}
        ]
    return []
