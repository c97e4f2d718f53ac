"""The portfolio search unit tests (tests/unit/test_portfolio_search.py) again on a real
PostgreSQL (started on loopback): the metadata filter's JSON path, the kind join and the
upload-time comparison in PostgreSQL's dialect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from services.adapters.store import SqlStore
from services.app.documents import DocumentService
from tests.unit.conftest import document_service, queue  # noqa: F401 - fixture
from tests.unit.test_documents_service import InlineQueue
from tests.unit.test_portfolio_search import (  # noqa: F401 - fixture and tests collected here too
    portfolio,
    test_delete_removes_kind_and_metadata,
    test_document_ids_are_deduplicated_intersected_and_checked,
    test_documents_indexed_before_kinds_get_theirs_on_resume,
    test_empty_match_answers_nothing_without_searching,
    test_group_by_document_gives_each_document_once_best_first,
    test_kind_filter,
    test_kind_is_known_once_indexed_and_metadata_at_upload,
    test_kind_metadata_and_upload_time_are_kept,
    test_metadata_filter_matches_every_given_key_exactly,
    test_upload_time_filter,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def docs(
    tmp_path: Path,
    queue: InlineQueue,  # noqa: F811
    postgres_url: str,  # noqa: F811
) -> Iterator[DocumentService]:
    store = SqlStore(postgres_url)
    assert store.engine.dialect.name == "postgresql"
    docs = document_service(tmp_path, store, queue)
    yield docs
    tables = MetaData()
    tables.reflect(store.engine)
    with store.engine.begin() as conn:  # every table emptied: the next test starts clean
        for table in reversed(tables.sorted_tables):
            conn.execute(table.delete())
    store.close()
