"""Wikidata Query Service (query.wikidata.org): /sparql by GET or POST, answering SPARQL 1.1
SELECT/ASK over the catalogue's Wikidata-shaped graph (see sparql_parser for the subset)."""

from __future__ import annotations

from urllib.parse import parse_qs

from aiohttp import web

from sandbox.catalogue_index import CatalogueIndex
from sandbox.errors import json_response, text_response
from sandbox.faults import fault_middleware
from sandbox.rdf import Graph
from sandbox.sparql_eval import (
    Evaluator,
    QueryTooLarge,
    results_delimited,
    results_json,
    results_xml,
)
from sandbox.sparql_parser import SparqlSyntaxError, parse_query
from sandbox.state import SandboxState, state_of
from sandbox.wikidata_graph import build_graph

PROVIDER = "wikidata"
_FORMATS = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
}


def authorize(request: web.Request, state: SandboxState) -> web.StreamResponse | None:
    """Wikimedia refuses requests without a User-Agent (the body paraphrases the real one)."""
    if not request.headers.get("User-Agent", "").strip():
        return text_response(
            "Please set a user-agent and respect our robot policy https://w.wiki/4wJS.", 403
        )
    return None


def _output_format(request: web.Request, form: dict[str, list[str]]) -> str:
    # Like any servlet parameter, format= may come in the query string or in a POSTed form.
    wanted = (request.query.get("format") or (form.get("format") or [""])[0]).lower()
    if wanted in _FORMATS:
        return wanted
    accept = request.headers.get("Accept", "")
    for name, mime in _FORMATS.items():
        if mime in accept or (name == "json" and "application/json" in accept):
            return name
    return "xml"  # WDQS answers SPARQL XML unless asked otherwise


def _malformed(query: str, error: SparqlSyntaxError) -> web.Response:
    # WDQS reports syntax errors as a 400 with Blazegraph's Java exception text.
    return text_response(
        f"SPARQL-QUERY: queryStr={query}\n"
        "java.util.concurrent.ExecutionException: org.openrdf.query.MalformedQueryException: "
        f"{error}\n",
        400,
    )


def create_app(index: CatalogueIndex) -> web.Application:
    graphs: dict[float, Graph] = {}

    def graph_for(state: SandboxState) -> Graph:
        coverage = state.coverage(PROVIDER)
        if coverage not in graphs:
            graphs.clear()  # only the current coverage is worth keeping
            graphs[coverage] = build_graph(index, coverage)
        return graphs[coverage]

    async def sparql(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        query = request.query.get("query")
        form: dict[str, list[str]] = {}
        if request.method == "POST":
            body = await request.text()
            if request.content_type == "application/sparql-query":
                query = body
            else:
                form = parse_qs(body)
                query = (form.get("query") or [query or ""])[0]
        if not query or not query.strip():
            return text_response("Query is required: pass query= by GET or POST.", 400)
        try:
            parsed = parse_query(query)
        except SparqlSyntaxError as error:
            return _malformed(query, error)
        evaluator = Evaluator(graph_for(state), parsed)
        fmt = _output_format(request, form)
        try:
            if parsed.form == "ASK":
                answer = evaluator.ask()
                return json_response(
                    {"head": {}, "boolean": answer},
                    content_type=_FORMATS["json"] + ";charset=utf-8",
                )
            names, rows = evaluator.select()
        except QueryTooLarge:
            return text_response(
                "java.util.concurrent.TimeoutException: the sandbox stops at 100,000 rows\n", 500
            )
        content_type = _FORMATS[fmt] + ";charset=utf-8"
        if fmt == "json":
            return json_response(results_json(names, rows), content_type=content_type)
        if fmt == "xml":
            text = results_xml(names, rows)
        else:
            text = results_delimited(names, rows, tab=fmt == "tsv")
        response = web.Response(text=text)
        response.headers["Content-Type"] = content_type
        return response

    app = web.Application(middlewares=[fault_middleware(PROVIDER, authorize)])
    app.router.add_get("/sparql", sparql)
    app.router.add_post("/sparql", sparql)
    return app
