"""Each provider's real error answers (status, headers, body) for injected faults, per providers.md;
where providers.md leaves a shape unconfirmed the guess is marked here and in README.md."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

JSON_UTF8 = "application/json; charset=UTF-8"


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None, content_type: str = ""
) -> web.Response:
    """A compact JSON answer; content_type overrides the header (Google adds a charset)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    response = web.Response(
        text=text, status=status, headers=headers, content_type="application/json"
    )
    if content_type:
        response.headers["Content-Type"] = content_type
    return response


def text_response(
    text: str, status: int, content_type: str = "text/plain", headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(text=text, status=status, content_type=content_type, headers=headers)


def _retry(seconds: int) -> dict[str, str]:
    return {"Retry-After": str(seconds)}


def _html_page(status: int, title: str, body: str) -> str:
    return (
        f"<html>\n<head><title>{status} {title}</title></head>\n<body>\n"
        f"<center><h1>{status} {title}</h1></center>\n{body}</body>\n</html>\n"
    )


# --- Google JSON error shape (Google Books and Gemini) --------------------------------------


def google_error(
    code: int,
    status: str,
    message: str,
    reason: str | None = None,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if reason is not None:
        error["errors"] = [{"message": message, "domain": "global", "reason": reason}]
    error["status"] = status
    if details:
        error["details"] = details
    return json_response({"error": error}, code, headers, JSON_UTF8)


def openai_error(
    status: int, message: str, type_: str, code: str | None, headers: dict[str, str] | None = None
) -> web.Response:
    # providers.md: OpenAI-convention body; the exact `type` strings are unconfirmed for xAI.
    return json_response(
        {"error": {"message": message, "type": type_, "param": None, "code": code}},
        status,
        headers,
    )


@dataclass(frozen=True)
class ErrorStyle:
    """The four answers the fault layer needs, in one provider's voice."""

    server_error: Callable[[int], web.Response]  # argument: a draw, to vary between 5xx kinds
    timeout: Callable[[], web.Response]
    rate_limited: Callable[[int], web.Response]  # argument: Retry-After seconds
    quota_exhausted: Callable[[], web.Response]


# --- ISBNdb ------------------------------------------------------------------------------------
# Its 429 body is the AWS API Gateway throttling body, so the 5xx and timeout bodies below are
# API Gateway's defaults too (a guess: providers.md confirms only 404, 429 and the 6 MB 500).

ISBNDB = ErrorStyle(
    server_error=lambda draw: json_response({"message": "Internal server error"}, 500),
    timeout=lambda: json_response({"message": "Endpoint request timed out"}, 504),
    rate_limited=lambda seconds: json_response({"message": "Limit Exceeded"}, 429, _retry(seconds)),
    # The daily quota answers the same 429 with no Retry-After: providers.md says to treat a 429
    # that persists after backing off as exhaustion until the next day.
    quota_exhausted=lambda: json_response({"message": "Limit Exceeded"}, 429),
)


def isbndb_not_found() -> web.Response:
    return json_response({"errorMessage": "Not Found"}, 404)


# --- Google Books ------------------------------------------------------------------------------


def _google_books_429(window: str, limit: str, headers: dict[str, str] | None) -> web.Response:
    message = (
        f"Quota exceeded for quota metric 'Queries' and limit 'Queries per {window}' of service "
        "'books.googleapis.com' for consumer 'project_number:000000000000'."
    )
    return google_error(
        429,
        "RESOURCE_EXHAUSTED",
        message,
        reason="rateLimitExceeded",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "RATE_LIMIT_EXCEEDED",
                "domain": "googleapis.com",
                "metadata": {
                    "service": "books.googleapis.com",
                    "quota_limit": limit,
                    "quota_metric": "books.googleapis.com/default",
                    "consumer": "projects/000000000000",
                },
            }
        ],
        headers=headers,
    )


GOOGLE_BOOKS = ErrorStyle(
    server_error=lambda draw: (
        google_error(503, "UNAVAILABLE", "Service temporarily unavailable.", "backendError")
        if draw % 2
        else google_error(500, "INTERNAL", "Backend Error", "backendError")
    ),
    timeout=lambda: google_error(
        504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."
    ),
    rate_limited=lambda seconds: _google_books_429(
        "minute", "defaultPerMinutePerProject", _retry(seconds)
    ),
    quota_exhausted=lambda: _google_books_429("day", "defaultPerDayPerProject", None),
)

# --- Open Library ------------------------------------------------------------------------------
# 429 is the nginx body providers.md quotes. Open Library has no daily quota; the knob answers
# the same 429 without Retry-After. Its 5xx pages are HTML from the proxy (a guess).

_OL_429 = {
    "status": 429,
    "message": "Too Many Requests. Consider using https://openlibrary.org/developers/dumps.",
}

OPENLIBRARY = ErrorStyle(
    server_error=lambda draw: text_response(
        _html_page(503, "Service Unavailable", "No server is available to handle this request.\n"),
        503,
        "text/html",
    ),
    timeout=lambda: text_response(
        _html_page(504, "Gateway Time-out", "<hr><center>nginx</center>\n"), 504, "text/html"
    ),
    rate_limited=lambda seconds: json_response(_OL_429, 429, _retry(seconds)),
    quota_exhausted=lambda: json_response(_OL_429, 429),
)

# --- Internet Archive ----------------------------------------------------------------------------
# No published limits; providers.md says to back off on 429 or 503. Bodies are guesses.

ARCHIVE = ErrorStyle(
    server_error=lambda draw: text_response(
        _html_page(503, "Service Temporarily Unavailable", ""), 503, "text/html"
    ),
    timeout=lambda: text_response(
        _html_page(504, "Gateway Time-out", "<hr><center>nginx</center>\n"), 504, "text/html"
    ),
    rate_limited=lambda seconds: text_response(
        _html_page(429, "Too Many Requests", "<hr><center>nginx</center>\n"),
        429,
        "text/html",
        _retry(seconds),
    ),
    quota_exhausted=lambda: text_response(
        _html_page(429, "Too Many Requests", "<hr><center>nginx</center>\n"), 429, "text/html"
    ),
)

# --- Wikidata Query Service ----------------------------------------------------------------------


def _wdqs_429(seconds: int) -> web.Response:
    # The Jetty page WDQS answers with when throttling (as seen in public issue reports).
    reason = f"Too Many Requests - Please retry in {seconds} seconds."
    page = (
        '<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n'
        f"<title>Error 429 {reason}</title>\n</head>\n<body><h2>HTTP ERROR 429</h2>\n"
        f"<p>Problem accessing /bigdata/namespace/wdq/sparql. Reason:\n<pre>    {reason}</pre></p>"
        '<hr><a href="http://eclipse.org/jetty">Powered by Jetty:// 9.4.12.v20180830</a><hr/>\n'
        "\n</body>\n</html>\n"
    )
    return text_response(page, 429, "text/html", _retry(seconds))


def _wdqs_ban() -> web.Response:
    # Clients that ignore 429 are banned for 24 h; the status and wording are a guess.
    until = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return text_response(
        f"You have been banned until {until}, please respect throttling and retry-after headers.",
        403,
    )


WIKIDATA = ErrorStyle(
    server_error=lambda draw: text_response(
        '<!DOCTYPE html>\n<html lang="en"><meta charset="utf-8"><title>Wikimedia Error</title>'
        "<p>Our servers are currently under maintenance or experiencing a technical issue.</p>"
        "</html>\n",
        503,
        "text/html",
    ),
    # providers.md: timeouts reportedly return 500 with a timeout exception in the body.
    timeout=lambda: text_response(
        "SPARQL-QUERY: queryStr=...\njava.util.concurrent.TimeoutException\n"
        "\tat java.util.concurrent.FutureTask.get(FutureTask.java:205)\n",
        500,
    ),
    rate_limited=_wdqs_429,
    quota_exhausted=_wdqs_ban,
)

# --- Gemini ------------------------------------------------------------------------------------


def gemini_quota_error(per: str, retry_seconds: int | None) -> web.Response:
    quota_id = f"GenerateRequestsPer{per}PerProjectPerModel-FreeTier"
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": "generativelanguage.googleapis.com/"
                    "generate_content_free_tier_requests",
                    "quotaId": quota_id,
                    "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
                    "quotaValue": "250" if per == "Day" else "10",
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                }
            ],
        },
    ]
    seconds = retry_seconds if retry_seconds is not None else 45
    message = (
        "You exceeded your current quota, please check your plan and billing details. "
        "For more information on this error, head to: "
        "https://ai.google.dev/gemini-api/docs/rate-limits. "
        f"Please retry in {seconds}.5s."
    )
    # RetryInfo is common but unconfirmed; send it with the per-minute limit only.
    if retry_seconds is not None:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{seconds}s"}
        )
    headers = _retry(retry_seconds) if retry_seconds is not None else None
    return google_error(429, "RESOURCE_EXHAUSTED", message, details=details, headers=headers)


GEMINI = ErrorStyle(
    server_error=lambda draw: (
        google_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
        if draw % 2
        else google_error(
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting",
        )
    ),
    timeout=lambda: google_error(
        504, "DEADLINE_EXCEEDED", "The request timed out. Please try again."
    ),
    rate_limited=lambda seconds: gemini_quota_error("Minute", seconds),
    quota_exhausted=lambda: gemini_quota_error("Day", None),
)

# --- xAI and other OpenAI-compatible endpoints ---------------------------------------------------


def _openai_style(provider_label: str) -> ErrorStyle:
    return ErrorStyle(
        server_error=lambda draw: (
            openai_error(503, "The service is temporarily unavailable.", "server_error", None)
            if draw % 2
            else openai_error(500, "Internal server error", "server_error", None)
        ),
        timeout=lambda: openai_error(504, "Gateway timeout", "server_error", None),
        rate_limited=lambda seconds: openai_error(
            429,
            f"Too many requests for team 00000000-0000-0000-0000-000000000000 and model "
            f"{provider_label}. Your team's rate limit is exceeded; retry in {seconds}s.",
            "rate_limit_error",
            "rate_limit_exceeded",
            _retry(seconds),
        ),
        # xAI's out-of-credits answer is a 429 too (wording as reported in public issues);
        # the OpenAI-convention type/code 'insufficient_quota' is a guess.
        quota_exhausted=lambda: openai_error(
            429,
            "Your team 00000000-0000-0000-0000-000000000000 has either used all available "
            "credits or reached its monthly spending limit. To continue making API requests, "
            "please purchase more credits or raise your spending limit.",
            "insufficient_quota",
            "insufficient_quota",
        ),
    )


XAI = _openai_style("grok-4")
OPENAI_COMPAT = _openai_style("local-model")

STYLES: dict[str, ErrorStyle] = {
    "isbndb": ISBNDB,
    "google_books": GOOGLE_BOOKS,
    "openlibrary": OPENLIBRARY,
    "archive": ARCHIVE,
    "wikidata": WIKIDATA,
    "gemini": GEMINI,
    "xai": XAI,
    "openai_compat": OPENAI_COMPAT,
}
