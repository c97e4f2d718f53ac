"""File names are never used as paths: a real server stores uploads by document id and shows a
sanitised display name, whatever the client calls the file."""

from __future__ import annotations

import uuid

import pytest

from tests.devset import DEVSET
from tests.integration.conftest import Server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONTRACT = (
    DEVSET
    / "cuad"
    / "full_contract_pdf"
    / "Part_I"
    / "Affiliate_Agreements"
    / "SteelVaultCorp_20081224_10-K_EX-10.16_3074935_EX-10.16_Affiliate Agreement.pdf"
)
NAMES = {
    "../../etc/passwd": "passwd",
    "..\\..\\x.pdf": "x.pdf",
    "/tmp/../../root/.ssh/authorized_keys.pdf": "authorized_keys.pdf",
    "C:\\Windows\\System32\\evil.pdf": "evil.pdf",
    "dir/\x1b[31mred\u202e.pdf": "[31mred.pdf",
}


def _variant(data: bytes) -> bytes:
    """Distinct bytes, still a valid PDF: a comment line after %%EOF."""
    return data + f"\n%{uuid.uuid4()}\n".encode()


@pytest.mark.skipif(not CONTRACT.exists(), reason="dev set not present")
def test_hostile_file_names_are_stored_by_id_and_shown_sanitised(server: Server) -> None:
    data = CONTRACT.read_bytes()
    before = {p for p in server.data_dir.parent.rglob("*")}
    ids: dict[str, str] = {}
    with server.client() as client:
        for name, shown in NAMES.items():
            response = client.post(
                "/v1/documents", files={"files": (name, _variant(data), "application/pdf")}
            )
            assert response.status_code == 202, response.text
            document = response.json()["accepted"][0]["document"]
            assert document["filename"] == shown
            ids[name] = document["id"]
        docs = server.wait_final(client, list(ids.values()), timeout_s=300)
        for name, document_id in ids.items():
            assert docs[document_id]["status"] == "ready", docs[document_id]
            assert client.get(f"/v1/documents/{document_id}").json()["filename"] == NAMES[name]
    blobs = server.data_dir / "blobs"
    for document_id in ids.values():
        assert (blobs / document_id[:2] / f"{document_id}.pdf").is_file()
    created = {p for p in server.data_dir.parent.rglob("*")} - before
    outside = [p for p in created if server.data_dir not in p.parents]
    assert outside == []
    named = [p for p in created if p.name in set(NAMES.values()) | {"passwd"}]
    assert named == []
