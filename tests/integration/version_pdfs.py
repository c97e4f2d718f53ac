"""Two versions of a short contract, English and Chinese, as PDFs with chosen page breaks:
the new version inserts a clause (every later clause is renumbered) and rewords one."""

from __future__ import annotations

import io
import re

from fpdf import FPDF

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
NOTO_CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
_CJK = re.compile(r"[\u3400-\u9fff]")

EN_OLD = [
    [
        "MASTER SUPPLY AGREEMENT",
        "",
        "1. Definitions",
        "Terms in this Agreement have the meanings set out in this clause.",
        "",
        "2. Supply of Goods",
        "The Supplier shall deliver the goods listed in the order form.",
        "",
        "3. Term",
        "This Agreement runs for two years from the Effective Date.",
    ],
    [
        "4. Governing Law",
        "This Agreement shall be governed by the laws of the State of New York.",
        "",
        "5. Notices",
        "Every notice shall be given in writing to the addresses above.",
    ],
]
EN_NEW = [
    [
        "MASTER SUPPLY AGREEMENT",
        "",
        "1. Definitions",
        "Terms in this Agreement have the meanings set out in this clause.",
        "",
        "2. Payment",
        "The Buyer shall pay each invoice within thirty days of receipt.",
        "",
        "3. Supply of Goods",
        "The Supplier shall deliver the goods listed in the order form.",
        "",
        "4. Term",
        "This Agreement runs for two years from the Effective Date.",
    ],
    [
        "5. Governing Law",
        "This Agreement shall be governed by the laws of the State of Delaware, without",
        "regard to its conflict of laws principles.",
        "",
        "6. Notices",
        "Every notice shall be given in writing to the addresses above.",
    ],
]
ZH_OLD = [
    [
        "采购合同",
        "",
        "第一条 定义",
        "本合同所用术语具有本条所述含义。",
        "",
        "第二条 货物供应",
        "供方应按订单交付所列货物。",
    ],
    [
        "第三条 合同期限",
        "本合同自生效之日起两年内有效。",
        "",
        "第四条 争议解决",
        "因本合同引起的争议，提交北京仲裁委员会仲裁。",
    ],
]
ZH_NEW = [
    [
        "采购合同",
        "",
        "第一条 定义",
        "本合同所用术语具有本条所述含义。",
        "",
        "第二条 付款",
        "需方应在收到发票后三十日内付款。",
        "",
        "第三条 货物供应",
        "供方应按订单交付所列货物。",
    ],
    [
        "第四条 合同期限",
        "本合同自生效之日起两年内有效。",
        "",
        "第五条 争议解决",
        "因本合同引起的争议，提交上海国际仲裁中心仲裁，仲裁裁决是终局的。",
    ],
]


def pdf_of(pages: list[list[str]]) -> bytes:
    """An A4 PDF, one list of lines per page (a blank line kept as a gap)."""
    cjk = any(_CJK.search(line) for page in pages for line in page)
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    if cjk:
        pdf.add_font("Body", fname=NOTO_CJK, collection_font_number=2)  # Noto Sans CJK SC
    else:
        pdf.add_font("Body", fname=DEJAVU)
    pdf.set_font("Body", size=11)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            if line:
                pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
            else:
                pdf.ln(6)
    out = io.BytesIO()
    pdf.output(out)
    return out.getvalue()
