"""PDF passwords: SASLprep (RFC 4013) and the forms of a password worth trying.

AES-256 PDFs (security handler revision 6, ISO 32000-2 7.6.4.3.3) hash the password after
SASLprep: a writer that followed the standard stored the hash of the prepared form, so a
password typed with a soft hyphen, a ligature ("ﬁ") or a compatibility character ("Ⅸ") opens
the file only once prepared. Older revisions use the bytes as given, so both are tried.
"""

from __future__ import annotations

import stringprep
import unicodedata

_PROHIBITED = (
    stringprep.in_table_c12,  # non-ASCII space (mapped before the check, so never left)
    stringprep.in_table_c21,
    stringprep.in_table_c22,
    stringprep.in_table_c3,
    stringprep.in_table_c4,
    stringprep.in_table_c5,
    stringprep.in_table_c6,
    stringprep.in_table_c7,
    stringprep.in_table_c8,
    stringprep.in_table_c9,
)


def saslprep(text: str) -> str:
    """RFC 4013 SASLprep of a query string (unassigned code points allowed).

    Raises ValueError for a prohibited character or a bidi violation (RFC 3454 6).
    """
    mapped = "".join(
        " " if stringprep.in_table_c12(ch) else ch for ch in text if not stringprep.in_table_b1(ch)
    )
    prepared = unicodedata.normalize("NFKC", mapped)
    for ch in prepared:
        if any(check(ch) for check in _PROHIBITED):
            raise ValueError(f"SASLprep: prohibited character U+{ord(ch):04X}")
    if any(stringprep.in_table_d1(ch) for ch in prepared):
        if any(stringprep.in_table_d2(ch) for ch in prepared):
            raise ValueError("SASLprep: mixes right-to-left and left-to-right characters")
        if not (stringprep.in_table_d1(prepared[0]) and stringprep.in_table_d1(prepared[-1])):
            raise ValueError("SASLprep: right-to-left text must start and end right-to-left")
    return prepared


def password_candidates(password: str | None) -> list[str | None]:
    """The password as given, then its SASLprep form when that differs (and is valid)."""
    if not password:
        return [None]
    candidates: list[str | None] = [password]
    try:
        prepared = saslprep(password)
    except ValueError:
        return candidates
    if prepared and prepared != password:
        candidates.append(prepared)
    return candidates
