"""ObligationService: key dates and obligations of a tenant's contracts, and its calendar feed.

Obligations are read from a contract's text when it becomes ready (`extract_document`,
called by the index step, `services.app.ingestion`), deterministically and without a model
(`pipelines.obligations.extract_obligations`), and replace the document's rows: the step
run again writes the same rows once (each row's id follows from the document and the
obligation, so a feed's event keeps its UID). `rebuild` fills the rows of contracts
ingested before (`POST /v1/obligations/rebuild`, `docsight obligations rebuild`). A quote
is the document text at the row's offsets, verified when that text is there and not blank;
its pages come from the page offsets kept at ingest (else the chunks' page spans).

Calendar feeds: a token is shown once at creation and only its SHA-256 is stored;
`authenticate_feed` checks one (unknown or revoked: `Unauthenticated`), and `calendar`
writes the tenant's iCalendar text (`services.app.obligation_feed`).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from pipelines.errors import NotFound, Unauthenticated
from pipelines.extract import page_of
from pipelines.models import Chunk, DocumentStatus
from pipelines.obligations import ObligationFound, extract_obligations
from services.app import obligation_feed
from services.app.ports import AnalysisStore, CalendarFeed, Obligation, ObligationStore

log = logging.getLogger(__name__)

FEED_PREFIX = "dsf_"
FEED_PATH = "/v1/obligations.ics"
_IDS = uuid.UUID("6f1d3c1e-4d0b-4c51-9a53-0b5e1f0c7a15")  # namespace of obligation ids
Extractor = Callable[..., list[ObligationFound]]
"""`extract_obligations`: (text, today=date) -> what the text says falls due."""
ROLLING = ("renewal", "notice_deadline", "reporting")
"""Kinds whose date is the next one after the day of extraction (a renewal, the notice
before it, a quarterly report): once passed, the contract is read again (`roll_forward`)."""


def _midnight(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def document_text(chunks: Sequence[Chunk], page_starts: Sequence[int] | None = None) -> str:
    """The document text the chunks' offsets index (pages joined by a blank line): each
    chunk's text at its offsets; a character no chunk holds reads as a space, a page
    separator as the blank line it is."""
    end = max((c.char_end for c in chunks), default=0)
    out = [" "] * end
    for chunk in chunks:
        out[chunk.char_start : chunk.char_end] = chunk.text[: chunk.char_end - chunk.char_start]
    for start in page_starts or ():
        for at in (start - 2, start - 1):
            if 0 <= at < end and out[at] == " ":
                out[at] = "\n"
    return "".join(out)


def obligation_id(document_id: str, found: ObligationFound) -> str:
    """The same id for the same obligation of the same document (a rerun keeps it)."""
    key = f"{document_id}:{found.kind}:{found.char_start}:{found.char_end}:{found.due_date}"
    return str(uuid.uuid5(_IDS, key))


def rows_of(
    tenant: str,
    document_id: str,
    text: str,
    chunks: Sequence[Chunk],
    page_starts: Sequence[int] | None,
    found: Sequence[ObligationFound],
    now: datetime,
) -> list[Obligation]:
    """The rows of `found` (read from `text`), each with its quote and pages; duplicates
    (same id) once."""
    rows: dict[str, Obligation] = {}
    for item in found:
        start = max(0, min(item.char_start, len(text)))
        end = max(start, min(item.char_end, len(text)))
        quote = text[start:end]
        verified = bool(quote.strip()) and (start, end) == (item.char_start, item.char_end)
        row_id = obligation_id(document_id, item)
        rows.setdefault(
            row_id,
            Obligation(
                id=row_id,
                tenant=tenant,
                document_id=document_id,
                kind=item.kind,
                party=item.party,
                due_date=item.due_date,
                rule=item.rule,
                quote=quote,
                page=_page(chunks, start, page_starts) if verified else None,
                page_end=_page(chunks, end - 1, page_starts) if verified else None,
                char_start=start,
                char_end=end,
                verified=verified,
                method="pattern",
                created_at=now,
            ),
        )
    return list(rows.values())


def _page(chunks: Sequence[Chunk], offset: int, page_starts: Sequence[int] | None) -> int | None:
    if page_starts:
        return max(1, bisect_right(page_starts, offset))
    holder = next((c for c in chunks if c.char_start <= offset < c.char_end), None)
    return None if holder is None else page_of(holder, offset, None)


@dataclass(frozen=True)
class Rebuilt:
    """What `rebuild` did: contracts read, rows written, contracts whose extraction failed."""

    documents: int
    obligations: int
    failed: list[str]


class ObligationService:
    def __init__(
        self,
        *,
        store: ObligationStore,
        documents: AnalysisStore,
        extract: Extractor = extract_obligations,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.documents = documents
        self.extract = extract
        self.clock = clock

    # --- extraction -----------------------------------------------------------------

    def extract_document(
        self, tenant: str, document_id: str, chunks: Sequence[Chunk] | None = None
    ) -> int:
        """Read the document's obligations from its text and replace its rows; how many
        (0 for a document deleted meanwhile: nothing is written)."""
        if chunks is None:
            chunks = self.documents.load_chunks(document_id)
        starts = self.documents.load_page_starts(document_id)
        text = document_text(chunks, starts)
        today = self.clock().date()
        found = self.extract(text, today=today) if text.strip() else []
        rows = rows_of(tenant, document_id, text, chunks, starts, found, self.clock())
        return len(rows) if self.store.replace(tenant, document_id, rows) else 0

    def rebuild(self, tenant: str) -> Rebuilt:
        """Extract again the obligations of every ready contract of the tenant (those
        ingested before this release get theirs); a failure skips that contract only."""
        described = self.documents.describe_documents(tenant, status=DocumentStatus.READY)
        contracts = [d for d, facts in described if facts.kind == "contract"]
        written, failed = 0, []
        for document in contracts:
            try:
                written += self.extract_document(tenant, document.id)
            except Exception:
                log.exception("obligations of document %s not extracted", document.id)
                failed.append(document.id)
        return Rebuilt(len(contracts), written, failed)

    def roll_forward(self) -> int:
        """Read again the contracts whose renewal, notice or reporting date has passed
        since they were read (at most once a day each: the rows written today are not
        passed again); how many. Called by the sweep."""
        now = self.clock()
        passed = self.store.passed(ROLLING, before=now.date(), read_before=_midnight(now))
        for tenant, document_id in passed:
            try:
                self.extract_document(tenant, document_id)
            except Exception:
                log.exception("obligations of document %s not rolled forward", document_id)
        return len(passed)

    # --- reading --------------------------------------------------------------------

    def find(
        self,
        tenant: str,
        *,
        due_before: date | None = None,
        due_after: date | None = None,
        document_id: str | None = None,
        kind: str | None = None,
    ) -> list[Obligation]:
        """The tenant's obligations by due date (bounds inclusive; undated ones last and
        only without a bound)."""
        return self.store.find(
            tenant, due_before=due_before, due_after=due_after, document_id=document_id, kind=kind
        )

    # --- calendar feeds -------------------------------------------------------------

    def create_feed(self, tenant: str, name: str) -> tuple[CalendarFeed, str]:
        """A new feed token of the tenant: its row and the token, not kept anywhere."""
        name = name.strip()
        if not name or len(name) > 128:
            raise ValueError("a feed name is 1 to 128 characters")
        token = FEED_PREFIX + secrets.token_urlsafe(32)
        feed = CalendarFeed(
            id=str(uuid.uuid4()),
            tenant=tenant,
            name=name,
            token_hash=hash_token(token),
            created_at=self.clock(),
        )
        return self.store.add_feed(feed), token

    def feeds(self, tenant: str) -> list[CalendarFeed]:
        return self.store.feeds(tenant)

    def revoke_feed(self, tenant: str, feed_id: str) -> CalendarFeed:
        """Revoke the tenant's feed (again: a no-op); NotFound if it has none of this id."""
        feed = next((f for f in self.store.feeds(tenant) if f.id == feed_id), None)
        if feed is None:
            raise NotFound(f"no calendar feed {feed_id}")
        self.store.revoke_feed(tenant, feed_id, self.clock())
        return next(f for f in self.store.feeds(tenant) if f.id == feed_id)

    def authenticate_feed(self, token: str) -> CalendarFeed:
        """The feed of a token; `Unauthenticated` if unknown or revoked."""
        feed = self.store.feed_by_hash(hash_token(token.strip())) if token.strip() else None
        if feed is None or feed.revoked_at is not None:
            raise Unauthenticated("unknown or revoked calendar feed token")
        return feed

    def calendar(self, tenant: str, *, base_url: str, name: str | None = None) -> bytes:
        """The tenant's dated obligations as iCalendar text (`obligation_feed.calendar`)."""
        return obligation_feed.calendar(
            [o for o in self.store.find(tenant) if o.due_date is not None],
            base_url=base_url,
            name=name or "docsight obligations",
            now=self.clock(),
        )
