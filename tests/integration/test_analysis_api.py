"""A real server with its embedded llama-server: a question on one small CUAD contract is
answered with citations into it and the evidence passages (whatever the model said), and
asked again it is served from the answer cache."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.devset import DEVSET
from tests.integration.conftest import start_server, stop_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _smallest_contract() -> Path:
    rows = [json.loads(line) for line in (DEVSET / "cuad_annotations.jsonl").open()]
    paths = {DEVSET / "cuad" / row["pdf_path"] for row in rows}
    return min((p for p in paths if p.exists()), key=lambda p: p.stat().st_size)


def test_question_cited_then_served_from_cache(tmp_path: Path) -> None:
    if not (DEVSET / "cuad_annotations.jsonl").exists():
        pytest.skip("dev set not present")
    contract = _smallest_contract()
    # Short prompts and replies: the embedded model runs on CPU at a few tokens per second.
    server = start_server(
        tmp_path, DOCSIGHT_LLM__MAX_OUTPUT_TOKENS="48", DOCSIGHT_LLM__LOCAL_CTX="1536"
    )
    try:
        with server.client() as client:
            # The server's LLM timeouts follow the model's measured speed; this bound only
            # catches a hung server (the first answer takes minutes at a load average of 6).
            client.timeout = 900
            upload = client.post(
                "/v1/documents",
                files=[("files", (contract.name, contract.read_bytes(), "application/pdf"))],
            )
            document_id = upload.json()["accepted"][0]["document"]["id"]
            docs = server.wait_final(client, [document_id])
            assert docs[document_id]["status"] == "ready"

            question = {"question": "Which law governs this agreement?"}
            started = time.monotonic()
            first = client.post("/v1/questions", json=question)
            first_s = time.monotonic() - started
            assert first.status_code == 200, first.text
            body = first.json()
            assert isinstance(body["found"], bool)
            assert body["cached"] is False
            assert body["answer"]
            assert all(c["document_id"] == document_id for c in body["citations"])
            # The 0.5B model may answer without a usable citation: then it is not grounded.
            assert body["grounded"] == (body["found"] and bool(body["citations"]))
            if body["grounded"]:
                assert all(c["page_start"] >= 1 and c["chunk_numbers"] for c in body["citations"])
            # Evidence whatever the model said: the passages with pages, excerpt, offsets.
            assert body["evidence"], body
            for passage in body["evidence"]:
                assert passage["document_id"] == document_id
                assert passage["filename"] == contract.name
                assert passage["page_start"] >= 1
                assert passage["excerpt"]
                assert passage["char_end"] > passage["char_start"]
            if not body["found"]:
                assert body["not_found_checked"] in ("absent", "model_could_not_answer")
            for value in body["extracted"]:  # governing law, read without the model
                assert value["field"] == "governing_law"
                assert value["page_start"] >= 1
                assert (
                    value["value"].casefold() in value["quote"].casefold()
                    or value["value"] == "People's Republic of China"
                )

            started = time.monotonic()
            again = client.post(
                "/v1/questions", json={"question": "  which LAW governs this agreement? "}
            )
            again_s = time.monotonic() - started
            assert again.status_code == 200
            assert again.json()["cached"] is True
            assert again.json()["answer"] == body["answer"]
            assert again.json()["evidence"] == body["evidence"]
            # From the cache, without the model: faster than the first answer (a bound in
            # seconds would fail on a loaded machine; this one only if the model is asked).
            assert again_s < first_s
            stats = client.get("/v1/analysis/cache").json()["answers"]
            assert stats == {"hits": 1, "misses": 1, "hit_rate": 0.5}
            metrics = client.get("/metrics").text
            assert (
                'docsight_analysis_cache_requests_total{kind="answers",result="hit"} 1.0' in metrics
            )

            unknown = client.post("/v1/documents/nope/summary")
            assert unknown.status_code == 404
            print(f"first answer {first_s:.1f}s, cached {again_s * 1000:.0f}ms: {body}")
    finally:
        stop_server(server)
