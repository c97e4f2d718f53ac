"""Money amounts and liability-cap rules in contract text (model-free, English and Chinese).

"$1,000,000", "US$ 5 million", "USD 250,000", "1,000,000 dollars", "人民币100万元" ->
"USD 1,000,000", "USD 5,000,000", "CNY 1,000,000"; a cap stated as a rule: "the fees paid
by Customer in the twelve (12) months before the claim".
"""

from __future__ import annotations

import re

_CURRENCY = (
    r"(?P<cur>US\s?\$|U\.S\.\s?\$|USD|US\s+dollars|\$|€|EUR|£|GBP|RMB|CNY|¥|人民币|HK\$|HKD)"
)
_AMOUNT = re.compile(
    _CURRENCY + r"\s?(?P<num>\d[\d,]*(?:\.\d+)?)\s*(?P<scale>million|billion|thousand|万|亿)?"
    r"|(?P<num2>\d[\d,]*(?:\.\d+)?)\s*(?P<scale2>million|billion|thousand)?\s*"
    r"(?P<cur2>(?:US\s+|United\s+States\s+)?dollars|euros|pounds|万元|亿元|元)",
    re.IGNORECASE,
)
_CURRENCY_CODES = {"$": "USD", "us$": "USD", "u.s.$": "USD", "usdollars": "USD", "dollars": "USD"}
_CURRENCY_CODES |= {"unitedstatesdollars": "USD", "€": "EUR", "euros": "EUR", "£": "GBP"}
_CURRENCY_CODES |= {"pounds": "GBP", "¥": "CNY", "rmb": "CNY", "人民币": "CNY", "元": "CNY"}
_CURRENCY_CODES |= {"万元": "CNY", "亿元": "CNY", "hk$": "HKD"}
_SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_SCALES |= {"万": 10_000, "万元": 10_000, "亿": 100_000_000, "亿元": 100_000_000}
_FEES_RULE = re.compile(
    r"\b(?:the\s+)?(?:total\s+|aggregate\s+)?(?:fees|amounts|charges|sums|compensation)\s+"
    r"(?:actually\s+)?(?:paid|payable|received)[^.;:]{0,140}"
    r"|(?:已支付|已付|实际支付)的?[^。；]{0,40}(?:费用|价款|金额)",
    re.IGNORECASE,
)


def find_amount(text: str) -> tuple[str, int, int] | None:
    """("USD 1,000,000", start, end) of the first money amount in `text`, or None."""
    for match in _AMOUNT.finditer(text):
        amount = _amount(match)
        if amount is not None:
            return amount, match.start(), match.end()
    return None


def fees_rule(text: str) -> tuple[str, int, int] | None:
    """(the words, start, end) of a cap measured by fees paid, or None."""
    rule = _FEES_RULE.search(text)
    if rule is None:
        return None
    return " ".join(rule.group(0).split()).rstrip(" ,"), rule.start(), rule.end()


def _amount(match: re.Match[str]) -> str | None:
    raw = match.group("num") or match.group("num2")
    currency = (match.group("cur") or match.group("cur2") or "").casefold()
    scale = (match.group("scale") or match.group("scale2") or "").casefold()
    code = _CURRENCY_CODES.get(currency.replace(" ", ""), currency.upper().replace(" ", ""))
    try:
        number = float(raw.replace(",", "")) * _SCALES.get(scale, 1)
        number *= _SCALES.get(currency, 1)
    except ValueError:
        return None
    if number <= 0:
        return None
    shown = f"{number:,.2f}".removesuffix(".00")
    return f"{code} {shown}"
