"""Gemini and xAI answer a month's books in the requested structured output, overlapping but not
agreeing, with realistic noise; ground truth maps every generated book back to its source."""

from __future__ import annotations

import json
from typing import Any

import httpx

from sandbox.prompts import read_request
from sandbox.truth import ground_truth
from tests.sandbox import shapes
from tests.sandbox.support import (
    GEMINI_KEY,
    XAI_KEY,
    busiest_month,
    catalogue,
    client,
    sandbox_url,
    set_knobs,
)

__all__ = ["client", "sandbox_url"]

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

BOOK_FIELDS = {
    "title": "string",
    "subtitle": "string",
    "authors": "array",
    "publisher": "string",
    "publication_year": "integer",
    "publication_month": "integer",
    "format": "string",
    "description": "string",
    "genres": "array",
    "isbn": "string",
}


def gemini_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, kind in BOOK_FIELDS.items():
        spec: dict[str, Any] = {"type": kind.upper()}
        if kind == "array":
            spec["items"] = {"type": "STRING"}
        if name in {"subtitle", "isbn"}:
            spec["nullable"] = True
        properties[name] = spec
    required = [n for n in BOOK_FIELDS if n not in {"subtitle", "isbn"}]
    item = {
        "type": "OBJECT",
        "properties": properties,
        "required": required,
        "propertyOrdering": list(BOOK_FIELDS),
    }
    return {"type": "ARRAY", "items": item}


def openai_schema() -> dict[str, Any]:
    """Shaped like a pydantic model's JSON schema: $defs, $ref and anyOf-null optionals."""
    properties: dict[str, Any] = {}
    for name, kind in BOOK_FIELDS.items():
        spec: dict[str, Any] = {"type": kind}
        if kind == "array":
            spec["items"] = {"type": "string"}
        properties[name] = (
            {"anyOf": [spec, {"type": "null"}]} if name in {"subtitle", "isbn"} else spec
        )
    book = {
        "type": "object",
        "properties": properties,
        "required": list(BOOK_FIELDS),
        "additionalProperties": False,
    }
    books = {"type": "array", "items": {"$ref": "#/$defs/Book"}}
    return {
        "type": "object",
        "properties": {"books": books},
        "required": ["books"],
        "additionalProperties": False,
        "$defs": {"Book": book},
    }


def prompt(year: int, month: int, count: int) -> str:
    return (
        f"List {count} notable books first published in {MONTHS[month - 1]} {year}. "
        "Include the ISBN-13 when you know it."
    )


async def ask_gemini(
    client: httpx.AsyncClient, year: int, month: int, count: int = 100
) -> list[dict]:
    body = {
        "systemInstruction": {"parts": [{"text": "You are a bibliographer."}]},
        "contents": [{"role": "user", "parts": [{"text": prompt(year, month, count)}]}],
        "generationConfig": {
            "responseMimeType": "application/json",
            "responseSchema": gemini_schema(),
        },
    }
    response = await client.post(
        "/gemini/v1beta/models/gemini-2.5-flash:generateContent", json=body, headers=GEMINI_KEY
    )
    assert response.status_code == 200, response.text
    books = json.loads(shapes.gemini_response(response.json()))
    assert isinstance(books, list)
    return books


async def ask_xai(
    client: httpx.AsyncClient, year: int, month: int, count: int = 100, path: str = "/xai/v1"
) -> list[dict]:
    schema = {"name": "books", "strict": True, "schema": openai_schema()}
    body = {
        "model": "grok-4",
        "messages": [
            {"role": "system", "content": "You are a bibliographer."},
            {"role": "user", "content": prompt(year, month, count)},
        ],
        "response_format": {"type": "json_schema", "json_schema": schema},
    }
    response = await client.post(f"{path}/chat/completions", json=body, headers=XAI_KEY)
    assert response.status_code == 200, response.text
    answer = json.loads(shapes.chat_completion(response.json()))
    assert set(answer) == {"books"}
    return list(answer["books"])


async def test_gemini_and_xai_answer_the_months_books(client: httpx.AsyncClient) -> None:
    year, month = busiest_month()
    month_ids = {b.id for b in catalogue().books_in_month(year, month)}
    for provider, books in (
        ("gemini", await ask_gemini(client, year, month)),
        ("xai", await ask_xai(client, year, month)),
    ):
        truth = ground_truth(catalogue(), year, month, provider, seed=0, count=100)
        assert [b["title"] for b in books] == [t.title for t in truth]
        for book in books:
            shapes.llm_book(book)
        if provider == "xai":  # strict schema: every field present, null when unknown
            assert all(set(b) == set(BOOK_FIELDS) for b in books)
        from_month = [t for t in truth if t.kind == "catalogue"]
        assert {t.source_id for t in from_month} <= month_ids
        assert 0.6 <= len(from_month) / len(month_ids) <= 0.95, (provider, len(from_month))
        for entry, book in zip(truth, books, strict=True):
            if entry.kind != "neighbour":
                assert (book["publication_year"], book["publication_month"]) == (year, month)


async def test_providers_overlap_but_do_not_agree(client: httpx.AsyncClient) -> None:
    year, month = busiest_month()
    picked = {}
    for provider in ("gemini", "xai", "openai_compat"):
        truth = ground_truth(catalogue(), year, month, provider, seed=0)
        picked[provider] = {t.source_id for t in truth if t.kind == "catalogue"}
    assert picked["gemini"] & picked["xai"]
    assert picked["gemini"] != picked["xai"] != picked["openai_compat"]
    assert len(ground_truth(catalogue(), year, month, "gemini", seed=0, count=20)) <= 20


def test_noise_appears_across_months_and_seeds() -> None:
    months = sorted(
        {(int(b.publication_date[:4]), int(b.publication_date[5:7])) for b in catalogue().books}
    )
    entries = [
        (t, catalogue().by_isbn13.get(t.isbn or ""))
        for year, month in months[:24]
        for provider in ("gemini", "xai")
        for seed in (0, 1)
        for t in ground_truth(catalogue(), year, month, provider, seed)
    ]
    kinds = {t.kind for t, _ in entries}
    statuses = {t.isbn_status for t, _ in entries}
    assert {"catalogue", "neighbour", "invented"} <= kinds
    assert {"correct", "missing", "wrong"} <= statuses
    books = {b.id: b for b in catalogue().books}
    real = [(t, books[t.source_id]) for t, _ in entries if t.kind != "invented"]
    assert any(t.title != b.title for t, b in real)  # subtitle merged into the title
    names = [(a, b.authors) for t, b in real for a in t.authors]
    assert any(a not in authors for a, authors in names)  # "J.K. Rowling", "Rowling, J.K."
    assert any("," in a for a, _ in names)
    for entry, _ in entries:
        if entry.isbn_status == "correct":
            assert entry.isbn is not None


async def test_ground_truth_endpoint_matches_the_function(client: httpx.AsyncClient) -> None:
    year, month = busiest_month()
    await set_knobs(client, {"seed": 7})
    response = await client.get(
        "/_sandbox/truth", params={"year": year, "month": month, "count": 20}
    )
    body = response.json()
    assert body["llm"]["gemini"]["seed"] == 7
    expected = ground_truth(catalogue(), year, month, "xai", seed=7, count=20)
    assert [e["source_id"] for e in body["llm"]["xai"]["books"]] == [t.source_id for t in expected]
    assert {b["id"] for b in body["catalogue_books"]} == {
        b.id for b in catalogue().books_in_month(year, month)
    }
    books = await ask_xai(client, year, month, count=20)
    assert [b["title"] for b in books] == [t.title for t in expected]


async def test_answers_are_deterministic_per_seed(client: httpx.AsyncClient) -> None:
    year, month = busiest_month()
    first = await ask_gemini(client, year, month)
    assert await ask_gemini(client, year, month) == first
    await set_knobs(client, {"gemini": {"seed": 99}})
    assert await ask_gemini(client, year, month) != first


async def test_openai_compatible_paths_and_plain_text_answers(client: httpx.AsyncClient) -> None:
    year, month = busiest_month()
    local = await ask_xai(client, year, month, path="/openai-compat/v1")
    expected = ground_truth(catalogue(), year, month, "openai_compat", seed=0, count=100)
    assert [b["title"] for b in local] == [t.title for t in expected]
    plain = await client.post(
        "/xai/v1/chat/completions",
        json={
            "model": "grok-3-mini",
            "messages": [{"role": "user", "content": prompt(year, month, 5)}],
        },
        headers=XAI_KEY,
    )
    text = shapes.chat_completion(plain.json())
    assert "```json" in text  # without structured output the JSON comes fenced in prose
    gemini_compat = await client.post(
        "/gemini/v1beta/openai/chat/completions",
        json={
            "model": "gemini-2.5-flash",
            "messages": [{"role": "user", "content": prompt(year, month, 3)}],
            "response_format": {"type": "json_object"},
        },
        headers={"Authorization": "Bearer test-key"},
    )
    assert len(json.loads(shapes.chat_completion(gemini_compat.json()))["books"]) == 3


async def test_llm_auth_and_model_errors(client: httpx.AsyncClient) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "books of March 2019"}]}]}
    no_key = await client.post("/gemini/v1beta/models/gemini-2.5-flash:generateContent", json=body)
    assert no_key.status_code == 403
    shapes.google_error(no_key.json(), 403, "PERMISSION_DENIED")
    bad_model = await client.post(
        "/gemini/v1beta/models/gpt-4:generateContent", json=body, headers=GEMINI_KEY
    )
    assert bad_model.status_code == 404
    chat = {"model": "grok-4", "messages": [{"role": "user", "content": "books of March 2019"}]}
    assert (await client.post("/xai/v1/chat/completions", json=chat)).status_code == 401
    wrong = await client.post(
        "/xai/v1/chat/completions", json={**chat, "model": "gpt-4o"}, headers=XAI_KEY
    )
    assert wrong.status_code == 404 and "error" in wrong.json()
    no_month = await client.post(
        "/xai/v1/chat/completions",
        json={
            **chat,
            "messages": [{"role": "user", "content": "some books please"}],
            "response_format": {"type": "json_object"},
        },
        headers=XAI_KEY,
    )
    assert json.loads(shapes.chat_completion(no_month.json())) == {"books": []}


def test_prompt_month_parsing_is_liberal() -> None:
    cases = {
        "Notable books published in March 2019": (2019, 3),
        "books from 2019-03 please": (2019, 3),
        "Return titles for 03/2019": (2019, 3),
        "year: 2021, month: 7": (2021, 7),
        "Sept. 2020": (2020, 9),
        "2018 October releases": (2018, 10),
    }
    for text, expected in cases.items():
        found = read_request([text])
        assert found is not None and (found.year, found.month) == expected, text
    assert read_request(["no date here"]) is None
    found = read_request(["List 15 notable books of May 2001"])
    assert found is not None and found.count == 15
