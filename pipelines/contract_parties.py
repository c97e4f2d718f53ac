"""Who must act in a contract sentence (model-free, English and Chinese).

The parties are the names the preamble defines ('by and between Acme, Inc. ("Acme") and
...') and the usual roles (Licensee, Distributor, Customer, 甲方, 乙方, ...); a sentence's
party is the first of them that is the subject of "shall", "must", "will", "may", "应".
"""

from __future__ import annotations

import re

ROLES: tuple[str, ...] = tuple(
    re.findall(
        r"\w+",
        "Licensee Licensor Sublicensee Company Customer Client Supplier Vendor Distributor "
        "Reseller Dealer Buyer Seller Purchaser Manufacturer Contractor Subcontractor Consultant "
        "Franchisee Franchisor Agent Principal Provider Recipient Discloser Tenant Landlord "
        "Lessee Lessor Borrower Lender Employer Employee Executive Owner Servicer Sponsor "
        "Developer Partner Affiliate Member Investor Publisher Producer Operator",
    )
)
ZH_ROLES: tuple[str, ...] = (
    "甲方",
    "乙方",
    "丙方",
    "买方",
    "卖方",
    "出租方",
    "承租方",
    "许可方",
    "被许可方",
)
ZH_ROLES += ("供应商", "供方", "需方", "委托方", "受托方", "客户")
OPENING_CHARS = 4000

_DEFINED = re.compile(
    r"(?:between|and|among|with)\s+[^()]{2,160}?\(\s*(?:each\s+|together\s+)?(?:hereinafter\s+"
    r"(?:referred\s+to\s+as\s+|called\s+)?)?(?:the\s+)?[\"“”']\s*(?P<name>[^\"“”']{2,40}?)\s*"
    r"[\"“”']",
    re.IGNORECASE,
)
_SUBJECT = re.compile(
    r"(?P<subject>(?:(?:[a-z]{1,2}-?)?[A-Z0-9][\w&'’.-]*\s+){0,3}(?:[a-z]{1,2}-?)?[A-Z0-9][\w&'’-]*)"
    r"(?:\s*\([^)]{0,40}\))?\s+(?:shall|must|will|may|agrees\s+to|is\s+required\s+to"
    r"|undertakes\s+to|is\s+entitled|has\s+the\s+right)\b"
)
_ZH_SUBJECT = re.compile(
    rf"(?P<party>{'|'.join(sorted(ZH_ROLES, key=len, reverse=True))})"
    r"(?:应|须|应当|必须|承诺|同意|有权|可)"
)
_NOT_NAMES = {"agreement", "effective date", "parties", "party", "term", "territory"}


def defined_parties(text: str) -> tuple[str, ...]:
    """The party names the preamble of `text` defines, then the usual roles."""
    names: list[str] = []
    for match in _DEFINED.finditer(text[:OPENING_CHARS]):
        name = " ".join(match.group("name").split())
        if name.casefold() not in _NOT_NAMES and name not in names:
            names.append(name)
    return (*names, *ROLES)


def party_of(sentence: str, parties: tuple[str, ...] = ROLES) -> str | None:
    """The party among `parties` that `sentence` says must (or may) act, or None."""
    zh = _ZH_SUBJECT.search(sentence)
    if zh is not None:
        return zh.group("party")
    folded = {party.casefold(): party for party in parties}
    for match in _SUBJECT.finditer(sentence):
        words = match.group("subject").split()
        for first in range(len(words)):
            name = " ".join(words[first:]).strip(".,").casefold()
            if name in folded:
                return folded[name]
    return None
