"""Validation of hand-scheduled months and the prompt-variant rule."""

from __future__ import annotations

from datetime import date

import pytest

from shared.months import InvalidMonth, prompt_variant_for, validate_month_request

TODAY = date(2026, 11, 28)


def test_defaults_follow_the_year() -> None:
    assert validate_month_request(2019, 3, None, None, TODAY).prompt_variant == "baseline"
    request = validate_month_request(2020, 1, None, None, TODAY)
    assert (request.prompt_variant, request.batch_size) == ("contemporary-notable", 20)
    assert prompt_variant_for(2019) == "baseline"


def test_explicit_values_are_kept() -> None:
    request = validate_month_request(1900, 12, "contemporary-notable", 100, TODAY)
    assert (request.year, request.month, request.prompt_variant, request.batch_size) == (
        1900,
        12,
        "contemporary-notable",
        100,
    )


@pytest.mark.parametrize(
    ("year", "month", "variant", "batch", "message"),
    [
        (2019, 13, None, None, "month 13 is outside 1..12"),
        (2019, 0, None, None, "month 0 is outside 1..12"),
        (1899, 5, None, None, "year 1899 is outside 1900..2026"),
        (2027, 1, None, None, "year 2027 is outside"),
        (2026, 12, None, None, "2026-12 is in the future"),
        (2019, 3, "fancy", None, "prompt variant 'fancy' is unknown"),
        (2019, 3, None, 0, "batch size 0 is outside 1..100"),
        (2019, 3, None, 101, "batch size 101 is outside 1..100"),
    ],
)
def test_bad_values_are_named(year, month, variant, batch, message) -> None:
    with pytest.raises(InvalidMonth, match=message):
        validate_month_request(year, month, variant, batch, TODAY)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(InvalidMonth) as info:
        validate_month_request(2019, 13, "x", 0, TODAY)
    assert str(info.value).count(";") == 2
