"""Versions and the clause diff through a real server: a new version uploaded with
POST /v1/documents/{id}/versions (English) and with `previous_id` on POST /v1/documents
(Chinese); each inserts a clause (the later ones renumbered) and rewords one. The diff
lists the reworded clause as changed with both texts and their pages, the renumbered ones
as unchanged, and `docsight diff` prints it; deleting the previous version leaves the new
one without a previous version; `docsight ingest --previous` adds a third version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import REPO, Server
from tests.integration.version_pdfs import EN_NEW, EN_OLD, ZH_NEW, ZH_OLD, pdf_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _upload(client: httpx.Client, name: str, data: bytes, **form: str) -> dict[str, Any]:
    r = client.post("/v1/documents", files=[("files", (name, data, "application/pdf"))], data=form)
    assert r.status_code == 202, r.text
    document: dict[str, Any] = r.json()["accepted"][0]["document"]
    return document


def _by_number(changes: list[dict[str, Any]], side: str, number: str) -> dict[str, Any]:
    return next(c for c in changes if c[side] and c[side]["number"] == number)


def _cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args, "--url", server.url],
        cwd=REPO, env=server.cli_env | {"COLUMNS": "200"}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_english_version_diff_and_cli(server: Server) -> None:
    with server.client() as client:
        first = pdf_of(EN_OLD)
        old = _upload(client, "supply-v1.pdf", first)
        r = client.post(
            f"/v1/documents/{old['id']}/versions",
            files={"file": ("supply-v2.pdf", pdf_of(EN_NEW), "application/pdf")},
        )
        assert r.status_code == 202, r.text
        new = r.json()
        assert new["previous_id"] == old["id"]
        early = client.get(f"/v1/documents/{new['id']}/diff")
        assert early.status_code in (200, 409)  # 409 until both are ready
        server.wait_final(client, [old["id"], new["id"]])
        assert client.get(f"/v1/documents/{new['id']}").json()["previous_id"] == old["id"]
        chain = client.get(f"/v1/documents/{old['id']}/versions").json()["versions"]
        assert [d["id"] for d in chain] == [old["id"], new["id"]]

        r = client.get(f"/v1/documents/{new['id']}/diff")
        assert r.status_code == 200, r.text
        diff = r.json()
        assert diff["against"] == old["id"]
        changes = diff["changes"]
        law = _by_number(changes, "new", "5")
        assert law["kind"] == "changed"
        assert law["renumbered"]
        assert law["old"]["number"] == "4"
        assert "New York" in law["old"]["text"]
        assert "Delaware" in law["new"]["text"]
        assert (law["old"]["page"], law["new"]["page"]) == (2, 2)
        assert "Governing Law" in law["categories"]
        assert law["findings"]["change"] == "not_analysed"  # no risk report was run
        for old_number, new_number in (("2", "3"), ("3", "4"), ("5", "6")):
            moved = _by_number(changes, "new", new_number)
            assert moved["kind"] == "unchanged", moved
            assert moved["renumbered"]
            assert moved["old"]["number"] == old_number
        payment = _by_number(changes, "new", "2")
        assert payment["kind"] == "added"
        assert payment["old"] is None
        assert payment["new"]["page"] == 1
        assert diff["counts"]["changed"] == 1
        assert diff["counts"]["added"] == 1
        assert diff["counts"]["removed"] == 0

        shown = _cli(server, "diff", new["id"][:8])
        assert shown.returncode == 0, shown.stderr
        assert "1 changed, 1 added, 0 removed" in shown.stdout
        assert "Governing Law (was 4)" in shown.stdout
        assert "New York" in shown.stdout
        assert "Delaware" in shown.stdout
        assert "Notices" not in shown.stdout  # unchanged: only with --all
        assert "Notices" in _cli(server, "diff", new["id"], "--all").stdout

        same = client.post(
            f"/v1/documents/{old['id']}/versions",
            files={"file": ("again.pdf", first, "application/pdf")},
        )
        assert same.status_code == 409  # the file is its previous version
        assert client.get(f"/v1/documents/{old['id']}/diff").status_code == 404  # none before

        assert client.delete(f"/v1/documents/{old['id']}").status_code == 204
        gone = client.get(f"/v1/documents/{new['id']}/diff")
        assert gone.status_code == 404
        assert "no previous version" in gone.json()["detail"]
        assert client.get(f"/v1/documents/{new['id']}").json()["previous_id"] is None


def test_chinese_version_diff(server: Server, tmp_path: Path) -> None:
    with server.client() as client:
        old = _upload(client, "采购合同-v1.pdf", pdf_of(ZH_OLD))
        new = _upload(client, "采购合同-v2.pdf", pdf_of(ZH_NEW), previous_id=old["id"])
        assert new["previous_id"] == old["id"]
        docs = server.wait_final(client, [old["id"], new["id"]])
        assert {d["status"] for d in docs.values()} == {"ready"}
        r = client.get(f"/v1/documents/{new['id']}/diff", params={"against": old["id"]})
        assert r.status_code == 200, r.text
        changes = r.json()["changes"]
        disputes = _by_number(changes, "new", "第五条")
        assert disputes["kind"] == "changed"
        assert disputes["old"]["number"] == "第四条"
        assert "北京" in disputes["old"]["text"]
        assert "上海" in disputes["new"]["text"]
        assert (disputes["old"]["page"], disputes["new"]["page"]) == (2, 2)
        term = _by_number(changes, "new", "第四条")
        assert term["kind"] == "unchanged"
        assert term["renumbered"]
        added = _by_number(changes, "new", "第二条")
        assert added["kind"] == "added"
        assert "三十日" in added["new"]["text"]

    third = tmp_path / "采购合同-v3.pdf"
    third.write_bytes(pdf_of([*ZH_NEW, ["第六条 其他", "本合同一式两份。"]]))
    done = _cli(server, "ingest", str(third), "--previous", new["id"][:8], "--no-wait")
    assert done.returncode == 0, done.stdout + done.stderr
    with server.client() as client:
        chain = client.get(f"/v1/documents/{old['id']}/versions").json()["versions"]
        assert [d["id"] for d in chain][:2] == [old["id"], new["id"]]
        assert len(chain) == 3
        assert chain[2]["filename"] == third.name
        assert chain[2]["previous_id"] == new["id"]
