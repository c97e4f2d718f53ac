"""Jobs make progress visibly and never start over: steps written to the job's row (also in
a database made before the progress columns existed), a summary part that times out split
in halves, and a retried summary resuming from the steps kept by the failed attempt."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, create_engine

from pipelines.context import pack_document
from pipelines.errors import LlmTimeout, LlmUnavailable
from pipelines.llm_text import ModelT
from pipelines.models import ChatMessage, Job, JobStatus
from pipelines.prompts import ANALYST_INSTRUCTIONS
from pipelines.summaries import summarize, summary_task
from pipelines.summary_models import ContractSummary
from services.adapters.analysis_cache import SqlAnalysisCache
from services.adapters.jobs import SqlJobStore
from services.adapters.llm_fake import FakeChatModel
from services.adapters.schema import prepare
from services.app.analysis import AnalysisService
from services.app.documents import DocumentService
from services.app.jobs import JobService
from services.app.step_cache import StepCachedModel
from services.cli.analysis import job_progress
from tests.unit.analysis_support import Handle, ready
from tests.unit.test_documents_service import InlineQueue
from tests.unit.test_summaries import COUNTER, ROOMY, TIGHT, chunks_of, contract_reply, doc

Steps = list[tuple[int, int, str]]


class Recorder:
    def __init__(self) -> None:
        self.steps: Steps = []

    def __call__(self, done: int, total: int, step: str) -> None:
        self.steps.append((done, total, step))


def _chunk_numbers(messages: Sequence[ChatMessage]) -> set[str]:
    return {
        word.split("w")[0]
        for m in messages
        for word in m.content.split()
        if word.startswith("c") and "w" in word and word[1].isdigit()
    }


class SlowOnLongPrompts(FakeChatModel):
    """Times out (as the adapter does at its ceiling) on prompts of more than `most` chunks."""

    def __init__(self, most: int) -> None:
        super().__init__(responder=lambda _: contract_reply())
        self.most, self.timeouts = most, 0

    def structured(
        self,
        messages: Sequence[ChatMessage],
        schema: type[ModelT],
        *,
        thinking: bool = False,
        max_tokens: int | None = None,
        cache_salt: str | None = None,
    ) -> ModelT:
        if len(_chunk_numbers(messages)) > self.most:
            self.timeouts += 1
            raise LlmTimeout("the LLM did not answer within 300.0s")
        return super().structured(
            messages, schema, thinking=thinking, max_tokens=max_tokens, cache_salt=cache_salt
        )


def test_a_part_that_times_out_is_split_not_repeated() -> None:
    llm, progress = SlowOnLongPrompts(most=3), Recorder()
    summary = summarize(
        doc(),
        chunks_of(6),
        kind="contract",
        llm=llm,
        counter=COUNTER,
        budget=ROOMY,
        progress=progress,
    )
    assert isinstance(summary, ContractSummary)
    assert llm.timeouts == 1  # the whole document once; never the same request again
    maps = [c for c in llm.calls if _chunk_numbers(c.messages)]
    assert [sorted(_chunk_numbers(c.messages)) for c in maps] == [
        ["c0", "c1", "c2"],
        ["c3", "c4", "c5"],
    ]
    assert len(llm.calls) == 3  # two halves and their merge
    assert progress.steps[0] == (0, 1, "summarising")
    assert any("half 2/2" in step for _, _, step in progress.steps)
    assert progress.steps[-1] == (3, 3, "done")
    assert all(done <= total for done, total, _ in progress.steps)


def test_a_single_chunk_that_times_out_is_not_split_further() -> None:
    with pytest.raises(LlmTimeout):
        summarize(
            doc(),
            chunks_of(1),
            kind="contract",
            llm=SlowOnLongPrompts(most=0),
            counter=COUNTER,
            budget=ROOMY,
        )


class FailsOnce(FakeChatModel):
    """Unavailable on its `fail_at`-th structured request (1-based), then fine."""

    def __init__(self, fail_at: int) -> None:
        super().__init__(responder=lambda _: contract_reply())
        self.fail_at, self.requests = fail_at, 0

    def structured(
        self,
        messages: Sequence[ChatMessage],
        schema: type[ModelT],
        *,
        thinking: bool = False,
        max_tokens: int | None = None,
        cache_salt: str | None = None,
    ) -> ModelT:
        self.requests += 1
        if self.requests == self.fail_at:
            raise LlmUnavailable("no LLM reachable")
        return super().structured(
            messages, schema, thinking=thinking, max_tokens=max_tokens, cache_salt=cache_salt
        )


def test_a_retried_summary_resumes_at_the_step_that_failed(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'cache.db'}")
    prepare(engine, upgrade=True)
    cache = SqlAnalysisCache(engine)
    chunks = chunks_of(40)
    model = FailsOnce(fail_at=3)

    def attempt(progress: Recorder) -> ContractSummary:
        steps = StepCachedModel(model, cache, tenant="t", document_id="doc-a")
        summary = summarize(
            doc(),
            chunks,
            kind="contract",
            llm=steps,
            counter=COUNTER,
            budget=TIGHT,
            progress=progress,
        )
        assert isinstance(summary, ContractSummary)
        return summary

    with pytest.raises(LlmUnavailable):
        attempt(Recorder())
    assert len(model.calls) == 2  # two parts summarised before the third failed
    again = Recorder()
    attempt(again)
    parts = pack_document(
        ANALYST_INSTRUCTIONS,
        chunks,
        summary_task("contract", "en"),
        counter=COUNTER,
        budget=TIGHT,
        title="lease.pdf",
    )
    assert len(parts) > 3
    retry = model.calls[2:]
    sent_again = [c for c in retry if _chunk_numbers(c.messages)]
    assert len(sent_again) == len(parts) - 2  # the two finished parts were not sent again
    assert len(retry) > len(sent_again)  # and the merges ran
    assert again.steps[-1][0] == again.steps[-1][1]  # every step done
    engine.dispose()


@pytest.fixture
def job_store(analysis: AnalysisService) -> SqlJobStore:
    return SqlJobStore(analysis.store.engine)


def test_progress_is_written_to_the_job_row_while_it_runs(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    job_store: SqlJobStore,
    handle: Handle,
) -> None:
    document_id = ready(docs, queue, b"This Agreement is made by the parties hereto.")
    jobs = JobService(jobs=job_store, analysis=analysis, queue=_Sent())
    job = jobs.submit("t1", "summary", document_id)
    seen: list[Job] = []

    def responder(messages: list[ChatMessage]) -> str:
        seen.append(jobs.get("t1", job.id))  # the row as a poller sees it mid-request
        return contract_reply()

    handle.model = FakeChatModel(responder=responder, name="model-a")
    jobs.run(job.id)
    assert [(j.steps_done, j.steps_total, j.step) for j in seen] == [(0, 1, "summarising")]
    done = jobs.get("t1", job.id)
    assert (done.status, done.steps_done, done.steps_total, done.step) == (
        JobStatus.DONE,
        1,
        1,
        "done",
    )


class _Sent:
    def enqueue_analysis(self, job_id: str) -> None:
        return None


def test_an_old_jobs_table_gets_the_progress_columns(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    old = MetaData()
    table = Table(  # analysis_jobs as the release before progress made it
        "analysis_jobs",
        old,
        Column("id", String(36), primary_key=True),
        Column("tenant", String(64)),
        Column("kind", String(16)),
        Column("document_id", String(36)),
        Column("refresh", Integer),
        Column("status", String(16)),
        Column("attempts", Integer),
        Column("error_code", String(32)),
        Column("reason", Text),
        Column("result", Text),
        Column("created_at", DateTime(timezone=True)),
        Column("updated_at", DateTime(timezone=True)),
    )
    old.create_all(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            table.insert().values(
                id="j1",
                tenant="t",
                kind="summary",
                document_id="d",
                refresh=0,
                status="running",
                attempts=1,
                created_at=now,
                updated_at=now,
            )
        )
    prepare(engine, upgrade=True)
    prepare(engine, upgrade=True)  # a second process starting on the same database
    store = SqlJobStore(engine)
    job = store.get("t", "j1")
    assert (job.status, job.steps_total, job.step) == (JobStatus.RUNNING, None, None)
    assert store.progress("j1", 2, 5, "summarising part 3/4")
    job = store.get("t", "j1")
    assert (job.steps_done, job.steps_total, job.step) == (2, 5, "summarising part 3/4")
    store.transition("j1", [JobStatus.RUNNING], JobStatus.DONE, result=json.dumps({}))
    assert not store.progress("j1", 3, 5, "late")  # only a running job's row is written
    engine.dispose()


def test_the_cli_shows_the_step_of_a_polled_job() -> None:
    running = {
        "status": "running",
        "steps_done": 2,
        "steps_total": 7,
        "step": "summarising part 3/6",
    }
    assert job_progress(running) == "step 3/7: summarising part 3/6"
    assert job_progress({"status": "queued", "steps_total": None}) == ""
    assert (
        job_progress({"status": "done", "steps_done": 7, "steps_total": 7, "step": "done"})
        == "7/7 steps"
    )
