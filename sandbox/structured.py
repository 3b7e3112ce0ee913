"""Shapes generated books to the structured output a request asks for: a Gemini responseSchema
(OpenAPI subset, upper-case types) or a JSON Schema (OpenAI json_schema, with $ref/anyOf)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sandbox.llm_books import GeneratedBook


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str  # lower-case JSON type; "" when the schema does not say
    nullable: bool
    required: bool
    enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutputShape:
    top_array: bool  # the answer is a bare array of books
    wrapper: str | None  # else the object key holding the array
    fields: tuple[FieldSpec, ...] | None  # None: the sandbox's default book fields


DEFAULT_FIELDS = (
    "title", "subtitle", "authors", "publisher", "publication_year", "publication_month",
    "format", "description", "genres", "isbn",
)  # fmt: skip


def _resolve(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    """Follows $ref into $defs/definitions and unwraps anyOf/oneOf [X, null]."""
    for _ in range(20):
        if not isinstance(schema, dict):
            return {}
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            schema = target
            continue
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list):
                real = [o for o in options if _type_of(_resolve(o, root)) != "null"]
                if real:
                    merged = dict(_resolve(real[0], root))
                    merged["nullable"] = len(real) < len(options) or merged.get("nullable", False)
                    return merged
        return schema
    return {}


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type", "")
    if isinstance(kind, list):
        real = [str(k).lower() for k in kind if str(k).lower() != "null"]
        return real[0] if real else "null"
    return str(kind).lower()


def _nullable(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if isinstance(kind, list) and any(str(k).lower() == "null" for k in kind):
        return True
    return bool(schema.get("nullable", False))


def _book_fields(schema: dict[str, Any], root: dict[str, Any]) -> tuple[FieldSpec, ...] | None:
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        return None
    required = set(schema.get("required") or ())
    order = schema.get("propertyOrdering") or list(properties)
    names = [n for n in order if n in properties] + [n for n in properties if n not in order]
    specs = []
    for name in names:
        prop = _resolve(properties[name], root)
        specs.append(
            FieldSpec(
                name=name,
                type=_type_of(prop),
                nullable=_nullable(prop),
                required=name in required,
                enum=tuple(str(v) for v in prop.get("enum") or ()),
            )
        )
    return tuple(specs)


def shape_from_schema(schema: Any, default_array: bool) -> OutputShape:
    if not isinstance(schema, dict) or not schema:
        if default_array:
            return OutputShape(True, None, None)
        return OutputShape(False, "books", None)
    root = schema
    top = _resolve(schema, root)
    if _type_of(top) == "array":
        return OutputShape(True, None, _book_fields(_resolve(top.get("items"), root), root))
    properties = top.get("properties") if isinstance(top.get("properties"), dict) else {}
    assert isinstance(properties, dict)
    for name, value in properties.items():
        prop = _resolve(value, root)
        if _type_of(prop) == "array":
            items = _resolve(prop.get("items"), root)
            if _type_of(items) == "object" or "properties" in items:
                return OutputShape(False, name, _book_fields(items, root))
    return OutputShape(False, "books", None)


def _canonical(book: GeneratedBook) -> dict[str, Any]:
    month = f"{book.publication_year:04d}-{book.publication_month:02d}"
    return {
        "title": book.title,
        "subtitle": book.subtitle,
        "authors": list(book.authors),
        "publisher": book.publisher,
        "publication_year": book.publication_year,
        "publication_month": book.publication_month,
        "publication_date": month,
        "format": book.format,
        "description": book.description,
        "genres": list(book.genres),
        "isbn": book.isbn,
        "language": "en",
    }


_ALIASES = {
    "title": "title", "booktitle": "title", "name": "title",
    "subtitle": "subtitle",
    "authors": "authors", "author": "authors", "authornames": "authors", "writers": "authors",
    "publisher": "publisher", "imprint": "publisher",
    "publicationyear": "publication_year", "year": "publication_year",
    "publishedyear": "publication_year", "yearpublished": "publication_year",
    "publicationmonth": "publication_month", "month": "publication_month",
    "publishedmonth": "publication_month",
    "publicationdate": "publication_date", "publisheddate": "publication_date",
    "date": "publication_date", "releasedate": "publication_date",
    "format": "format", "binding": "format", "bookformat": "format",
    "description": "description", "summary": "description", "synopsis": "description",
    "genres": "genres", "genre": "genres", "categories": "genres", "subjects": "genres",
    "isbn": "isbn", "isbn13": "isbn", "isbn10": "isbn",
    "language": "language",
}  # fmt: skip


def _empty(kind: str) -> Any:
    return {
        "string": "",
        "integer": 0,
        "number": 0,
        "boolean": False,
        "array": [],
        "object": {},
    }.get(kind, "")


def _coerce(value: Any, spec: FieldSpec) -> Any:
    if value is None:
        return None if spec.nullable or not spec.required else _empty(spec.type)
    if spec.type == "string" and isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    elif spec.type == "string" and not isinstance(value, str):
        value = str(value)
    elif spec.type in {"integer", "number"} and isinstance(value, str):
        digits = "".join(ch for ch in value if ch.isdigit())
        value = int(digits[:4]) if digits else (None if spec.nullable else 0)
    elif spec.type == "array" and not isinstance(value, list):
        value = [value]
    if spec.enum and value is not None:
        match = next((e for e in spec.enum if e.casefold() == str(value).casefold()), None)
        value = match if match is not None else (None if spec.nullable else spec.enum[0])
    return value


def render(books: list[GeneratedBook], shape: OutputShape) -> Any:
    items: list[dict[str, Any]] = []
    for book in books:
        canonical = _canonical(book)
        if shape.fields is None:
            item = {name: canonical[name] for name in DEFAULT_FIELDS}
            if item["isbn"] is None:
                del item["isbn"]  # models mostly leave out what they do not know
            items.append(item)
            continue
        item = {}
        for spec in shape.fields:
            key = _ALIASES.get(spec.name.lower().replace("_", "").replace("-", ""))
            value = _coerce(canonical.get(key) if key else None, spec)
            if value is None and not spec.required:
                continue
            item[spec.name] = value
        items.append(item)
    if shape.top_array:
        return items
    return {shape.wrapper or "books": items}


def as_text(value: Any, fenced: bool) -> str:
    """The model's text: bare JSON in JSON mode, else JSON in a markdown fence with a preamble."""
    body = json.dumps(value, ensure_ascii=False, indent=2)
    if not fenced:
        return body
    return f"Here are the notable books you asked for:\n\n```json\n{body}\n```\n"
