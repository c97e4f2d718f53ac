"""The evidence an answer shows: passages with where they are, and how relevant they look.

Every answer carries `Evidence`: the passages it was given (or, when whole documents were
packed, the best ones retrieval found), each with document, file name, page span,
section path, a short excerpt cut at word boundaries, its exact character offsets in the
document text and its retrieval score, so a reader can check the clause at once.

`relevance` is a model-free signal of how well a passage answers a question: the lexical
reranker's features (`pipelines.rerank.features`: query-term coverage, adjacency, the clause
phrases and headings of the category the question names, exact terms), weighted as the
reranker weighs them, without the first stage's rank; coverage is the plain share of the
question's content terms found (question words and "does", "get" ... left out). A "not
found" from the model is checked against it: when the best passages score at least
`RELEVANT_THRESHOLD`, the answer says the model could not answer from passages that look
relevant, rather than asserting that the documents hold no answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, Field

from pipelines.models import ScoredChunk
from pipelines.query import QueryPlan, plan_query
from pipelines.rerank import FEATURES, WEIGHTS, features, passage_text, weighted
from pipelines.sparse import tokenize

EXCERPT_CHARS = 300
EVIDENCE_LIMIT = 5
"""Passages an answer shows."""
RELEVANCE_DEPTH = 3
"""The not-found check looks at this many of the best passages."""
RELEVANT_THRESHOLD = 1.0
"""`relevance` of the best of the first `RELEVANCE_DEPTH` passages at or above which a
model's "not found" is reported as "the model could not answer from passages that look
relevant". Chosen by 5-fold cross-validation over the 40 CUAD dev contracts x 41
categories (query: the category's name; a pair with gold spans is a present clause):
`python -m benchmarks.not_found_check`; every fold chose 1.0; held-out balanced accuracy
0.801 (folds 0.764-0.826), 0.80 of present clauses called relevant and 0.80 of absent
ones absent at this threshold."""


class Evidence(BaseModel):
    """A passage shown with an answer."""

    document_id: str
    filename: str = ""
    chunk_number: int
    page_start: int
    page_end: int
    section_path: list[str] = Field(default_factory=list)
    excerpt: str
    char_start: int
    char_end: int
    score: float = Field(description="retrieval score (reranked), higher is better")
    relevance: float = Field(
        description="model-free relevance to the question (see pipelines.evidence)"
    )


_QUESTION_TERMS = frozenset(
    tokenize(
        "what which who whom whose when where why how does do did doe is are was were be any "
        "there this that these those it its can could should would will shall may might must "
        "get gets got give gives say says said tell show find me our their about under "
        "clause clauses contract contracts agreement provision document please"
    )
)


def relevance(plan: QueryPlan, passage: ScoredChunk) -> float:
    """How well `passage` matches the question of `plan`, without a model (module doc).
    Coverage here is the plain share of the question's content terms in the passage (the
    reranker weighs terms by their rarity among its candidates, which one passage lacks)."""
    text = passage_text(passage)
    row = list(features(plan, [text])[0])
    terms = [t for t in dict.fromkeys(tokenize(plan.text)) if t not in _QUESTION_TERMS]
    present = set(tokenize(text))
    row[FEATURES.index("coverage")] = (
        sum(t in present for t in terms) / len(terms) if terms else 0.0
    )
    return round(weighted(row, WEIGHTS), 4)


def best_relevance(
    question: str, passages: Sequence[ScoredChunk], depth: int = RELEVANCE_DEPTH
) -> float:
    """The highest `relevance` among the first `depth` passages (0 when there are none)."""
    plan = plan_query(question)
    return max((relevance(plan, p) for p in passages[:depth]), default=0.0)


def looks_relevant(score: float) -> bool:
    return score >= RELEVANT_THRESHOLD


def collect_evidence(
    question: str,
    passages: Sequence[ScoredChunk],
    titles: Mapping[str, str] | None = None,
    limit: int = EVIDENCE_LIMIT,
) -> list[Evidence]:
    """The first `limit` passages (best first) as `Evidence` for `question`."""
    plan = plan_query(question)
    titles = titles or {}
    shown: list[Evidence] = []
    for passage in passages[:limit]:
        chunk = passage.chunk
        shown.append(
            Evidence(
                document_id=chunk.document_id,
                filename=titles.get(chunk.document_id, ""),
                chunk_number=chunk.number,
                page_start=chunk.page_start,
                page_end=chunk.page_end,
                section_path=list(chunk.section_path),
                excerpt=excerpt(chunk.text, plan.phrases, _words(plan.text)),
                char_start=chunk.char_start,
                char_end=chunk.char_end,
                score=round(passage.score, 4),
                relevance=relevance(plan, passage),
            )
        )
    return shown


def _words(query: str) -> list[str]:
    return [
        w.strip("?.,;:!\"'")
        for w in query.split()
        if len(w) > 3 and w.casefold().strip("?.,;:!") not in _STOP
    ]


_STOP = frozenset(
    {
        "what",
        "which",
        "when",
        "where",
        "does",
        "there",
        "this",
        "that",
        "with",
        "from",
        "about",
        "agreement",
        "contract",
        "document",
        "clause",
        "under",
    }
)


def excerpt(
    text: str, phrases: Sequence[str] = (), words: Sequence[str] = (), limit: int = EXCERPT_CHARS
) -> str:
    """About `limit` characters of `text`, whitespace collapsed, cut at word boundaries;
    it starts a little before the first clause phrase found (else the first query word)
    when that lies further in. Cut ends are marked with "…"."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    folded = flat.casefold()
    anchor = -1
    for cues in (phrases, words):
        found = [i for i in (folded.find(c.casefold()) for c in cues if len(c) > 2) if i >= 0]
        if found:
            anchor = min(found)
            break
    start = 0
    if anchor > limit // 2:
        start = anchor - limit // 4
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < anchor else start
    start = min(start, max(0, len(flat) - limit))
    if start and flat[start - 1] != " ":  # moved back to the end: still a word boundary
        space = flat.find(" ", start)
        start = space + 1 if space >= 0 else start
    cut = flat[start : start + limit]
    if start + limit < len(flat):
        space = cut.rfind(" ")
        cut = (cut[:space] if space > limit // 2 else cut) + " …"
    return ("… " if start else "") + cut


def pages_label(page_start: int, page_end: int) -> str:
    """ "p.3" or "pp.3-4"; empty when the pages are unknown (never a bare "p.")."""
    if page_start <= 0:
        return ""
    return f"p.{page_start}" if page_end <= page_start else f"pp.{page_start}-{page_end}"


def describe(evidence: Evidence) -> str:
    """A short reference to a passage: file, pages and section."""
    parts = [
        evidence.filename or evidence.document_id[:8],
        pages_label(evidence.page_start, evidence.page_end),
    ]
    if evidence.section_path:
        parts.append(f"({evidence.section_path[-1]})")
    return " ".join(p for p in parts if p)
