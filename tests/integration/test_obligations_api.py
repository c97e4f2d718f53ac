"""Key dates and obligations through a real server on loopback: contract PDFs (English and
Chinese, written here with fpdf2) are uploaded, and once ready `GET /v1/obligations` gives
the notice deadline computed from the effective date, the term and the notice period, with
a quote that is the document's text at its offsets, on the page that prints it; the
iCalendar feed has the event on that date (with a feed token or the key); a revoked or
unknown token gets 401; the CLI lists the same and creates a feed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pypdfium2 as pdfium
import pytest
from icalendar import Calendar

from services.adapters.store import SqlStore
from services.app.obligations import document_text
from services.settings import Settings
from tests.integration.conftest import REPO, Server, start_server, stop_server

fpdf = pytest.importorskip("fpdf")
FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
TODAY = date.today()
EFFECTIVE = (TODAY - timedelta(days=300)).replace(day=10)  # no month-end clamping
EXPIRES = EFFECTIVE.replace(year=EFFECTIVE.year + 1)
NOTICE = EXPIRES - timedelta(days=30)
CN_NOTICE = EXPIRES - timedelta(days=60)
FILLER = (
    "The parties wish to set out the terms on which Supplier provides the services described "
    "in the schedules to this Agreement, and agree as follows. "
) * 6


def _long(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


ENGLISH = [
    [
        "MASTER SERVICES AGREEMENT",
        f'This Master Services Agreement (the "Agreement") is made as of {_long(EFFECTIVE)} '
        'by and between Alpha Corp ("Customer") and Beta LLC ("Supplier").',
        FILLER,
    ],
    [
        f'1. Term. This Agreement shall commence on {_long(EFFECTIVE)} (the "Effective Date") '
        "and shall continue for a term of one (1) year. Either party may terminate this "
        "Agreement by written notice given at least thirty (30) days before the end of the term.",
        "2. Fees. Customer shall pay each invoice within thirty (30) days after its receipt.",
        "3. Governing Law. This Agreement shall be governed by the laws of the State of New York.",
    ],
]
CHINESE = [
    [
        "技术服务合同",
        "甲方：华东科技有限公司　乙方：南方数据服务有限公司",
        "鉴于甲方需要乙方提供技术服务，双方经友好协商，就有关事项达成如下协议。" * 4,
    ],
    [
        f"第一条 合同期限 本合同自{EFFECTIVE.year}年{EFFECTIVE.month}月{EFFECTIVE.day}日起生效，"
        "有效期为一年。任何一方如需终止本合同，应于合同期满前六十日书面通知对方。",
        "第二条 付款 甲方应在收到发票后三十日内支付服务费。",
        "第三条 适用法律 本合同受中华人民共和国法律管辖。",
    ],
]


def _pdf(path: Path, pages: list[list[str]]) -> Path:
    doc = fpdf.FPDF(format="A4")
    doc.add_font("noto", "", str(FONT), collection_font_number=2)  # Noto Sans CJK SC
    doc.set_font("noto", size=11)
    for paragraphs in pages:
        doc.add_page()
        for text in paragraphs:
            doc.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            doc.ln(3)
    doc.output(str(path))
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    """A server with the two contracts uploaded and ready: file name -> document id."""
    if not FONT.exists():
        pytest.skip("Noto Sans CJK is not installed")
    data = tmp_path_factory.mktemp("obligations")
    server = start_server(data)
    try:
        files = {
            "msa.pdf": _pdf(data / "msa.pdf", ENGLISH),
            "技术服务合同.pdf": _pdf(data / "cn.pdf", CHINESE),
        }
        ids: dict[str, str] = {}
        with server.client() as client:
            for name, path in files.items():
                response = client.post(
                    "/v1/documents", files={"files": (name, path.read_bytes(), "application/pdf")}
                )
                assert response.status_code == 202, response.text
                ids[name] = response.json()["accepted"][0]["document"]["id"]
            docs = server.wait_final(client, list(ids.values()))
        assert all(d["status"] == "ready" for d in docs.values()), docs
        yield server, ids
    finally:
        stop_server(server)


def _text(server: Server, document_id: str) -> str:
    store = SqlStore(Settings(data_dir=server.data_dir).store_url, upgrade=None)
    try:
        return document_text(store.load_chunks(document_id), store.load_page_starts(document_id))
    finally:
        store.close()


def _page_text(path: Path, page: int) -> str:
    pdf = pdfium.PdfDocument(str(path))
    try:
        return " ".join(pdf[page - 1].get_textpage().get_text_range().split())
    finally:
        pdf.close()


def _notice(rows: list[dict], document_id: str) -> dict:
    found = [r for r in rows if r["document_id"] == document_id and r["kind"] == "notice_deadline"]
    assert len(found) == 1, rows
    return found[0]


def test_the_notice_deadline_is_listed_with_its_quote_and_page(
    served: tuple[Server, dict[str, str]],
) -> None:
    server, ids = served
    with server.client() as client:
        response = client.get(
            "/v1/obligations", params={"due_before": (NOTICE + timedelta(days=1)).isoformat()}
        )
        assert response.status_code == 200, response.text
        rows = response.json()["obligations"]
        everything = client.get("/v1/obligations").json()["obligations"]
        notices = client.get("/v1/obligations", params={"kind": "notice_deadline"})
        bogus = client.get("/v1/obligations", params={"kind": "deadline"})
        notice = _notice(rows, ids["msa.pdf"])
        highlight = client.get(
            f"/v1/documents/{ids['msa.pdf']}/highlights",
            params={"start": notice["char_start"], "end": notice["char_end"]},
        ).json()
    assert all(r["due_date"] and r["due_date"] <= NOTICE.isoformat() for r in rows)
    assert notice["due_date"] == NOTICE.isoformat()
    assert notice["filename"] == "msa.pdf"
    assert notice["verified"] is True
    assert notice["method"] == "pattern"
    text = _text(server, ids["msa.pdf"])
    assert notice["quote"] == text[notice["char_start"] : notice["char_end"]]
    assert "thirty (30) days before the end of the term" in " ".join(notice["quote"].split())
    assert notice["page"] == 2
    assert notice["page_end"] == 2
    assert " ".join(notice["quote"].split())[:60] in _page_text(server.data_dir / "msa.pdf", 2)
    assert highlight["located"] is True
    assert {b["page"] for b in highlight["boxes"]} == {2}
    kinds = {r["kind"] for r in everything if r["document_id"] == ids["msa.pdf"]}
    assert {"effective_date", "expiration_date", "notice_deadline", "payment_due"} <= kinds
    assert everything[-1]["due_date"] is None  # undated ones last
    assert {r["kind"] for r in notices.json()["obligations"]} == {"notice_deadline"}
    assert bogus.status_code == 422


def test_a_chinese_contract(served: tuple[Server, dict[str, str]]) -> None:
    server, ids = served
    document_id = ids["技术服务合同.pdf"]
    with server.client() as client:
        rows = client.get("/v1/obligations", params={"document_id": document_id}).json()
    notice = _notice(rows["obligations"], document_id)
    assert notice["due_date"] == CN_NOTICE.isoformat()
    text = _text(server, document_id)
    assert notice["quote"] == text[notice["char_start"] : notice["char_end"]]
    assert "期满前六十日" in "".join(notice["quote"].split())
    assert notice["page"] == 2
    assert notice["filename"] == "技术服务合同.pdf"


def test_the_ics_feed_by_token_and_by_key_and_a_revoked_token(
    served: tuple[Server, dict[str, str]],
) -> None:
    server, ids = served
    with server.client() as client:
        created = client.post("/v1/calendar-feeds", json={"name": "legal team"})
        assert created.status_code == 201, created.text
        feed = created.json()
        assert feed["url"] == f"/v1/obligations.ics?token={feed['token']}"
        listed = client.get("/v1/calendar-feeds").json()["feeds"]
        by_key = client.get("/v1/obligations.ics")
    assert [f["name"] for f in listed if f["id"] == feed["id"]] == ["legal team"]
    assert "token" not in listed[0]
    with httpx.Client(base_url=server.url, timeout=60) as anonymous:  # a calendar client
        response = anonymous.get(feed["url"])
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/calendar; charset=utf-8"
        assert anonymous.get("/v1/obligations.ics").status_code == 401  # no token, no key
        assert anonymous.get("/v1/obligations.ics?token=dsf_unknown").status_code == 401
    assert by_key.status_code == 200
    calendar = Calendar.from_ical(response.content)
    events = [e for e in calendar.walk("VEVENT") if str(e["SUMMARY"]) == "notice_deadline: msa.pdf"]
    assert len(events) == 1
    assert events[0].decoded("DTSTART") == NOTICE
    assert "thirty (30) days" in str(events[0]["DESCRIPTION"])
    assert f"document={ids['msa.pdf']}" in str(events[0]["URL"])
    assert str(events[0]["URL"]).startswith(f"{server.url}/review?")
    cn = [e for e in calendar.walk("VEVENT") if "技术服务合同.pdf" in str(e["SUMMARY"])]
    assert CN_NOTICE in {e.decoded("DTSTART") for e in cn}
    by_key_uids = {str(e["UID"]) for e in Calendar.from_ical(by_key.content).walk("VEVENT")}
    assert by_key_uids == {str(e["UID"]) for e in calendar.walk("VEVENT")}
    with server.client() as client:
        assert client.delete(f"/v1/calendar-feeds/{feed['id']}").status_code == 200
        assert client.delete("/v1/calendar-feeds/no-such-feed").status_code == 404
    with httpx.Client(base_url=server.url, timeout=60) as anonymous:
        refused = anonymous.get(feed["url"])
    assert refused.status_code == 401
    assert refused.json()["error_code"] == "unauthenticated"
    log = (server.data_dir / "server.log").read_text(encoding="utf-8", errors="replace")
    assert "/v1/obligations.ics?token=[redacted]" in log  # the access lines hide the token
    assert feed["token"] not in log


def test_the_cli_lists_obligations_and_creates_a_feed(
    served: tuple[Server, dict[str, str]],
) -> None:
    server, ids = served

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli", *args, "--url", server.url],
            cwd=REPO,
            env=server.cli_env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    listed = cli("obligations", "--due-before", NOTICE.isoformat(), "--json")
    assert listed.returncode == 0, listed.stderr
    assert NOTICE.isoformat() in listed.stdout
    table = cli("obligations", "--document", ids["msa.pdf"][:8])
    assert table.returncode == 0, table.stderr
    assert "notice_deadline" in table.stdout
    rebuilt = cli("obligations", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "from 2 contracts" in rebuilt.stdout
    created = cli("calendar-feed", "create", "my calendar")
    assert created.returncode == 0, created.stderr
    url = created.stdout.strip().splitlines()[-1]
    assert url.startswith(f"{server.url}/v1/obligations.ics?token=dsf_")
    feed = httpx.get(url, timeout=60)
    assert feed.status_code == 200
    assert NOTICE in {e.decoded("DTSTART") for e in Calendar.from_ical(feed.content).walk("VEVENT")}


def test_the_daily_report_lists_what_falls_due(served: tuple[Server, dict[str, str]]) -> None:
    server, _ = served
    day = TODAY - timedelta(days=3)  # no upload in its window: the report needs no model
    with server.client() as client:
        built = client.post(f"/v1/reports/{day}", params={"wait": 60})
        assert built.status_code == 200, built.text
        due = built.json()["report"]["due"]
        markdown = client.get(f"/v1/reports/{day}", params={"format": "markdown"}).text
        html = client.get(f"/v1/reports/{day}", params={"format": "html"}).text
    notice = [d for d in due if d["filename"] == "msa.pdf" and d["kind"] == "notice_deadline"]
    assert len(notice) == 1
    assert notice[0]["due_date"] == NOTICE.isoformat()
    assert notice[0]["days"] == (NOTICE - day).days
    assert notice[0]["page"] == 2
    assert "## Due in the next 30 / 90 days" in markdown
    assert f"{NOTICE.isoformat()} (in {(NOTICE - day).days} days): notice\\_deadline" in markdown
    assert "Due in the next 30 / 90 days</h2>" in html
