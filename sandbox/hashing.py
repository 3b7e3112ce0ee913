"""Stable, seedable hashing: every "random" choice the sandbox makes comes from here."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def stable_int(*parts: object) -> int:
    """A 64-bit integer that depends only on the parts (Python's hash() is salted per process)."""
    text = "\x1f".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def fraction(*parts: object) -> float:
    """A number in [0, 1) that depends only on the parts."""
    return stable_int(*parts) / 2**64


def chance(probability: float, *parts: object) -> bool:
    """True for about `probability` of all distinct part tuples, always the same for one tuple."""
    return fraction(*parts) < probability


def pick(options: Sequence[T], *parts: object) -> T:
    """One of the options, chosen by the parts."""
    return options[stable_int(*parts) % len(options)]


def shuffled(items: Sequence[T], *parts: object) -> list[T]:
    """The items in an order that depends only on the parts and on each item's position."""
    keyed = [(stable_int(*parts, index), index) for index in range(len(items))]
    return [items[index] for _, index in sorted(keyed)]
