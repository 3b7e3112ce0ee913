"""One month's trace as an operator reads it, drawn from Jaeger's own JSON: a text waterfall for a
terminal and a self-contained HTML page of the same waterfall (`alexandria trace show`).

The Jaeger UI's assets cannot be had here, so this is the view of a trace: one line per span,
children under their parent (ordered by start time), each with its service, operation, offset
from the trace's start, duration, a bar on the trace's time axis and a few key attributes;
ERROR spans are marked. `parse_trace`, `render_text` and `render_html` are pure (Jaeger's JSON in,
text out); `fetch_month_trace` is the I/O edge that finds a month's trace through the query API.

A span's parent is its CHILD_OF reference within the trace (else a FOLLOWS_FROM one within the
trace); a span whose parent is not in the trace (not exported yet, or a link to another trace)
is drawn as a root.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

SERVICE_PREFIX = "alexandria-"
ROOT_SERVICE = "alexandria-scheduler"
LIBRARY_SCOPE = "opentelemetry.instrumentation."  # otel.scope.name of the libraries' spans
# Attributes shown on a span's line, in this order, with their short labels.
KEY_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("month", "month"),
    ("outcome", "outcome"),
    ("provider", "provider"),
    ("books", "books"),
    ("resolved", "resolved"),
    ("unresolved", "unresolved"),
    ("already_known", "already_known"),
    ("status", "status"),
    ("isbn", "isbn"),
    ("events", "events"),  # the projector's: events folded
    ("http.response.status_code", "http"),
    ("http.status_code", "http"),  # the older convention some instrumentations still use
)
# One colour per service (the pipeline's five in order, then a palette for any other).
SERVICE_COLOURS = {
    "scheduler": "#4e79a7",
    "generator": "#59a14f",
    "resolver": "#b07aa1",
    "enricher": "#f28e2b",
    "projector": "#76b7b2",
}
OTHER_COLOURS = ("#9c755f", "#edc948", "#bab0ac", "#ff9da7", "#86bcb6")
ERROR_COLOUR = "#d62728"
BAR_WIDTH = 40  # characters of the text waterfall's time axis
OPERATION_WIDTH = 56  # the text's operation column (indentation included), longer ones cut
INDENT = "  "
ERROR_WIDTH = 90  # the text's error description, longer ones cut (the HTML's tooltip has it all)


class TraceViewError(Exception):
    """The trace cannot be shown: Jaeger unreachable, no trace for the month, bad JSON."""


@dataclass(frozen=True)
class Span:
    span_id: str
    parent_id: str | None
    service: str  # without the "alexandria-" prefix
    operation: str
    start_us: int
    duration_us: int
    tags: Mapping[str, Any]
    events: Sequence[Mapping[str, Any]] = ()

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us

    @property
    def is_error(self) -> bool:
        return self.tags.get("error") is True or self.tags.get("otel.status_code") == "ERROR"

    @property
    def error_message(self) -> str:
        return str(self.tags.get("otel.status_description") or "")


@dataclass(frozen=True)
class Row:
    span: Span
    depth: int


@dataclass(frozen=True)
class TraceView:
    trace_id: str
    rows: Sequence[Row]  # depth-first, children by start time
    start_us: int
    end_us: int
    month: str | None  # the root's month attribute (else any span's)
    services: Sequence[str] = field(default_factory=tuple)  # in order of first appearance
    hidden: int = 0  # library spans left out

    @property
    def duration_us(self) -> int:
        return max(0, self.end_us - self.start_us)

    @property
    def errors(self) -> int:
        return sum(1 for row in self.rows if row.span.is_error)


def _tags(item: Mapping[str, Any]) -> dict[str, Any]:
    return {str(t["key"]): t.get("value") for t in item.get("tags") or [] if "key" in t}


def _events(span: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {str(f["key"]): f.get("value") for f in log.get("fields") or [] if "key" in f}
        for log in span.get("logs") or []
    ]


def _parent(span: Mapping[str, Any], trace_id: str, known: set[str]) -> str | None:
    references = [
        r
        for r in span.get("references") or []
        if r.get("spanID") in known and r.get("traceID", trace_id) == trace_id
    ]
    for kind in ("CHILD_OF", "FOLLOWS_FROM"):
        for ref in references:
            if ref.get("refType") == kind and ref["spanID"] != span.get("spanID"):
                return str(ref["spanID"])
    return None


def is_library(span: Span) -> bool:
    """A span of one of OpenTelemetry's instrumentations (an HTTP attempt, an SQL statement, a
    Kafka send or receive), not one the project's code made."""
    return str(span.tags.get("otel.scope.name", "")).startswith(LIBRARY_SCOPE)


def _without_library(spans: list[Span]) -> list[Span]:
    """The project's own spans, each under its nearest ancestor that is one too."""
    by_id = {s.span_id: s for s in spans}

    def shown_parent(span: Span) -> str | None:
        parent, hops = span.parent_id, 0
        while parent is not None and parent in by_id and is_library(by_id[parent]):
            parent, hops = by_id[parent].parent_id, hops + 1
            if hops > len(by_id):  # a cycle of library spans
                return None
        return parent

    return [replace(s, parent_id=shown_parent(s)) for s in spans if not is_library(s)]


def parse_trace(trace: Mapping[str, Any], *, hide_library: bool = False) -> TraceView:
    """One trace as Jaeger's query API gives it (an element of `data`) into rows in tree order;
    with `hide_library`, without the instrumentations' spans (see `is_library`), their children
    under the nearest ancestor shown. The time axis is the whole trace's either way."""
    try:
        trace_id = str(trace["traceID"])
        raw_spans: list[Mapping[str, Any]] = list(trace["spans"])
        processes: Mapping[str, Any] = trace.get("processes") or {}
        known = {str(s["spanID"]) for s in raw_spans}
        spans = [
            Span(
                span_id=str(s["spanID"]),
                parent_id=_parent(s, trace_id, known),
                service=str(
                    (processes.get(s.get("processID", "")) or {}).get("serviceName", "?")
                ).removeprefix(SERVICE_PREFIX),
                operation=str(s.get("operationName", "")),
                start_us=int(s["startTime"]),
                duration_us=int(s.get("duration", 0)),
                tags=_tags(s),
                events=_events(s),
            )
            for s in raw_spans
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise TraceViewError(f"not a Jaeger trace: {type(exc).__name__} {exc}") from None

    def order(span: Span) -> tuple[int, str]:
        return (span.start_us, span.span_id)

    shown = _without_library(spans) if hide_library else spans
    children: dict[str | None, list[Span]] = {}
    for span in shown:
        children.setdefault(span.parent_id, []).append(span)
    rows: list[Row] = []
    seen: set[str] = set()

    def walk(span: Span, depth: int) -> None:
        # Iterative would be longer; traces here are a few levels deep.
        if span.span_id in seen:
            return
        seen.add(span.span_id)
        rows.append(Row(span, depth))
        for child in sorted(children.get(span.span_id, []), key=order):
            walk(child, depth + 1)

    for root in sorted(children.get(None, []), key=order):
        walk(root, 0)
    for span in sorted(shown, key=order):  # spans only in a parent cycle: shown as roots
        walk(span, 0)

    services: list[str] = []
    for row in rows:
        if row.span.service not in services:
            services.append(row.span.service)
    month = next((str(r.span.tags["month"]) for r in rows if "month" in r.span.tags), None)
    return TraceView(
        trace_id=trace_id,
        rows=rows,
        start_us=min((s.start_us for s in spans), default=0),
        end_us=max((s.end_us for s in spans), default=0),
        month=month,
        services=tuple(services),
        hidden=len(spans) - len(shown),
    )


def format_duration(us: int) -> str:
    """850µs, 12.3ms, 4.56s, 2m03s."""
    if us < 1000:
        return f"{us}µs"
    if us < 1_000_000:
        return f"{us / 1000:.1f}ms"
    if us < 60_000_000:
        return f"{us / 1_000_000:.2f}s"
    minutes, seconds = divmod(us // 1_000_000, 60)
    return f"{minutes}m{seconds:02d}s"


def format_offset(us: int) -> str:
    return f"+{us / 1_000_000:.3f}s"


def key_attributes(span: Span, month: str | None = None) -> list[str]:
    """`label=value` for the span's key attributes; the month only where it is not the trace's
    (the header names it) or on a root, a provider only where the operation does not start with
    it already."""
    out: list[str] = []
    labels: set[str] = set()
    for key, label in KEY_ATTRIBUTES:
        if key not in span.tags or label in labels:
            continue
        value = span.tags[key]
        if key == "month" and str(value) == month and span.parent_id is not None:
            continue
        if key == "provider" and span.operation.startswith(f"{value} "):
            continue
        labels.add(label)
        out.append(f"{label}={value}")
    return out


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _bar(view: TraceView, span: Span, width: int = BAR_WIDTH) -> str:
    total = max(1, view.duration_us)
    left = min(width - 1, (span.start_us - view.start_us) * width // total)
    length = max(1, min(width - left, -(-span.duration_us * width // total)))
    mark = "X" if span.is_error else "█"
    return " " * left + mark * length + " " * (width - left - length)


def header_lines(view: TraceView) -> list[str]:
    errors = f", {view.errors} ERROR" if view.errors else ""
    if view.hidden:
        errors += f" ({view.hidden} library spans hidden)"
    return [
        f"month {view.month or '?'}  trace {view.trace_id}",
        f"{len(view.rows)} spans{errors}, {format_duration(view.duration_us)}, "
        f"services: {', '.join(view.services)}",
    ]


def render_text(view: TraceView, *, bar_width: int = BAR_WIDTH) -> str:
    """The waterfall as plain text: a header, then one line per span in tree order:
    `! service  operation  +offset  duration  |bar|  key=value ...` (`!` and X bars: ERROR)."""
    service_width = max([len("SERVICE"), *(len(s) for s in view.services)])
    operation_width = min(
        OPERATION_WIDTH,
        max([len("OPERATION"), *(len(INDENT * r.depth + r.span.operation) for r in view.rows)]),
    )
    lines = [*header_lines(view), ""]
    lines.append(
        f"  {'SERVICE':<{service_width}}  {'OPERATION':<{operation_width}}  "
        f"{'START':>9}  {'DURATION':>8}  |{'0':<{bar_width // 2}}"
        f"{format_duration(view.duration_us):>{bar_width - bar_width // 2}}|"
    )
    for row in view.rows:
        span = row.span
        operation = _cut(INDENT * row.depth + span.operation, operation_width)
        notes = key_attributes(span, view.month)
        if span.is_error:
            notes.append(_cut(f"ERROR {span.error_message}".rstrip(), ERROR_WIDTH))
        line = (
            f"{'!' if span.is_error else ' '} {span.service:<{service_width}}  "
            f"{operation:<{operation_width}}  {format_offset(span.start_us - view.start_us):>9}  "
            f"{format_duration(span.duration_us):>8}  |{_bar(view, span, bar_width)}|"
        )
        lines.append(f"{line}  {' '.join(notes)}".rstrip())
    return "\n".join(lines) + "\n"


def service_colour(service: str, services: Sequence[str] = ()) -> str:
    if service in SERVICE_COLOURS:
        return SERVICE_COLOURS[service]
    others = [s for s in services if s not in SERVICE_COLOURS]
    index = others.index(service) if service in others else len(service)
    return OTHER_COLOURS[index % len(OTHER_COLOURS)]


def _tooltip(view: TraceView, span: Span) -> str:
    lines = [
        f"{span.service}: {span.operation}",
        f"start {format_offset(span.start_us - view.start_us)}, "
        f"duration {format_duration(span.duration_us)}",
    ]
    if span.is_error:
        lines.append(f"ERROR {span.error_message}".rstrip())
    lines += [f"{k} = {v}" for k, v in sorted(span.tags.items())]
    for event in span.events:
        name = event.get("event", "event")
        rest = ", ".join(f"{k}={v}" for k, v in event.items() if k != "event")
        lines.append(f"event: {name}" + (f" ({rest})" if rest else ""))
    return "\n".join(lines)


CSS = """
body { font: 13px/1.3 "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; margin: 16px;
  color: #222; background: #fff; }
h1 { font-size: 19px; margin: 0 0 4px; }
.meta { color: #555; margin: 0 0 8px; }
.meta code { font-size: 12px; }
.legend span { display: inline-block; margin-right: 14px; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
  vertical-align: -1px; margin-right: 4px; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; margin-top: 8px; }
th { text-align: left; font-weight: 600; color: #444; border-bottom: 1px solid #bbb;
  padding: 3px 6px; }
td { padding: 1px 6px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  border-bottom: 1px solid #f0f0f0; }
tr.error td { background: #fdecea; }
td.service { font-weight: 600; }
td.num { text-align: right; font-family: "DejaVu Sans Mono", Menlo, monospace; font-size: 12px; }
.attrs { color: #666; margin-left: 8px; font-size: 12px; }
.err { color: #fff; background: #d62728; border-radius: 3px; padding: 0 4px; font-size: 11px;
  margin-left: 6px; font-weight: 600; }
td.timeline { position: relative; padding: 0; }
.track { position: relative; height: 15px; margin: 1px 0;
  background: repeating-linear-gradient(to right, #e6e6e6 0, #e6e6e6 1px, transparent 1px,
  transparent 10%); }
.bar { position: absolute; top: 2px; height: 11px; min-width: 2px; border-radius: 2px; }
.axis { position: relative; height: 15px; font-weight: 400; font-size: 11px; color: #666; }
.axis span { position: absolute; top: 0; transform: translateX(-50%); }
.axis span.first { transform: none; }
.axis span.last { transform: translateX(-100%); }
"""


def render_html(view: TraceView) -> str:
    """The waterfall as one self-contained HTML page: inline CSS, no script, no external asset;
    a bar per span on the trace's time axis coloured by service (red: ERROR), details in each
    row's title attribute (hover)."""
    esc = html.escape
    total = max(1, view.duration_us)
    legend = "".join(
        f'<span><i class="swatch" style="background:{service_colour(s, view.services)}"></i>'
        f"{esc(s)}</span>"
        for s in view.services
    )
    ticks = []
    for i in range(5):
        cls = ' class="first"' if i == 0 else ' class="last"' if i == 4 else ""
        ticks.append(
            f'<span{cls} style="left:{i * 25}%">'
            f"{esc(format_duration(total * i // 4) if i else '0')}</span>"
        )
    rows = []
    for row in view.rows:
        span = row.span
        left = 100 * (span.start_us - view.start_us) / total
        width = 100 * span.duration_us / total
        colour = ERROR_COLOUR if span.is_error else service_colour(span.service, view.services)
        notes = " ".join(
            key_attributes(span, view.month) + ([span.error_message] if span.is_error else [])
        ).strip()
        badge = '<span class="err">ERROR</span>' if span.is_error else ""
        rows.append(
            f'<tr class="span{" error" if span.is_error else ""}" '
            f'title="{esc(_tooltip(view, span))}">'
            f'<td class="service" style="color:{service_colour(span.service, view.services)}">'
            f"{esc(span.service)}</td>"
            f'<td class="operation" style="padding-left:{6 + 14 * row.depth}px">'
            f"{esc(span.operation)}{badge}"
            + (f'<span class="attrs">{esc(notes)}</span>' if notes else "")
            + "</td>"
            f'<td class="num">{esc(format_offset(span.start_us - view.start_us))}</td>'
            f'<td class="num">{esc(format_duration(span.duration_us))}</td>'
            f'<td class="timeline"><div class="track"><div class="bar" '
            f'style="left:{left:.3f}%;width:{width:.3f}%;background:{colour}"></div></div></td>'
            "</tr>"
        )
    header = header_lines(view)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(f'Trace of {view.month or view.trace_id}')}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>Month {esc(view.month or '?')}</h1>\n"
        f'<p class="meta">trace <code>{esc(view.trace_id)}</code> · {esc(header[1])}</p>\n'
        f'<p class="legend">{legend}</p>\n'
        "<table>\n<colgroup>"
        '<col style="width:90px"><col style="width:36%"><col style="width:80px">'
        '<col style="width:70px"><col></colgroup>\n'
        "<thead><tr><th>service</th><th>operation</th>"
        '<th class="num">start</th><th class="num">duration</th>'
        f'<th><div class="axis">{"".join(ticks)}</div></th></tr></thead>\n'
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n</body>\n</html>\n"
    )


def _get(client: httpx.Client, url: str, params: Mapping[str, str | int] | None = None) -> Any:
    try:
        answer = client.get(url, params=params)
    except httpx.HTTPError as exc:
        raise TraceViewError(
            f"Jaeger at {client.base_url} did not answer ({type(exc).__name__}). "
            "Is the stack up? Try: alexandria dev status"
        ) from None
    if answer.status_code == 404:
        return None
    if answer.status_code != 200:
        raise TraceViewError(f"Jaeger answered {answer.status_code} to {answer.url}")
    try:
        return answer.json()
    except ValueError:
        raise TraceViewError(f"Jaeger's answer to {answer.url} is not JSON") from None


def _root_start(trace: Mapping[str, Any], month: str) -> int:
    """When the trace's `schedule month` span for this month started (0 if none)."""
    return max(
        (
            int(s.get("startTime", 0))
            for s in trace.get("spans") or []
            if s.get("operationName") == "schedule month" and _tags(s).get("month") == month
        ),
        default=0,
    )


@dataclass(frozen=True)
class Found:
    trace: Mapping[str, Any]
    candidates: int  # traces of this month Jaeger knows (the newest is shown)


def fetch_month_trace(
    query_url: str,
    month: str,
    *,
    lookback_s: int = 30 * 86400,
    timeout_s: float = 10.0,
    transport: httpx.BaseTransport | None = None,
) -> Found:
    """The newest trace whose scheduler `schedule month` span carries `month` (YYYY-MM), read in
    full from Jaeger's query API at `query_url`. Raises TraceViewError with one line to show."""
    since_us = int((time.time() - lookback_s) * 1_000_000)
    with httpx.Client(
        base_url=query_url.rstrip("/"), timeout=timeout_s, transport=transport
    ) as client:
        found = _get(
            client,
            "/api/traces",
            {
                "service": ROOT_SERVICE,
                "tags": json.dumps({"month": month}),
                "start": since_us,
                "limit": 100,
            },
        )
        traces = [t for t in ((found or {}).get("data") or []) if _root_start(t, month)]
        if not traces:
            raise TraceViewError(
                f"no trace for {month} in Jaeger at {query_url} "
                f"(searched {ROOT_SERVICE}'s spans tagged month={month})"
            )
        newest = max(traces, key=lambda t: _root_start(t, month))
        full = _get(client, f"/api/traces/{newest['traceID']}")
        data = (full or {}).get("data") or []
        if not data:
            raise TraceViewError(f"Jaeger at {query_url} lost trace {newest['traceID']}")
        return Found(trace=data[0], candidates=len(traces))
