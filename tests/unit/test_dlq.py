"""Dead-letter decisions: filtering, replay selection and headers, purge plans, formatting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ops.dead_letter_reader import (
    REPLAYED_FROM,
    DlqError,
    Letter,
    format_count,
    format_letter,
    matching,
    newest,
    one_line,
    parse_time,
    purge_plan,
    replay_headers,
    select_for_replay,
    unique,
)
from shared.events import DeadLetter, make_envelope

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def letter(
    n: int,
    *,
    consumer: str = "enricher",
    topic: str = "a.isbn-resolved",
    partition: int = 0,
    offset: int | None = None,
    headers: dict[str, bytes] | None = None,
    reason: str = "impossible content",
    event_id: str | None = None,
) -> Letter:
    event = DeadLetter(
        envelope=make_envelope(
            DeadLetter,
            producer=consumer,
            correlation_id="dlq:x",
            event_id=event_id or f"00000000-0000-0000-0000-{n:012d}",
            occurred_at=T0 + timedelta(minutes=n),
        ),
        consumer=consumer,
        source_topic=topic,
        source_partition=1,
        source_offset=100 + n,
        key=f"k{n}".encode(),
        payload=b"\xc3\x01body",
        headers=headers or {"traceparent": b"00-abc"},
        error_type="Rejected",
        reason=reason,
    )
    return Letter(event, partition, n if offset is None else offset, 0)


def test_parse_time_takes_dates_and_zones_and_defaults_to_utc() -> None:
    assert parse_time("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_time("2024-05-01T12:30:00Z") == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert parse_time("2024-05-01T14:30+02:00") == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    with pytest.raises(DlqError, match="not an ISO time"):
        parse_time("last tuesday")


def test_filters_by_consumer_and_topic_oldest_first() -> None:
    letters = [
        letter(3, consumer="projector"),
        letter(1),
        letter(2, topic="a.books-generated"),
    ]
    assert [x.offset for x in matching(letters)] == [1, 2, 3]
    assert [x.offset for x in matching(letters, consumer="enricher")] == [1, 2]
    assert [x.offset for x in matching(letters, source_topic="a.books-generated")] == [2]
    assert matching(letters, consumer="nobody") == []


def test_newest_is_a_tail_and_zero_means_all() -> None:
    letters = [letter(n) for n in range(5)]
    assert [x.offset for x in newest(letters, 2)] == [3, 4]
    assert len(newest(letters, 0)) == 5


def test_a_letter_sent_twice_is_one() -> None:
    twice = [letter(1, offset=7), letter(1, offset=3), letter(2)]
    assert [(x.event_id[-1], x.offset) for x in unique(twice)] == [("2", 2), ("1", 3)]


def test_replay_needs_ids_or_all_but_not_both() -> None:
    letters = [letter(1)]
    with pytest.raises(DlqError, match="--id EVENT_ID"):
        select_for_replay(letters, [], False)
    with pytest.raises(DlqError, match="exclude each other"):
        select_for_replay(letters, [letters[0].event_id], True)


def test_unknown_id_is_refused_naming_it() -> None:
    letters = [letter(1), letter(2, consumer="projector")]
    with pytest.raises(DlqError, match="with id nope"):
        select_for_replay(letters, [letters[0].event_id, "nope"], False)
    # Known, but not of the asked consumer: as good as unknown.
    with pytest.raises(DlqError, match="of consumer 'enricher'"):
        select_for_replay(letters, [letters[1].event_id], False, consumer="enricher")


def test_replay_selection_keeps_source_order_and_dedups() -> None:
    letters = [letter(5), letter(2), letter(9, consumer="projector"), letter(2, offset=40)]
    chosen = select_for_replay(letters, [], True, consumer="enricher")
    assert [x.event.source_offset for x in chosen] == [102, 105]
    by_id = select_for_replay(letters, [letters[0].event_id, letters[0].event_id], False)
    assert [x.event_id for x in by_id] == [letters[0].event_id]


def test_replay_headers_keep_the_originals_and_name_the_dead_letter() -> None:
    earlier = letter(1, headers={"traceparent": b"00-x", REPLAYED_FROM: b"older-id"})
    assert replay_headers(earlier) == [
        ("traceparent", b"00-x"),
        (REPLAYED_FROM, earlier.event_id.encode()),
    ]


def test_purge_plan_takes_the_prefix_below_each_cut() -> None:
    letters = [letter(n, partition=n % 2, offset=n) for n in range(6)]
    plan = purge_plan(letters, {0: 3, 1: 0, 2: 9})
    assert {p: [x.offset for x in v] for p, v in plan.items()} == {0: [0, 2], 1: [], 2: []}


def test_format_is_one_line_with_a_cut_reason() -> None:
    text = format_letter(letter(1, reason="line one\nline two " + "x" * 300), reason_width=40)
    assert "\n" not in text
    assert text.startswith("00000000-0000-0000-0000-000000000001  2024-05-01T12:01:00Z  enricher")
    assert "a.isbn-resolved/1@101  Rejected: line one line two xxx" in text
    assert text.endswith("...")
    replayed = format_letter(letter(2, headers={REPLAYED_FROM: b"first-id"}))
    assert replayed.endswith("[replay of first-id]")
    assert one_line("short", 10) == "short"


def test_count_line() -> None:
    assert format_count(1, 1, 1) == "1 dead letter"
    assert format_count(2, 5, 9) == (
        "5 dead letters matching (of 9), showing the newest 2 (--limit 0 shows all)"
    )
