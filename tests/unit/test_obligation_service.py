"""ObligationService (services/app/obligations.py) and its feed (obligation_feed.py): the
document text rebuilt from chunks at the store's offsets, rows with their quote and page,
extraction run again writing the same rows, rebuild of ready contracts, feed tokens, the
iCalendar feed; and the index step, which extracts a contract's obligations before it is
ready and is never failed by the extraction."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from pipelines.errors import NotFound, Unauthenticated
from pipelines.models import Chunk, Document, DocumentStatus
from pipelines.obligations import ObligationFound
from pipelines.portfolio import DocumentFacts
from services.adapters.blobs import FileBlobStore
from services.adapters.embedder_fake import HashEmbedder
from services.adapters.erasure import SqlEraser
from services.adapters.index_fake import InMemoryIndex
from services.adapters.obligations import SqlObligationStore
from services.adapters.store import SqlStore
from services.app.documents import DocumentService
from services.app.obligations import ObligationService, document_text, hash_token
from services.app.ports import CalendarFeed, Obligation
from services.settings import Settings
from tests.unit.test_documents_service import PDF, InlineQueue, StubParser, WordCounter

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PAGE_1 = 'This Agreement is effective as of March 1, 2003 (the "Effective Date").'
PAGE_2 = (
    "The term of this Agreement shall be one (1) year from the Effective Date. Either party "
    "may terminate it by written notice given at least ninety (90) days before the end of "
    "the term. Licensee shall pay each invoice within thirty (30) days after receipt."
)
TEXT = PAGE_1 + "\n\n" + PAGE_2
STARTS = [0, len(PAGE_1) + 2]


def _chunks(doc_id: str = "d1") -> list[Chunk]:
    """Three chunks: the first page, then the second in two overlapping pieces."""
    cut = STARTS[1] + 120
    spans = [(0, len(PAGE_1), 1), (STARTS[1], cut, 2), (cut - 30, len(TEXT), 2)]
    return [
        Chunk(
            document_id=doc_id,
            number=n,
            text=TEXT[start:end],
            page_start=page,
            page_end=page,
            char_start=start,
            char_end=end,
            token_count=10,
        )
        for n, (start, end, page) in enumerate(spans)
    ]


class MemoryRows:
    """An in-memory ObligationStore."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Obligation]] = {}
        self.feed_rows: list[CalendarFeed] = []
        self.deleted: set[str] = set()

    def replace(self, tenant: str, document_id: str, rows: Sequence[Obligation]) -> bool:
        if document_id in self.deleted:
            return False
        self.rows[document_id] = [replace(r, filename=f"{document_id}.pdf") for r in rows]
        return True

    def find(self, tenant: str, **_: object) -> list[Obligation]:
        return [r for rows in self.rows.values() for r in rows if r.tenant == tenant]

    def add_feed(self, feed: CalendarFeed) -> CalendarFeed:
        self.feed_rows.append(feed)
        return feed

    def feed_by_hash(self, token_hash: str) -> CalendarFeed | None:
        return next((f for f in self.feed_rows if f.token_hash == token_hash), None)

    def feeds(self, tenant: str) -> list[CalendarFeed]:
        return [f for f in self.feed_rows if f.tenant == tenant]

    def revoke_feed(self, tenant: str, feed_id: str, when: datetime) -> bool:
        for n, feed in enumerate(self.feed_rows):
            if feed.id == feed_id and feed.tenant == tenant and feed.revoked_at is None:
                self.feed_rows[n] = replace(feed, revoked_at=when)
                return True
        return False


class Documents:
    """The store's reads ObligationService uses: chunks, page offsets, ready documents."""

    def __init__(self, kinds: dict[str, str | None]) -> None:
        self.kinds = kinds

    def load_chunks(self, document_id: str) -> list[Chunk]:
        return _chunks(document_id)

    def load_page_starts(self, document_id: str) -> list[int] | None:
        return STARTS

    def describe_documents(
        self, tenant: str, *, status: DocumentStatus | None = None, **_: object
    ) -> list[tuple[Document, DocumentFacts]]:
        return [
            (
                Document(id=i, tenant=tenant, filename=f"{i}.pdf", sha256="a" * 64, size_bytes=1),
                DocumentFacts(kind=kind),  # type: ignore[arg-type]
            )
            for i, kind in self.kinds.items()
        ]


def _service(
    kinds: dict[str, str | None] | None = None, extract: object = None
) -> tuple[ObligationService, MemoryRows]:
    rows = MemoryRows()
    kwargs = {} if extract is None else {"extract": extract}
    service = ObligationService(
        store=rows,
        documents=Documents(kinds or {"d1": "contract"}),  # type: ignore[arg-type]
        clock=lambda: NOW,
        **kwargs,  # type: ignore[arg-type]
    )
    return service, rows


def test_document_text_puts_each_chunk_at_its_offsets() -> None:
    chunks = _chunks()
    text = document_text(chunks, STARTS)
    assert text == TEXT
    assert all(text[c.char_start : c.char_end] == c.text for c in chunks)
    gap = [c for c in chunks if c.number != 1]  # a character no chunk holds reads as a space
    assert document_text(gap, STARTS)[STARTS[1] : STARTS[1] + 5] == " " * 5


def test_rows_carry_the_text_at_their_offsets_and_its_page() -> None:
    service, rows = _service()
    assert service.extract_document("t1", "d1") > 0
    found = rows.rows["d1"]
    notice = next(o for o in found if o.kind == "notice_deadline")
    assert notice.due_date == date(2003, 12, 2)  # 2004-03-01 less 90 days
    assert notice.quote == TEXT[notice.char_start : notice.char_end]  # type: ignore[misc]
    assert "ninety (90) days" in notice.quote
    assert (notice.page, notice.page_end, notice.verified, notice.method) == (
        2,
        2,
        True,
        "pattern",
    )
    effective = next(o for o in found if o.kind == "effective_date")
    assert (effective.page, effective.due_date) == (1, date(2003, 3, 1))
    undated = next(o for o in found if o.kind == "payment_due")
    assert undated.due_date is None
    assert undated.rule


def test_running_the_extraction_again_writes_the_same_rows() -> None:
    service, rows = _service()
    service.extract_document("t1", "d1")
    first = rows.rows["d1"]
    service.extract_document("t1", "d1")
    assert rows.rows["d1"] == first
    assert len({o.id for o in first}) == len(first)


def test_a_span_outside_the_text_is_kept_unverified_without_a_page() -> None:
    far = ObligationFound("audit", None, None, "audit each year", len(TEXT) + 5, len(TEXT) + 50)
    service, rows = _service(extract=lambda text, **_: [far])
    service.extract_document("t1", "d1")
    (row,) = rows.rows["d1"]
    assert (row.verified, row.page, row.quote) == (False, None, "")


def test_a_deleted_document_gets_no_rows() -> None:
    service, rows = _service()
    rows.deleted.add("d1")
    assert service.extract_document("t1", "d1") == 0
    assert rows.rows == {}


def test_rebuild_reads_ready_contracts_and_skips_a_failure() -> None:
    calls: list[str] = []

    def extract(text: str, **_: object) -> list[ObligationFound]:
        calls.append(text)
        if len(calls) == 2:
            raise RuntimeError("rule bug")
        return [ObligationFound("audit", None, None, "yearly", 0, 10)]

    kinds: dict[str, str | None] = {"c1": "contract", "r1": "annual_report", "c2": "contract"}
    service, rows = _service(kinds, extract)
    done = service.rebuild("t1")
    assert (done.documents, done.obligations, done.failed) == (2, 1, ["c2"])
    assert set(rows.rows) == {"c1"}


def test_feed_tokens_are_shown_once_stored_hashed_and_revoked() -> None:
    service, rows = _service()
    feed, token = service.create_feed("t1", " team calendar ")
    assert token.startswith("dsf_")
    assert len(token) > 40
    assert rows.feed_rows[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert hash_token(token) == rows.feed_rows[0].token_hash
    assert token not in repr(rows.feed_rows)
    assert feed.name == "team calendar"
    assert service.authenticate_feed(token).tenant == "t1"
    with pytest.raises(Unauthenticated):
        service.authenticate_feed(token + "x")
    with pytest.raises(NotFound):
        service.revoke_feed("t2", feed.id)  # another tenant's
    assert service.revoke_feed("t1", feed.id).revoked_at == NOW
    with pytest.raises(Unauthenticated):
        service.authenticate_feed(token)
    with pytest.raises(ValueError, match="1 to 128"):
        service.create_feed("t1", "  ")


def test_the_feed_has_one_all_day_event_per_dated_obligation() -> None:
    service, rows = _service()
    service.extract_document("t1", "d1")
    body = service.calendar("t1", base_url="http://host:8000/", name="team")
    calendar = Calendar.from_ical(body)
    events = calendar.walk("VEVENT")
    dated = [o for o in rows.rows["d1"] if o.due_date is not None]
    assert len(events) == len(dated)
    assert len(dated) < len(rows.rows["d1"])  # the undated payment is left out
    notice = next(o for o in dated if o.kind == "notice_deadline")
    event = next(e for e in events if str(e["UID"]) == f"{notice.id}@docsight")
    assert event.decoded("DTSTART") == date(2003, 12, 2)  # a date: an all-day event
    assert str(event["SUMMARY"]) == "notice_deadline: d1.pdf"
    description = str(event["DESCRIPTION"])
    assert " ".join(notice.quote.split()) in description
    assert "(p. 2)" in description
    assert f"Rule: {notice.rule}" in description
    assert str(event["URL"]) == (
        f"http://host:8000/review?document=d1&page=2&start={notice.char_start}"
        f"&end={notice.char_end}"
    )
    assert str(calendar["X-WR-CALNAME"]) == "team"
    again = Calendar.from_ical(service.calendar("t1", base_url="http://host:8000"))
    assert sorted(str(e["UID"]) for e in again.walk("VEVENT")) == sorted(
        str(e["UID"]) for e in events
    )


# --- the index step ---------------------------------------------------------------------


class Failing:
    def extract_document(
        self, tenant: str, document_id: str, chunks: Sequence[Chunk] | None = None
    ) -> int:
        raise RuntimeError("a rule broke")


def _docs(tmp_path: Path, obligations: object) -> tuple[DocumentService, InlineQueue]:
    store = SqlStore(f"sqlite:///{tmp_path / 'test.db'}")
    queue = InlineQueue()
    docs = DocumentService(
        settings=Settings(data_dir=tmp_path),
        store=store,
        blobs=FileBlobStore(tmp_path / "blobs"),
        parser=StubParser(),
        counter=WordCounter(),
        embedder=HashEmbedder(32),
        index=InMemoryIndex(32),
        queue=queue,
        eraser=SqlEraser(store.engine),
        obligations=obligations,  # type: ignore[arg-type]
    )
    queue.service = docs
    return docs, queue


BODY = (
    b"This Agreement is effective as of March 1, 2003. The term of this Agreement shall be "
    b"one (1) year from the Effective Date. Either party may terminate it by written notice "
    b"given at least ninety (90) days before the end of the term. The parties hereto agree."
)


def test_a_contract_has_its_obligations_when_it_is_ready(tmp_path: Path) -> None:
    docs, queue = _docs(tmp_path, None)
    store = docs.store
    assert isinstance(store, SqlStore)
    rows = SqlObligationStore(store.engine)
    docs.obligations = ObligationService(store=rows, documents=store)
    document_id = docs.upload("t1", "deal.pdf", PDF + BODY).document.id
    queue.drain()
    assert docs.get("t1", document_id).status is DocumentStatus.READY
    found = rows.find("t1", document_id=document_id)
    notice = next(o for o in found if o.kind == "notice_deadline")
    assert notice.due_date == date(2003, 12, 2)
    assert notice.filename == "deal.pdf"
    starts = store.load_page_starts(document_id)
    assert starts is not None
    assert len(starts) == 2  # the stub parser's two pages
    text = document_text(store.load_chunks(document_id), starts)
    assert notice.quote == text[notice.char_start : notice.char_end]  # type: ignore[misc]
    assert notice.page == (1 if notice.char_start < starts[1] else 2)  # type: ignore[operator]
    docs.run_index(document_id)  # a duplicate index message: the same rows once
    assert rows.find("t1", document_id=document_id) == found
    docs.delete("t1", document_id)
    assert rows.find("t1") == []


def test_a_failed_extraction_is_noted_and_the_document_still_ready(tmp_path: Path) -> None:
    docs, queue = _docs(tmp_path, Failing())
    document_id = docs.upload("t1", "deal.pdf", PDF + BODY).document.id
    queue.drain()
    document = docs.get("t1", document_id)
    assert document.status is DocumentStatus.READY
    note = "obligations not extracted: RuntimeError: a rule broke"
    assert any(note in warning for warning in document.warnings)


def test_renewal_dates_roll_forward_once_passed() -> None:
    """An auto-renewing contract read on one day lists the next notice deadline after that
    day; once the clock passes it, the sweep's `roll_forward` reads the contract again (once
    that day) and the next year's deadline replaces it."""
    renewing = (
        PAGE_1 + "\n\n" + "The term of this Agreement is one (1) year from the Effective Date and "
        "shall renew automatically for successive one (1) year terms unless either party "
        "gives written notice of non-renewal at least ninety (90) days before the end of the "
        "then-current term."
    )

    class Renewing(Documents):
        def load_chunks(self, document_id: str) -> list[Chunk]:
            return [
                Chunk(
                    document_id=document_id,
                    number=0,
                    text=renewing,
                    page_start=1,
                    page_end=1,
                    char_start=0,
                    char_end=len(renewing),
                    token_count=10,
                )
            ]

        def load_page_starts(self, document_id: str) -> list[int] | None:
            return [0]

    clock = [datetime(2026, 11, 30, 9, 0, tzinfo=UTC)]
    rows = PassedRows()
    service = ObligationService(
        store=rows,
        documents=Renewing({"d1": "contract"}),  # type: ignore[arg-type]
        clock=lambda: clock[0],
    )
    service.extract_document("t1", "d1")

    def notice() -> date | None:
        (row,) = [r for r in rows.rows["d1"] if r.kind == "notice_deadline"]
        return row.due_date

    first = notice()
    assert first is not None
    assert first > clock[0].date()
    assert service.roll_forward() == 0  # nothing passed yet
    clock[0] = datetime.combine(first, datetime.min.time(), UTC) + timedelta(days=1)
    assert service.roll_forward() == 1
    second = notice()
    assert second is not None
    assert second > clock[0].date()
    assert 365 <= (second - first).days <= 366  # 90 days before the next anniversary
    assert service.roll_forward() == 0  # read again today: not again until the next one passes


class PassedRows(MemoryRows):
    """MemoryRows with `passed` (the SQL version: tests/adapters/test_obligations_store.py)."""

    def passed(
        self, kinds: Sequence[str], *, before: date, read_before: datetime
    ) -> list[tuple[str, str]]:
        return sorted(
            {
                (r.tenant, r.document_id)
                for rows in self.rows.values()
                for r in rows
                if r.kind in kinds
                and r.due_date is not None
                and r.due_date < before
                and r.created_at < read_before
            }
        )
