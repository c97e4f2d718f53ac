"""Why pdfium could not read a PDF, from the file's structure (not from known files' bytes).

pdfium's load error says only "format error". Two structural facts name a better cause:

- the stream filters the file uses: a stream's dictionary is never inside an object stream
  and is never encrypted, so every `/Filter` of a stream (between `N G obj` and `stream`) is
  readable as is; any name outside the filters pdfium decodes makes the file unsupported;
- an `/Encrypt` entry in a trailer (classic `trailer << >>` or an `/XRef` stream's
  dictionary): the file is encrypted, and since the password check did not fail, its
  encryption dictionary is what pdfium could not use.
"""

from __future__ import annotations

import re

# ISO 32000-2 7.4 standard filters (and their abbreviations), all of which pdfium decodes.
SUPPORTED_FILTERS = frozenset(
    {
        "ASCIIHexDecode", "AHx", "ASCII85Decode", "A85", "LZWDecode", "LZW",
        "FlateDecode", "Fl", "RunLengthDecode", "RL", "CCITTFaxDecode", "CCF",
        "JBIG2Decode", "DCTDecode", "DCT", "JPXDecode", "Crypt",
    }
)  # fmt: skip
_STREAM_KEYWORD = re.compile(rb"(?<!end)stream\r?\n")
_FILTER = re.compile(rb"/Filter\s*(\[[^\]]{0,512}\]|/[^\s/\[\]<>()]+)")
_NAME = re.compile(rb"/([^\s/\[\]<>()]+)")
_ENCRYPT = re.compile(rb"/Encrypt\b")
_XREF_TYPE = re.compile(rb"/Type\s*/XRef\b")
_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")


def _stream_dicts(data: bytes) -> list[bytes]:
    """The text between `obj` and `stream` of every stream object (linear scan)."""
    found = []
    for match in _STREAM_KEYWORD.finditer(data):
        head = data[max(0, match.start() - 8192) : match.start()]
        at = head.rfind(b"obj")
        if at >= 0 and not head[:at].endswith(b"end"):
            found.append(head[at + 3 :])
    return found


def _trailers(data: bytes) -> list[bytes]:
    found = []
    at = data.find(b"trailer")
    while at >= 0:
        found.append(data[at + 7 : at + 4096].split(b"startxref", 1)[0])
        at = data.find(b"trailer", at + 7)
    return found


def _name(raw: bytes) -> str:
    return _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw).decode("latin-1")


def unsupported_filters(data: bytes) -> list[str]:
    """Stream filters named in the file that pdfium cannot decode, in order of appearance."""
    found: list[str] = []
    for head in _stream_dicts(data):
        for entry in _FILTER.finditer(head):
            for raw in _NAME.findall(entry.group(1)):
                name = _name(raw)
                if name not in SUPPORTED_FILTERS and name not in found:
                    found.append(name)
    return found


def declares_encryption(data: bytes) -> bool:
    """True when a trailer or a cross-reference stream's dictionary has an /Encrypt entry."""
    xrefs = [d for d in _stream_dicts(data) if _XREF_TYPE.search(d)]
    return any(_ENCRYPT.search(d) for d in _trailers(data) + xrefs)
