"""The codec: every event round-trips; garbage of every kind raises CodecError with a reason."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.events import EVENT_TYPES, Codec, CodecError, event_type_of
from shared.events.codec import HEADER_LEN, MARKER
from tests.samples import all_samples

CODEC = Codec()
SAMPLES = all_samples()


def test_samples_cover_every_event_type() -> None:
    assert {type(s) for s in SAMPLES} == {t.model for t in EVENT_TYPES}


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_round_trip(event) -> None:
    data = CODEC.encode(event)
    assert data[:2] == MARKER
    assert CODEC.decode(data) == event


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_every_truncation_is_rejected(event) -> None:
    data = CODEC.encode(event)
    for cut in range(len(data)):
        with pytest.raises(CodecError):
            CODEC.decode(data[:cut])


def test_rejections_say_why() -> None:
    data = CODEC.encode(SAMPLES[0])
    cases = {
        b"": "not Avro single-object encoding",
        b'{"year": 2019}': "not Avro single-object encoding",
        MARKER + b"\x00" * 8 + data[HEADER_LEN:]: "unknown schema fingerprint",
        data[:-3]: "truncated or corrupt MonthScheduled body",
        data + b"\x00": "trailing bytes",
    }
    for payload, reason in cases.items():
        with pytest.raises(CodecError) as info:
            CODEC.decode(payload)
        assert reason in info.value.reason


def test_non_bytes_are_rejected() -> None:
    with pytest.raises(CodecError, match="expected bytes"):
        CODEC.decode("text")  # type: ignore[arg-type]


@given(st.binary(max_size=200))
def test_random_bodies_never_escape_as_other_errors(body: bytes) -> None:
    header = CODEC.encode(SAMPLES[4])[:HEADER_LEN]  # MetadataFetched: the richest schema
    with contextlib.suppress(CodecError):
        CODEC.decode(header + body)


@given(st.binary(max_size=64))
def test_random_bytes_are_rejected(data: bytes) -> None:
    if data.startswith(MARKER):
        return
    with pytest.raises(CodecError):
        CODEC.decode(data)


def test_keys_follow_the_design() -> None:
    keys = {type(e).__name__: event_type_of(e).key(e) for e in SAMPLES}
    assert keys["MonthScheduled"] == keys["BooksGenerated"] == "2019-03"
    assert keys["ISBNResolved"] == keys["MetadataFetched"] == "9780571334650"
    unresolved = SAMPLES[3].model_copy(update={"isbn13": None})
    assert event_type_of(unresolved).key(unresolved) == f"book:{SAMPLES[3].book.book_id}"
