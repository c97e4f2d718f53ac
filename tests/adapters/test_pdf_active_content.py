"""PDFs with JavaScript, attachments or XFA forms are parsed for their page text only: no
script, attached file or form XML reaches the text (Pypdfium2Parser, real pdfium)."""

from __future__ import annotations

import pytest

from services.adapters.pdf import Pypdfium2Parser
from tests.devset import DEVSET

EDGE = DEVSET / "pdf_edge_cases"
VISIBLE = "Visible page text of the agreement"
SECRETS = (
    "ATTACHED SECRET",
    "XFA FIELD SECRET",
    "app.alert",
    "launchURL",
    "JavaScript",
    "this.exportDataObject",
)


def _pdf(objects: list[str]) -> bytes:
    """A PDF of `objects` (object n is objects[n-1]) with a correct xref table."""
    out = b"%PDF-1.7\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return out


def _stream(data: str, extra: str = "") -> str:
    return f"<< /Length {len(data)} {extra}>>\nstream\n{data}\nendstream"


def active_pdf() -> bytes:
    """One page of text, plus an OpenAction script, a page-open script, a document-level
    script, an embedded file and an XFA form carrying text of their own."""
    js = "app.alert('pwned'); app.launchURL('http://127.0.0.1:9/x'); this.exportDataObject({})"
    content = f"BT /F1 12 Tf 72 720 Td ({VISIBLE}) Tj ET"
    xfa = (
        '<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"><template><subform><field>'
        "<value><text>XFA FIELD SECRET</text></value></field></subform></template></xdp:xdp>"
    )
    return _pdf(
        [
            "<< /Type /Catalog /Pages 2 0 R /OpenAction 6 0 R /Names << /JavaScript 7 0 R "
            "/EmbeddedFiles 8 0 R >> /AcroForm << /Fields [] /XFA 11 0 R >> >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            "/Resources << /Font << /F1 5 0 R >> >> /AA << /O 6 0 R >> >>",
            _stream(content),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            f"<< /S /JavaScript /JS ({js}) >>",
            "<< /Names [(init) 6 0 R] >>",
            "<< /Names [(secret.txt) 9 0 R] >>",
            "<< /Type /Filespec /F (secret.txt) /UF (secret.txt) /EF << /F 10 0 R >> >>",
            _stream("ATTACHED SECRET: the board approved the sale.", "/Type /EmbeddedFile "),
            _stream(xfa),
        ]
    )


def _parse(data: bytes) -> tuple[str, int]:
    parsed = Pypdfium2Parser(page_timeout_s=60, total_timeout_s=90).parse(data)
    return "\n".join(p.text for p in parsed.pages), parsed.page_count


def test_scripts_attachments_and_xfa_of_a_pdf_never_reach_the_text() -> None:
    text, pages = _parse(active_pdf())
    assert pages == 1
    assert VISIBLE in text
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.skipif(not EDGE.exists(), reason="dev set not present")
def test_dev_set_xfa_form_gives_its_page_text_not_its_xml() -> None:
    text, pages = _parse((EDGE / "pdfjs__xfa_issue14315.pdf").read_bytes())
    assert pages == 1
    assert "requires Adobe Reader 8" in text
    for xml in ("<template", "xmlns", "<subform", "xdp:xdp", "<?xml"):
        assert xml not in text


@pytest.mark.skipif(not EDGE.exists(), reason="dev set not present")
def test_dev_set_attachment_is_not_expanded_into_pages() -> None:
    data = (EDGE / "pypdf__attachment.pdf").read_bytes()
    assert b"/EmbeddedFile" in data or b"/FileAttachment" in data
    text, pages = _parse(data)
    assert pages == 1  # the attached jpeg.pdf is not parsed as more pages
    assert "The Crazy Ones" in text
    assert "jpeg.pdf" not in text
    assert "%PDF" not in text
