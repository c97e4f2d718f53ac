"""The metadata store's migrations: a database written by the previous release is upgraded
with nothing lost, on SQLite and PostgreSQL; the schema the migrations make is exactly
`services.adapters.schema.metadata`; production's check names the command that upgrades."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from services.adapters import schema
from services.adapters.pdf_fake import FakePdfParser
from services.adapters.schema import SchemaMismatch, alembic_config, current, head
from services.adapters.store import SqlStore
from services.api.schemas import DocumentOut
from tests.adapters import schema_previous as previous
from tests.servers import postgres_bin, postgres_server
from tests.unit.conftest import document_service
from tests.unit.test_documents_service import PDF, InlineQueue

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 29, 12, 30, tzinfo=UTC)
ROWS: dict[str, list[dict[str, Any]]] = {
    "documents": [
        dict(
            id="d1",
            tenant="t1",
            filename="a.pdf",
            sha256="a" * 64,
            size_bytes=10,
            status="ready",
            error_code=None,
            reason=None,
            pages_total=2,
            pages_parsed=2,
            ocr_pages=1,
            chunks_total=2,
            chunks_embedded=2,
            password=None,
            created_at=NOW,
            updated_at=NOW,
        )
    ],
    "chunks": [
        dict(
            document_id="d1",
            number=n,
            text=f"chunk {n} é",
            page_start=1,
            page_end=2,
            section_path=["1", "Terms"],
            char_start=10 * n,
            char_end=10 * n + 9,
            token_count=3,
        )
        for n in (0, 1)
    ],
    "page_layouts": [dict(document_id="d1", page_starts=[0, 120])],
    "document_meta": [dict(document_id="d1", kind="contract", metadata={"region": "EU"})],
    "erasures": [dict(document_id="gone", tenant="t1", started_at=NOW)],
    "analysis_jobs": [
        dict(
            id="j1",
            tenant="t1",
            kind="summary",
            document_id="d1",
            refresh=0,
            status="running",
            attempts=1,
            error_code=None,
            reason=None,
            result=None,
            steps_done=2,
            steps_total=5,
            step="summarising part 3/4",
            created_at=NOW,
            updated_at=NOW,
        )
    ],
    "analysis_cache": [
        dict(
            key="k" * 64,
            kind="answer",
            tenant="t1",
            document_id="d1",
            value='{"answer": "yes"}',
            created_at=NOW,
        )
    ],
    "analysis_cache_documents": [dict(key="k" * 64, document_id="d1")],
    "api_keys": [
        dict(
            id="key1",
            tenant="t1",
            name="ci",
            key_hash="h" * 64,
            created_at=NOW,
            revoked_at=None,
            last_used_at=NOW,
        )
    ],
    "page_usage": [dict(document_id="d1", tenant="t1", pages=2, parsed_at=NOW)],
    "reports": [
        dict(
            tenant="t1",
            day="2026-11-29",
            status="done",
            report='{"entries": []}',
            error_code=None,
            reason=None,
            started_at=NOW,
            updated_at=NOW,
        )
    ],
}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
        yield engine
        engine.dispose()
        return
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed")
    with postgres_server() as url:
        engine = create_engine(url)
        yield engine
        engine.dispose()


def _previous_release_database(engine: Engine) -> None:
    """Tables and rows as the release before migrations wrote them."""
    previous.metadata.create_all(engine)
    with engine.begin() as conn:
        for name, rows in ROWS.items():
            conn.execute(previous.metadata.tables[name].insert(), rows)


def _contents(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of the previous release's tables (its columns), in key order."""
    found = {}
    with engine.connect() as conn:
        for name, table in previous.metadata.tables.items():
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            found[name] = [_utc(dict(row._mapping)) for row in rows]
    return found


def _utc(row: dict[str, Any]) -> dict[str, Any]:  # SQLite gives naive datetimes back
    return {
        k: v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v
        for k, v in row.items()
    }


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, schema.metadata))


def test_a_previous_release_database_is_upgraded_with_nothing_lost(engine: Engine) -> None:
    _previous_release_database(engine)
    assert _contents(engine) == ROWS
    schema.prepare(engine, upgrade=True)
    assert _contents(engine) == ROWS
    assert current(engine) == head()
    assert "warnings" in {c["name"] for c in inspect(engine).get_columns("documents")}
    assert _differences(engine) == []
    store = SqlStore(engine.url.render_as_string(hide_password=False), upgrade=False)
    try:
        document = store.get_by_id("d1")
        assert (document.chunks_total, document.warnings) == (2, [])
    finally:
        store.close()


def test_upgrading_twice_is_a_no_op(engine: Engine) -> None:
    _previous_release_database(engine)
    schema.prepare(engine, upgrade=True)
    schema.prepare(engine, upgrade=True)
    assert current(engine) == head()
    assert _contents(engine) == ROWS


def test_production_checks_and_names_the_command_that_upgrades(engine: Engine) -> None:
    _previous_release_database(engine)
    with pytest.raises(
        SchemaMismatch,
        match=r"is at none .*this release needs "
        rf"{head()}: run `docsight db upgrade`",
    ):
        schema.prepare(engine, upgrade=False)
    with engine.begin() as conn:  # an older migrated database: at 0001
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    with pytest.raises(SchemaMismatch, match=r"schema is at 0001, this release needs"):
        schema.prepare(engine, upgrade=False)
    schema.prepare(engine, upgrade=True)
    schema.prepare(engine, upgrade=False)
    assert _contents(engine) == ROWS


def test_the_migrations_make_exactly_the_schema_module(engine: Engine) -> None:
    schema.prepare(engine, upgrade=True)
    assert current(engine) == head()
    assert _differences(engine) == []


def test_processes_starting_at_once_both_start(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    script = (
        "import sys; from sqlalchemy import create_engine; "
        "from services.adapters.schema import prepare; "
        "prepare(create_engine(sys.argv[1]), upgrade=True)"
    )
    starts = [
        subprocess.Popen(
            [sys.executable, "-c", script, url], cwd=REPO, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for start in starts:
        _, stderr = start.communicate(timeout=120)
        assert start.returncode == 0, stderr
    assert current(engine) == head()
    schema.prepare(engine, upgrade=False)


def test_docsight_db_upgrade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.cli.main import app

    monkeypatch.delenv("DOCSIGHT_STORE__URL", raising=False)
    monkeypatch.setenv("DOCSIGHT_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    before = runner.invoke(app, ["db", "current"])
    assert before.exit_code == 1, before.output
    assert f"schema: none; this release needs {head()}" in before.output
    done = runner.invoke(app, ["db", "upgrade"])
    assert done.exit_code == 0, done.output
    assert "schema before: none" in done.output
    assert f"schema after: {head()}" in done.output
    again = runner.invoke(app, ["db", "upgrade"])
    assert f"schema before: {head()}" in again.output
    after = runner.invoke(app, ["db", "current"])
    assert after.exit_code == 0, after.output
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'docsight.db'}")
    try:
        assert _differences(engine) == []
    finally:
        engine.dispose()


def test_the_parsers_warnings_are_stored_and_in_the_document_json(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
    queue = InlineQueue()
    warned = ["page 2: a font could not be read", "page 3: no text (image only)"]
    docs = document_service(tmp_path, store, queue)
    docs.parser = FakePdfParser(["one two three", "four five"], warnings=warned)
    try:
        upload = docs.upload("t1", "a.pdf", PDF)
        assert DocumentOut.of(upload.document).model_dump(mode="json")["warnings"] == []
        queue.drain()
        document = store.get_document("t1", upload.document.id)
        assert document.warnings == warned
        assert DocumentOut.of(document).model_dump(mode="json")["warnings"] == warned
    finally:
        store.close()
