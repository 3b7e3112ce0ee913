"""Shared by both LLM clients: the book-list JSON Schema, its Gemini dialect, answer parsing."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from shared import isbn as isbn_lib
from shared.providers.errors import MalformedResponse
from shared.providers.models import LLMBook
from shared.providers.normalise import as_int, as_str, as_str_list

log = logging.getLogger(__name__)

_NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}
_NULLABLE_INT: dict[str, Any] = {"type": ["integer", "null"]}

# Strict-mode friendly (OpenAI/xAI): every property required, absence spelled as null.
BOOK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "subtitle": _NULLABLE_STRING,
        "authors": {"type": "array", "items": {"type": "string"}},
        "publisher": _NULLABLE_STRING,
        "publication_year": _NULLABLE_INT,
        "publication_month": {**_NULLABLE_INT, "description": "1-12"},
        "format": {**_NULLABLE_STRING, "description": "hardcover, paperback, ebook..."},
        "description": _NULLABLE_STRING,
        "genres": {"type": "array", "items": {"type": "string"}},
        "isbn": {**_NULLABLE_STRING, "description": "ISBN-13 if known, else null"},
    },
    "required": [
        "title", "subtitle", "authors", "publisher", "publication_year", "publication_month",
        "format", "description", "genres", "isbn",
    ],
    "additionalProperties": False,
}  # fmt: skip

BOOK_LIST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"books": {"type": "array", "items": BOOK_SCHEMA}},
    "required": ["books"],
    "additionalProperties": False,
}

_GEMINI_KEYS = {"format", "description", "enum", "maxItems", "minItems", "required", "nullable"}
_MONTHS = {
    name: number
    for number, names in enumerate(
        (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
         ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
         ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
         ("dec", "december")),
        start=1,
    )
    for name in names
}  # fmt: skip
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def to_gemini_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """JSON Schema -> Gemini `responseSchema` (OpenAPI subset): upper-case types, `nullable`,
    `propertyOrdering`; unsupported keywords such as `additionalProperties` are dropped."""
    out: dict[str, Any] = {}
    kind = schema.get("type")
    if isinstance(kind, list):
        concrete = [k for k in kind if k != "null"]
        if len(concrete) != len(kind):
            out["nullable"] = True
        kind = concrete[0] if concrete else "string"
    if isinstance(kind, str):
        out["type"] = kind.upper()
    for key in _GEMINI_KEYS:
        if key in schema:
            out[key] = schema[key]
    if isinstance(schema.get("items"), Mapping):
        out["items"] = to_gemini_schema(schema["items"])
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        out["properties"] = {name: to_gemini_schema(sub) for name, sub in properties.items()}
        out["propertyOrdering"] = list(schema.get("propertyOrdering", properties))
    return out


def _month(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().lower()[:9] in _MONTHS:
        return _MONTHS[value.strip().lower()[:9]]
    number = as_int(value)
    return number if number is not None and 1 <= number <= 12 else None


def _year(value: Any) -> int | None:
    number = as_int(value)
    return number if number is not None and 1000 <= number <= 2999 else None


def parse_llm_book(item: Mapping[str, Any]) -> LLMBook:
    """One suggested book. Only the title is required; an ISBN that fails its checksum is
    dropped (LLMs invent ISBNs) and kept as ISBN-13 otherwise."""
    title = as_str(item.get("title"))
    if title is None:
        raise MalformedResponse("llm", "book without a title")
    authors = item.get("authors", item.get("author"))
    return LLMBook(
        title=title,
        subtitle=as_str(item.get("subtitle")),
        authors=as_str_list(authors),
        publisher=as_str(item.get("publisher")),
        publication_year=_year(item.get("publication_year", item.get("year"))),
        publication_month=_month(item.get("publication_month", item.get("month"))),
        format=as_str(item.get("format")),
        description=as_str(item.get("description")),
        genres=as_str_list(item.get("genres")),
        isbn=isbn_lib.isbn13_or_none(as_str(item.get("isbn"))),
    )


def _book_list(data: Any) -> list[Any]:
    """The list of books: the top-level array, `{"books": [...]}`, or the only array value."""
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        if isinstance(data.get("books"), list):
            return list(data["books"])
        arrays = [value for value in data.values() if isinstance(value, list)]
        if len(arrays) == 1:
            return arrays[0]
        if "title" in data:
            return [data]
    raise MalformedResponse("llm", "answer holds no list of books")


def parse_llm_books(text: str, provider: str) -> list[LLMBook]:
    """The model's JSON text -> books; a bad item is dropped, unparseable JSON is an error."""
    match = _FENCE.match(text)
    payload = match.group(1) if match else text
    try:
        data = json.loads(payload)
    except ValueError:
        raise MalformedResponse(provider, f"answer is not JSON ({len(text)} chars)") from None
    try:
        items = _book_list(data)
    except MalformedResponse as exc:
        raise MalformedResponse(provider, str(exc).removeprefix("llm: ")) from None
    books: list[LLMBook] = []
    for item in items:
        try:
            if not isinstance(item, Mapping):
                raise MalformedResponse(provider, f"book is a {type(item).__name__}")
            books.append(parse_llm_book(item))
        except MalformedResponse as exc:
            log.warning("%s: dropped one suggested book: %s", provider, exc)
    return books


def parse_answer_text(
    provider: str, text: str, finish: str | None, cut_off: str, finish_field: str
) -> list[LLMBook]:
    """Books from an answer's text; if it does not parse and the model says it stopped at its
    token limit (`finish == cut_off`), say the answer was truncated rather than malformed."""
    try:
        return parse_llm_books(text, provider)
    except MalformedResponse as exc:
        if finish == cut_off:
            raise MalformedResponse(
                provider, f"answer truncated ({finish_field} {cut_off})"
            ) from exc
        raise
