"""The report's HTML page as a person sees it: rendered by headless Chromium (Debian
`chromium`), its visible text and the chart's laid-out bars measured in the page, and a
screenshot kept under tests/artifacts/ (checked to be not blank)."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from pipelines.reports import build_report
from services.app.rendering.html import render_html
from tests.unit.test_reports import DAY, NOW, sample

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (`make system-deps` installs Debian chromium)"
)

# Test-only: measures what was laid out and writes it into the DOM for --dump-dom.
MEASURE = """<script>
const bars = [...document.querySelectorAll('svg rect.bar')].map(r => {
  const b = r.getBoundingClientRect();
  return {category: r.dataset.category, severity: r.dataset.severity, w: b.width, h: b.height};
});
const out = document.createElement('pre'); out.id = 'measure';
out.textContent = JSON.stringify({bars, text: document.body.innerText});
document.body.appendChild(out);
</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-dev-shm-usage",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGB(A) PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8
            channels = {2: 3, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows = zlib.decompress(idat), width * channels, []
    prev = bytearray(stride)
    for y in range(height):
        at = y * (stride + 1)
        kind, line = raw[at], bytearray(raw[at + 1 : at + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, channels, rows


def test_report_page_renders_in_chromium(tmp_path: Path) -> None:
    report = build_report("t1", DAY, "Asia/Shanghai", sample(), generated_at=NOW)
    html = render_html(report)
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / "daily_report.html"
    page.write_text(html, encoding="utf-8")
    shot = ARTIFACTS / "daily_report.png"
    shot.unlink(missing_ok=True)
    result = _chromium(f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri())
    assert shot.exists(), result.stderr[-2000:]

    measured = tmp_path / "measured.html"
    measured.write_text(html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = _chromium("--dump-dom", "--virtual-time-budget=2000", measured.as_uri()).stdout
    found = re.search(r'<pre id="measure">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    seen = json.loads(
        found.group(1)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&amp;", "&")
    )
    text = seen["text"]
    for visible in (
        "supply.pdf",
        "licence <b>&co</b>.pdf",
        "broken.pdf",
        "Uncapped Liability",
        "Risks by category",
        "the PDF is damaged",
        "<script>alert(1)</script>",
    ):
        assert visible in text, visible
    assert "invented words" not in text  # an ungrounded quote is never shown
    bars = {(b["category"], b["severity"]): b for b in seen["bars"]}
    assert set(bars) == {
        ("Uncapped Liability", "high"),
        ("Uncapped Liability", "medium"),
        ("Audit Rights", "low"),
    }
    assert all(b["w"] > 0 and b["h"] > 0 for b in bars.values())
    assert bars[("Uncapped Liability", "high")]["w"] > bars[("Uncapped Liability", "medium")]["w"]

    width, channels, rows = _png_pixels(shot)
    assert width == 1200
    red = sum(  # the high bars' colour, #c62828
        1
        for row in rows
        for x in range(0, len(row), channels)
        if abs(row[x] - 0xC6) < 12 and row[x + 1] < 0x40 and row[x + 2] < 0x40
    )
    not_white = sum(
        1 for row in rows[::4] for x in range(0, len(row), channels * 4) if row[x] < 0xF0
    )
    assert red > 200, "no red bar on the screenshot"
    assert not_white > 500, "the screenshot is blank"
