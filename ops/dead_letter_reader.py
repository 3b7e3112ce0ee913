"""Dead-letter decisions: which letters to show, replay or purge, and how to print them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.events import DeadLetter

REPLAYED_FROM = "alexandria-dlq-replayed-from"
"""Header on a re-injected message naming the dead letter it came from; the original stays in
the dead-letter topic, so the header is how a second failure or an audit finds its history."""
REASON_WIDTH = 100


class DlqError(Exception):
    """An operator's request that cannot be carried out; the message says why in one line."""


@dataclass(frozen=True)
class Letter:
    """A dead letter and where it sits in the dead-letter topic (partition, offset, time)."""

    event: DeadLetter
    partition: int
    offset: int
    timestamp_ms: int

    @property
    def event_id(self) -> str:
        return self.event.envelope.event_id

    @property
    def source(self) -> str:
        e = self.event
        return f"{e.source_topic}/{e.source_partition}@{e.source_offset}"


def parse_time(text: str) -> datetime:
    """An ISO 8601 time or date; without a zone it is UTC (operators think in the logs' UTC)."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DlqError(
            f"{text!r} is not an ISO time; use e.g. 2024-05-01 or 2024-05-01T12:00:00Z"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def unique(letters: Iterable[Letter]) -> list[Letter]:
    """One letter per event id, the first in topic order: a dead letter sent twice (a retried
    non-transactional send) is one failure, and must be replayed once."""
    seen: set[str] = set()
    out: list[Letter] = []
    for letter in sorted(letters, key=lambda x: (x.partition, x.offset)):
        if letter.event_id not in seen:
            seen.add(letter.event_id)
            out.append(letter)
    return out


def matching(
    letters: Iterable[Letter], consumer: str | None = None, source_topic: str | None = None
) -> list[Letter]:
    """The letters of `consumer` from `source_topic` (either filter optional), oldest first."""
    picked = [
        x
        for x in letters
        if (consumer is None or x.event.consumer == consumer)
        and (source_topic is None or x.event.source_topic == source_topic)
    ]
    return sorted(picked, key=lambda x: (x.event.envelope.occurred_at, x.partition, x.offset))


def newest(letters: Sequence[Letter], limit: int) -> list[Letter]:
    """The last `limit` of time-ordered letters (all when limit is 0): a tail, like a log."""
    return list(letters[-limit:]) if limit > 0 else list(letters)


def check_replay_request(ids: Sequence[str], replay_all: bool) -> None:
    """Replaying everything must be asked for, and a request must say one thing."""
    if not ids and not replay_all:
        raise DlqError("say which dead letters to replay: --id EVENT_ID (repeatable) or --all")
    if ids and replay_all:
        raise DlqError("--id and --all exclude each other")


def select_for_replay(
    letters: Iterable[Letter],
    ids: Sequence[str],
    replay_all: bool,
    consumer: str | None = None,
) -> list[Letter]:
    """The letters to re-inject, in source order so a key's messages keep their order.

    Refuses an empty request (replaying everything must be asked for) and unknown ids (a typo
    must not pass for "nothing to do")."""
    check_replay_request(ids, replay_all)
    candidates = matching(unique(letters), consumer=consumer)
    if ids:
        by_id = {x.event_id: x for x in candidates}
        missing = [i for i in dict.fromkeys(ids) if i not in by_id]
        if missing:
            scope = f" of consumer {consumer!r}" if consumer else ""
            raise DlqError(
                f"no dead letter{scope} with id {', '.join(missing)} "
                "(alexandria dlq list shows them)"
            )
        candidates = [by_id[i] for i in dict.fromkeys(ids)]
    return sorted(
        candidates,
        key=lambda x: (x.event.source_topic, x.event.source_partition, x.event.source_offset),
    )


def replay_headers(letter: Letter) -> list[tuple[str, bytes]]:
    """The original headers, plus the dead letter this re-injection comes from."""
    kept = [(k, v) for k, v in sorted(letter.event.headers.items()) if k != REPLAYED_FROM]
    return [*kept, (REPLAYED_FROM, letter.event_id.encode())]


def replayed_from(letter: Letter) -> str | None:
    """The earlier dead letter this failed message was a replay of, if any."""
    value = letter.event.headers.get(REPLAYED_FROM)
    return value.decode(errors="replace") if value is not None else None


def purge_plan(letters: Iterable[Letter], cuts: Mapping[int, int]) -> dict[int, list[Letter]]:
    """Per partition, the letters below its cut offset: what DeleteRecords up to the cut removes.

    The cut is the first offset at or after --before (Kafka's offsets_for_times), so only a
    prefix of each partition goes and nothing newer than --before is lost."""
    plan: dict[int, list[Letter]] = {p: [] for p in cuts}
    for letter in letters:
        cut = cuts.get(letter.partition)
        if cut is not None and letter.offset < cut:
            plan[letter.partition].append(letter)
    return {p: sorted(v, key=lambda x: x.offset) for p, v in sorted(plan.items())}


def one_line(text: str, width: int) -> str:
    """Whitespace collapsed, cut to `width` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(width - 3, 0)] + "..."


def format_letter(letter: Letter, reason_width: int = REASON_WIDTH) -> str:
    e = letter.event
    at = e.envelope.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    replay = replayed_from(letter)
    note = f" [replay of {replay}]" if replay else ""
    reason = one_line(e.reason, reason_width)
    return f"{letter.event_id}  {at}  {e.consumer}  {letter.source}  {e.error_type}: {reason}{note}"


def format_count(shown: int, total: int, unfiltered: int) -> str:
    noun = "dead letter" if total == 1 else "dead letters"
    text = f"{total} {noun}"
    if unfiltered != total:
        text += f" matching (of {unfiltered})"
    if shown < total:
        text += f", showing the newest {shown} (--limit 0 shows all)"
    return text
