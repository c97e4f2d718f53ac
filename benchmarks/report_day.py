"""A daily report of a day of N dev contracts through a real server and the local model:
`python -m benchmarks.report_day [--documents 12] [--timeout-s 1800]`.

Starts `docsight serve` on a fresh data folder with the embedded defaults (the bundled
model in llama-server, unless `--llm-url`), uploads N CUAD dev contracts spread over the
page counts (every k-th by pages), waits until they are ready, asks for today's report
and polls it: seconds until the first partial report, until `done`, what was analysed,
what the limits left out. Environment variables DOCSIGHT_REPORTS__* change the limits.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pypdfium2 as pdfium

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = Path("/work/shared/data/devset/cuad/full_contract_pdf")


def spread(n: int) -> list[Path]:
    """n contracts spread over the dev set's page counts (every k-th, shortest first)."""
    paths = sorted({*CONTRACTS.rglob("*.pdf"), *CONTRACTS.rglob("*.PDF")})
    by_pages = sorted(paths, key=lambda p: (len(pdfium.PdfDocument(str(p))), p.name))
    step = max(1, len(by_pages) // n)
    return by_pages[::step][:n]


def serve(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = 18000 + os.getpid() % 1000
    env = (
        os.environ
        | {
            "DOCSIGHT_DATA_DIR": str(data_dir),
            "DOCSIGHT_API__PORT": str(port),
            "DOCSIGHT_API__AUTH": "none",
            "HF_HUB_OFFLINE": "1",
        }
        | env
    )
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli.main", "serve"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        if process.poll() is not None:
            raise RuntimeError((data_dir / "server.log").read_text()[-3000:])
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=12)
    parser.add_argument("--timeout-s", type=float, default=1800)
    parser.add_argument("--llm-url", default=None)
    args = parser.parse_args()
    env = {"DOCSIGHT_LLM__BASE_URL": args.llm_url} if args.llm_url else {}
    data_dir = Path(tempfile.mkdtemp(prefix="report-day-"))
    process, url = serve(data_dir, env)
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            files = spread(args.documents)
            started = time.monotonic()
            ids = []
            for path in files:
                body = client.post(
                    "/v1/documents",
                    files=[("files", (path.name, path.read_bytes(), "application/pdf"))],
                ).json()
                ids.append(body["accepted"][0]["document"]["id"])
            while True:
                docs = client.get("/v1/documents").json()["documents"]
                if all(d["status"] in ("ready", "failed") for d in docs if d["id"] in ids):
                    break
                time.sleep(2)
            ingested = time.monotonic() - started
            print(
                f"{len(ids)} documents ingested in {ingested:.0f} s "
                f"(pages {[len(pdfium.PdfDocument(str(p))) for p in files]})",
                flush=True,
            )
            day = datetime.now(UTC).date()
            asked = time.monotonic()
            first = client.post(f"/v1/reports/{day}", params={"wait": 5})
            print(
                f"POST answered {first.status_code} ({first.json()['status']}) in "
                f"{time.monotonic() - asked:.1f} s",
                flush=True,
            )
            record = first.json()
            while record["status"] == "building" and time.monotonic() - asked < args.timeout_s:
                time.sleep(5)
                record = client.get(f"/v1/reports/{day}").json()
                report = record.get("report") or {}
                print(
                    f"{time.monotonic() - asked:6.0f} s {record['status']}: "
                    f"{report.get('pending')} documents pending",
                    flush=True,
                )
            elapsed = time.monotonic() - asked
            report = record.get("report") or {}
            entries = report.get("documents", [])
            print(
                f"report {record['status']} after {elapsed:.0f} s: {len(entries)} ready "
                f"documents, {sum(bool(e['summary']) for e in entries)} summarised, "
                f"{sum(bool(e['findings']) or e['low_findings'] > 0 for e in entries)} with "
                f"risk findings, {report.get('limited')} limited, "
                f"{report.get('incomplete')} incomplete"
            )
            for e in entries:
                print(
                    f"  {e['filename'][:60]}: analysis {e['analysis']}, "
                    f"summary lines {len(e['summary'])}, limited {e['limited']}"
                )
    finally:
        process.terminate()
        process.wait(60)


if __name__ == "__main__":
    main()
