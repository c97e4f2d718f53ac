"""DiffService with fakes: clauses aligned across a renumbering, pages from offsets,
categories from the lexicon and from cached findings, findings compared, the cache, and
the errors (no previous version, not ready, another tenant, deleted meanwhile)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pipelines.errors import DocumentNotReady, LlmUnavailable, NotFound
from pipelines.models import Chunk, Document, DocumentStatus
from pipelines.portfolio import DocumentFacts
from pipelines.risk_models import Finding, RiskReport
from services.app.analysis_results import RisksResult
from services.app.diffs import DiffService, Pages, document_text, worded_categories

OLD = (
    "SUPPLY AGREEMENT\n\n"
    "1. Definitions\nTerms used here have the meanings given below.\n\n"
    "2. Term\nThis Agreement runs for one year from the Effective Date.\n\n"
    "3. Governing Law\nThis Agreement is governed by the laws of the State of New York.\n\n"
    "4. Notices\nNotices are given in writing to the addresses above.\n"
)
NEW = (
    "SUPPLY AGREEMENT\n\n"
    "1. Definitions\nTerms used here have the meanings given below.\n\n"
    "2. Payment\nInvoices are paid within thirty days.\n\n"
    "3. Term\nThis Agreement runs for one year from the Effective Date.\n\n"
    "4. Governing Law\nThis Agreement is governed by the laws of the State of Delaware, "
    "without regard to its conflicts principles.\n\n"
    "5. Notices\nNotices are given in writing to the addresses above.\n"
)


def _chunks(document_id: str, text: str, size: int = 60, overlap: int = 15) -> list[Chunk]:
    """Overlapping chunks of `text`, as the chunker leaves them."""
    chunks: list[Chunk] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        chunks.append(
            Chunk(
                document_id=document_id,
                number=len(chunks),
                text=text[start:end],
                page_start=1,
                page_end=1,
                char_start=start,
                char_end=end,
                token_count=1,
            )
        )
        if end == len(text):
            break
        start = end - overlap
    return chunks


class FakeStore:
    def __init__(self) -> None:
        self.documents: dict[str, Document] = {}
        self.texts: dict[str, str] = {}
        self.page_starts: dict[str, list[int]] = {}
        self.loads = 0
        self.gone: set[str] = set()

    def add(self, document_id: str, text: str, tenant: str = "t1", **fields: object) -> None:
        self.documents[document_id] = Document(
            id=document_id,
            tenant=tenant,
            filename=f"{document_id}.pdf",
            sha256=document_id * 8,
            size_bytes=1,
            status=fields.get("status", DocumentStatus.READY),  # type: ignore[arg-type]
            chunks_total=len(_chunks(document_id, text)),
        )
        self.texts[document_id] = text

    def get_document(self, tenant: str, document_id: str) -> Document:
        document = self.documents.get(document_id)
        if document is None or document.tenant != tenant:
            raise NotFound(f"no document {document_id}")
        return document

    def describe_documents(
        self, tenant: str, *, document_ids: Sequence[str] | None = None, status: object = None
    ) -> list[tuple[Document, DocumentFacts]]:
        return [(self.documents[i], DocumentFacts(kind="contract")) for i in document_ids or []]

    def load_chunks(self, document_id: str) -> list[Chunk]:
        self.loads += 1
        return _chunks(document_id, self.texts[document_id])

    def load_page_starts(self, document_id: str) -> list[int] | None:
        return self.page_starts.get(document_id)

    def existing_ids(self, document_ids: Sequence[str]) -> set[str]:
        return {i for i in document_ids if i in self.documents and i not in self.gone}


class FakeVersions:
    def __init__(self, previous: dict[str, str]) -> None:
        self.previous = previous

    def link(self, tenant: str, document_id: str, previous_id: str) -> None:
        self.previous[document_id] = previous_id

    def previous_of(self, tenant: str, document_id: str) -> str | None:
        return self.previous.get(document_id)

    def chain(self, tenant: str, document_id: str) -> list[str]:
        return [document_id]


class FakeRisks:
    def __init__(self) -> None:
        self.reports: dict[str, list[Finding]] = {}
        self.unavailable = False

    def cached_risks(self, tenant: str, document_id: str) -> RisksResult | None:
        if self.unavailable:
            raise LlmUnavailable("no model")
        if document_id not in self.reports:
            return None
        report = RiskReport(
            document_id=document_id,
            kind="contract",
            findings=self.reports[document_id],
            requests=1,
        )
        return RisksResult(report=report, model="m", cached=True)


class DictCache:
    def __init__(self) -> None:
        self.entries: dict[str, str] = {}
        self.owners: dict[str, set[str]] = {}

    def get(self, key: str) -> str | None:
        return self.entries.get(key)

    def put(
        self,
        key: str,
        value: str,
        *,
        kind: str,
        tenant: str,
        document_id: str | None = None,
        document_ids: Sequence[str] = (),
    ) -> None:
        self.entries[key] = value
        self.owners[key] = {*([document_id] if document_id else []), *document_ids}

    def forget_document(self, document_id: str) -> int:
        keys = [k for k, owners in self.owners.items() if document_id in owners]
        for key in keys:
            self.entries.pop(key, None)
            del self.owners[key]
        return len(keys)

    def purge(self, tenant: str | None = None) -> int:
        return 0


def _finding(document_id: str, text: str, quote: str, category: str) -> Finding:
    start = text.index(quote)
    return Finding(
        category=category,
        severity="medium",
        reason="r",
        quote=quote,
        page=1,
        document_id=document_id,
        grounded=True,
        char_start=start,
        char_end=start + len(quote),
    )


World = tuple[DiffService, FakeStore, FakeRisks, DictCache]


@pytest.fixture
def world() -> World:
    store, risks, cache = FakeStore(), FakeRisks(), DictCache()
    store.add("old", OLD)
    store.add("new", NEW)
    store.page_starts["new"] = [0, NEW.index("4. Governing Law")]  # page 2 from clause 4
    service = DiffService(
        store=store,  # type: ignore[arg-type]
        versions=FakeVersions({"new": "old"}),
        risks=risks,
        cache=cache,
    )
    return service, store, risks, cache


def test_document_text_rebuilds_the_offsets_from_overlapping_chunks() -> None:
    chunks = _chunks("d", NEW, size=37, overlap=11)
    assert document_text(list(reversed(chunks))) == NEW
    gap = [chunks[0], chunks[2]]  # a gap is filled with line breaks, offsets kept
    text = document_text(gap)
    assert text[chunks[2].char_start : chunks[2].char_end] == chunks[2].text
    assert set(text[chunks[0].char_end : chunks[2].char_start]) == {"\n"}


def test_reworded_clause_is_changed_and_renumbered_ones_unchanged(world: World) -> None:
    service, *_ = world
    diff = service.diff("t1", "new")  # against its previous version by default
    assert diff.against == "old"
    by_heading = {(c.new or c.old).heading: c for c in diff.changes}  # type: ignore[union-attr]
    law = by_heading["Governing Law"]
    assert law.kind == "changed"
    assert law.renumbered
    assert law.old is not None
    assert law.new is not None
    assert "New York" in law.old.text
    assert "Delaware" in law.new.text
    assert law.old.number == "3"
    assert law.new.number == "4"
    assert NEW[law.new.char_start : law.new.char_end] == law.new.text
    assert (law.old.page, law.new.page, law.new.page_end) == (1, 2, 2)
    assert by_heading["Term"].kind == "unchanged"
    assert by_heading["Term"].renumbered
    assert by_heading["Notices"].kind == "unchanged"
    assert by_heading["Payment"].kind == "added"
    assert by_heading["Payment"].old is None
    assert diff.counts.added == 1
    assert diff.counts.changed == 1
    assert diff.counts.removed == 0
    assert diff.counts.renumbered == 3
    assert "Governing Law" in law.categories
    assert law.findings.change == "not_analysed"  # no cached risk report


def test_findings_inside_the_clauses_are_compared(world: World) -> None:
    service, _, risks, _ = world
    risks.reports["old"] = [
        _finding("old", OLD, "governed by the laws of the State of New York", "Governing Law")
    ]
    risks.reports["new"] = [
        _finding("new", NEW, "governed by the laws of the State of Delaware", "Governing Law"),
        _finding("new", NEW, "Invoices are paid within thirty days", "Minimum Commitment"),
    ]
    diff = service.diff("t1", "new", "old")
    law = next(c for c in diff.changes if c.new and c.new.heading == "Governing Law")
    assert law.findings.change == "changed"
    assert [f.quote for f in law.findings.before] == [
        "governed by the laws of the State of New York"
    ]
    assert "Delaware" in law.findings.after[0].quote
    payment = next(c for c in diff.changes if c.new and c.new.heading == "Payment")
    assert payment.findings.change == "added"
    assert payment.categories == ["Minimum Commitment"]  # from the finding, not the wording
    term = next(c for c in diff.changes if c.new and c.new.heading == "Term")
    assert term.findings.change == "same"
    assert term.findings.before == []


def test_no_model_means_not_analysed(world: World) -> None:
    service, _, risks, _ = world
    risks.unavailable = True
    diff = service.diff("t1", "new")
    assert {c.findings.change for c in diff.changes} == {"not_analysed"}


def test_the_alignment_is_cached_per_pair_and_forgotten_with_a_document(world: World) -> None:
    service, store, _, cache = world
    first = service.diff("t1", "new")
    loads = store.loads
    again = service.diff("t1", "new")
    assert store.loads == loads  # nothing loaded: the cached alignment
    assert again == first
    cache.forget_document("old")
    service.diff("t1", "new")
    assert store.loads > loads


def test_errors(world: World) -> None:
    service, store, _, cache = world
    with pytest.raises(NotFound, match="no previous version"):
        service.diff("t1", "old")
    with pytest.raises(NotFound):
        service.diff("t2", "new", "old")  # another tenant's documents
    store.add("busy", NEW.replace("thirty", "forty"), status=DocumentStatus.INDEXING)
    with pytest.raises(DocumentNotReady, match="both documents ready"):
        service.diff("t1", "busy", "old")
    store.add("theirs", OLD, tenant="t2")
    with pytest.raises(NotFound):
        service.diff("t1", "new", "theirs")
    store.gone.add("old")  # deleted while it was compared
    with pytest.raises(NotFound, match="deleted while"):
        service.diff("t1", "new", "old")
    assert cache.entries == {}


def test_categories_from_english_and_chinese_wording() -> None:
    assert "Governing Law" in worded_categories(
        ["This Agreement is governed by the laws of the State of New York."], "contract"
    )
    assert "Governing Law" in worded_categories(["本合同适用中华人民共和国法律。"], "contract")
    assert "Audit Rights" in worded_categories(["甲方有权审计乙方的会计账簿。"], "contract")
    assert worded_categories(["The parties met on Tuesday."], "contract") == []


def test_pages_without_stored_offsets_come_from_chunks() -> None:
    chunks = _chunks("d", NEW, size=80, overlap=0)
    chunks = [
        c.model_copy(update={"page_start": i + 1, "page_end": i + 1}) for i, c in enumerate(chunks)
    ]
    pages = Pages(chunks, None)
    assert pages.at(0) == 1
    assert pages.at(chunks[2].char_start + 3) == 3


def test_blank_lines_left_out_by_the_chunker_still_separate_clauses() -> None:
    from pipelines.clauses import split_clauses

    chunks, start = [], 0
    for part in NEW.split("\n\n"):  # one chunk a paragraph, the blank lines not stored
        chunks.append(
            _chunks("d", part, size=10_000)[0].model_copy(
                update={"char_start": start, "char_end": start + len(part), "number": len(chunks)}
            )
        )
        start += len(part) + 2
    numbers = [c.number for c in split_clauses(document_text(chunks))]
    assert numbers == [c.number for c in split_clauses(NEW)]
    assert numbers[1:] == ["1", "2", "3", "4", "5"]
