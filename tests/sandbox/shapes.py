"""Small shape validators for each provider's answers, written from shared/providers.md."""

from __future__ import annotations

import json
import re
from typing import Any

ISBN13 = re.compile(r"^97[89]\d{10}$")
ISBN10 = re.compile(r"^\d{9}[\dX]$")


def _is(value: Any, kind: type | tuple[type, ...], where: str) -> None:
    assert isinstance(value, kind), (
        f"{where}: expected {kind}, got {type(value).__name__}: {value!r}"
    )


def _str_list(value: Any, where: str) -> None:
    _is(value, list, where)
    for item in value:
        _is(item, str, f"{where}[]")


def isbndb_book(book: Any) -> None:
    _is(book, dict, "book")
    for key in ("title", "title_long", "isbn", "isbn13", "publisher", "date_published", "binding"):
        _is(book[key], str, f"book.{key}")
    assert ISBN13.match(book["isbn13"]), book["isbn13"]
    assert ISBN10.match(book["isbn"]) or ISBN13.match(book["isbn"]), book["isbn"]
    _str_list(book["authors"], "book.authors")
    assert re.match(r"^\d{4}(-\d{2}(-\d{2}(T[\d:]+Z)?)?)?$", book["date_published"])
    if "pages" in book:
        _is(book["pages"], int, "book.pages")
    if "subjects" in book:
        _str_list(book["subjects"], "book.subjects")
    if "dewey_decimal" in book:
        _str_list(book["dewey_decimal"], "book.dewey_decimal")
    for text in ("synopsis", "synopsys", "overview"):
        if text in book:
            _is(book[text], str, f"book.{text}")
    for other in book.get("other_isbns", []):
        _is(other["isbn"], str, "other_isbns[].isbn")
        _is(other["binding"], str, "other_isbns[].binding")


def isbndb_batch(body: Any) -> None:
    _is(body["total"], int, "total")
    _is(body["requested"], int, "requested")
    _is(body["data"], list, "data")
    for book in body["data"]:
        isbndb_book(book)


def isbndb_search(body: Any) -> None:
    _is(body["total"], int, "total")
    for book in body["books"]:
        isbndb_book(book)


def google_volume(item: Any, full: bool) -> None:
    assert item["kind"] == "books#volume"
    _is(item["id"], str, "id")
    info = item["volumeInfo"]
    _is(info["title"], str, "volumeInfo.title")
    _str_list(info.get("authors", []), "volumeInfo.authors")
    assert re.match(r"^\d{4}(-\d{2}(-\d{2})?)?$", info["publishedDate"]), info["publishedDate"]
    for ident in info["industryIdentifiers"]:
        assert ident["type"] in {"ISBN_10", "ISBN_13", "ISSN", "OTHER"}
        _is(ident["identifier"], str, "identifier")
        if ident["type"] == "ISBN_13":
            assert ISBN13.match(ident["identifier"])
        if ident["type"] == "ISBN_10":
            assert ISBN10.match(ident["identifier"])
    if "pageCount" in info:
        _is(info["pageCount"], int, "pageCount")
    _str_list(info.get("categories", []), "categories")
    links = info["imageLinks"]
    assert {"smallThumbnail", "thumbnail"} <= set(links)
    if full:
        assert "description" in info
    else:
        assert set(links) == {"smallThumbnail", "thumbnail"}


def google_volumes(body: Any) -> None:
    assert body["kind"] == "books#volumes"
    _is(body["totalItems"], int, "totalItems")
    if body["totalItems"] == 0:
        assert "items" not in body
    for item in body.get("items", []):
        google_volume(item, full=False)


def google_error(body: Any, code: int, status: str) -> None:
    error = body["error"]
    assert error["code"] == code
    assert error["status"] == status
    _is(error["message"], str, "error.message")


def ol_text(value: Any, where: str) -> str:
    """A description or bio: a string or {type, value}."""
    if isinstance(value, dict):
        assert value["type"] == "/type/text"
        value = value["value"]
    _is(value, str, where)
    return str(value)


def ol_edition(body: Any) -> None:
    assert re.match(r"^/books/OL\d+M$", body["key"])
    _is(body["title"], str, "title")
    for ref in body["authors"]:
        assert re.match(r"^/authors/OL\d+A$", ref["key"])
    for ref in body["works"]:
        assert re.match(r"^/works/OL\d+W$", ref["key"])
    _str_list(body["publishers"], "publishers")
    _is(body["publish_date"], str, "publish_date")
    _str_list(body["isbn_13"], "isbn_13")
    _str_list(body.get("isbn_10", []), "isbn_10")
    for lang in body["languages"]:
        assert lang["key"].startswith("/languages/")
    if "number_of_pages" in body:
        _is(body["number_of_pages"], int, "number_of_pages")


def ol_work(body: Any) -> None:
    assert re.match(r"^/works/OL\d+W$", body["key"])
    for ref in body["authors"]:
        assert re.match(r"^/authors/OL\d+A$", ref["author"]["key"])
    if "description" in body:
        ol_text(body["description"], "description")
    _str_list(body["subjects"], "subjects")


def ol_author(body: Any) -> None:
    assert re.match(r"^/authors/OL\d+A$", body["key"])
    _is(body["name"], str, "name")
    if "bio" in body:
        ol_text(body["bio"], "bio")


def ol_search(body: Any) -> None:
    for key in ("numFound", "start", "num_found"):
        _is(body[key], int, key)
    for doc in body["docs"]:
        assert doc["key"].startswith("/works/")


def ol_api_data(entry: Any) -> None:
    assert entry["key"].startswith("/books/")
    _is(entry["title"], str, "title")
    for author in entry["authors"]:
        _is(author["name"], str, "authors[].name")
        assert author["url"].startswith("https://openlibrary.org/authors/")
    identifiers = entry["identifiers"]
    _str_list(identifiers["isbn_13"], "identifiers.isbn_13")
    for publisher in entry["publishers"]:
        _is(publisher["name"], str, "publishers[].name")
    for subject in entry.get("subjects", []):
        assert {"name", "url"} <= set(subject)
    assert "description" not in entry  # jscmd=data has none


def ia_search(body: Any) -> None:
    _is(body["responseHeader"], dict, "responseHeader")
    response = body["response"]
    _is(response["numFound"], int, "numFound")
    _is(response["start"], int, "start")
    _is(response["docs"], list, "docs")


def ia_item(body: Any) -> None:
    for key in ("created", "files_count", "item_size"):
        _is(body[key], int, key)
    for key in ("d1", "d2", "dir", "server"):
        _is(body[key], str, key)
    _is(body["files"], list, "files")
    metadata = body["metadata"]
    _is(metadata["identifier"], str, "metadata.identifier")
    assert metadata["mediatype"] == "texts"
    for key in ("creator", "subject", "isbn", "description"):
        _is(metadata[key], (str, list), f"metadata.{key}")


def sparql_json(body: Any) -> None:
    _str_list(body["head"]["vars"], "head.vars")
    for binding in body["results"]["bindings"]:
        for name, term in binding.items():
            assert name in body["head"]["vars"]
            assert term["type"] in {"uri", "literal", "bnode"}
            _is(term["value"], str, f"{name}.value")
            assert not ("xml:lang" in term and "datatype" in term)


def gemini_response(body: Any) -> str:
    """Validates the envelope and returns the concatenated text of the first candidate."""
    candidate = body["candidates"][0]
    assert candidate["content"]["role"] == "model"
    assert candidate["finishReason"] in {"STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "OTHER"}
    usage = body["usageMetadata"]
    for key in ("promptTokenCount", "candidatesTokenCount", "totalTokenCount"):
        _is(usage[key], int, key)
    _is(body["modelVersion"], str, "modelVersion")
    return "".join(part["text"] for part in candidate["content"]["parts"])


def chat_completion(body: Any) -> str:
    assert body["object"] == "chat.completion"
    _is(body["id"], str, "id")
    _is(body["created"], int, "created")
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] in {"stop", "length", "tool_calls"}
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        _is(body["usage"][key], int, key)
    return str(choice["message"]["content"])


def llm_book(book: Any) -> None:
    """The sandbox's default book object (and what the tests' schemas ask for)."""
    _is(book["title"], str, "title")
    _str_list(book["authors"], "authors")
    _is(book["publication_year"], int, "publication_year")
    _is(book["publication_month"], int, "publication_month")
    assert 1 <= book["publication_month"] <= 12
    if book.get("isbn") is not None:
        _is(book["isbn"], str, "isbn")


def is_invalid_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False
