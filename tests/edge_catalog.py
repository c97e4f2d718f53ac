"""What a hostile or unusual PDF of the dev-set catalog must give, from its category and the
catalog's own observations, never from its file name: a new file of a known category (or
one whose text another parser read) needs no new code.

- `must_parse`: another parser (the catalog's `observed_pypdf_*`) read text from it, so must
  we (with the catalog's password), or the category promises text (image-only pages: OCR).
- `must_fail`: the category's right outcome is an error (`BY_CATEGORY` names which).
- `allowed_errors`: the clean failures a file may end in when it is not `must_parse`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from pipelines.errors import (
    CorruptPdf,
    InvalidDocument,
    NoExtractableText,
    NotAPdf,
    ResourceLimit,
    UnsupportedPdf,
)
from tests.devset import DEVSET

EDGE = DEVSET / "pdf_edge_cases"
CATALOG = DEVSET / "pdf_edge_cases_catalog.json"

CLEAN_FAILURES: tuple[type[InvalidDocument], ...] = (
    CorruptPdf,
    NotAPdf,
    UnsupportedPdf,
    ResourceLimit,
    NoExtractableText,
)
# Categories whose failure has one meaning; the others may fail in any clean way.
BY_CATEGORY: dict[str, tuple[type[InvalidDocument], ...]] = {
    "unsupported-filter": (UnsupportedPdf,),
    "encrypted/broken": (CorruptPdf, UnsupportedPdf),
}
MESSAGE_BY_CATEGORY = {"unsupported-filter": "filter", "encrypted/broken": "encryption"}


def catalog() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(CATALOG.read_text()) if CATALOG.exists() else []
    return entries


def observed(entry: dict[str, Any]) -> dict[str, Any]:
    """The catalog's observation by another parser (pypdf), whatever its version."""
    for key, value in entry.items():
        if key.startswith("observed"):
            return dict(value)
    return {}


def squash(text: str) -> str:
    """Compare text across parsers: NFKC, lower case, no spaces or punctuation."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text)).lower()


def sample(entry: dict[str, Any]) -> str:
    return squash(str(observed(entry).get("sample") or ""))


def must_parse(entry: dict[str, Any]) -> bool:
    return bool(sample(entry)) or str(entry["category"]).startswith("image-only")


def must_fail(entry: dict[str, Any]) -> bool:
    """Categories whose right outcome is a specific error (an unknown filter, broken crypto)."""
    return str(entry["category"]) in BY_CATEGORY


def allowed_errors(entry: dict[str, Any]) -> tuple[type[InvalidDocument], ...]:
    category = str(entry["category"])
    if category in BY_CATEGORY:
        return BY_CATEGORY[category]
    if must_parse(entry):
        return ()
    if category.startswith("encrypted"):  # it opens with its password; maybe nothing inside
        return (NoExtractableText,)
    return CLEAN_FAILURES
