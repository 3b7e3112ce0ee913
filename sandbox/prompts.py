"""Reads what an LLM prompt asks for: the year and month (liberally spelt) and how many books."""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTH_NAMES = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_YEAR = r"((?:1[5-9]|20)\d{2})"
_NUM = r"(0?[1-9]|1[0-2])"
# Ordered from most to least specific; the first pattern that matches wins.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"\b{_MONTH}\.?,?\s+(?:of\s+|in\s+)?{_YEAR}\b", re.I), "name-year"),
    (re.compile(rf"\b{_YEAR}-(0?[1-9]|1[0-2])\b(?!-\d{{4}})"), "year-month"),
    (re.compile(rf"\b{_YEAR}/(0?[1-9]|1[0-2])\b"), "year-month"),
    (re.compile(rf"\b(0?[1-9]|1[0-2])/{_YEAR}\b"), "month-year"),
    (re.compile(rf"\b{_YEAR},?\s+{_MONTH}\b", re.I), "year-name"),
    (re.compile(rf"\bmonth\W{{1,3}}{_NUM}\b.{{0,40}}?\byear\W{{1,3}}{_YEAR}\b", re.I | re.S),
     "month-number-year"),
    (re.compile(rf"\byear\W{{1,3}}{_YEAR}\b.{{0,40}}?\bmonth\W{{1,3}}{_NUM}\b", re.I | re.S),
     "year-month"),
    (re.compile(rf"\byear\W{{1,3}}{_YEAR}\b.{{0,40}}?\bmonth\W{{1,3}}{_MONTH}\b", re.I | re.S),
     "year-name"),
)  # fmt: skip
_COUNT = re.compile(r"\b(\d{1,3})\s+(?:[\w-]+\s+){0,4}?(?:books|titles|novels|works)\b", re.I)
DEFAULT_COUNT = 20
MAX_COUNT = 100


@dataclass(frozen=True)
class MonthRequest:
    year: int
    month: int
    count: int


def _month_number(text: str) -> int:
    return _MONTH_NAMES[text[:3].lower()]


def find_month(text: str) -> tuple[int, int] | None:
    for pattern, kind in _PATTERNS:
        match = pattern.search(text)
        if match is None:
            continue
        a, b = match.group(1), match.group(2)
        if kind == "name-year":
            return int(b), _month_number(a)
        if kind == "year-name":
            return int(a), _month_number(b)
        if kind == "month-year" or kind == "month-number-year":
            return int(b), int(a)
        return int(a), int(b)
    return None


def find_count(text: str) -> int:
    match = _COUNT.search(text)
    if match is None:
        return DEFAULT_COUNT
    return max(1, min(int(match.group(1)), MAX_COUNT))


def read_request(texts: list[str]) -> MonthRequest | None:
    """Texts in priority order (user turns first, then the system instruction)."""
    for text in texts:
        found = find_month(text)
        if found is not None:
            year, month = found
            count = next((find_count(t) for t in texts if _COUNT.search(t)), DEFAULT_COUNT)
            return MonthRequest(year, month, count)
    return None
