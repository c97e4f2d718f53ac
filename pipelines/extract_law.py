"""Governing law found by pattern (model-free; see `pipelines.extract`).

"governed by / construed in accordance with ... the laws of [the State of] X", "X law
governs", "适用中华人民共和国法律"; X is matched against known jurisdictions (US states,
common countries and provinces), else a run of capitalised words; the value is the
jurisdiction's plain name ("New York", "People's Republic of China").
"""

from __future__ import annotations

import re

_US_STATES = (
    "Alabama",
    "Alaska",
    "Arizona",
    "Arkansas",
    "California",
    "Colorado",
    "Connecticut",
    "Delaware",
    "Florida",
    "Georgia",
    "Hawaii",
    "Idaho",
    "Illinois",
    "Indiana",
    "Iowa",
    "Kansas",
    "Kentucky",
    "Louisiana",
    "Maine",
    "Maryland",
    "Massachusetts",
    "Michigan",
    "Minnesota",
    "Mississippi",
    "Missouri",
    "Montana",
    "Nebraska",
    "Nevada",
    "New Hampshire",
    "New Jersey",
    "New Mexico",
    "New York",
    "North Carolina",
    "North Dakota",
    "Ohio",
    "Oklahoma",
    "Oregon",
    "Pennsylvania",
    "Rhode Island",
    "South Carolina",
    "South Dakota",
    "Tennessee",
    "Texas",
    "Utah",
    "Vermont",
    "Virginia",
    "Washington",
    "West Virginia",
    "Wisconsin",
    "Wyoming",
    "District of Columbia",
)
_OTHER = (
    "England and Wales",
    "England",
    "Scotland",
    "Ireland",
    "Hong Kong",
    "Singapore",
    "Japan",
    "Germany",
    "France",
    "Switzerland",
    "the Netherlands",
    "Israel",
    "India",
    "Canada",
    "Ontario",
    "British Columbia",
    "Quebec",
    "Alberta",
    "Australia",
    "New South Wales",
    "Victoria",
    "Sweden",
    "Denmark",
    "Norway",
    "Finland",
    "Italy",
    "Spain",
    "Luxembourg",
    "the Cayman Islands",
    "Bermuda",
    "Korea",
    "Taiwan",
    "Macau",
    "United Kingdom",
)
_ALIASES = {
    "people's republic of china": "People's Republic of China",
    "peoples republic of china": "People's Republic of China",
    "the people's republic of china": "People's Republic of China",
    "prc": "People's Republic of China",
    "p.r.c.": "People's Republic of China",
    "china": "People's Republic of China",
    "中华人民共和国": "People's Republic of China",
    "中国": "People's Republic of China",
    "香港": "Hong Kong",
    "香港特别行政区": "Hong Kong",
    "the netherlands": "Netherlands",
    "the cayman islands": "Cayman Islands",
}
_PLACES = sorted(
    (*_US_STATES, *_OTHER, "People['’]?s Republic of China", "P\\.?R\\.?C\\.?", "China"),
    key=len,
    reverse=True,
)
_PLACE = "|".join(
    p if "\\" in p or "[" in p else re.escape(p).replace("\\ ", r"\s+") for p in _PLACES
)
_GOVERN = re.compile(
    r"\b(?:govern(?:ed|s|ing)?|constru(?:ed|e)|interpret(?:ed)?|enforced|applicable\s+law"
    r"|reference\s+to|application\s+of)\b",
    re.IGNORECASE,
)
_LAWS_OF = re.compile(
    r"\blaws?\s+(?:(?:of|in(?:\s+force\s+in)?)\s+)?(?:the\s+)?"
    r"(?:(?:state|commonwealth|province|republic|kingdom)\s+of\s+)?"
    rf"(?P<place>{_PLACE})\b",
    re.IGNORECASE,
)
_STATE_OF = re.compile(rf"\b(?:state|commonwealth)\s+of\s+(?P<place>{_PLACE})\b", re.IGNORECASE)
_THEREOF = re.compile(r"\blaws\s+(?:thereof|of\s+(?:such|that|said)\s+state)\b", re.IGNORECASE)
_PLACE_LAW = re.compile(rf"\b(?P<place>{_PLACE})\s+law\b(?=[^.;]{{0,40}}\bgovern)", re.IGNORECASE)
_ZH_LAW = re.compile(
    r"(?:适用|受|依据|依照|按照)(?P<place>中华人民共和国|中国|香港特别行政区|香港)"
    r"(?:现行)?(?:的)?法律"
)
_GOVERN_WINDOW = 260


def _place_name(raw: str) -> str:
    text = " ".join(raw.split())
    alias = _ALIASES.get(text.casefold().replace("’", "'"))
    if alias:
        return alias
    for known in (*_US_STATES, *_OTHER):
        if known.casefold() == text.casefold():
            return known.removeprefix("the ")
    return text


def find_governing_law(text: str) -> tuple[str, int, int] | None:
    """(jurisdiction, start, end of the name in `text`) of the first governing-law clause."""
    for match in _ZH_LAW.finditer(text):
        return _place_name(match.group("place")), match.start("place"), match.end("place")
    for trigger in _GOVERN.finditer(text):
        window = text[trigger.start() : trigger.end() + _GOVERN_WINDOW]
        law = _LAWS_OF.search(window)
        if law is not None and ";" not in window[: law.start()].replace("; and", ""):
            start = trigger.start() + law.start("place")
            return _place_name(law.group("place")), start, trigger.start() + law.end("place")
        if _THEREOF.search(window):  # "accepted in the State of Nevada and governed by the
            before = max(0, trigger.start() - 150)  # laws thereof"
            named = list(_STATE_OF.finditer(text, before, trigger.start()))
            if named:
                place = named[-1]
                return _place_name(place.group("place")), place.start("place"), place.end("place")
    law = _PLACE_LAW.search(text)
    if law is not None:
        return _place_name(law.group("place")), law.start("place"), law.end("place")
    return None
