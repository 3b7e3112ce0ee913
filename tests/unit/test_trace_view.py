"""ops/trace_view.py: a month's trace drawn from a small hand-made Jaeger JSON (no Jaeger), and the
query-API edge against a mock transport; `alexandria trace show`'s one-line errors."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from ops.cli.main import cli
from ops.trace_view import (
    ERROR_COLOUR,
    SERVICE_COLOURS,
    TraceViewError,
    fetch_month_trace,
    format_duration,
    parse_trace,
    render_html,
    render_text,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
T0 = 1_700_000_000_000_000  # µs


def tag(key: str, value: Any) -> dict[str, Any]:
    kind = "bool" if isinstance(value, bool) else "int64" if isinstance(value, int) else "string"
    return {"key": key, "type": kind, "value": value}


def span(
    span_id: str,
    name: str,
    pid: str,
    start_ms: int,
    duration_ms: int,
    parent: str | None = None,
    follows: str | None = None,
    **tags: Any,
) -> dict[str, Any]:
    references = []
    if parent:
        references.append({"refType": "CHILD_OF", "traceID": TRACE_ID, "spanID": parent})
    if follows:  # a link to another trace (the enricher's batch)
        references.append({"refType": "FOLLOWS_FROM", "traceID": "f" * 32, "spanID": follows})
    return {
        "traceID": TRACE_ID,
        "spanID": span_id,
        "operationName": name,
        "references": references,
        "startTime": T0 + start_ms * 1000,
        "duration": duration_ms * 1000,
        "tags": [tag(k.replace("__", "."), v) for k, v in tags.items()],
        "logs": [],
        "processID": pid,
    }


def sample() -> dict[str, Any]:
    """A month's trace, its spans out of order as Jaeger may give them."""
    spans = [
        span("e1", "enrich isbn", "p4", 600, 150, parent="r1", follows="b9", month="2019-03"),
        span("g2", "ask xai", "p2", 120, 80, parent="g1", provider="xai"),
        span(
            "g3",
            "xai POST /chat/completions",
            "p2",
            125,
            70,
            parent="g2",
            provider="xai",
            outcome="rejected",
            http__response__status_code=503,
            error=True,
            otel__status_code="ERROR",
            otel__status_description="xai answered 503",
        ),
        span("s1", "schedule month", "p1", 0, 20, month="2019-03", attempt=1),
        span("g1", "generate month", "p2", 100, 300, parent="s1", month="2019-03", books=20),
        span(
            "r1",
            "resolve month",
            "p3",
            420,
            500,
            parent="g1",
            month="2019-03",
            resolved=15,
            unresolved=3,
            already_known=2,
        ),
        span("c1", "cascade", "p3", 430, 60, parent="r1", provider="isbndb", status="resolved"),
        span(
            "k1",
            "test.isbn-resolved send",
            "p3",
            940,
            1,
            parent="r1",
            otel__scope__name="opentelemetry.instrumentation.aiokafka",
        ),
        span("j1", "project month", "p5", 950, 50, parent="k1", month="2019-03", events=4),
        span("x1", "orphan", "p5", 990, 5, parent="missing"),
    ]
    names = ["scheduler", "generator", "resolver", "enricher", "projector"]
    processes = {
        f"p{i}": {"serviceName": f"alexandria-{n}", "tags": []} for i, n in enumerate(names, 1)
    }
    return {"traceID": TRACE_ID, "spans": spans, "processes": processes, "warnings": None}


def test_rows_in_tree_order_with_depths() -> None:
    view = parse_trace(sample())
    assert [(r.span.operation, r.depth) for r in view.rows] == [
        ("schedule month", 0),
        ("generate month", 1),
        ("ask xai", 2),
        ("xai POST /chat/completions", 3),
        ("resolve month", 2),
        ("cascade", 3),
        ("enrich isbn", 3),  # its FOLLOWS_FROM link to another trace is not its parent
        ("test.isbn-resolved send", 3),
        ("project month", 4),
        ("orphan", 0),  # parent not in the trace: a root
    ]
    assert view.month == "2019-03"
    assert view.services == ("scheduler", "generator", "resolver", "enricher", "projector")
    assert view.duration_us == 1_000_000
    assert view.errors == 1 and view.hidden == 0


def test_library_spans_hidden_on_request() -> None:
    view = parse_trace(sample(), hide_library=True)
    assert [(r.span.operation, r.depth) for r in view.rows][-3:] == [
        ("enrich isbn", 3),
        ("project month", 3),  # under the resolver's span, the Kafka send left out
        ("orphan", 0),
    ]
    assert view.hidden == 1 and view.duration_us == 1_000_000
    text = render_text(view)
    assert "isbn-resolved send" not in text
    assert text.splitlines()[1].startswith("9 spans, 1 ERROR (1 library spans hidden), 1.00s")


def test_text_waterfall_indents_marks_errors_and_shows_key_attributes() -> None:
    text = render_text(parse_trace(sample()), bar_width=20)
    lines = text.splitlines()
    assert lines[0] == f"month 2019-03  trace {TRACE_ID}"
    assert lines[1] == (
        "10 spans, 1 ERROR, 1.00s, services: scheduler, generator, resolver, enricher, projector"
    )
    body = lines[4:]
    assert len(body) == 10

    def line(operation: str) -> str:
        [found] = [x for x in body if f" {operation} " in x]
        return found

    root = line("schedule month")
    assert root.startswith("  scheduler ")
    assert "+0.000s" in root and "20.0ms" in root and "month=2019-03" in root
    assert "|" + "█" + " " * 19 + "|" in root  # 20 ms of 1 s: one cell at the start
    # Indentation by depth: the operation starts two spaces further per level.
    column = root.index("schedule month")
    assert line("generate month").index("generate month") == column + 2
    assert line("ask xai").index("ask xai") == column + 4
    assert line("xai POST /chat/completions").index("xai POST") == column + 6
    # The month is shown on the root only (the header names it); children show their counts.
    generated = line("generate month")
    assert "month=" not in generated and "books=20" in generated
    resolved = line("resolve month")
    assert "resolved=15 unresolved=3 already_known=2" in resolved
    assert "provider=isbndb status=resolved" in line("cascade")
    # The ERROR span: marked at the start of its line, X bar, the status description.
    failed = line("xai POST /chat/completions")
    assert failed.startswith("! generator ")
    assert "X" in failed.split("|")[1] and "█" not in failed
    assert "outcome=rejected" in failed and "http=503" in failed
    assert failed.endswith("ERROR xai answered 503")
    assert "provider=" not in failed  # its name says the provider
    assert [x for x in body if x.startswith("!")] == [failed]
    # Bars sit on the time axis: the projector's starts at 95% of the trace.
    assert line("project month").endswith("events=4")
    bar = line("project month").split("|")[1]
    assert bar.index("█") == 19


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.unbalanced: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in {"meta", "col", "br"}:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.unbalanced.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_page_is_self_contained_and_well_formed() -> None:
    page = render_html(parse_trace(sample()))
    parser = Page()
    parser.feed(page)
    parser.close()
    assert not parser.unbalanced and not parser.stack
    names = [t for t, _ in parser.tags]
    assert "script" not in names and "link" not in names and "img" not in names
    assert "http://" not in page and "https://" not in page and "url(" not in page
    text = " ".join(parser.text)
    assert "2019-03" in text and TRACE_ID in text and "10 spans" in text
    for service in SERVICE_COLOURS:
        assert service in text

    rows = [a for t, a in parser.tags if t == "tr" and "span" in (a.get("class") or "")]
    assert len(rows) == 10
    bars = [a["style"] or "" for t, a in parser.tags if t == "div" and a.get("class") == "bar"]
    assert len(bars) == 10
    assert bars[0].startswith("left:0.000%;width:2.000%;")  # schedule month: 0-20 ms of 1 s
    assert f"background:{SERVICE_COLOURS['scheduler']}" in bars[0]
    # The ERROR row: a class, a red bar, a badge; its tooltip holds every attribute.
    errors = [a for a in rows if "error" in (a.get("class") or "")]
    assert len(errors) == 1
    assert sum(ERROR_COLOUR in b for b in bars) == 1
    assert "ERROR" in text
    tooltip = errors[0]["title"] or ""
    assert tooltip.startswith("generator: xai POST /chat/completions")
    assert "http.response.status_code = 503" in tooltip
    assert "otel.status_description = xai answered 503" in tooltip
    # Indentation by depth.
    cells = [a for t, a in parser.tags if t == "td" and a.get("class") == "operation"]
    assert [c["style"] for c in cells[:4]] == [
        "padding-left:6px",
        "padding-left:20px",
        "padding-left:34px",
        "padding-left:48px",
    ]


def test_html_escapes_what_spans_carry() -> None:
    trace = sample()
    trace["spans"][3]["operationName"] = '<b>"schedule" & month</b>'
    page = render_html(parse_trace(trace))
    assert "<b>" not in page and "&lt;b&gt;&quot;schedule&quot; &amp; month&lt;/b&gt;" in page


def test_not_a_trace() -> None:
    with pytest.raises(TraceViewError, match="not a Jaeger trace"):
        parse_trace({"spans": []})


def test_durations() -> None:
    assert [format_duration(us) for us in (850, 12_345, 4_560_000, 123_000_000)] == [
        "850µs",
        "12.3ms",
        "4.56s",
        "2m03s",
    ]


def jaeger(traces: list[dict[str, Any]], seen: list[httpx.Request]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/traces":
            return httpx.Response(200, json={"data": traces})
        trace_id = request.url.path.rsplit("/", 1)[1]
        found = [t for t in traces if t["traceID"] == trace_id]
        if not found:
            return httpx.Response(404, json={"data": None, "errors": [{"code": 404}]})
        return httpx.Response(200, json={"data": found})

    return httpx.MockTransport(answer)


def test_fetch_finds_the_newest_run_of_the_month() -> None:
    older = sample()
    newer = json.loads(json.dumps(sample()).replace(TRACE_ID, "a" * 32))
    for s in newer["spans"]:
        s["startTime"] += 60_000_000
    seen: list[httpx.Request] = []
    found = fetch_month_trace(
        "http://jaeger:16686/", "2019-03", transport=jaeger([older, newer], seen)
    )
    assert found.trace["traceID"] == "a" * 32 and found.candidates == 2
    search, full = seen
    assert search.url.params["service"] == "alexandria-scheduler"
    assert json.loads(search.url.params["tags"]) == {"month": "2019-03"}
    assert full.url.path == f"/api/traces/{'a' * 32}"


def test_fetch_without_a_trace_or_a_jaeger() -> None:
    with pytest.raises(TraceViewError, match="no trace for 2019-04"):
        fetch_month_trace("http://jaeger", "2019-04", transport=jaeger([], []))
    other_month = sample()  # Jaeger matched the tag elsewhere: no schedule month span of it
    other_month["spans"] = [s for s in other_month["spans"] if s["spanID"] != "s1"]
    with pytest.raises(TraceViewError, match="no trace for 2019-03"):
        fetch_month_trace("http://jaeger", "2019-03", transport=jaeger([other_month], []))

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(TraceViewError, match="did not answer"):
        fetch_month_trace("http://jaeger", "2019-03", transport=httpx.MockTransport(refuse))


def test_cli_errors_are_one_line() -> None:
    runner = CliRunner()
    bad = runner.invoke(cli, ["trace", "show", "--month", "2019-13"])
    assert bad.exit_code == 2 and "is not a month" in bad.output
    # Nothing listens on port 9 of loopback: refused at once.
    down = runner.invoke(
        cli, ["trace", "show", "--month", "2019-03", "--jaeger", "http://127.0.0.1:9"]
    )
    assert down.exit_code == 1
    assert down.output.startswith("Error: Jaeger at http://127.0.0.1:9 did not answer")
    assert len(down.output.strip().splitlines()) == 1 and "Traceback" not in down.output
