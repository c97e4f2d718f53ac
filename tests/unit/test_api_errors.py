"""Every malformed request gets a 4xx with an `error_code`, never a 500 (issue 11, defect 4).

NaN, Infinity, 1e999 and lone surrogates used to break the serialisation of FastAPI's own
validation error (its body echoed the input); the framework's 404/405 had no error_code.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.api.errors import install_error_handlers
from services.api.routes import analysis as analysis_routes
from services.api.routes import search as search_routes
from services.settings import Settings

MALFORMED = [
    b'{"question": NaN}',
    b'{"question": Infinity}',
    b'{"question": 1e999}',
    b'{"question": "\\ud800"}',
    b'{"question": "ok", "document_ids": [-Infinity, "\\udfff"]}',
    b'{"question": "ok", "query": "ok", "document_ids": [1e999]}',
    b'{"question": ',
    b"\xff\xfe not json",
    b'["a list"]',
    b'{"\\ud800": 1}',
]


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    for module in (analysis_routes, search_routes):
        app.include_router(module.router)
    app.state.container = SimpleNamespace()  # never reached: the body is refused first
    app.state.settings = Settings(data_dir=tmp_path, api={"auth": "none", "default_tenant": "t1"})
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("body", MALFORMED)
@pytest.mark.parametrize("path", ["/v1/questions", "/v1/search"])
def test_a_malformed_body_is_a_4xx_with_an_error_code(
    client: TestClient, path: str, body: bytes
) -> None:
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    payload = response.json()
    if response.status_code == 400:  # bytes that are not UTF-8: the body cannot be read
        assert payload["error_code"] == "bad_request"
        return
    assert response.status_code == 422, response.text
    assert payload["error_code"] == "invalid_request"
    assert payload["detail"]
    assert all(set(item) == {"loc", "msg", "type"} for item in payload["detail"])


def test_framework_errors_carry_an_error_code(client: TestClient) -> None:
    missing = client.get("/v1/nowhere")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "not_found")
    wrong = client.get("/v1/questions")
    assert (wrong.status_code, wrong.json()["error_code"]) == (405, "method_not_allowed")
    assert "allow" in {k.lower() for k in wrong.headers}


def test_lists_of_ids_are_bounded_and_each_id_too() -> None:
    """Issue 11, defect 3: 100,000 ids (or one huge one) are refused by the schema."""
    from pydantic import ValidationError

    from pipelines.portfolio import MAX_DOCUMENT_IDS
    from services.api.schemas import QuestionIn, SearchIn

    for model, field in ((QuestionIn, "question"), (SearchIn, "query")):
        with pytest.raises(ValidationError, match="at most"):
            model.model_validate({field: "x", "document_ids": ["a"] * (MAX_DOCUMENT_IDS + 1)})
        with pytest.raises(ValidationError, match="at most 64"):
            model.model_validate({field: "x", "document_ids": ["a" * 65]})
        kept = model.model_validate({field: "x", "document_ids": ["b", "a", "b", "a"]})
        assert kept.document_ids == ["b", "a"]  # repeats dropped, order kept


def test_a_huge_id_list_is_a_422_at_once(client: TestClient) -> None:
    body = {"question": "x", "document_ids": ["same-id"] * 100_000}
    response = client.post("/v1/questions", json=body)
    assert (response.status_code, response.json()["error_code"]) == (422, "invalid_request")
