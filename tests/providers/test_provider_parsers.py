"""Pure parser tests: wire-format JSON (providers.md shapes and their variants) -> models."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from shared.providers import archive, gemini, google_books, isbndb, llm, openai_compat
from shared.providers import openlibrary as ol
from shared.providers import wikidata as wd
from shared.providers.errors import MalformedResponse, NotFound, RequestRejected
from shared.providers.google_errors import classify_google
from shared.providers.normalise import (
    as_int,
    as_str_list,
    description_text,
    language_code,
    strip_html,
)
from shared.providers.outcomes import classify_status, parse_retry_after
from shared.providers.quota import next_midnight

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)

GATSBY = {
    "title": "The Great Gatsby",
    "title_long": "The Great Gatsby",
    "isbn": "0743273567",
    "isbn13": "9780743273565",
    "authors": ["F. Scott Fitzgerald"],
    "publisher": "Scribner",
    "date_published": "2004",
    "pages": 180,
    "binding": "Paperback",
    "language": "en_US",
    "subjects": ["Fiction", "Classics"],
    "dewey_decimal": ["813.52"],
    "synopsis": "<p>A novel &amp; more.</p>",
    "image": "https://images.isbndb.com/covers/35/65/9780743273565.jpg",
    "image_original": "https://images.isbndb.com/original.jpg",
    "other_isbns": [{"isbn": "9780684801520", "binding": "Hardcover"}],
    "related": {"ePub": "9781439132838"},
}


# --- normalise -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("en", "en"),
        ("en_US", "en"),
        ("en-GB", "en"),
        ("eng", "en"),
        ("/languages/fre", "fr"),
        ("German", "de"),
        (["ger", "eng"], "de"),
        ("und", None),
        ("xyz", None),
        (None, None),
        (42, None),
    ],
)
def test_language_code(raw: object, code: str | None) -> None:
    assert language_code(raw) == code


def test_description_variants() -> None:
    assert description_text("plain") == "plain"
    assert description_text(["one", "two"]) == "one\n\ntwo"
    assert description_text({"type": "/type/text", "value": "wrapped"}) == "wrapped"
    assert description_text(["<p>a&amp;b</p>", "<b>c</b>"], strip_markup=True) == "a&b\n\nc"
    assert description_text(None) is None
    assert description_text([]) is None
    assert description_text({"type": "/type/text"}) is None


def test_strip_html_keeps_paragraphs() -> None:
    assert strip_html("<p>One.</p><p>Two<br>three</p>") == "One.\n\nTwo\nthree"
    assert strip_html("no markup") == "no markup"


def test_coercions() -> None:
    assert as_int("180 p.") == 180
    assert as_int(0) is None
    assert as_int(True) is None
    assert as_str_list(["a", "a", "", None, {"name": "b"}]) == ("a", "b")
    assert as_str_list("solo") == ("solo",)


# --- ISBNdb --------------------------------------------------------------------------------------


def test_isbndb_book_full() -> None:
    book = isbndb.parse_book_response({"book": GATSBY})
    assert book.isbn13 == "9780743273565"
    assert book.isbn10 == "0743273567"
    assert book.language == "en"
    assert book.description == "A novel & more."
    assert book.page_count == 180
    assert book.format == "Paperback"
    assert book.dewey == ("813.52",)
    assert book.covers.original == GATSBY["image_original"]
    assert dict(book.related_isbns) == {"9780684801520": "Hardcover", "9781439132838": "ePub"}


def test_isbndb_field_variants() -> None:
    variant = {
        "title_long": "Only Long",
        "isbn": "0743273567",  # ISBN-10 only
        "synopsys": "old spelling",
        "dewey_decimal": "813.52",  # string in the old spec
        "language": "eng",
        "date_published": "2004-09-30T00:00:01Z",
    }
    book = isbndb.parse_book(variant)
    assert book.isbn13 == "9780743273565"
    assert book.title == "Only Long"
    assert book.description == "old spelling"
    assert book.dewey == ("813.52",)
    assert book.language == "en"
    assert book.publication_date == "2004-09-30T00:00:01Z"
    assert isbndb.parse_book({"isbn13": "9780743273565", "overview": "ov"}).description == "ov"


def test_isbndb_batch_drops_bad_items() -> None:
    body = {"total": 3, "requested": 3, "data": [GATSBY, {"title": "no isbn"}, "junk"]}
    assert list(isbndb.parse_batch_response(body)) == ["9780743273565"]
    with pytest.raises(MalformedResponse):
        isbndb.parse_batch_response({"books": []})
    with pytest.raises(MalformedResponse):
        isbndb.parse_book_response({"errorMessage": "x"})


def test_isbndb_batch_bodies() -> None:
    form, headers = isbndb.batch_body(["9780743273565", "9780684801520"], "form")
    assert form == "isbns=9780743273565,9780684801520"
    assert headers["Content-Type"] == "application/json"
    body, _ = isbndb.batch_body(["9780743273565"], "json")
    assert json.loads(body) == {"isbns": ["9780743273565"]}


def test_isbndb_429_without_retry_after_counts_towards_daily() -> None:
    response = httpx.Response(429, json={"message": "Limit Exceeded"})
    outcome = isbndb.classify(response, NOW, rate_window_s=1.0)
    assert outcome.kind == "rate_limited"
    assert outcome.daily_if_persistent
    assert outcome.retry_after_s == 1.0
    hinted = httpx.Response(429, json={"message": "Limit Exceeded"}, headers={"Retry-After": "2"})
    assert not isbndb.classify(hinted, NOW).daily_if_persistent


# --- Google Books --------------------------------------------------------------------------------

VOLUME = {
    "id": "9U5I_tskq9MC",
    "volumeInfo": {
        "title": "Eloquent JavaScript",
        "subtitle": "A Modern Introduction to Programming",
        "authors": ["Marijn Haverbeke"],
        "publisher": "No Starch Press",
        "publishedDate": "2011",
        "description": "Provides information",
        "industryIdentifiers": [
            {"type": "ISBN_13", "identifier": "9781593272821"},
            {"type": "ISBN_10", "identifier": "1593272820"},
        ],
        "pageCount": 224,
        "categories": ["COMPUTERS"],
        "language": "en",
        "imageLinks": {"smallThumbnail": "s", "thumbnail": "t"},
    },
}


def test_google_volume() -> None:
    [book] = google_books.parse_volumes({"kind": "books#volumes", "items": [VOLUME]})
    assert book.isbn13 == "9781593272821"
    assert book.isbn10 == "1593272820"
    assert book.subtitle == "A Modern Introduction to Programming"
    assert book.external_ids.google_volume == "9U5I_tskq9MC"
    assert book.covers.small == "t"
    assert book.covers.large is None


def test_google_volume_variants() -> None:
    info = dict(VOLUME["volumeInfo"])  # type: ignore[call-overload]
    info["industryIdentifiers"] = [{"type": "ISBN_10", "identifier": "1593272820"}]
    only10 = google_books.parse_volume({"id": "x", "volumeInfo": info})
    assert only10.isbn13 == "9781593272821"
    info["industryIdentifiers"] = [{"type": "OTHER", "identifier": "UCSC:32106"}]
    assert google_books.parse_volume({"id": "x", "volumeInfo": info}).isbn13 is None
    assert google_books.parse_volumes({"kind": "books#volumes", "totalItems": 0}) == []
    # A malformed item is dropped, the rest kept.
    body = {"items": [VOLUME, {"id": "bad"}, 7]}
    assert len(google_books.parse_volumes(body)) == 1


def test_google_search_query() -> None:
    assert google_books.search_query("The Great Gatsby", "F. Scott Fitzgerald") == (
        'intitle:"The Great Gatsby" inauthor:"F. Scott Fitzgerald"'
    )


def _google_error(
    status: int, body: object, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_google_daily_vs_minute() -> None:
    daily = {
        "error": {
            "code": 429,
            "message": "Quota exceeded for quota metric 'Queries' and limit 'Queries per day'",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "reason": "RATE_LIMIT_EXCEEDED",
                    "metadata": {"quota_limit": "defaultPerDayPerProject"},
                }
            ],
        }
    }
    assert classify_google(_google_error(429, daily), NOW).kind == "daily_quota"
    minute = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "message": "You exceeded your current quota ... Please retry in 45.5s.",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel"}],
                },
            ],
        }
    }
    outcome = classify_google(_google_error(429, minute), NOW)
    assert (outcome.kind, outcome.retry_after_s) == ("rate_limited", 45.5)
    minute["error"]["details"].append(  # type: ignore[index]
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}
    )
    assert classify_google(_google_error(429, minute), NOW).retry_after_s == 12.0
    old_daily = {"error": {"code": 403, "errors": [{"reason": "dailyLimitExceeded"}]}}
    assert classify_google(_google_error(403, old_daily), NOW).kind == "daily_quota"
    bad_key = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "API key not valid"}}
    assert classify_google(_google_error(400, bad_key), NOW).kind == "rejected"
    assert classify_google(_google_error(429, "not json"), NOW).kind == "rate_limited"


# --- Open Library --------------------------------------------------------------------------------


def test_ol_edition() -> None:
    edition = {
        "key": "/books/OL7353617M",
        "title": "Fantastic Mr. Fox",
        "authors": [{"key": "/authors/OL34184A"}],
        "works": [{"key": "/works/OL45883W"}],
        "publishers": ["Puffin"],
        "publish_date": "October 1, 1988",
        "isbn_10": ["0140328726"],
        "number_of_pages": 96,
        "physical_format": "Paperback",
        "languages": [{"key": "/languages/eng"}],
        "covers": [-1, 8739161],
        "identifiers": {"goodreads": ["1507552"], "amazon": ["B000XYZ"]},
        "description": {"type": "/type/text", "value": "A fox."},
        "ocaid": "fantasticmrfox00dahl",
    }
    book = ol.parse_edition(edition)
    assert book.isbn13 == "9780140328721"
    assert book.external_ids.openlibrary_edition == "OL7353617M"
    assert book.external_ids.openlibrary_work == "OL45883W"
    assert book.external_ids.goodreads_edition == "1507552"
    assert book.external_ids.amazon_asin == "B000XYZ"
    assert book.external_ids.archive == "fantasticmrfox00dahl"
    assert book.language == "en"
    assert book.format == "Paperback"
    assert book.description == "A fox."
    assert book.covers.large == "https://covers.openlibrary.org/b/id/8739161-L.jpg"


def test_ol_data_and_merge() -> None:
    body = {
        "ISBN:9780743273565": {
            "key": "/books/OL1M",
            "title": "The Great Gatsby",
            "authors": [{"url": "u", "name": "F. Scott Fitzgerald"}],
            "publishers": [{"name": "Scribner"}],
            "identifiers": {"isbn_13": ["9780743273565"], "openlibrary": ["OL1M"]},
            "classifications": {"dewey_decimal_class": ["813/.52"]},
            "cover": {"small": "s", "medium": "m", "large": "l"},
        },
        "ISBN:0000000000": "junk",
    }
    found = ol.parse_data_response(body)
    data = found["9780743273565"]
    assert data.authors == ("F. Scott Fitzgerald",)
    assert data.publisher == "Scribner"
    assert data.dewey == ("813/.52",)
    edition = ol.parse_edition({"key": "/books/OL1M", "isbn_13": ["9780743273565"]})
    merged = ol.merge_edition(edition, data)
    assert merged.authors == ("F. Scott Fitzgerald",)
    assert merged.covers.large == "l"


def test_ol_search_work_author() -> None:
    docs = {
        "numFound": 2,
        "docs": [
            {
                "key": "/works/OL1W",
                "title": "T",
                "isbn": ["0743273567", "bad", "9780684801520"],
                "author_name": ["A"],
                "cover_i": 5,
                "language": ["eng"],
            },
            {"title": "no key"},
        ],
    }
    [hit] = ol.parse_search_response(docs)
    assert hit.isbn13 == "9780743273565"
    assert dict(hit.related_isbns) == {"9780684801520": ""}
    assert hit.external_ids.openlibrary_work == "OL1W"
    work = ol.parse_work(
        {
            "key": "/works/OL1W",
            "authors": [{"author": {"key": "/authors/OL2A"}}, {"key": "/authors/OL3A"}],
            "description": "plain",
        }
    )
    assert work.author_ids == ("OL2A", "OL3A")
    assert work.description == "plain"
    author = ol.parse_author(
        {
            "key": "/authors/OL2A",
            "name": "N",
            "bio": {"value": "b"},
            "remote_ids": {"wikidata": "Q1"},
            "photos": [42],
        }
    )
    assert (author.bio, dict(author.remote_ids)) == ("b", {"wikidata": "Q1"})
    with pytest.raises(MalformedResponse):
        ol.parse_author({"key": "/authors/OL2A"})


# --- Internet Archive ----------------------------------------------------------------------------


def test_archive_metadata_variants() -> None:
    body = {
        "metadata": {
            "identifier": "greatgatsby0000fitz",
            "title": ["The great Gatsby"],
            "creator": "Fitzgerald, F. Scott",
            "isbn": ["0743273567", "9780743273565"],
            "language": "eng",
            "description": ["<p>First &amp; foremost.</p>", "Second."],
            "openlibrary_edition": "OL1M",
            "date": "2004",
        }
    }
    book = archive.parse_metadata_response(body, "greatgatsby0000fitz", "https://archive.org")
    assert book.title == "The great Gatsby"
    assert book.isbn13 == "9780743273565"
    assert book.description == "First & foremost.\n\nSecond."
    assert book.language == "en"
    assert book.covers.medium == "https://archive.org/services/img/greatgatsby0000fitz"
    with pytest.raises(NotFound):
        archive.parse_metadata_response({}, "nope", "https://archive.org")


def test_archive_search_and_escape() -> None:
    assert archive.search_query("Dune: Messiah", "Herbert") == (
        r"title:(Dune\: Messiah) AND mediatype:texts AND creator:(Herbert)"
    )
    body = {"response": {"numFound": 2, "docs": [{"identifier": "x", "isbn": "0743273567"}, {}]}}
    [hit] = archive.parse_search_response(body, "https://archive.org")
    assert hit.isbn13 == "9780743273565"
    with pytest.raises(MalformedResponse):
        archive.parse_search_response({"docs": []}, "https://archive.org")


# --- Wikidata ------------------------------------------------------------------------------------


def test_wikidata_query_has_hyphenated_values() -> None:
    query = wd.facts_query(["9780743273565", "9791032300824", "junk"])
    assert '"978-0-7432-7356-5"' in query
    assert '"0-7432-7356-7"' in query
    assert '"979-10-323-0082-4"' in query
    assert "wdt:P212" in query and "wdt:P957" in query
    assert wd.sparql_string('a "b"\\') == '"a \\"b\\"\\\\"'


def _cell(value: str, kind: str = "literal") -> dict[str, str]:
    return {"type": kind, "value": value}


def test_wikidata_facts_merge_cartesian_rows() -> None:
    item = _cell("http://www.wikidata.org/entity/Q1", "uri")
    work = _cell("http://www.wikidata.org/entity/Q2", "uri")
    rows = [
        {
            "isbn": _cell("978-0-7432-7356-5"),
            "item": item,
            "work": work,
            "workLabel": _cell("Gatsby"),
            "genreLabel": _cell("novel"),
            "subjectLabel": _cell("wealth"),
        },
        {
            "isbn": _cell("0-7432-7356-7"),
            "item": item,
            "work": work,
            "genreLabel": _cell("tragedy"),
            "subjectLabel": _cell("Q999"),
        },
        {"isbn": _cell("bad"), "item": item},
    ]
    facts = wd.parse_facts({"head": {"vars": []}, "results": {"bindings": rows}})
    gatsby = facts["9780743273565"]
    assert gatsby.work == "Q2"
    assert gatsby.genres == ("novel", "tragedy")
    assert gatsby.main_subjects == ("wealth",)  # a bare Q-id is a missing label
    with pytest.raises(MalformedResponse):
        wd.parse_facts({"results": {}})


def test_wikidata_ban_is_a_stop() -> None:
    response = httpx.Response(403, text="You have been banned until 2025-03-15T12:00:00Z, please")
    outcome = wd.classify(response, NOW)
    assert outcome.kind == "daily_quota"
    assert outcome.reset_at == datetime(2025, 3, 15, 12, tzinfo=UTC)


# --- LLMs ----------------------------------------------------------------------------------------


def test_gemini_schema_dialect() -> None:
    schema = llm.to_gemini_schema(llm.BOOK_LIST_SCHEMA)
    book = schema["properties"]["books"]["items"]
    assert schema["type"] == "OBJECT"
    assert book["properties"]["subtitle"] == {"type": "STRING", "nullable": True}
    assert "additionalProperties" not in book
    assert book["propertyOrdering"][0] == "title"


def test_llm_books_tolerant() -> None:
    text = json.dumps(
        {
            "books": [
                {
                    "title": "Dune",
                    "authors": ["Frank Herbert"],
                    "publication_year": "1965",
                    "publication_month": "August",
                    "isbn": "978-0-441-01359-3",
                    "genres": "sf",
                },
                {
                    "title": "Fake",
                    "author": "Someone",
                    "isbn": "9780000000000",
                    "publication_month": 13,
                },
                {"subtitle": "no title"},
                "junk",
            ]
        }
    )
    dune, fake = llm.parse_llm_books(text, "x")
    assert (dune.publication_year, dune.publication_month, dune.isbn) == (1965, 8, "9780441013593")
    assert dune.genres == ("sf",)
    assert (fake.authors, fake.isbn, fake.publication_month) == (("Someone",), None, None)
    fenced = '```json\n[{"title": "A"}]\n```'
    assert [b.title for b in llm.parse_llm_books(fenced, "x")] == ["A"]
    with pytest.raises(MalformedResponse, match="not JSON"):
        llm.parse_llm_books('{"books": [', "x")


def test_gemini_answer() -> None:
    body = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": '{"books": [{"title"'}, {"text": ': "A"}]}'}],
                },
                "finishReason": "STOP",
            }
        ]
    }
    assert [b.title for b in gemini.parse_answer(body)] == ["A"]
    truncated = {
        "candidates": [
            {"content": {"parts": [{"text": '{"books": ['}]}, "finishReason": "MAX_TOKENS"}
        ]
    }
    with pytest.raises(MalformedResponse, match="MAX_TOKENS"):
        gemini.parse_answer(truncated)
    with pytest.raises(RequestRejected, match="SAFETY"):
        gemini.parse_answer({"promptFeedback": {"blockReason": "SAFETY"}})


def test_openai_answer_and_paths() -> None:
    body = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": '{"books": [{"title": "A"}]}'},
            }
        ]
    }
    assert [b.title for b in openai_compat.parse_answer(body, "xai")] == ["A"]
    with pytest.raises(MalformedResponse):
        openai_compat.parse_answer({"choices": []}, "xai")
    assert openai_compat.completions_path("https://api.x.ai") == "/v1/chat/completions"
    assert openai_compat.completions_path("http://localhost:11434/v1") == "/chat/completions"
    assert (
        openai_compat.completions_path("https://generativelanguage.googleapis.com/v1beta/openai/")
        == "/chat/completions"
    )
    credits = httpx.Response(429, json={"error": {"type": "insufficient_quota", "code": "x"}})
    assert openai_compat.classify(credits, NOW).kind == "daily_quota"


# --- transport helpers ---------------------------------------------------------------------------


def test_retry_after_forms() -> None:
    assert parse_retry_after("3", NOW) == 3.0
    assert parse_retry_after("Fri, 14 Mar 2025 12:00:30 GMT", NOW) == 30.0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_status_classes() -> None:
    assert classify_status(httpx.Response(200), NOW).kind == "ok"
    assert classify_status(httpx.Response(404), NOW).kind == "not_found"
    assert classify_status(httpx.Response(503), NOW).kind == "retry"
    assert classify_status(httpx.Response(401), NOW).kind == "rejected"


def test_next_midnight() -> None:
    from shared.providers.quota import PACIFIC

    assert next_midnight(NOW, UTC) == datetime(2025, 3, 15, tzinfo=UTC)
    # 2025-03-14 12:00 UTC is 05:00 PDT; midnight Pacific is 07:00 UTC on the 15th.
    assert next_midnight(NOW, PACIFIC) == datetime(2025, 3, 15, 7, tzinfo=UTC)
