"""The analysis jobs and the analysis cache on a real PostgreSQL (started on loopback): the
job service tests (tests/unit/test_jobs.py) and the analysis cache contract
(tests/adapters/test_analysis_cache_redis.py) run again here, with the store, the
`analysis_jobs` table and the cache table on PostgreSQL instead of SQLite; plus the
jobs-by-status count /metrics reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from services.adapters.analysis_cache import SqlAnalysisCache
from services.adapters.store import SqlStore
from services.app.documents import DocumentService
from services.app.jobs import JobService
from services.runtime.metrics import count_jobs_by_status
from tests.adapters.test_analysis_cache_redis import (  # noqa: F401 - collected here too
    test_an_answer_is_forgotten_with_any_document_it_cites,
    test_forget_document_removes_only_its_entries,
    test_get_put_and_replace,
    test_purge_by_tenant_then_all,
)
from tests.unit.analysis_support import ready
from tests.unit.conftest import (  # noqa: F401 - fixtures
    analysis,
    document_service,
    handle,
    llm,
    queue,
)
from tests.unit.test_documents_service import InlineQueue
from tests.unit.test_erasure import (  # noqa: F401 - fixture and tests collected here too
    test_a_delete_cut_short_is_finished_by_the_next_one_and_on_start,
    test_a_report_build_asks_no_analysis_of_a_document_deleted_meanwhile,
    test_delete_when_ready_erases_rows_jobs_cache_answers_and_report_entries,
    test_delete_while_a_report_is_built_keeps_the_document_out_of_it,
    test_delete_while_an_analysis_job_runs_keeps_nothing_it_computes,
    test_delete_while_indexing_leaves_no_points_even_when_the_task_then_fails,
    test_delete_while_parsing_writes_no_chunks_or_page_offsets_back,
    test_delete_while_queued_leaves_nothing,
    world,
)
from tests.unit.test_jobs import (  # noqa: F401 - fixtures and tests collected here too
    JobQueue,
    job_queue,
    jobs,
    test_a_job_computes_the_summary_then_the_cache_answers,
    test_last_attempt_and_bad_input_fail_the_job_with_a_reason,
    test_llm_down_leaves_the_job_waiting_until_it_is_back,
    test_requests_are_checked_before_a_job_is_queued,
    test_unfinished_jobs_are_sent_again_on_start,
)


@pytest.fixture
def store(postgres_url: str) -> Iterator[SqlStore]:
    store = SqlStore(postgres_url)
    yield store
    tables = MetaData()
    tables.reflect(store.engine)
    with store.engine.begin() as conn:  # every table emptied: the next test starts clean
        for table in reversed(tables.sorted_tables):
            conn.execute(table.delete())
    store.close()


@pytest.fixture
def store_url(postgres_url: str) -> str:  # the erasure tests on PostgreSQL
    return postgres_url


@pytest.fixture
def docs(tmp_path: Path, queue: InlineQueue, store: SqlStore) -> DocumentService:  # noqa: F811
    return document_service(tmp_path, store, queue)


@pytest.fixture
def cache(store: SqlStore) -> SqlAnalysisCache:
    return SqlAnalysisCache(store.engine)


def test_jobs_by_status_on_postgres(
    docs: DocumentService,
    queue: InlineQueue,  # noqa: F811
    jobs: JobService,  # noqa: F811
) -> None:
    assert docs.store.engine.dialect.name == "postgresql"
    document_id = ready(docs, queue, b"This Agreement is made by the parties hereto.")
    assert count_jobs_by_status(docs.store.engine) == {}
    summary = jobs.request("t1", "summary", document_id)
    jobs.request("t1", "risks", document_id)
    assert count_jobs_by_status(docs.store.engine) == {"queued": 2}
    jobs.run(summary.id)  # type: ignore[union-attr]
    assert count_jobs_by_status(docs.store.engine) == {"queued": 1, "done": 1}
    assert docs.store.count_by_status() == {"ready": 1}
